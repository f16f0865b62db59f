/**
 * Batches of random log-mel crops, as MATPAC's training loader (aurianworld/matpac,
 * training_matpac/data/logmel_dataset.py: a random crop of `max_sample_size` frames per clip,
 * start uniform in [0, T − crop]; clips shorter than the crop are skipped, or padded with 0.0 — the
 * normalised value — when `pad_audio` is set).
 *
 * Everything is a pure function of (items, key, sizes): the same key gives the same batch.
 * Layout: `data` is row-major [B, 80, cropFrames] float32.
 */
import { foldIn, permutationHost, randintHost, split, uniformHost, type Key } from '../random';

/** Anything holding a row-major [nMels, nFrames] log-mel (e.g. a `LogMelItem`). */
export interface HasLogMel {
  logmel: { data: Float32Array; nMels: number; nFrames: number };
}

/** What to do with clips shorter than the crop. */
export type ShortClipPolicy = 'skip' | 'pad';

/** Options of cropBatch / epochBatches. */
export interface CropOptions {
  /** 'skip' (MATPAC's default): never draw them; 'pad': draw them, left-aligned and padded. Default 'skip'. */
  short?: ShortClipPolicy;
  /** Value of padded frames (normalised log-mel units). Default 0, as MATPAC's collater. */
  padValue?: number;
}

/** A batch of log-mel crops [B, mels, frames] and where each came from. */
export interface Batch {
  /** Row-major [B, nMels, T]. */
  data: Float32Array;
  shape: [number, number, number];
  /** Where each row came from: index into `items` and first frame of the crop. */
  sources: { item: number; start: number }[];
}

/** Indices of the items a crop may be drawn from under the policy. */
export function eligibleItems(
  items: readonly HasLogMel[],
  cropFrames: number,
  short: ShortClipPolicy = 'skip',
): number[] {
  const out: number[] = [];
  for (let i = 0; i < items.length; i++) if (short === 'pad' || items[i].logmel.nFrames >= cropFrames) out.push(i);
  return out;
}

function checkSizes(batchSize: number, cropFrames: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new Error(`batch size must be a positive integer, got ${batchSize}`);
  if (!Number.isInteger(cropFrames) || cropFrames < 1)
    throw new Error(`crop length must be a positive integer of frames, got ${cropFrames}`);
}

/** Copy the crops of `picks` (item index, uniform draw for the start) into one batch. */
function assemble(
  items: readonly HasLogMel[],
  picks: readonly number[],
  startDraws: ArrayLike<number>,
  cropFrames: number,
  padValue: number,
): Batch {
  const nMels = items[picks[0]].logmel.nMels;
  const data = new Float32Array(picks.length * nMels * cropFrames);
  const sources: Batch['sources'] = [];
  for (let b = 0; b < picks.length; b++) {
    const { data: src, nFrames, nMels: rows } = items[picks[b]].logmel;
    if (rows !== nMels) throw new Error(`item ${picks[b]} has ${rows} mel bands, others ${nMels}`);
    const slack = nFrames - cropFrames;
    const start = slack > 0 ? Math.floor(startDraws[b] * (slack + 1)) : 0;
    const length = Math.min(cropFrames, nFrames);
    for (let m = 0; m < nMels; m++) {
      const dst = (b * nMels + m) * cropFrames;
      data.set(src.subarray(m * nFrames + start, m * nFrames + start + length), dst);
      if (length < cropFrames) data.fill(padValue, dst + length, dst + cropFrames);
    }
    sources.push({ item: picks[b], start });
  }
  return { data, shape: [picks.length, nMels, cropFrames], sources };
}

/**
 * One batch of `batchSize` random crops of `cropFrames` frames: items drawn uniformly with
 * replacement among the eligible ones, crop starts uniform.
 */
export function cropBatch(
  items: readonly HasLogMel[],
  key: Key,
  batchSize: number,
  cropFrames: number,
  opts: CropOptions = {},
): Batch {
  checkSizes(batchSize, cropFrames);
  const eligible = eligibleItems(items, cropFrames, opts.short);
  if (eligible.length === 0)
    throw new Error(
      `no clip has the ${cropFrames} frames a crop needs (${items.length} clips; use short: 'pad' or a shorter crop)`,
    );
  const [kItems, kStarts] = split(key);
  const picks = Array.from(randintHost(kItems, batchSize, 0, eligible.length), (j) => eligible[j]);
  return assemble(items, picks, uniformHost(kStarts, batchSize), cropFrames, opts.padValue ?? 0);
}

/**
 * One epoch: every eligible item once, in a random order, as batches of random crops. The last
 * incomplete batch is dropped unless `dropLast` is false.
 */
export function* epochBatches(
  items: readonly HasLogMel[],
  key: Key,
  batchSize: number,
  cropFrames: number,
  opts: CropOptions & { dropLast?: boolean } = {},
): Generator<Batch> {
  checkSizes(batchSize, cropFrames);
  const eligible = eligibleItems(items, cropFrames, opts.short);
  const [kOrder, kStarts] = split(key);
  const order = Array.from(permutationHost(kOrder, eligible.length), (j) => eligible[j]);
  const dropLast = opts.dropLast ?? true;
  for (let b = 0; b * batchSize < order.length; b++) {
    const picks = order.slice(b * batchSize, (b + 1) * batchSize);
    if (picks.length < batchSize && dropLast) break;
    yield assemble(items, picks, uniformHost(foldIn(kStarts, b), picks.length), cropFrames, opts.padValue ?? 0);
  }
}
