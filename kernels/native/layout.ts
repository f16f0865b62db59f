/**
 * Native CPU kernels for reductions, layout and indexing primitives (float32 storage).
 */
import { size, stridesOf, type Shape } from '../../src/shape';
import { allocF32, onShared, releaseF32, zerosF32 } from './alloc';
import { columnSumsWasm, rowSumsWasm } from './wasm-sums';
import { compileJob, jsChunks, jsParallel, runJsChunks } from './worker';

/**
 * Rows o0 … o1−1 (of the last axis) of a strided view copy, as source text (the worker thread
 * compiles the same function, ./worker.ts): out at outBase + Σ idx_d·ost_d = x at base +
 * Σ idx_d·inStrides_d over the index idx of `outShape`.
 */
const COPY_ROWS = `return function (x, base, outShape, inStrides, out, outBase, ost, o0, o1) {
  const r = outShape.length;
  const inner = outShape[r - 1];
  const si = inStrides[r - 1];
  const so = ost[r - 1];
  const idx = new Int32Array(r);
  let offIn = base;
  let offOut = outBase;
  for (let d = r - 2, rest = o0; d >= 0; d--) {
    idx[d] = rest % outShape[d];
    rest = Math.floor(rest / outShape[d]);
    offIn += idx[d] * inStrides[d];
    offOut += idx[d] * ost[d];
  }
  for (let o = o0; o < o1; o++) {
    let p = offIn;
    let q = offOut;
    if (si === 1 && so === 1 && inner >= 64) {
      out.set(x.subarray(p, p + inner), q);
    } else if (si === 1 && so === 1) {
      // short rows: a loop beats creating a subarray per row
      const end = q + inner;
      for (; q + 3 < end; q += 4, p += 4) {
        out[q] = x[p];
        out[q + 1] = x[p + 1];
        out[q + 2] = x[p + 2];
        out[q + 3] = x[p + 3];
      }
      for (; q < end; q++, p++) out[q] = x[p];
    } else {
      for (let j = 0; j < inner; j++) {
        out[q] = x[p];
        p += si;
        q += so;
      }
    }
    for (let d = r - 2; d >= 0; d--) {
      idx[d]++;
      offIn += inStrides[d];
      offOut += ost[d];
      if (idx[d] < outShape[d]) break;
      offIn -= inStrides[d] * outShape[d];
      offOut -= ost[d] * outShape[d];
      idx[d] = 0;
    }
  }
};`;

interface CopyArgs {
  x: Float32Array;
  base: number;
  outShape: Shape;
  inStrides: number[];
  out: Float32Array;
  outBase: number;
  ost: number[];
  rows: number;
  chunks: number;
}
type CopyRows = (
  x: Float32Array,
  base: number,
  outShape: Shape,
  inStrides: number[],
  out: Float32Array,
  outBase: number,
  ost: number[],
  o0: number,
  o1: number,
) => void;
const copyJob = compileJob<CopyRows, (a: CopyArgs, c: number) => void>(
  COPY_ROWS,
  `return (a, c) => {
  const o0 = Math.floor((a.rows * c) / a.chunks), o1 = Math.floor((a.rows * (c + 1)) / a.chunks);
  if (o0 < o1) loop(a.x, a.base, a.outShape, a.inStrides, a.out, a.outBase, a.ost, o0, o1);
};`,
);

/**
 * out[i] for i over `outShape` = x at input offset base + Σ idx_d·stride_d (a strided view copy);
 * by rows on both threads when it is big enough (./worker.ts jsParallel) and x and out lie on
 * shared memory.
 */
export function stridedCopy(
  x: Float32Array,
  base: number,
  outShape: Shape,
  inStrides: number[],
  out = allocF32(size(outShape)),
  outBase = 0,
  outStrides?: number[],
): Float32Array {
  const r = outShape.length;
  const n = size(outShape);
  if (n === 0) return out;
  if (r === 0) {
    out[outBase] = x[base];
    return out;
  }
  const ost = outStrides ?? stridesOf(outShape);
  const rows = n / outShape[r - 1];
  if (jsParallel(n) && rows > 1 && onShared(x) && onShared(out)) {
    const chunks = Math.min(jsChunks(), rows);
    const args = { x, base, outShape, inStrides, out, outBase, ost, rows, chunks };
    runJsChunks('stridedCopy', copyJob.src, copyJob.job, args, chunks);
  } else copyJob.loop(x, base, outShape, inStrides, out, outBase, ost, 0, rows);
  return out;
}

export function transpose(x: Float32Array, s: Shape, perm: number[]): Float32Array {
  const st = stridesOf(s);
  return stridedCopy(
    x,
    0,
    perm.map((a) => s[a]),
    perm.map((a) => st[a]),
  );
}

