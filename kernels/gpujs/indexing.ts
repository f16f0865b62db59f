/**
 * gpu.js kernels for gather and scatterAdd.
 *
 * gather: x viewed as [Bt, N, R] (Bt: axes before `axis`, R: axes after), idx as [Bt, M]:
 * out[b, m, r] = x[b, idx[b, m], r].
 *
 * scatterAdd cannot scatter on a GPU (a fragment shader writes only its own output texel), so it
 * is written gather-style over an inverse index built on the host: for every output row (b, j)
 * the list of source rows m with idx[b, m] = j, as CSR (`offsets`, length Bt·size + 1, and
 * `rows`, length Bt·M, holding the flat source row b·M + m). Each output element then sums its
 * own source rows: work proportional to the source size, not size × M. The loop bound is the
 * longest list rounded up to a power of two (a literal, so compiled kernels are reused across
 * index data), with an early `break`.
 */
import type { Shape } from '../../src/shape';
import { indexVars, type KernelSource, linear, lit, prod } from './common';

export interface AxisView {
  /** Product of the axes before `axis`. */
  Bt: number;
  /** Size of `axis`. */
  N: number;
  /** Product of the axes after `axis`. */
  R: number;
}

export const axisView = (s: Shape, axis: number): AxisView => ({
  Bt: prod(s.slice(0, axis)),
  N: s[axis],
  R: prod(s.slice(axis + 1)),
});

/** gather(x: [Bt, N, R], idx: [Bt, M]) → [Bt, M, R]. */
export function gatherKernel({ Bt, N, R }: AxisView, M: number): KernelSource {
  const { code, vars } = indexVars([Bt, M, R]);
  const [vb, vm, vr] = vars;
  const source =
    `function(x, idx) {\n${code}` +
    `const row = Math.floor(idx[${linear([
      [vb, M],
      [vm, 1],
    ])}] + 0.5);\n` +
    `return x[${linear([
      [vb, N * R],
      ['row', R],
      [vr, 1],
    ])}];\n}`;
  return { source, n: Bt * M * R, loopMax: 0 };
}

/** Inverse index of idx [Bt, M] (values in [0, size)) as CSR over the Bt·size output rows. */
export function inverseIndex(
  idx: ArrayLike<number>,
  Bt: number,
  M: number,
  size: number,
): { offsets: Float32Array; rows: Float32Array; maxCount: number } {
  const counts = new Int32Array(Bt * size + 1);
  for (let b = 0; b < Bt; b++)
    for (let m = 0; m < M; m++) {
      const v = idx[b * M + m];
      if (!(Number.isInteger(v) && v >= 0 && v < size))
        throw new RangeError(`scatterAdd: index ${v} out of range [0, ${size})`);
      counts[b * size + v + 1]++;
    }
  let maxCount = 0;
  for (let i = 1; i < counts.length; i++) {
    maxCount = Math.max(maxCount, counts[i]);
    counts[i] += counts[i - 1];
  }
  const offsets = Float32Array.from(counts);
  const fill = counts.slice(0, -1);
  const rows = new Float32Array(Bt * M);
  for (let b = 0; b < Bt; b++) for (let m = 0; m < M; m++) rows[fill[b * size + idx[b * M + m]]++] = b * M + m;
  return { offsets, rows, maxCount };
}

/** Loop bound of a scatterAdd kernel for lists of at most `maxCount` rows. */
export const scatterLoopBound = (maxCount: number): number => {
  let c = 1;
  while (c < maxCount) c *= 2;
  return c;
};

/** scatterAdd(src: [Bt, M, R]) → [Bt, size, R] through the inverse index (offsets, rows). */
export function scatterAddKernel({ Bt, R }: AxisView, size: number, bound: number): KernelSource {
  const { code, vars } = indexVars([Bt, size, R]);
  const [vb, vj, vr] = vars;
  const rowAt = (e: string) => (R === 1 ? `src[${e}]` : `src[${e} * ${lit(R)}${vr ? ` + ${vr}` : ''}]`);
  const source =
    `function(src, offsets, rows) {\n${code}` +
    `const bj = ${linear([
      [vb, size],
      [vj, 1],
    ])};\n` +
    `const start = offsets[bj];\n` +
    `const count = offsets[bj + 1] - start;\n` +
    `let acc = 0;\n` +
    `for (let q = 0; q < ${bound}; q++) {\n` +
    `if (q >= count) { break; }\n` +
    `acc = acc + ${rowAt('rows[start + q]')};\n` +
    `}\nreturn acc;\n}`;
  return { source, n: Bt * size * R, loopMax: bound };
}
