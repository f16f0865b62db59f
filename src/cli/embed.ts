/**
 * `matpac embed --checkpoint FILE [--out FILE.jsonl] PATH…`: one clip embedding per audio file,
 * written as JSON lines {"file": "...", "embedding": [...]}. Files that cannot be read as audio are
 * skipped with a message; the command fails only when no file could be embedded.
 */
import { AudioError } from '../audio/audio-error';
import { loadAudio16k } from '../audio/decode';
import { logMelSpectrogram } from '../../models/frontend';
import { CliError, expandAudioPaths, progressBar, requireFile, say, shown, useBackend } from './common';
import { openEmbeddingOutput } from './embed-output';
import { embedder, loadCheckpointModel } from './model';

export interface EmbedOptions {
  checkpoint: string;
  out?: string;
  backend: string;
  followLinks?: boolean;
}

export async function embedCommand(paths: string[], opts: EmbedOptions): Promise<void> {
  requireFile(opts.checkpoint, 'checkpoint');
  const files = await expandAudioPaths(paths, { followLinks: opts.followLinks, onSkip: (s) => say(`matpac: skipped ${s.file}: ${s.reason}`) });
  say(`backend: ${useBackend(opts.backend)}`);
  const model = await loadCheckpointModel(opts.checkpoint);
  const features = embedder(model);

  // an existing --out file is replaced only once something has been embedded
  const out = openEmbeddingOutput(opts.out);
  const bar = opts.out ? progressBar('embedding', files.length, 'files') : { tick: () => {}, stop: () => {} };
  let written = 0;
  let dim = 0;
  const skipped: string[] = [];
  try {
    for (const file of files) {
      try {
        const lm = logMelSpectrogram(await loadAudio16k(file));
        if (lm.nFrames === 0) throw new AudioError(file, 'too short for one log-mel frame (25 ms)');
        const e = features(lm);
        dim = e.length;
        out.add(file, e);
        written++;
      } catch (err) {
        if (!(err instanceof AudioError)) throw err;
        if (!opts.out) say(`matpac: skipped ${err.message}`);
        skipped.push(err.message);
      }
      bar.tick();
    }
    bar.stop();
    if (opts.out) for (const m of skipped) say(`matpac: skipped ${m}`);
    if (!written) throw new CliError(`no file could be embedded (${skipped.length} skipped)${opts.out ? `; ${shown(opts.out)} was not written` : ''}`);
    out.finish();
  } catch (e) {
    bar.stop();
    out.abort();
    throw e;
  }
  say(
    `embedded ${written} file${written > 1 ? 's' : ''} (${dim}-d, ${model.config.name} at step ${model.step})${skipped.length ? `, skipped ${skipped.length}` : ''}${opts.out ? ` → ${shown(opts.out)}` : ''}`,
  );
}
