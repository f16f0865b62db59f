/**
 * The native CPU backend: float32 buffers (Float32Array) and kernels written for speed on the
 * CPU — generated loops for elementwise ops and fused expressions (kernels/native/elementwise.ts:
 * WebAssembly SIMD for arithmetic on buffers in the kernels' memory, wasm-loop.ts; typed-array JS
 * loops for the rest, with the same float64 arithmetic), strided copies and row reductions (kernels/native/layout.ts),
 * SIMD WebAssembly for exp/GELU/softmax/LayerNorm rows (kernels/native/rows.wat) and a blocked SIMD
 * WebAssembly matmul on two threads with the linear layer's bias fused in (kernels/native/matmul.ts);
 * output buffers are recycled when the engine disposes them (kernels/native/alloc.ts). Checked
 * against the float64 reference by property tests.
 */
import type { Backend, KernelTable } from '../backend';
import { elementwise, elementwiseExpr, elementwiseExprs } from '../../kernels/native/elementwise';
import * as L from '../../kernels/native/layout';
import * as R from '../../kernels/native/rowwise';
import { rowsInfo, rowsWasm } from '../../kernels/native/rows';
import { matmulInfo } from '../../kernels/native/matmul';
import { wasmLoopsInfo } from '../../kernels/native/wasm-loop';
import { linear, matmul } from './native-matmul';
import { allocF32, releaseF32 } from '../../kernels/native/alloc';
import { reduceExpr } from '../../kernels/native/reduce-expr';
import { fusedBatch } from '../../kernels/native/batch';
import type { Shape } from '../shape';

type F32 = Float32Array;
const ew = (name: Parameters<typeof elementwise>[0]) => (ins: unknown[], shapes: Shape[], out: Shape) =>
  elementwise(name, ins as F32[], shapes, out);

/** exp/gelu/geluGrad: the SIMD kernel where it runs, else the generated JS loop. */
const simdOr = (name: 'exp' | 'gelu' | 'geluGrad') => (ins: unknown[], shapes: Shape[], out: Shape) =>
  rowsWasm.elementwise(name, ins[0] as F32) ?? elementwise(name, ins as F32[], shapes, out);

/**
 * Buffers are plain Float32Arrays, recycled when the engine disposes them (kernels/native/alloc.ts).
 * A reshape returns its input array itself, and a contiguous slice a `subarray` of it (a view:
 * buffers are immutable, so sharing is safe), so an array may back several tensors: `shares`
 * counts the extra owners of an array, a view holds one share of the array it lies in, and only
 * the last dispose recycles the array.
 */
const shares = new WeakMap<F32, number>();
const viewOf = new WeakMap<F32, F32>(); // subarray → the array it lies in (holding one share)
function share(x: F32): F32 {
  shares.set(x, (shares.get(x) ?? 0) + 1);
  return x;
}
function dispose(x: F32): void {
  const n = shares.get(x);
  if (n === undefined) {
    const whole = viewOf.get(x);
    if (whole) dispose(whole);
    else releaseF32(x);
  } else if (n > 1) shares.set(x, n - 1);
  else shares.delete(x);
}
/** A slice that is one contiguous range of its input (e.g. leading rows): a subarray view, no copy. */
function sliceView(x: F32, s: Shape, begin: number[], sizes: number[]): F32 | null {
  const range = L.contiguousRange(s, begin, sizes);
  if (!range) return null;
  const whole = viewOf.get(x) ?? x;
  const v = x.subarray(range.offset, range.offset + range.length);
  viewOf.set(v, share(whole));
  return v;
}

