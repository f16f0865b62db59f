/**
 * Native CPU kernels for elementwise primitives (float32 storage, float64 arithmetic).
 *
 * One loop is generated per (primitive, access pattern) from the primitive's scalar expression —
 * the same idea as gpu.js's translation of a kernel function, but emitting a plain typed-array
 * loop that V8 optimises well. Broadcasting is handled by collapsing the output into
 * [outer..., inner] with per-input strides; the inner loop is specialised to how each input is
 * read there (contiguous, one broadcast value, or strided) and unrolled by 8: V8 re-checks a typed
 * array passed as a parameter on every loop trip, and a [1504,128] + [128] bias add went from
 * 1.64 to about 0.8 ns per element with these loops (bench/RESULTS.md).
 */
import { FUSED_OPS, SCALAR_OPS, type FusedOp } from '../../src/fused';
import { broadcastStrides, collapse, size, type Shape } from '../../src/shape';
import { allocF32, onShared } from './alloc';
import { runWasmLoop, type RowAccess } from './wasm-loop';
import { compileJob, jsChunks, jsParallel, runJsChunks } from './worker';

/**
 * Scalar expressions of each elementwise primitive, in the inputs x0, x1, x2: the definitions of
 * src/fused.ts (SCALAR_OPS), compiled with float32-accurate helpers (erf32: Eigen's rational erf;
 * ./worker.ts compileJob).
 */
const X = ['x0', 'x1', 'x2'];
export const ELEMENTWISE_EXPR = {
  ...(Object.fromEntries(FUSED_OPS.map((o) => [o, SCALAR_OPS[o].js(...X.slice(0, SCALAR_OPS[o].arity))])) as Record<
    FusedOp,
    string
  >),
  identity: 'x0',
};
export type ElementwiseName = keyof typeof ELEMENTWISE_EXPR;

/**
 * How each input is read in the innermost loop: 'c' contiguous (stride 1 from its offset), 'b'
 * broadcast (one value for the whole inner loop: stride 0, or a single-element input), 's' any
 * other stride. One loop is generated and cached per (primitive, pattern).
 */
type Access = 'c' | 'b' | 's';
type InnerLoop = (
  ins: Float32Array[],
  outs: Float32Array[],
  outer: number,
  inner: number,
  offs: Int32Array,
  strides: Int32Array[],
  innerStrides: Int32Array,
  dims: Int32Array,
  /** the outer index to start from (advanced in place, as `offs`) */
  idx: Int32Array,
) => void;

/**
 * One chunk of a loop's work: the flat form (every input contiguous or one value) splits the
 * elements, the strided form the outer index; both threads run the same job (kernels/native/worker.ts).
 */
type Job = (args: JobArgs, chunk: number) => void;
interface JobArgs {
  ins: Float32Array[];
  outs: Float32Array[];
  outer: number;
  inner: number;
  strides: Int32Array[];
  innerStrides: Int32Array;
  dims: Int32Array;
  chunks: number;
}
interface Compiled {
  loop: InnerLoop;
  job: Job;
  /** the job's source (a function body of the helpers), for the worker */
  jobSrc: string;
}
const cache = new Map<string, Compiled>();
/** Inner loops are unrolled by this much: V8 re-checks typed arrays on every loop trip. */
const UNROLL = 8;

/**
 * The job running one chunk of a loop (`loop` in scope). Flat (no outer dims): elements
 * [lo, hi) of every contiguous input and of the outputs. Strided: outer indices [o0, o1), starting
 * from the offsets and outer index that o0 stands for. Chunk bounds are multiples of UNROLL, so
 * every element is computed by the same unrolled code as on one thread.
 */