/** transpose(x, perm) written row-major into `out` from `at` (e.g. straight into the matmul kernel's memory). */
export function transposeInto(x: Float32Array, s: Shape, perm: number[], out: Float32Array, at: number): void {
  const st = stridesOf(s);
  const os = perm.map((a) => s[a]);
  stridedCopy(
    x,
    0,
    os,
    perm.map((a) => st[a]),
    out,
    at,
    stridesOf(os),
  );
}

/**
 * out[j] = Σ_r x[r·outN + j] for the columns j of chunk c (of `chunks` about equal ranges), in
 * float64, four rows per pass (a quarter of the accumulator traffic). Source text: the worker
 * thread (./worker.ts) compiles the same function.
 */
const COLUMN_SUMS = `return function (args, c) {
  const { x, out, redN, outN, chunks } = args;
  const j0 = Math.floor((outN * c) / chunks);
  const j1 = Math.floor((outN * (c + 1)) / chunks);
  const acc = new Float64Array(j1 - j0);
  let r = 0;
  for (; r + 3 < redN; r += 4) {
    const o0 = r * outN + j0;
    const o1 = o0 + outN;
    const o2 = o1 + outN;
    const o3 = o2 + outN;
    for (let j = 0; j < acc.length; j++) acc[j] += x[o0 + j] + x[o1 + j] + (x[o2 + j] + x[o3 + j]);
  }
  for (; r < redN; r++) {
    const o = r * outN + j0;
    for (let j = 0; j < acc.length; j++) acc[j] += x[o + j];
  }
  out.set(acc, j0);
};`;
const columnSums = new Function(COLUMN_SUMS)() as (
  args: { x: Float32Array; out: Float32Array; redN: number; outN: number; chunks: number },
  c: number,
) => void;

/**
 * Rows i0 … i1−1 of `rows` (each redN long) reduced into out[i] (`kind`: 'sum' in float64 with four
 * independent partial sums, unrolled as in elementwise.ts; 'max' propagating NaN), for the rows of
 * chunk c (of `chunks` about equal ranges). Source text: the worker thread compiles the same
 * function (./worker.ts).
 */
const ROW_REDUCE = `return function (args, c) {
  const { kind, x, out, redN, outN, chunks } = args;
  const i0 = Math.floor((outN * c) / chunks);
  const i1 = Math.floor((outN * (c + 1)) / chunks);
  for (let i = i0; i < i1; i++) {
    const o = i * redN, end = o + redN;
    if (kind === 'sum') {
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0, j = o;
      for (; j + 3 < end; j += 4) {
        a0 += x[j];
        a1 += x[j + 1];
        a2 += x[j + 2];
        a3 += x[j + 3];
      }
      for (; j < end; j++) a0 += x[j];
      out[i] = a0 + a1 + (a2 + a3);
    } else {
      let m = -Infinity;
      for (let j = o; j < end; j++) {
        const v = x[j];
        if (v > m || v !== v) m = v;
      }
      out[i] = m;
    }
  }
};`;
interface RowReduceArgs {
  kind: 'sum' | 'max';
  x: Float32Array;
  out: Float32Array;
  redN: number;
  outN: number;
  chunks: number;
}
const rowReduce = new Function(ROW_REDUCE)() as (args: RowReduceArgs, c: number) => void;

/**
 * Reduce over `axes` (kept with size 1). Moves reduced axes last (a transpose when they are not
 * already trailing) and reduces contiguous rows; leading-axes reductions accumulate whole rows.
 */