const kernels: KernelTable = {
  linear: (ins, shapes) => linear(ins, shapes),
  fused: (ins, shapes, out, p) => elementwiseExpr(p.src, ins as F32[], shapes, out),
  neg: ew('neg'),
  exp: simdOr('exp'),
  log: ew('log'),
  sqrt: ew('sqrt'),
  rsqrt: ew('rsqrt'),
  square: ew('square'),
  tanh: ew('tanh'),
  erf: ew('erf'),
  gelu: simdOr('gelu'),
  geluGrad: simdOr('geluGrad'),
  softmax: ([x], [s]) => rowsWasm.softmax(x as F32, s[s.length - 1]) ?? R.softmaxRows(x as F32, s[s.length - 1]),
  layerNormalize: ([x], [s], _o, p) =>
    rowsWasm.layerNormalize(x as F32, s[s.length - 1], p.eps) ?? R.layerNormalizeRows(x as F32, s[s.length - 1], p.eps),
  layerNorm: ([x, gamma, beta], [s], _o, p) => {
    const affine = { gamma: gamma as F32, beta: beta as F32 };
    const d = s[s.length - 1];
    return rowsWasm.layerNormalize(x as F32, d, p.eps, affine) ?? R.layerNormalizeRows(x as F32, d, p.eps, affine);
  },
  layerNormalizeVjp: ([x, g], [s], _o, p) =>
    rowsWasm.layerNormalizeVjp(x as F32, g as F32, s[s.length - 1], p.eps) ??
    R.layerNormalizeVjpRows(x as F32, g as F32, s[s.length - 1], p.eps),
  add: ew('add'),
  sub: ew('sub'),
  mul: ew('mul'),
  div: ew('div'),
  pow: ew('pow'),
  maximum: ew('maximum'),
  minimum: ew('minimum'),
  greater: ew('greater'),
  greaterEqual: ew('greaterEqual'),
  equal: ew('equal'),
  where: ew('where'),
  sum: ([x], [s], _o, p) => L.reduce('sum', x as F32, s, p.axes),
  max: ([x], [s], _o, p) => L.reduce('max', x as F32, s, p.axes),
  reshape: ([x]) => share(x as F32), // buffers are immutable: a reshape shares its input's memory
  transpose: ([x], [s], _o, p) => L.transpose(x as F32, s, p.perm),
  broadcast: ([x], [s], out) => elementwise('identity', [x as F32], [s], out),
  slice: ([x], [s], _o, p) => sliceView(x as F32, s, p.begin, p.size) ?? L.slice(x as F32, s, p.begin, p.size),
  pad: ([x], [s], out, p) => L.pad(x as F32, s, p.lo, out),
  concat: (xs, shapes, out, p) => L.concat(xs as F32[], shapes, p.axis, out),
  gather: ([x, idx], [s, is], _o, p) => L.gather(x as F32, s, idx as F32, p.axis, is[p.axis]),
  scatterAdd: ([src, idx], [s], _o, p) => L.scatterAdd(src as F32, s, idx as F32, p.axis, p.size),
  matmul: ([a, b], shapes, _out, p) => matmul(a as F32, b as F32, shapes, p),
};

export function createNativeBackend(): Backend {
  return {
    name: 'native',
    precision: 'float32',
    describe: () => {
      const m = matmulInfo();
      return `native CPU (typed-array kernels; matmul: ${m.impl}${m.simd ? ', SIMD' : ''}, ${m.threads} thread${m.threads > 1 ? 's' : ''}; exp/gelu/softmax/layer_norm: ${rowsInfo().impl}; elementwise: ${wasmLoopsInfo()})`;
    },
    upload: (data) => {
      const a = allocF32(data.length); // recycled like kernel outputs (index tensors are uploaded every step)
      a.set(data);
      return a;
    },
    download: (buf) => (buf as F32).slice(),
    dispose: (buf) => dispose(buf as F32),
    isView: (prim, [s], params) =>
      prim === 'reshape' ||
      (prim === 'slice' &&
        !!L.contiguousRange(s, (params as { begin: number[] }).begin, (params as { size: number[] }).size)),
    kernels,
    // their SIMD kernels are ~20× faster than the scalar JS a fused loop would run
    fusedReduce: (kind, src, ins, inShapes, groupShape, axes) =>
      reduceExpr(kind, src, ins as F32[], inShapes, groupShape, axes),
    matmulOfViews: (prim, ins, storedShapes, shapes, params, views) => {
      const view = (k: number) => views[k] && { stored: storedShapes[k], perm: views[k].perm };
      if (prim === 'linear') return linear(ins, shapes, view(0));
      const p = params as { transA: boolean; transB: boolean };
      return matmul(ins[0] as F32, ins[1] as F32, shapes, p, [view(0), view(1)]);
    },
    fusedBatch: (kind, srcs, members) => fusedBatch(kind, srcs, members as { inputs: F32[]; n: number }[]),
    fusedMulti: (srcs, ins, inShapes, shape) => elementwiseExprs(srcs, ins as F32[], inShapes, shape),
    get unfusedOps() {
      return rowsInfo().impl === 'wasm-simd128' ? (['exp', 'gelu', 'geluGrad'] as const) : [];
    },
  };
}
