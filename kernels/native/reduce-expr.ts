/**
 * A reduction of a fused elementwise expression in one pass: out = Σ (or max) over `axes` of
 * expr(x0, x1, …) with the inputs broadcast to `groupShape` — jit's fusion of an elementwise
 * group into the sum/max that reads it (src/jit/fuse.ts), so the group's values never reach
 * memory. Accumulates in float64 (as the native `sum`), then rounds once to float32.
 *
 * The output is walked as one more operand, with stride 0 along the reduced axes: after
 * collapsing, the innermost axis either reduces (a running float64 accumulator) or not (an
 * accumulator per output element).
 */
import { broadcastStrides, collapse, size, type Shape } from '../../src/shape';
import { allocF32, onShared } from './alloc';
import { compileJob, jsChunks, jsParallel, runJsChunks } from './worker';

type Loop = (
  ins: Float32Array[],
  acc: Float64Array,
  outer: number,
  inner: number,
  strides: Int32Array[],
  dims: Int32Array,
  /** where each input and the output (last) start */
  base: Int32Array,
) => void;
/** Column sums split by columns (the output contiguous along the inner axis, constant along the outer ones). */
interface ColumnArgs {
  ins: Float32Array[];
  acc: Float64Array;
  outer: number;
  inner: number;
  strides: Int32Array[];
  dims: Int32Array;
  chunks: number;
}
interface Compiled {
  loop: Loop;
  job: (args: ColumnArgs, c: number) => void;
  src: string;
}
const cache = new Map<string, Compiled>();

/** Chunk c of a column reduction: columns [j0, j1) of every row, aligned to 4 (the loop's unroll). */
const COLUMN_JOB = `return function (args, c) {
  const { ins, acc, outer, inner, strides, dims, chunks } = args;
  const rank = dims.length;
  const j0 = Math.floor((inner * c) / chunks / 4) * 4;
  const j1 = c === chunks - 1 ? inner : Math.floor((inner * (c + 1)) / chunks / 4) * 4;
  if (j1 <= j0) return;
  const base = new Int32Array(strides.length);
  for (let k = 0; k < strides.length; k++) base[k] = j0 * strides[k][rank];
  loop(ins, acc, outer, j1 - j0, strides, dims, base);
};`;

/**
 * How each input is read along the innermost axis: 'c' in order, 'b' one value for the whole
 * axis (read once before it, so that what depends only on such values — e.g. the log of a
 * row's Σexp in a cross-entropy — is computed once per row, not per element), 's' strided.
 */
type Access = 'c' | 'b' | 's';