export function reduce(kind: 'sum' | 'max', x: Float32Array, s: Shape, axes: number[]): Float32Array {
  const kept = s.map((_, i) => i).filter((i) => !axes.includes(i));
  const outN = kept.reduce((a, i) => a * s[i], 1);
  const redN = axes.reduce((a, i) => a * s[i], 1);
  if (redN === 0) return allocF32(outN).fill(kind === 'sum' ? 0 : -Infinity);
  const chunks = jsChunks();
  // reduced axes form a leading block: accumulate rows (cache friendly)
  const sortedAxes = [...axes].sort((a, b) => a - b);
  if (sortedAxes.every((a, i) => a === i) && kind === 'sum' && outN > 1) {
    // column sums (a bias gradient's): on both threads when large, each taking a range of columns
    // (the output on shared memory however small, where the worker can write its part)
    const parallel = jsParallel(redN * outN) && outN >= 4 * chunks && onShared(x);
    const args = { x, out: allocF32(outN, parallel || onShared(x)), redN, outN, chunks };
    if (columnSumsWasm(x, args.out, redN, outN)) return args.out;
    if (parallel && onShared(args.out)) runJsChunks('columnSums', COLUMN_SUMS, columnSums, args, chunks);
    else columnSums({ ...args, chunks: 1 }, 0);
    return args.out;
  }
  const trailing = sortedAxes.every((a, i) => a === s.length - axes.length + i);
  const rows = trailing ? x : transpose(x, s, [...kept, ...sortedAxes]);
  // each output reduces a row of redN: on both threads when large, each taking a range of rows
  const parallel = jsParallel(redN * outN) && outN >= chunks && onShared(rows);
  const args = { kind, x: rows, out: allocF32(outN, parallel || onShared(rows)), redN, outN, chunks };
  // (sums as WebAssembly where the arrays lie in the kernels' memory: ./wasm-sums.ts, the same bits)
  const done = kind === 'sum' && rowSumsWasm(rows, args.out, outN, redN);
  if (!done && parallel && onShared(args.out)) runJsChunks('rowReduce', ROW_REDUCE, rowReduce, args, chunks);
  else if (!done) rowReduce({ ...args, chunks: 1 }, 0);
  if (rows !== x) releaseF32(rows);
  return args.out;
}

/**
 * Where a slice is one contiguous range of its row-major input — every axis after the last one it
 * cuts is whole, every axis before it has size 1 in the slice (e.g. leading rows) — its offset
 * and length; null otherwise.
 */
export function contiguousRange(s: Shape, begin: number[], sizes: Shape): { offset: number; length: number } | null {
  let cut = -1;
  for (let i = s.length - 1; i >= 0; i--)
    if (sizes[i] !== s[i]) {
      cut = i;
      break;
    }
  for (let i = 0; i < cut; i++) if (sizes[i] !== 1) return null;
  const st = stridesOf(s);
  return { offset: begin.reduce((a, b, i) => a + b * st[i], 0), length: size(sizes) };
}

export function slice(x: Float32Array, s: Shape, begin: number[], sizes: Shape): Float32Array {
  const st = stridesOf(s);
  const base = begin.reduce((a, b, i) => a + b * st[i], 0);
  return stridedCopy(x, base, sizes, st);
}

export function pad(x: Float32Array, s: Shape, lo: number[], outShape: Shape): Float32Array {
  const out = zerosF32(size(outShape));
  const ost = stridesOf(outShape);
  const base = lo.reduce((a, b, i) => a + b * ost[i], 0);
  return stridedCopy(x, 0, s, stridesOf(s), out, base, ost);
}

export function concat(xs: Float32Array[], shapes: Shape[], axis: number, outShape: Shape): Float32Array {
  const out = allocF32(size(outShape));
  const ost = stridesOf(outShape);
  let offset = 0;
  xs.forEach((x, k) => {
    stridedCopy(x, 0, shapes[k], stridesOf(shapes[k]), out, offset * ost[axis], ost);
    offset += shapes[k][axis];
  });
  return out;
}

function checkRow(op: string, row: number, n: number): void {
  if (!(row >= 0 && row < n && Number.isInteger(row)))
    throw new RangeError(`${op}: index ${row} out of range [0, ${n})`);
}

/** out[b, m, :] = x[b, idx[b, m], :] with x viewed as [B, N, R], idx as [B, M]. */
export function gather(x: Float32Array, s: Shape, idx: Float32Array, axis: number, M: number): Float32Array {
  const B = size(s.slice(0, axis));
  const N = s[axis];
  const R = size(s.slice(axis + 1));
  const out = allocF32(B * M * R);
  for (let b = 0; b < B; b++)
    for (let m = 0; m < M; m++) {
      const row = idx[b * M + m];
      checkRow('gather', row, N);
      const src = (b * N + row) * R;
      out.set(x.subarray(src, src + R), (b * M + m) * R);
    }
  return out;
}

/** out[b, idx[b, m], :] += src[b, m, :] into zeros of [B, size, R]. */
export function scatterAdd(src: Float32Array, s: Shape, idx: Float32Array, axis: number, n: number): Float32Array {
  const B = size(s.slice(0, axis));
  const M = s[axis];
  const R = size(s.slice(axis + 1));
  const out = zerosF32(B * n * R);
  for (let b = 0; b < B; b++)
    for (let m = 0; m < M; m++) {
      const row = idx[b * M + m];
      checkRow('scatterAdd', row, n);
      const o = (b * n + row) * R;
      const i = (b * M + m) * R;
      for (let r = 0; r < R; r++) out[o + r] += src[i + r];
    }
  return out;
}
