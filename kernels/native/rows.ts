/**
 * SIMD WebAssembly kernels for the native backend's transcendental and row-wise primitives
 * (exp, gelu, geluGrad, softmax, layerNormalize, layerNormalizeVjp): ./rows.wat, where the
 * approximations and their accuracy are described, assembled ahead of time into ./rows.wasm
 * (scripts/build-wasm.ts) and loaded at module load (./platform.ts).
 *
 *   rowsWasm.elementwise('gelu', x)                 → Float32Array, or null without the module
 *   rowsWasm.softmax(x, d) / layerNormalize(x, d, eps, { gamma, beta }?) / layerNormalizeVjp(x, g, d, eps)
 *
 * Operands are copied into the module's own memory (reused across calls, grown as needed) with
 * each row padded to whole vectors (softmax's rows, and exp's and gelu's arrays, to groups of four vectors;
 * softmax's inside the module), and results are copied out. Big calls run on two threads (the
 * worker has an instance of its own: ./worker.ts shareJobModule), each on a range of rows; results
 * are bitwise the same as on one. The plain-JS kernels
 * (./rowwise.ts, ./elementwise.ts) remain the fallback where WebAssembly SIMD is unavailable
 * (said once on the console), and `setRowsWasm(false)` selects them (tests check both paths).
 */
import { allocF32, onShared } from './alloc';
import { threadsAllowed, warnFallback, wasmBytes } from '../platform';
import { kernelHeap, type KernelHeap } from './heap';
import {
  compileJob,
  jobModuleShared,
  jsChunks,
  jsParallel,
  runJsChunks,
  shareJobModule,
  type JobModule,
} from './worker';

interface Exports {
  exp(src: number, dst: number, nvec: number): void;
  gelu(src: number, dst: number, nvec: number): void;
  gelu_grad(src: number, dst: number, nvec: number): void;
  softmax_rows(src: number, dst: number, rows: number, vpr: number): void;
  spread_rows(src: number, dst: number, rows: number, d: number, dp: number, pad: number): void;
  gather_rows(src: number, dst: number, rows: number, d: number, dp: number): void;
  layer_norm_rows(
    src: number,
    dst: number,
    rows: number,
    vpr: number,
    d: number,
    eps: number,
    gamma: number,
    beta: number,
  ): void;
  layer_norm_vjp_rows(x: number, g: number, dst: number, rows: number, vpr: number, d: number, eps: number): void;
}

const PAGES: [number, number] = [16, 65536];
/** This thread's instance (the loops below cache a float32 view of its memory in f32). */
type Instance = JobModule & { exports: Exports; f32?: Float32Array };
let mod: Instance | null = null;
let loadError: unknown = null;
let enabled = true;

async function load(): Promise<Instance> {
  const module = new WebAssembly.Module(await wasmBytes(new URL('./rows.wasm', import.meta.url)));
  const memory = new WebAssembly.Memory({ initial: PAGES[0], maximum: PAGES[1] });
  const exports = new WebAssembly.Instance(module, { env: { memory } }).exports as WebAssembly.Exports & Exports;
  const here = { exports, memory };
  // the worker thread makes its own instance: jobs below see this thread's as `rowsKernel`
  shareJobModule('rowsKernel', module, PAGES, here);
  return here;
}

/**
 * The same kernels on the kernels' shared memory (rows-shared.wasm), which read and write the
 * backend's buffers where they lie (./heap.ts) — no copies — when rows need no padding. Jobs see
 * this thread's instance as `rowsInPlace`; it is made on first use (the heap is registered by
 * ./matmul.ts when its kernel loads), the worker's when the worker starts.
 */
const inPlaceHere = { exports: {}, memory: null } as unknown as { exports: Exports; memory: WebAssembly.Memory | null };
let inPlaceModule: WebAssembly.Module | null = null;

try {
  mod = await load();
  if (threadsAllowed()) {
    inPlaceModule = new WebAssembly.Module(await wasmBytes(new URL('./rows-shared.wasm', import.meta.url)));
    shareJobModule('rowsInPlace', inPlaceModule, 'kernels', inPlaceHere as unknown as JobModule);
  }
} catch (e) {
  loadError = e;
  warnFallback('native rows: the WebAssembly SIMD kernels did not load; plain-JS loops run instead (slower)', e);
}

