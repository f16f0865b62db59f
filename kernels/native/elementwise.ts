/**
 * Native CPU kernels for elementwise primitives (float32 storage, float64 arithmetic).
 *
 * One loop is generated per (primitive, arity) from the primitive's scalar expression — the
 * same idea as gpu.js's translation of a kernel function, but emitting a plain typed-array loop
 * that V8 optimises well. Broadcasting is handled by collapsing the output into
 * [outer..., inner] with per-input strides, so the hot inner loop is a strided 1-D loop (and a
 * contiguous one in the common same-shape case).
 */
import { erf32 as erf } from '../../src/math';
import { broadcastStrides, size, type Shape } from '../../src/shape';

/** Scalar expressions of each elementwise primitive, in the inputs x0, x1, x2. */
export const ELEMENTWISE_EXPR = {
  neg: '-x0',
  exp: 'Math.exp(x0)',
  log: 'Math.log(x0)',
  sqrt: 'Math.sqrt(x0)',
  rsqrt: '1 / Math.sqrt(x0)',
  square: 'x0 * x0',
  tanh: 'Math.tanh(x0)',
  erf: 'erf(x0)',
  add: 'x0 + x1',
  sub: 'x0 - x1',
  mul: 'x0 * x1',
  div: 'x0 / x1',
  pow: 'Math.pow(x0, x1)',
  maximum: '(x0 > x1 || x0 !== x0) ? x0 : x1',
  minimum: '(x0 < x1 || x0 !== x0) ? x0 : x1',
  greater: 'x0 > x1 ? 1 : 0',
  greaterEqual: 'x0 >= x1 ? 1 : 0',
  equal: 'x0 === x1 ? 1 : 0',
  where: 'x0 !== 0 ? x1 : x2',
  identity: 'x0',
  // exact GELU x·Φ(x) and its derivative Φ(x) + x·φ(x)
  gelu: '0.5 * x0 * (1 + erf(x0 * 0.7071067811865476))',
  geluGrad: '0.5 * (1 + erf(x0 * 0.7071067811865476)) + x0 * 0.3989422804014327 * Math.exp(-0.5 * x0 * x0)',
} as const;
export type ElementwiseName = keyof typeof ELEMENTWISE_EXPR;

type Loop = (ins: Float32Array[], out: Float32Array, n: number, outer: number, inner: number, offs: Int32Array, strides: Int32Array[], innerStrides: number[], dims: number[]) => void;

const cache = new Map<string, ReturnType<typeof generate>>();

function generate(expr: string, arity: number) {
  const xs = Array.from({ length: arity }, (_, k) => k);
  const decl = xs.map((k) => `const a${k} = ins[${k}];`).join('\n');
  // contiguous, same shape
  const same = new Function(
    'erf',
    `return function(ins, out, n) {
      ${decl}
      for (let i = 0; i < n; i++) {
        ${xs.map((k) => `const x${k} = a${k}[i];`).join(' ')}
        out[i] = ${expr};
      }
    }`,
  )(erf) as Loop;
  // general broadcast: outer multi-index (dims) with per-input outer strides, inner strided loop
  const general = new Function(
    'erf',
    `return function(ins, out, n, outer, inner, offs, strides, innerStrides, dims) {
      ${decl}
      ${xs.map((k) => `const s${k} = innerStrides[${k}];`).join(' ')}
      const rank = dims.length;
      const idx = new Int32Array(rank);
      let p = 0;
      for (let o = 0; o < outer; o++) {
        ${xs.map((k) => `let q${k} = offs[${k}];`).join(' ')}
        for (let j = 0; j < inner; j++) {
          ${xs.map((k) => `const x${k} = a${k}[q${k}]; q${k} += s${k};`).join(' ')}
          out[p++] = ${expr};
        }
        for (let d = rank - 1; d >= 0; d--) {
          idx[d]++;
          ${xs.map((k) => `offs[${k}] += strides[${k}][d];`).join(' ')}
          if (idx[d] < dims[d]) break;
          ${xs.map((k) => `offs[${k}] -= strides[${k}][d] * dims[d];`).join(' ')}
          idx[d] = 0;
        }
      }
    }`,
  )(erf) as Loop;
  // every input either full-size (contiguous) or a single value
  const mixed = new Function(
    'erf',
    `return function(ins, out, n, scalarMask) {
      ${decl}
      ${xs.map((k) => `const c${k} = (scalarMask & ${1 << k}) !== 0; const v${k} = a${k}[0];`).join('\n')}
      for (let i = 0; i < n; i++) {
        ${xs.map((k) => `const x${k} = c${k} ? v${k} : a${k}[i];`).join(' ')}
        out[i] = ${expr};
      }
    }`,
  )(erf) as (ins: Float32Array[], out: Float32Array, n: number, mask: number) => void;
  return { same, general, mixed };
}

/** Run elementwise `name` over inputs broadcast to `outShape`. */
export function elementwise(name: ElementwiseName, ins: Float32Array[], inShapes: Shape[], outShape: Shape): Float32Array {
  const key = `${name}/${ins.length}`;
  let loops = cache.get(key);
  if (!loops) cache.set(key, (loops = generate(ELEMENTWISE_EXPR[name], ins.length)));
  const n = size(outShape);
  const out = new Float32Array(n);
  if (n === 0) return out;
  if (ins.every((a) => a.length === n)) {
    loops.same(ins, out, n, 0, 0, new Int32Array(0), [], [], []);
    return out;
  }
  if (ins.every((a) => a.length === n || a.length === 1)) {
    loops.mixed(ins, out, n, ins.reduce((m, a, k) => (a.length === 1 ? m | (1 << k) : m), 0));
    return out;
  }
  // collapse adjacent output axes whose strides are contiguous for every input
  const st = inShapes.map((s) => broadcastStrides(s, outShape));
  const dims: number[] = [];
  const strides: number[][] = ins.map(() => []);
  for (let d = 0; d < outShape.length; d++) {
    if (outShape[d] === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && st.every((s, k) => strides[k][last] === s[d] * outShape[d])) {
      dims[last] *= outShape[d];
      st.forEach((s, k) => (strides[k][last] = s[d]));
    } else {
      dims.push(outShape[d]);
      st.forEach((s, k) => strides[k].push(s[d]));
    }
  }
  if (dims.length === 0) {
    loops.same(ins, out, 1, 0, 0, new Int32Array(0), [], [], []);
    return out;
  }
  const inner = dims[dims.length - 1];
  const innerStrides = strides.map((s) => s[s.length - 1]);
  const outerDims = dims.slice(0, -1);
  const outer = size(outerDims);
  loops.general(ins, out, n, outer, inner, new Int32Array(ins.length), strides.map((s) => Int32Array.from(s.slice(0, -1))), innerStrides, outerDims);
  return out;
}