function generate(expr: string, pattern: Access[], kind: 'sum' | 'max'): Compiled {
  const n = pattern.length;
  const xs = pattern.map((_, k) => k);
  const moving = xs.filter((k) => pattern[k] !== 'b');
  const o = n; // the output's strides come last
  const combine = (r: string, v: string) =>
    kind === 'sum' ? `${r} + ${v}` : `((${v} > ${r} || ${v} !== ${v}) ? ${v} : ${r})`;
  const reads = moving.map((k) => `const x${k} = a${k}[i${k}];`).join(' ');
  // the output's elements in order along the axis (e.g. a bias gradient's column sums): four at a time
  const readAt = (u: number) =>
    moving.map((k) => `const x${k} = a${k}[i${k} + ${pattern[k] === 'c' ? u : `${u} * s${k}`}];`).join(' ');
  const columns = Array.from(
    { length: 4 },
    (_, u) => `{ ${readAt(u)} const v = ${expr}; acc[p + ${u}] = ${combine(`acc[p + ${u}]`, 'v')}; }`,
  ).join(' ');
  const step4 = moving.map((k) => (pattern[k] === 'c' ? `i${k} += 4;` : `i${k} += 4 * s${k};`)).join(' ');
  const steps = moving.map((k) => (pattern[k] === 'c' ? `i${k}++;` : `i${k} += s${k};`)).join(' ');
  const loopSrc = `return function(ins, acc, outer, inner, strides, dims, base) {
      ${xs.map((k) => `const a${k} = ins[${k}];`).join(' ')}
      const rank = dims.length;
      const st = strides.map((s) => s[rank]);
      ${moving.map((k) => `const s${k} = st[${k}];`).join(' ')}
      const so = st[${o}];
      const offs = Int32Array.from(base);
      const idx = new Int32Array(rank);
      for (let q = 0; q < outer; q++) {
        ${xs.map((k) => (pattern[k] === 'b' ? `const x${k} = a${k}[offs[${k}]];` : `let i${k} = offs[${k}];`)).join(' ')}
        let p = offs[${o}];
        if (so === 0) {
          let r = acc[p];
          for (let j = 0; j < inner; j++) { ${reads} const v = ${expr}; r = ${combine('r', 'v')}; ${steps} }
          acc[p] = r;
        } else if (so === 1) {
          let j = 0;
          for (; j + 3 < inner; j += 4, p += 4) { ${columns} ${step4} }
          for (; j < inner; j++) { ${reads} const v = ${expr}; acc[p] = ${combine('acc[p]', 'v')}; p++; ${steps} }
        } else {
          for (let j = 0; j < inner; j++) { ${reads} const v = ${expr}; acc[p] = ${combine('acc[p]', 'v')}; p += so; ${steps} }
        }
        for (let d = rank - 1; d >= 0; d--) {
          idx[d]++;
          for (let k = 0; k <= ${n}; k++) offs[k] += strides[k][d];
          if (idx[d] < dims[d]) break;
          for (let k = 0; k <= ${n}; k++) offs[k] -= strides[k][d] * dims[d];
          idx[d] = 0;
        }
      }
    }`;
  return compileJob<Loop, Compiled['job']>(loopSrc, COLUMN_JOB);
}

export function reduceExpr(
  kind: 'sum' | 'max',
  expr: string,
  ins: Float32Array[],
  inShapes: Shape[],
  groupShape: Shape,
  axes: number[],
): Float32Array {
  const outShape = groupShape.map((d, i) => (axes.includes(i) ? 1 : d));
  const outN = size(outShape);
  let acc: Float64Array<ArrayBufferLike> = new Float64Array(outN).fill(kind === 'sum' ? 0 : -Infinity);
  if (size(groupShape) > 0) {
    const { dims, strides } = collapse(groupShape, [
      ...inShapes.map((s) => broadcastStrides(s, groupShape)),
      broadcastStrides(outShape, groupShape),
    ]);
    if (dims.length === 0) {
      dims.push(1);
      strides.forEach((s) => s.push(0));
    }
    const inner = dims[dims.length - 1];
    const pattern = ins.map((_, k): Access => {
      const s = strides[k][dims.length - 1];
      return s === 1 ? 'c' : s === 0 ? 'b' : 's';
    });
    const key = `${kind}|${pattern.join('')}|${expr}`;
    let c = cache.get(key);
    if (!c) {
      if (cache.size >= 1024) cache.clear();
      cache.set(key, (c = generate(expr, pattern, kind)));
    }
    const outerDims = Int32Array.from(dims.slice(0, -1));
    const outer = size([...outerDims]);
    // strides[k] holds the outer strides then the inner one (index rank)
    const st = strides.map((s) => Int32Array.from(s));
    const out = st[st.length - 1];
    const rank = outerDims.length;
    // columns (contiguous in the output, the same outputs for every outer index): on both threads
    // when large, each taking a range of columns
    const columns = out[rank] === 1 && out.slice(0, rank).every((v) => v === 0) && inner >= 16;
    if (columns && jsParallel(outer * inner) && ins.every((a) => a.length < 4096 || onShared(a))) {
      acc = new Float64Array(new SharedArrayBuffer(8 * outN)).fill(kind === 'sum' ? 0 : -Infinity);
      const args: ColumnArgs = { ins, acc, outer, inner, strides: st, dims: outerDims, chunks: jsChunks() };
      runJsChunks(`reduce:${key}`, c.src, c.job, args, args.chunks);
    } else c.loop(ins, acc, outer, inner, st, outerDims, new Int32Array(st.length));
  }
  const out = allocF32(acc.length);
  out.set(acc);
  return out;
}
