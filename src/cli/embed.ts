/**
 * `matpac embed --checkpoint FILE [--out FILE.jsonl] PATH…`: one clip embedding per audio file,
 * written as JSON lines {"file": "...", "embedding": [...]}. Files that cannot be read as audio are
 * skipped with a message; the command fails only when no file could be embedded.
 */
import { createWriteStream } from 'node:fs';
import { AudioError } from '../audio/audio-error';
import { loadAudio16k } from '../audio/decode';
import { logMelSpectrogram } from '../../models/frontend';
import { CliError, expandAudioPaths, progressBar, requireFile, say, shown, useBackend } from './common';
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

  const out = opts.out ? createWriteStream(opts.out) : process.stdout;
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
        out.write(JSON.stringify({ file, embedding: Array.from(e) }) + '\n');
        written++;
      } catch (err) {
        if (!(err instanceof AudioError)) throw err;
        if (!opts.out) say(`matpac: skipped ${err.message}`);
        skipped.push(err.message);
      }
      bar.tick();
    }
  } finally {
    bar.stop();
    if (opts.out) await new Promise<void>((r, j) => (out as ReturnType<typeof createWriteStream>).end((e?: Error | null) => (e ? j(e) : r())));
  }
  if (opts.out) for (const m of skipped) say(`matpac: skipped ${m}`);
  if (!written) throw new CliError(`no file could be embedded (${skipped.length} skipped)`);
  say(
    `embedded ${written} file${written > 1 ? 's' : ''} (${dim}-d, ${model.config.name} at step ${model.step})${skipped.length ? `, skipped ${skipped.length}` : ''}${opts.out ? ` → ${shown(opts.out)}` : ''}`,
  );
}