const JOB_SRC = `return function(args, c) {
  const { ins, outs, outer, inner, strides, innerStrides, dims, chunks } = args;
  const rank = dims.length;
  if (rank === 0) {
    const lo = Math.min(inner, Math.floor((inner * c) / chunks / ${UNROLL}) * ${UNROLL});
    const hi = c === chunks - 1 ? inner : Math.min(inner, Math.floor((inner * (c + 1)) / chunks / ${UNROLL}) * ${UNROLL});
    if (hi <= lo) return;
    loop(ins.map((a) => (a.length === 1 ? a : a.subarray(lo, hi))), outs.map((o) => o.subarray(lo, hi)),
      1, hi - lo, new Int32Array(ins.length), strides, innerStrides, dims, new Int32Array(0));
    return;
  }
  const o0 = Math.floor((outer * c) / chunks);
  const o1 = Math.floor((outer * (c + 1)) / chunks);
  if (o1 <= o0) return;
  const idx = new Int32Array(rank);
  const offs = new Int32Array(ins.length);
  for (let d = rank - 1, r = o0; d >= 0; d--) {
    idx[d] = r % dims[d];
    r = Math.floor(r / dims[d]);
    for (let k = 0; k < ins.length; k++) offs[k] += idx[d] * strides[k][d];
  }
  loop(ins, outs.map((o) => o.subarray(o0 * inner, o1 * inner)), o1 - o0, inner, offs, strides, innerStrides, dims, idx);
};`;

/** The loop writing exprs[j] to outs[j], in one pass over the inputs (V8 computes their common sub-expressions once). */
function generate(exprs: string[], pattern: Access[]): Compiled {
  const xs = pattern.map((_, k) => k);
  // running indices: out at p, contiguous inputs at i<k> (constant offsets inside an unrolled
  // block fold into the address), strided inputs step by s<k> after each read
  const read = (k: number, u: number) =>
    pattern[k] === 'b' ? `v${k}` : pattern[k] === 'c' ? `a${k}[i${k} + ${u}]` : `a${k}[i${k} + ${u} * s${k}]`;
  const body = (u: number) =>
    `{ ${xs.map((k) => `const x${k} = ${read(k, u)};`).join(' ')} ${exprs.map((e, j) => `out${j}[p + ${u}] = ${e};`).join(' ')} }`;
  const advance = (by: number) =>
    [
      `p += ${by};`,
      ...xs
        .filter((k) => pattern[k] !== 'b')
        .map((k) => (pattern[k] === 'c' ? `i${k} += ${by};` : `i${k} += ${by} * s${k};`)),
    ].join(' ');
  const unrolled = Array.from({ length: UNROLL }, (_, u) => body(u)).join('\n          ');
  const loopSrc = `return function(ins, outs, outer, inner, offs, strides, innerStrides, dims, idx) {
      ${exprs.map((_, j) => `const out${j} = outs[${j}];`).join(' ')}
      ${xs.map((k) => `const a${k} = ins[${k}]; const s${k} = innerStrides[${k}];`).join('\n      ')}
      const rank = dims.length;
      let p = 0;
      for (let o = 0; o < outer; o++) {
        ${xs.map((k) => (pattern[k] === 'b' ? `const v${k} = a${k}[offs[${k}]];` : `let i${k} = offs[${k}];`)).join(' ')}
        const end = p + inner;
        while (p + ${UNROLL - 1} < end) {
          ${unrolled}
          ${advance(UNROLL)}
        }
        while (p < end) {
          ${body(0)}
          ${advance(1)}
        }
        for (let d = rank - 1; d >= 0; d--) {
          idx[d]++;
          ${xs.map((k) => `offs[${k}] += strides[${k}][d];`).join(' ')}
          if (idx[d] < dims[d]) break;
          ${xs.map((k) => `offs[${k}] -= strides[${k}][d] * dims[d];`).join(' ')}
          idx[d] = 0;
        }
      }
    }`;
  const { loop, job, src } = compileJob<InnerLoop, Job>(loopSrc, JOB_SRC);
  return { loop, job, jobSrc: src };
}

function compiled(exprs: string[], pattern: Access[]): { key: string; c: Compiled } {
  const key = `${exprs.join(' ; ')}/${pattern.join('')}`;
  let c = cache.get(key);
  if (!c) {
    if (cache.size >= 4096) cache.clear(); // bounded: expressions with ever-changing constants recompile
    cache.set(key, (c = generate(exprs, pattern)));
  }
  return { key, c };
}

