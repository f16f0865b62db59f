/**
 * `matpac embed --checkpoint FILE [--out F.jsonl|F.npy|F.npz] [--frames] [--layers] [--mode fast] PATH…`:
 * embeddings of audio files, from a checkpoint of `matpac train` or an official PyTorch one. Without
 * --out, JSON lines go to stdout as each file is done; with --out the format follows the extension
 * (./embed-output.ts). Files that cannot be read as audio are skipped with a message; the command
 * fails only when no file could be embedded.
 */
import { AudioError } from '../audio/audio-error';
import { loadAudio16k } from '../audio/read';
import { logMelSpectrogram } from '../../models/frontend';
import { CliError, expandAudioPaths, progressBar, requireFile, say, shown, useBackend } from './common';
import type { FileEmbedding } from './embed-formats';
import { openEmbeddingOutput } from './embed-output';
import { embedder, loadModel, type Model } from './model';

export interface EmbedOptions {
  checkpoint: string;
  out?: string;
  backend: string;
  heads?: number;
  mode?: 'precise' | 'fast';
  frames?: boolean;
  layers?: boolean;
  followLinks?: boolean;
}

/** Frame duration of the front end (hop 160 samples at 16 kHz), in ms. */
const HOP_MS = 10;

/**
 * One file's embedding as rows: the pooled vector ([D], or [L, D] with layers), or with frames one
 * row per patch column that starts inside the audio (fast mode's padding columns are dropped), in
 * time order, [T, D] or [T, L, D], with HEAR timestamps (j + ½)·p·10 ms.
 */
export function fileEmbedding(
  model: Model,
  file: string,
  logmel: Parameters<ReturnType<typeof embedder>>[0],
  opts: Pick<EmbedOptions, 'mode' | 'frames' | 'layers'>,
): FileEmbedding {
  const { config } = model;
  const D = Math.floor(config.nMels / config.patchSize) * config.encoder.dim;
  const L = opts.layers ? config.encoder.depth : 1;
  const raw = embedder(model, { mode: opts.mode, layers: opts.layers, keepTime: opts.frames })(logmel);
  const rowShape = opts.layers ? [L, D] : [D];
  if (!opts.frames) return { file, values: raw, rows: 1, rowShape };
  const T = raw.length / (L * D); // raw is [L, T, D] (or [T, D])
  const p = config.patchSize;
  const keep = Math.min(T, Math.ceil(logmel.nFrames / p));
  const values = new Float32Array(keep * L * D);
  for (let t = 0; t < keep; t++)
    for (let l = 0; l < L; l++) values.set(raw.subarray((l * T + t) * D, (l * T + t + 1) * D), (t * L + l) * D);
  const timestamps = Float64Array.from({ length: keep }, (_, j) => (j + 0.5) * p * HOP_MS);
  return { file, values, rows: keep, rowShape, timestamps };
}

export async function embedCommand(paths: string[], opts: EmbedOptions): Promise<void> {
  requireFile(opts.checkpoint, 'checkpoint');
  const out = openEmbeddingOutput(opts.out); // an unknown --out extension is refused before any work
  const files = await expandAudioPaths(paths, {
    followLinks: opts.followLinks,
    onSkip: (s) => say(`matpac: skipped ${s.file}: ${s.reason}`),
  });
  say(`backend: ${useBackend(opts.backend)}`);
  const model = await loadModel(opts.checkpoint, { heads: opts.heads });

  const bar = opts.out ? progressBar('embedding', files.length, 'files') : { tick: () => {}, stop: () => {} };
  let written = 0;
  let rowShape: number[] = [];
  const skipped: string[] = [];
  try {
    for (const file of files) {
      try {
        const lm = logMelSpectrogram(await loadAudio16k(file));
        if (lm.nFrames === 0) throw new AudioError(file, 'too short for one log-mel frame (25 ms)');
        const e = fileEmbedding(model, file, lm, opts);
        rowShape = e.rowShape;
        out.add(e);
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
    if (!written)
      throw new CliError(
        `no file could be embedded (${skipped.length} skipped)${opts.out ? `; ${shown(opts.out)} was not written` : ''}`,
      );
    out.finish();
  } catch (e) {
    bar.stop();
    out.abort();
    throw e;
  }
  const shape = rowShape.join('×');
  const what = `${shape}${opts.frames ? ' per 160-ms frame' : ''}${opts.layers ? ' (every layer)' : ''}${opts.mode === 'fast' ? ', fast mode' : ''}`;
  const from = model.label ?? `${model.config.name} at step ${model.step}`;
  say(
    `embedded ${written} file${written > 1 ? 's' : ''} (${what}; ${from})${skipped.length ? `, skipped ${skipped.length}` : ''}${opts.out ? ` → ${shown(opts.out)}` : ''}`,
  );
}
