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
import { HELPER_NAMES, scalarHelpers } from '../../src/fused';
import { erf32 } from '../../src/math';
import { allocF32 } from './alloc';

type Loop = (
  ins: Float32Array[],
  acc: Float64Array,
  outer: number,
  inner: number,
  strides: Int32Array[],
  dims: Int32Array,
) => void;
const HELPERS = scalarHelpers(erf32);
const cache = new Map<string, Loop>();

/**
 * How each input is read along the innermost axis: 'c' in order, 'b' one value for the whole
 * axis (read once before it, so that what depends only on such values — e.g. the log of a
 * row's Σexp in a cross-entropy — is computed once per row, not per element), 's' strided.
 */
type Access = 'c' | 'b' | 's';

function generate(expr: string, pattern: Access[], kind: 'sum' | 'max'): Loop {
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
  return new Function(
    ...HELPER_NAMES,
    `return function(ins, acc, outer, inner, strides, dims) {
      ${xs.map((k) => `const a${k} = ins[${k}];`).join(' ')}
      const rank = dims.length;
      const st = strides.map((s) => s[rank]);
      ${moving.map((k) => `const s${k} = st[${k}];`).join(' ')}
      const so = st[${o}];
      const offs = new Int32Array(${n + 1});
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
    }`,
  )(...HELPER_NAMES.map((h) => HELPERS[h])) as Loop;
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
  const acc = new Float64Array(size(outShape)).fill(kind === 'sum' ? 0 : -Infinity);
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
    let loop = cache.get(key);
    if (!loop) {
      if (cache.size >= 1024) cache.clear();
      cache.set(key, (loop = generate(expr, pattern, kind)));
    }
    const outerDims = Int32Array.from(dims.slice(0, -1));
    // strides[k] holds the outer strides then the inner one (index rank)
    loop(
      ins,
      acc,
      size([...outerDims]),
      inner,
      strides.map((s) => Int32Array.from(s)),
      outerDims,
    );
  }
  const out = allocF32(acc.length);
  out.set(acc);
  return out;
}