/**
 * Run a compiled loop over everything: on one thread when small, else in chunks on this thread
 * and the worker (whose typed arrays must be on SharedArrayBuffers: ./alloc.ts puts big outputs
 * there; an input that is not is copied to the worker, which is correct but slower).
 */
function run(key: string, c: Compiled, args: Omit<JobArgs, 'chunks'>, n: number): void {
  if (!jsParallel(n) || !args.outs.every(onShared)) {
    c.loop(
      args.ins,
      args.outs,
      args.outer,
      args.inner,
      new Int32Array(args.ins.length),
      args.strides,
      args.innerStrides,
      args.dims,
      new Int32Array(args.dims.length),
    );
    return;
  }
  const chunks = jsChunks();
  runJsChunks(`ew:${key}`, c.jobSrc, c.job, { ...args, chunks }, chunks);
}

const NO_DIMS = new Int32Array(0);

/** Run elementwise `name` over inputs broadcast to `outShape`. */
export function elementwise(
  name: ElementwiseName,
  ins: Float32Array[],
  inShapes: Shape[],
  outShape: Shape,
): Float32Array {
  return elementwiseExpr(ELEMENTWISE_EXPR[name], ins, inShapes, outShape);
}

/**
 * Run a scalar expression in x0, x1, … (JS source, float64 arithmetic) over inputs broadcast to
 * `outShape`: the kernel of the elementwise primitives and of `fused` expressions.
 */
export function elementwiseExpr(expr: string, ins: Float32Array[], inShapes: Shape[], outShape: Shape): Float32Array {
  return elementwiseExprs([expr], ins, inShapes, outShape)[0];
}

/**
 * Several scalar expressions of the same inputs, each written to its own output of `outShape`,
 * in one pass over the inputs (jit's multi-output fused groups).
 */
export function elementwiseExprs(
  exprs: string[],
  ins: Float32Array[],
  inShapes: Shape[],
  outShape: Shape,
): Float32Array[] {
  const n = size(outShape);
  const outs = exprs.map(() => allocF32(n));
  if (n === 0) return outs;
  // every input full-size (contiguous) or a single value: one flat loop
  if (ins.every((a) => a.length === n || a.length === 1)) {
    const pattern = ins.map((a): Access => (a.length === n && n > 1 ? 'c' : 'b'));
    if (runWasmLoop(exprs, pattern as RowAccess[], ins, outs, 1, n)) return outs;
    const ones = Int32Array.from(pattern, (a) => (a === 'c' ? 1 : 0));
    const { key, c } = compiled(exprs, pattern);
    run(key, c, { ins, outs, outer: 1, inner: n, strides: [], innerStrides: ones, dims: NO_DIMS }, n);
    return outs;
  }
  // collapse adjacent output axes whose strides are contiguous for every input
  const { dims, strides } = collapse(
    outShape,
    inShapes.map((s) => broadcastStrides(s, outShape)),
  );
  const inner = dims[dims.length - 1];
  const innerStrides = Int32Array.from(strides, (s) => s[s.length - 1]);
  const pattern = Array.from(innerStrides, (s): Access => (s === 1 ? 'c' : s === 0 ? 'b' : 's'));
  if (dims.length === 2 && !pattern.includes('s')) {
    const rowStrides = strides.map((s) => s[0]);
    if (runWasmLoop(exprs, pattern as RowAccess[], ins, outs, dims[0], inner, rowStrides)) return outs;
  }
  const outerDims = Int32Array.from(dims.slice(0, -1));
  const outer = size([...outerDims]);
  const { key, c } = compiled(exprs, pattern);
  const outerStrides = strides.map((s) => Int32Array.from(s.slice(0, -1)));
  run(key, c, { ins, outs, outer, inner, strides: outerStrides, innerStrides, dims: outerDims }, n);
  return outs;
}
