/**
 * A set of log-mels as one binary blob plus a JSON index: how `matpac web` hands the bundled
 * training clips (decoded and turned into log-mels once, by the CLI's data code) to the page, so
 * the page trains on exactly the items — same values, same order — that `matpac train` reads.
 *
 *   index  { nMels, items: [{ name, nFrames, offset }] }   offset in float32 elements
 *   blob   the items' row-major [nMels, nFrames] float32 data back to back, little-endian
 */
import type { HasLogMel } from './loader';

export interface PackIndex {
  nMels: number;
  items: { name: string; nFrames: number; offset: number }[];
}

/** Items (all with the same nMels) → index and blob. */
export function packLogMels(items: readonly (HasLogMel & { name: string })[]): {
  index: PackIndex;
  blob: Float32Array;
} {
  const nMels = items[0]?.logmel.nMels ?? 0;
  let total = 0;
  const index: PackIndex = { nMels, items: [] };
  for (const it of items) {
    if (it.logmel.nMels !== nMels)
      throw new Error(`pack: ${it.name} has ${it.logmel.nMels} mel bands, the others ${nMels}`);
    index.items.push({ name: it.name, nFrames: it.logmel.nFrames, offset: total });
    total += it.logmel.data.length;
  }
  const blob = new Float32Array(total);
  items.forEach((it, i) => blob.set(it.logmel.data, index.items[i].offset));
  return { index, blob };
}

/** Index and blob → items (views into the blob, no copies). */
export function unpackLogMels(index: PackIndex, blob: Float32Array): (HasLogMel & { name: string })[] {
  return index.items.map(({ name, nFrames, offset }) => {
    const n = index.nMels * nFrames;
    if (offset + n > blob.length)
      throw new Error(`pack: ${name} lies beyond the end of the data (${blob.length} values)`);
    return { name, logmel: { data: blob.subarray(offset, offset + n), nMels: index.nMels, nFrames } };
  });
}