/** The kernels' heap when the in-place kernels can work on it (this thread's instance made), else null. */
function inPlaceHeap(): KernelHeap | null {
  const heap = kernelHeap();
  if (!inPlaceModule || !heap?.shared) return null;
  if (inPlaceHere.memory !== heap.memory) {
    const instance = new WebAssembly.Instance(inPlaceModule, { env: { memory: heap.memory } });
    inPlaceHere.exports = instance.exports as WebAssembly.Exports & Exports;
    inPlaceHere.memory = heap.memory;
  }
  return heap;
}

/** Use the SIMD kernels (default) or the plain-JS ones; returns the previous setting. */
export function setRowsWasm(on: boolean): boolean {
  const prev = enabled;
  enabled = on;
  return prev;
}

let threaded = true;

/** Let big calls use the worker thread too (default), or keep every call on this thread; returns the previous setting. */
export function setRowsThreads(on: boolean): boolean {
  const prev = threaded;
  threaded = on;
  return prev;
}

/** 'wasm-simd128' when the SIMD kernels run, else why not. */
export function rowsInfo(): { impl: 'wasm-simd128' | 'js'; why?: string } {
  if (!mod) return { impl: 'js', why: `rows.wat did not load: ${String(loadError)}` };
  return enabled ? { impl: 'wasm-simd128' } : { impl: 'js', why: 'disabled (setRowsWasm(false))' };
}

/**
 * The loops that drive the kernels over a range, as one source text (compiled on this thread and
 * in the worker, ./worker.ts compileJob), each taking the thread's instance `k`:
 *
 *   rowRange(k, op, xs, consts, out, d, eps, r0, r1)   rows r0 … r1−1 of d floats of the operands
 *       `xs` (one or two, the same shape) through softmax_rows / layer_norm_rows /
 *       layer_norm_vjp_rows, into the same rows of `out`;
 *   elemRange(k, op, x, out, e0, e1)   exp / gelu / gelu_grad of elements e0 … e1−1;
 *   inPlace(k, op, at, d, eps, lo, hi)   the same on rows (elements, d = 1) lo … hi−1 of arrays that
 *       lie in k's memory, at their byte addresses `at` {x, g, out, c}: no copies, for rows that are
 *       whole vectors (groups of four for softmax) and element ranges of whole groups of 16.
 *
 * The first two work a piece at a time (≈ CHUNK bytes) so that the copy in, the kernel and the copy out stay
 * in L2. Rows are copied in back to back and padded to dp floats (a multiple of 4, or of 16 for
 * softmax, whose pads are −∞) inside the module (`spread_rows`: a JS copy per row costs more than
 * the kernel when rows are short); `consts` (rows of d floats: γ and β) are placed once, padded
 * with 0. The kernel writes over the first operand's rows, which are packed back (`gather_rows`)
 * and copied out. Every row and element is computed alike whatever the range, so the result does
 * not depend on how the work is cut.
 */
