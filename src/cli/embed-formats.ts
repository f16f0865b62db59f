/**
 * The formats of `matpac embed`'s output, chosen by the extension of --out (the bytes only; writing
 * them is ./embed-output.ts):
 *
 *   .jsonl  one JSON object per audio file: {"file", "embedding": [D]} ([L][D] with --layers); with
 *           --frames {"file", "timestamps": [T] (ms), "embeddings": [T][D] ([T][L][D] with --layers)}.
 *           Numbers are the shortest decimals that give back the same float32.
 *   .npz    `embeddings` float32 [N, D] ([N, L, D] with --layers) and `files` [N] (unicode); with
 *           --frames `embeddings` [ΣT, D] or [ΣT, L, D], `timestamps` float64 [ΣT] (ms), `frame_file`
 *           int32 [ΣT] (index into `files`)
 *   .npy    the `embeddings` array alone, and beside it F.files.txt: one file name per row (with
 *           --frames: "file<TAB>timestamp_ms" per row)
 *
 * Frames follow HEAR's timestamp-embedding convention: one row per 160 ms patch column (16 frames of
 * 10 ms), its timestamp at the column's centre, (j + ½)·160 ms.
 */
import { encodeNpyArray, encodeNpz, float32Array, float64Array, int32Array, unicodeArray } from '../interop/numpy';
import { CliError } from './common';

export type EmbedFormat = 'jsonl' | 'npy' | 'npz';
export const EMBED_FORMATS: EmbedFormat[] = ['jsonl', 'npy', 'npz'];

/** The format an output path asks for; an unknown extension is refused rather than guessed. */
export function embedFormatOf(path: string): EmbedFormat {
  const ext = /\.([^./\\]+)$/.exec(path)?.[1]?.toLowerCase();
  if (ext === 'jsonl' || ext === 'npy' || ext === 'npz') return ext;
  throw new CliError(
    `${path}: unknown output format${ext ? ` '.${ext}'` : ' (no extension)'}; use .jsonl, .npy or .npz`,
  );
}

/** One audio file's result: rows × row (row = [D] or [L, D]); `timestamps` (ms) when rows are frames. */
export interface FileEmbedding {
  file: string;
  values: Float32Array;
  rows: number;
  rowShape: number[];
  timestamps?: Float64Array;
}

/** The shortest decimal that reads back as the same float32. */
export function float32Text(v: number): string {
  if (!Number.isFinite(v)) return 'null';
  for (let p = 1; p < 10; p++) {
    const s = v.toPrecision(p);
    if (Math.fround(Number(s)) === v) return String(Number(s));
  }
  return String(v);
}

function nested(values: Float32Array, shape: number[], at = 0): string {
  if (shape.length === 0) return float32Text(values[at]);
  const inner = shape.slice(1).reduce((a, b) => a * b, 1);
  return `[${Array.from({ length: shape[0] }, (_, i) => nested(values, shape.slice(1), at + i * inner)).join(',')}]`;
}

/** One JSON line. */
export function jsonLine(e: FileEmbedding): string {
  if (!e.timestamps) return `{"file":${JSON.stringify(e.file)},"embedding":${nested(e.values, e.rowShape)}}\n`;
  return `{"file":${JSON.stringify(e.file)},"timestamps":[${Array.from(e.timestamps).join(',')}],"embeddings":${nested(e.values, [e.rows, ...e.rowShape])}}\n`;
}

function stacked(items: FileEmbedding[]): { data: Float32Array; shape: number[] } {
  const rows = items.reduce((s, e) => s + e.rows, 0);
  const rowShape = items[0]?.rowShape ?? [0];
  const data = new Float32Array(rows * rowShape.reduce((a, b) => a * b, 1));
  let at = 0;
  for (const e of items) {
    data.set(e.values, at);
    at += e.values.length;
  }
  return { data, shape: [rows, ...rowShape] };
}

/** The output file's bytes, and the side file for .npy (its path suffix and text). */
export function encodeEmbeddings(
  format: EmbedFormat,
  items: FileEmbedding[],
): { main: Uint8Array | string; side?: { suffix: string; text: string } } {
  if (format === 'jsonl') return { main: items.map(jsonLine).join('') };
  const frames = items.some((e) => e.timestamps);
  const { data, shape } = stacked(items);
  const embeddings = float32Array(data, shape);
  if (format === 'npy') {
    const text = frames
      ? items.flatMap((e) => Array.from(e.timestamps!, (t) => `${e.file}\t${t}\n`)).join('')
      : items.map((e) => `${e.file}\n`).join('');
    return { main: encodeNpyArray(embeddings), side: { suffix: '.files.txt', text } };
  }
  const arrays: Record<string, ReturnType<typeof float32Array>> = {
    embeddings,
    files: unicodeArray(items.map((e) => e.file)),
  };
  if (frames) {
    arrays.timestamps = float64Array(
      items.flatMap((e) => Array.from(e.timestamps!)),
      [shape[0]],
    );
    arrays.frame_file = int32Array(
      items.flatMap((e, i) => Array.from({ length: e.rows }, () => i)),
      [shape[0]],
    );
  }
  return { main: encodeNpz(arrays) };
}

/** Side-file path of a .npy output: F.npy → F.files.txt. */
export const sidePath = (out: string, suffix: string): string => out.replace(/\.npy$/i, '') + suffix;