const ROWS_SOURCE = `
const CHUNK = 1 << 17;
function view(k, floats) {
  const need = floats * 4, have = k.memory.buffer.byteLength;
  if (need > have) k.memory.grow(Math.ceil((need - have) / 65536));
  if (!k.f32 || k.f32.buffer !== k.memory.buffer) k.f32 = new Float32Array(k.memory.buffer);
  return k.f32;
}
function rowRange(k, op, xs, consts, out, d, eps, r0, r1) {
  const e = k.exports;
  const dp = op === 'softmax' ? (d + 15) & ~15 : (d + 3) & ~3;
  const pad = op === 'softmax' ? -Infinity : 0;
  const per = Math.max(1, Math.floor(CHUNK / (4 * dp)));
  const most = Math.min(r1 - r0, per);
  const flat = consts.length * dp; // the piece's rows back to back, then 3 floats of slack
  const first = flat + most * d + 4; // each operand's padded rows, and slack
  const mem = view(k, first + xs.length * (most * dp + 4));
  const c = consts.map((row, j) => (mem.set(row, j * dp), mem.fill(0, j * dp + d, (j + 1) * dp), j * dp * 4));
  const at = xs.map((_, j) => (first + j * (most * dp + 4)) * 4);
  for (let r = r0; r < r1; r += per) {
    const n = Math.min(per, r1 - r);
    for (let j = 0; j < xs.length; j++) {
      const piece = xs[j].subarray(r * d, (r + n) * d);
      if (d === dp) mem.set(piece, at[j] / 4);
      else {
        mem.set(piece, flat);
        e.spread_rows(flat * 4, at[j], n, d, dp, pad);
      }
    }
    if (op === 'softmax') e.softmax_rows(at[0], at[0], n, dp / 4);
    else if (op === 'layerNorm') e.layer_norm_rows(at[0], at[0], n, dp / 4, d, eps, c[0], c[1]);
    else e.layer_norm_vjp_rows(at[0], at[1], at[0], n, dp / 4, d, eps);
    if (d === dp) out.set(mem.subarray(at[0] / 4, at[0] / 4 + n * d), r * d);
    else {
      e.gather_rows(at[0], flat * 4, n, d, dp);
      out.set(mem.subarray(flat, flat + n * d), r * d);
    }
  }
}
function elemRange(k, op, x, out, e0, e1) {
  const fn = op === 'exp' ? k.exports.exp : op === 'gelu' ? k.exports.gelu : k.exports.gelu_grad;
  const per = CHUNK / 8; // floats of a piece: its source, then its result (multiples of 16)
  const mem = view(k, 2 * per);
  for (let s = e0; s < e1; s += per) {
    const n = Math.min(per, e1 - s);
    mem.set(x.subarray(s, s + n), 0); // the pads up to a group of 16 hold whatever was there
    fn(0, per * 4, ((n + 15) & ~15) / 4);
    out.set(mem.subarray(per, per + n), s);
  }
}
function inPlace(k, op, at, d, eps, lo, hi) {
  const e = k.exports, o = lo * d * 4, n = hi - lo;
  if (op === 'softmax') e.softmax_rows(at.x + o, at.out + o, n, d / 4);
  else if (op === 'layerNorm') e.layer_norm_rows(at.x + o, at.out + o, n, d / 4, d, eps, at.c, at.c + d * 4);
  else if (op === 'layerNormVjp') e.layer_norm_vjp_rows(at.x + o, at.g + o, at.out + o, n, d / 4, d, eps);
  else (op === 'exp' ? e.exp : op === 'gelu' ? e.gelu : e.gelu_grad)(at.x + o, at.out + o, n / 4);
}
return { rowRange, elemRange, inPlace };
`;

/** A chunk c of `chunks` of the range 0 … total−1 of one rows call (see runRows). */
const JOB_SRC = `return (a, c) => {
  const per = a.elem ? (Math.ceil(a.total / a.chunks) + 15) & ~15 : Math.ceil(a.total / a.chunks);
  const lo = c * per, hi = Math.min(a.total, lo + per);
  if (lo >= hi) return;
  if (a.at) loop.inPlace(rowsInPlace, a.op, a.at, a.d, a.eps, lo, hi);
  else if (a.elem) loop.elemRange(rowsKernel, a.op, a.xs[0], a.out, lo, hi);
  else loop.rowRange(rowsKernel, a.op, a.xs, a.consts, a.out, a.d, a.eps, lo, hi);
};`;

type RowOp = 'softmax' | 'layerNorm' | 'layerNormVjp';
type ElemOp = 'exp' | 'gelu' | 'geluGrad';
interface Loops {
  rowRange(
    k: Instance,
    op: RowOp,
    xs: Float32Array[],
    consts: Float32Array[],
    out: Float32Array,
    d: number,
    eps: number,
    r0: number,
    r1: number,
  ): void;
  elemRange(k: Instance, op: ElemOp, x: Float32Array, out: Float32Array, e0: number, e1: number): void;
  inPlace(k: Instance, op: RowOp | ElemOp, at: Addresses, d: number, eps: number, lo: number, hi: number): void;
}
/** Byte addresses in the kernels' memory of an in-place call's operands, result and γ β rows. */
interface Addresses {
  x: number;
  g: number;
  out: number;
  c: number;
}
interface Args {
  elem: boolean;
  op: RowOp | ElemOp;
  xs: Float32Array[];
  consts: Float32Array[];
  out: Float32Array;
  d: number;
  eps: number;
  /** rows (or elements) in all, and the chunks they are cut into */
  total: number;
  chunks: number;
  /** set when the call runs in place in the kernels' memory */
  at?: Addresses;
}
/** Calls run in place in the kernels' memory, and through a module's own memory (copies in and out). */
const calls = { inPlace: 0, copied: 0 };

/** Counters of the SIMD row kernels' calls since load (see runRows). */
export function rowsCalls(): Readonly<typeof calls> {
  return { ...calls };
}

let compiled: { loop: Loops; job: (a: Args, c: number) => void; src: string } | null = null;

/**
 * One rows call over `total` rows (or elements): in place in the kernels' memory where its arrays
 * lie there and need no padding, else through each thread's copy of the module; on this thread
 * and the worker when it is big enough (./worker.ts jsParallel) and every array lies on shared
 * memory, else here alone.
 */
function runRows(a: Omit<Args, 'out' | 'chunks'>): Float32Array {
  const n = a.xs[0].length;
  compiled ??= compileJob<Loops, (a: Args, c: number) => void>(ROWS_SOURCE, JOB_SRC);
  const heap = inPlaceHeap();
  const whole = a.elem ? n % 16 === 0 : a.d % (a.op === 'softmax' ? 16 : 4) === 0;
  const inPlace = heap !== null && whole && n > 0 && a.xs.every((x) => heap.holds(x));
  const parallel =
    threaded && jsParallel(n) && jobModuleShared(inPlace ? 'rowsInPlace' : 'rowsKernel') && a.xs.every(onShared);
  const out = allocF32(n, parallel || inPlace);
  if (inPlace && heap.holds(out)) {
    // γ and β (layer norm) go to a block of their own in the kernels' memory for the call
    const cBytes = 4 * a.consts.length * a.d;
    const c = cBytes ? heap.alloc(cBytes) : 0;
    if (c !== null) {
      try {
        a.consts.forEach((row, j) => new Float32Array(heap.memory.buffer, c + 4 * j * a.d, a.d).set(row));
        const [x, g = x] = a.xs;
        const at = { x: x.byteOffset, g: g.byteOffset, out: out.byteOffset, c };
        if (parallel) {
          const chunks = jsChunks();
          const args = { ...a, xs: [], consts: [], out: new Float32Array(0), at, chunks };
          runJsChunks('rows', compiled.src, compiled.job, args, chunks);
        } else compiled.loop.inPlace(inPlaceHere as Instance, a.op, at, a.d, a.eps, 0, a.total);
        calls.inPlace++;
        return out;
      } finally {
        if (cBytes) heap.free(c, cBytes);
      }
    }
  }
  calls.copied++;
  if (parallel && onShared(out)) {
    const chunks = jsChunks();
    runJsChunks('rows', compiled.src, compiled.job, { ...a, out, chunks }, chunks);
  } else if (a.elem) compiled.loop.elemRange(mod!, a.op as ElemOp, a.xs[0], out, 0, a.total);
  else compiled.loop.rowRange(mod!, a.op as RowOp, a.xs, a.consts, out, a.d, a.eps, 0, a.total);
  return out;
}

export const rowsWasm = {
  /** exp / gelu / geluGrad of every element, or null when the SIMD kernels are off. */
  elementwise(name: ElemOp, x: Float32Array): Float32Array | null {
    if (!mod || !enabled) return null;
    return runRows({ elem: true, op: name, xs: [x], consts: [], d: 1, eps: 0, total: x.length });
  },
  softmax(x: Float32Array, d: number): Float32Array | null {
    if (!mod || !enabled) return null;
    const rows = d === 0 ? 0 : x.length / d;
    return runRows({ elem: false, op: 'softmax', xs: [x], consts: [], d, eps: 0, total: rows });
  },
  /** x̂·γ + β over rows of d (γ, β: d floats each), or the bare x̂ without them. */
  layerNormalize(
    x: Float32Array,
    d: number,
    eps: number,
    affine?: { gamma: Float32Array; beta: Float32Array },
  ): Float32Array | null {
    if (!mod || !enabled) return null;
    const rows = d === 0 ? 0 : x.length / d;
    const { gamma, beta } = affine ?? { gamma: new Float32Array(d).fill(1), beta: new Float32Array(d) };
    return runRows({ elem: false, op: 'layerNorm', xs: [x], consts: [gamma, beta], d, eps, total: rows });
  },
  layerNormalizeVjp(x: Float32Array, g: Float32Array, d: number, eps: number): Float32Array | null {
    if (!mod || !enabled) return null;
    const rows = d === 0 ? 0 : x.length / d;
    return runRows({ elem: false, op: 'layerNormVjp', xs: [x, g], consts: [], d, eps, total: rows });
  },
};
