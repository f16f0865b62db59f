/**
 * Native CPU matmul: cache-blocked, register-blocked (2x16 tile), 128-bit SIMD
 * WebAssembly, optionally on two threads.
 *
 *   matmulF32(a, b, batch, M, K, N, opts?)  C[b] = op(A[b]) @ op(B[b]), synchronous
 *   matmulF32JS(...)                        plain-JS i-k-j reference, same signature
 *   matmulInfo()                            { impl, simd, threads }
 *
 * The kernel is written in WebAssembly text (./matmul.wat, where the algorithm is
 * described), assembled ahead of time by scripts/build-wasm.ts into ./matmul.wasm (shared
 * memory) and ./matmul-single.wasm (unshared, for pages that are not cross-origin isolated),
 * and loaded at module load (./platform.ts: read from disk in Node, fetched in browsers).
 * Where relaxed SIMD compiles (./platform.ts `relaxedSimd`), the variants with fused
 * multiply-adds (matmul-fma*.wasm) load instead: 1.4–1.7x the products per second on an AMD
 * EPYC (Zen 3) here, where 128-bit multiply and add issue separately otherwise.
 * Loading is asynchronous, so this module uses top-level await: once `import` resolves,
 * `matmulF32` is ready and fully synchronous (it cannot be `require`d from CommonJS). If
 * WebAssembly SIMD is unavailable, `matmulF32` falls back to `matmulF32JS`
 * (`matmulInfo().impl === 'js'`) and says so once on the console.
 *
 * The kernel works in one WebAssembly.Memory (./heap.ts hands out its blocks): operands and a
 * result that are blocks of it already (the native backend's buffers, where it is shared) are
 * read and written in place; others are copied into a scratch block and C is copied out. The
 * kernel packs A and B into cache-sized panels itself.
 *
 * Threads (where ./platform.ts allows them: Node, or a Web Worker of a cross-origin-isolated
 * page; elsewhere one thread): on 2+ cores, products with batch*M*K*N >= `threadMinMacs` (2^21 by default)
 * are cut into chunks that the main thread and one worker (./worker.ts, spawned on first need,
 * sharing the memory) claim from an atomic counter; the call stays synchronous (Atomics.wait/notify).
 * Small products stay on the calling thread. Results are bitwise identical on 1 and 2
 * threads. See setMatmulConfig / matmulStats for tuning and counters.
 */
import { cores, relaxedSimd, threadsAllowed, warnFallback, wasmBytes } from '../platform';
import {
  CTRL_WS,
  P_CHUNKS,
  PARAM_MAIN,
  PARAM_SHARED,
  runShared,
  setWorkerHost,
  workerAvailable,
  type WorkerHost,
} from './worker';
import { createHeap, setKernelHeap, type KernelHeap } from './heap';

export interface MatmulOptions {
  /** op(A) = A^T: A is stored [batch, K, M]. */
  transA?: boolean;
  /** op(B) = B^T: B is stored [batch, N, K]. */
  transB?: boolean;
  /** Elements between consecutive A matrices; 0 = A shared by every batch item. Default: M*K. */
  aBatchStride?: number;
  /** Elements between consecutive B matrices; 0 = B shared by every batch item. Default: K*N. */
  bBatchStride?: number;
  /** Destination (length >= batch*M*N); C is written to out[0 .. batch*M*N). */
  out?: Float32Array;
  /** Force the number of threads (1 or 2) for this call; default: automatic by size. */
  threads?: number;
  /** Added to every row of C (length N): the fused bias of a linear layer. */
  bias?: Float32Array;
  /**
   * Writes A's elements (`a.length` of them, in the row-major order the other options describe)
   * into `dst` from `at`, instead of copying `a`: operands that are views of other arrays (jit's
   * transposes read by matmul) are gathered straight into the kernel's memory. `a` is then the
   * stored array (same length); paths that read A directly load it into a fresh array first.
   */
  aLoad?: (dst: Float32Array, at: number) => void;
  /** The same for B. */
  bLoad?: (dst: Float32Array, at: number) => void;
  /**
   * Read A in place through element strides instead of as contiguous items: the batch is
   * groups × `innerBatch` items (item = g·innerBatch + i), and element (r, c) of item (g, i) of the
   * stored A ([M, K], or [K, M] with transA) is at g·group + i·inner + r·row + c·col. An operand
   * seen through a permuted view (attention's [B, T, H, d] read as [B, H, T, d]) needs no copy.
   * Replaces aBatchStride; not with aLoad.
   */
  aStrides?: OperandStrides;
  /** The same for B (stored [K, N], or [N, K] with transB). */
  bStrides?: OperandStrides;
  /** Items per group of the two-level batch of aStrides / bStrides (a divisor of batch; default 1). */
  innerBatch?: number;
}

/** Element strides of an operand read in place (see MatmulOptions.aStrides). */
export interface OperandStrides {
  group: number;
  inner: number;
  row: number;
  col: number;
}

/** A strided operand as contiguous items [batch, R, C] (the paths that cannot read strides). */
function gather(x: Float32Array, st: OperandStrides, batch: number, inner: number, R: number, C: number): Float32Array {
  const y = new Float32Array(batch * R * C);
  let o = 0;
  for (let it = 0; it < batch; it++) {
    const base = Math.floor(it / inner) * st.group + (it % inner) * st.inner;
    for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) y[o++] = x[base + r * st.row + c * st.col];
  }
  return y;
}

type MatmulArgs = [Float32Array, Float32Array, number, number, number, number, MatmulOptions];

/** The same call with strided operands gathered into contiguous ones. */
function unstridedCall(...args: MatmulArgs): MatmulArgs {
  let [a, b] = args;
  const [, , batch, M, K, N, opts] = args;
  const inner = opts.innerBatch ?? 1;
  const o: MatmulOptions = { ...opts, aStrides: undefined, bStrides: undefined, innerBatch: undefined };
  if (opts.aStrides) {
    a = gather(a, opts.aStrides, batch, inner, opts.transA ? K : M, opts.transA ? M : K);
    o.aBatchStride = M * K;
  }
  if (opts.bStrides) {
    b = gather(b, opts.bStrides, batch, inner, opts.transB ? N : K, opts.transB ? K : N);
    o.bBatchStride = K * N;
  }
  return [a, b, batch, M, K, N, o];
}

/** Checks strided operands: non-negative integer strides, every element read inside the array. */
function checkStrides(
  name: string,
  x: Float32Array,
  st: OperandStrides,
  groups: number,
  inner: number,
  R: number,
  C: number,
): void {
  const v = [st.group, st.inner, st.row, st.col];
  if (!v.every((s) => Number.isInteger(s) && s >= 0))
    throw new RangeError(`matmulF32: ${name} strides must be non-negative integers`);
  const last = (groups - 1) * st.group + (inner - 1) * st.inner + (R - 1) * st.row + (C - 1) * st.col;
  if (last >= x.length)
    throw new RangeError(`matmulF32: ${name} has ${x.length} elements, its strides read ${last + 1}`);
}

/** The operands as plain arrays (their loaders run into fresh arrays) and options without loaders. */
function loaded(
  a: Float32Array,
  b: Float32Array,
  opts: MatmulOptions,
): { a: Float32Array; b: Float32Array; opts: MatmulOptions } {
  const run = (x: Float32Array, load?: (dst: Float32Array, at: number) => void) => {
    if (!load) return x;
    const y = new Float32Array(x.length);
    load(y, 0);
    return y;
  };
  return { a: run(a, opts.aLoad), b: run(b, opts.bLoad), opts: { ...opts, aLoad: undefined, bLoad: undefined } };
}

export type MatmulFn = (
  a: Float32Array,
  b: Float32Array,
  batch: number,
  M: number,
  K: number,
  N: number,
  opts?: MatmulOptions,
) => Float32Array;

// ---------------------------------------------------------------------------
// Shared argument handling
// ---------------------------------------------------------------------------

function checkDim(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0)
    throw new RangeError(`matmulF32: ${name} must be a non-negative integer, got ${v}`);
}

interface Norm {
  aStride: number;
  bStride: number;
  out: Float32Array;
}

function normalize(
  a: Float32Array,
  b: Float32Array,
  batch: number,
  M: number,
  K: number,
  N: number,
  opts: MatmulOptions | undefined,
): Norm {
  checkDim('batch', batch);
  checkDim('M', M);
  checkDim('K', K);
  checkDim('N', N);
  if (opts?.bias && opts.bias.length !== N)
    throw new RangeError(`matmulF32: bias has ${opts.bias.length} elements, needs N = ${N}`);
  const aStride = opts?.aBatchStride ?? M * K;
  const bStride = opts?.bBatchStride ?? K * N;
  if (!Number.isInteger(aStride) || aStride < 0 || !Number.isInteger(bStride) || bStride < 0) {
    throw new RangeError('matmulF32: batch strides must be non-negative integers');
  }
  const inner = opts?.innerBatch ?? 1;
  if (!Number.isInteger(inner) || inner < 1 || (batch > 0 && batch % inner !== 0))
    throw new RangeError(`matmulF32: innerBatch ${inner} must be a positive divisor of batch ${batch}`);
  if ((opts?.aStrides && opts.aLoad) || (opts?.bStrides && opts.bLoad))
    throw new RangeError('matmulF32: an operand has strides or a loader, not both');
  if (batch > 0) {
    const groups = batch / inner;
    const aNeed = (batch - 1) * aStride + M * K;
    const bNeed = (batch - 1) * bStride + K * N;
    if (opts?.aStrides) {
      if (M * K > 0) checkStrides('A', a, opts.aStrides, groups, inner, opts.transA ? K : M, opts.transA ? M : K);
    } else if (a.length < aNeed) throw new RangeError(`matmulF32: A has ${a.length} elements, needs ${aNeed}`);
    if (opts?.bStrides) {
      if (K * N > 0) checkStrides('B', b, opts.bStrides, groups, inner, opts.transB ? N : K, opts.transB ? K : N);
    } else if (b.length < bNeed) throw new RangeError(`matmulF32: B has ${b.length} elements, needs ${bNeed}`);
  }
  const cLen = batch * M * N;
  let out = opts?.out;
  if (out) {
    if (out.length < cLen) throw new RangeError(`matmulF32: out has ${out.length} elements, needs ${cLen}`);
  } else {
    out = new Float32Array(cLen);
  }
  return { aStride, bStride, out };
}

/** out[r, :] += bias for the first `rows` rows of length N. */
function addBiasRows(out: Float32Array, rows: number, N: number, bias: Float32Array): void {
  for (let r = 0, o = 0; r < rows; r++, o += N) for (let j = 0; j < N; j++) out[o + j] += bias[j];
}

// ---------------------------------------------------------------------------
// Plain-JS reference (i-k-j loop), same signature
// ---------------------------------------------------------------------------

/**
 * Plain-JS matmul (i-k-j loop; accumulates in the float32 output). Same signature as
 * matmulF32 (`threads` is ignored). Unlike matmulF32, `out` must not alias `a` or `b`.
 */
export function matmulF32JS(
  a: Float32Array,
  b: Float32Array,
  batch: number,
  M: number,
  K: number,
  N: number,
  opts?: MatmulOptions,
): Float32Array {
  const { aStride, bStride, out } = normalize(a, b, batch, M, K, N, opts);
  if (opts?.aStrides || opts?.bStrides) return matmulF32JS(...unstridedCall(a, b, batch, M, K, N, { ...opts, out }));
  const transA = !!opts?.transA;
  const transB = !!opts?.transB;
  // rows of op(A) / op(B) as (offset, stride) pairs
  const rsA = transA ? 1 : K;
  const csA = transA ? M : 1;
  const rsB = transB ? 1 : N;
  const csB = transB ? K : 1;
  const bt = transB ? new Float32Array(K * N) : null;
  for (let bi = 0; bi < batch; bi++) {
    const ao = bi * aStride;
    let bo = bi * bStride;
    let bb = b;
    if (bt) {
      // materialise op(B) row-major so the inner loop is contiguous
      for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) bt[k * N + j] = b[bo + k * rsB + j * csB];
      bb = bt;
      bo = 0;
    }
    const co = bi * M * N;
    out.fill(0, co, co + M * N);
    for (let i = 0; i < M; i++) {
      const crow = co + i * N;
      for (let k = 0; k < K; k++) {
        const av = a[ao + i * rsA + k * csA];
        const brow = bo + k * N;
        for (let j = 0; j < N; j++) out[crow + j] += av * bb[brow + j];
      }
    }
  }
  if (opts?.bias) addBiasRows(out, batch * M, N, opts.bias);
  return out;
}

// ---------------------------------------------------------------------------
// WebAssembly kernel
// ---------------------------------------------------------------------------

const MR = 2;
const NR = 16;

/** The number of threads worth using here: 1 where shared memory or blocking waits are not allowed. */
function safeParallelism(): number {
  return threadsAllowed() ? cores() : 1;
}

/** Tunables (see setMatmulConfig). */
const config = {
  /** max rows of a packed A block (wsA = MC x KC floats, L2-resident) */
  MC: 128,
  /** depth of a packed slice (a B micro-panel KC x 16 floats stays in L1) */
  KC: 256,
  /** max columns of a packed B panel */
  NC: 2048,
  /** max floats of packed B kept per thread (a panel is packed for all of K); narrows panels when K is huge */
  packedBFloats: 1 << 22,
  /** products with batch*M*K*N below this stay single-threaded */
  threadMinMacs: 1 << 21,
  /** max threads (main + 1 worker); 1 disables the worker */
  maxThreads: Math.min(2, safeParallelism()),
  /** chunks to cut a threaded product into (dynamic scheduling) */
  targetChunks: 4,
  /** Atomics.load iterations the idle worker spins before sleeping (~0.6 ms; keeps bursts of products cheap) */
  workerSpin: 1 << 17,
  /** Atomics.load iterations the main thread spins on the worker's last chunk before sleeping */
  mainSpin: 1 << 12,
  /** automatic mode: try the thread count that currently looks slower every this many calls */
  exploreEvery: 32,
};

const PAGE = 65536;
const MAX_PAGES = 32768; // 2 GiB; must match the memory import in matmul.wat

interface WasmState {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  /** blocks of the memory (./heap.ts): the scratch block, and the backend's buffers where shared */
  heap: KernelHeap;
  /** the scratch block: workspaces and copies of operands that live elsewhere */
  scratch: { at: number; bytes: number };
  runJob: (p: number, wsA: number, wsB: number, tmp: number) => void;
  addBias: (c: number, rows: number, n: number, bias: number) => void;
  i32: Int32Array;
  f32: Float32Array;
  /**
   * Automatic thread choice, per size bucket (log2 of MACs above threadMinMacs): moving
   * averages of the measured time per multiply-add on 1 thread (ema[2b]) and 2 threads
   * (ema[2b+1]); 0 = not measured yet. tries[b] counts automatic calls in the bucket.
   */
  ema: Float64Array;
  tries: Int32Array;
}

let wasm: WasmState | null = null;
/** The loaded kernel fuses its multiply-adds (relaxed SIMD's FMA). */
let fma = false;
/** Call counters (see matmulStats). */
const stats = { wasmCalls: 0, threadedCalls: 0, workerMissed: 0, autoOneThread: 0, autoTwoThreads: 0, jsCalls: 0 };
const BUCKETS = 12;
let loadError: unknown = null;

function roundUp(x: number, m: number): number {
  return Math.ceil(x / m) * m;
}

async function loadWasm(): Promise<WasmState> {
  if (typeof WebAssembly !== 'object') throw new Error('no WebAssembly');
  const shared = threadsAllowed();
  fma = relaxedSimd();
  // (four literal URLs, so that bundlers see every asset)
  const url = fma
    ? shared
      ? new URL('./matmul-fma.wasm', import.meta.url)
      : new URL('./matmul-fma-single.wasm', import.meta.url)
    : shared
      ? new URL('./matmul.wasm', import.meta.url)
      : new URL('./matmul-single.wasm', import.meta.url);
  const module = new WebAssembly.Module(await wasmBytes(url));
  const memory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared });
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  return {
    module,
    memory,
    heap: createHeap(memory, MAX_PAGES * PAGE, shared),
    scratch: { at: 0, bytes: 0 },
    runJob: instance.exports.run_job as WasmState['runJob'],
    addBias: instance.exports.add_bias as WasmState['addBias'],
    i32: new Int32Array(memory.buffer),
    f32: new Float32Array(memory.buffer),
    ema: new Float64Array(2 * BUCKETS),
    tries: new Int32Array(BUCKETS),
  };
}

try {
  wasm = await loadWasm();
} catch (e) {
  loadError = e;
  wasm = null;
  warnFallback(
    'native matmul: the WebAssembly SIMD kernel did not load; plain-JS loops run instead (several times slower)',
    e,
  );
}
/** The worker's view of the kernel (its memory holds the control block at byte 0). */
const host: WorkerHost | null = wasm && {
  module: wasm.module,
  memory: wasm.memory,
  i32: () => wasm!.i32,
};
if (wasm) setKernelHeap(wasm.heap);
// js jobs (elementwise loops) may start the worker too: only where the memory is shared
if (host && threadsAllowed() && config.maxThreads > 1) setWorkerHost(host);
const spins = () => ({ worker: config.workerSpin, main: config.mainSpin });

if (wasm) {
  // V8 first runs wasm on its baseline compiler (Liftoff, several times slower here) and
  // tiers hot functions up in the background. A few small products at load trigger that
  // tier-up (for every path: plain, transposed A, transposed B), so that real work soon
  // runs on optimized code.
  try {
    const x = new Float32Array(96 * 96);
    for (let i = 0; i < 4; i++) {
      matmulF32(x, x, 1, 96, 96, 96, { threads: 1, transA: i === 1, transB: i === 2 });
    }
  } catch (e) {
    loadError = e;
    wasm = null;
    warnFallback(
      'native matmul: the WebAssembly SIMD kernel failed its first run; plain-JS loops run instead (several times slower)',
      e,
    );
  }
}

/**
 * The scratch block of at least `bytes` (kept between calls, replaced by a bigger one when a
 * product needs more), or null when the memory cannot hold it.
 */
function scratchBlock(s: WasmState, bytes: number): number | null {
  if (bytes <= s.scratch.bytes) return s.scratch.at;
  // grow geometrically, so that a run of ever larger products does not leave a trail of blocks
  let size = Math.max(bytes, Math.min(2 * s.scratch.bytes, MAX_PAGES * PAGE));
  let at = s.heap.alloc(size);
  if (at === null && size > bytes) at = s.heap.alloc((size = bytes));
  if (at === null) return null;
  if (s.scratch.bytes > 0) s.heap.free(s.scratch.at, s.scratch.bytes);
  s.scratch = { at, bytes: size };
  return at;
}

/** Views of the memory as it is now (it may have grown). */
function refreshViews(s: WasmState): void {
  if (s.f32.buffer.byteLength !== s.memory.buffer.byteLength) {
    s.i32 = new Int32Array(s.memory.buffer);
    s.f32 = new Float32Array(s.memory.buffer);
  }
}

/**
 * Automatic mode: pick 1 or 2 threads for a product of `macs` multiply-adds from what the
 * two choices recently measured for products of this size, trying the other one every
 * `exploreEvery` calls. Two threads win ~1.8x with two free cores; when other processes hold
 * a core they lose (a worker that has to share a core only adds overhead), so this follows
 * what the machine gives us instead of guessing. Returns the bucket and the choice.
 */
function autoThreads(s: WasmState, macs: number): number {
  const b = Math.min(BUCKETS - 1, Math.max(0, Math.floor(Math.log2(macs / config.threadMinMacs))));
  const e1 = s.ema[2 * b];
  const e2 = s.ema[2 * b + 1];
  let two: boolean;
  if (e2 === 0) two = true;
  else if (e1 === 0) two = false;
  else {
    two = e2 < e1;
    if (++s.tries[b] % config.exploreEvery === 0) two = !two;
  }
  return 2 * b + (two ? 1 : 0);
}

/** Fill a job parameter block at byte address p (layout documented in matmul.wat). */
function writeParams(
  i: Int32Array,
  p: number,
  a: number,
  b: number,
  c: number,
  aBS: number,
  bBS: number,
  cBS: number,
  items: number,
  M: number,
  K: number,
  N: number,
  rsA: number,
  csA: number,
  rsB: number,
  csB: number,
  mch: number,
  nc: number,
): void {
  const o = p >> 2;
  const nRC = Math.ceil(M / mch);
  const nJc = Math.ceil(N / nc);
  i[o] = a;
  i[o + 1] = b;
  i[o + 2] = c;
  i[o + 3] = aBS;
  i[o + 4] = bBS;
  i[o + 5] = cBS;
  i[o + 6] = items;
  i[o + 7] = M;
  i[o + 8] = K;
  i[o + 9] = N;
  i[o + 10] = rsA;
  i[o + 11] = csA;
  i[o + 12] = rsB;
  i[o + 13] = csB;
  i[o + 14] = N; // ldc
  i[o + 15] = mch;
  i[o + 16] = config.KC;
  i[o + 17] = nc;
  i[o + 18] = nRC;
  i[o + 19] = nJc;
  i[o + P_CHUNKS] = items * nJc * nRC;
  i[o + 21] = 0; // claim counter
  i[o + 22] = 0; // completed counter
  i[o + 23] = Math.min(config.MC, roundUp(mch, MR));
}

/** The two-level batch of a job (words 24-26): `inner` items per group, byte strides inside a group. */
function writeGroups(i: Int32Array, p: number, inner: number, aBS1: number, bBS1: number): void {
  const o = p >> 2;
  i[o + 24] = inner;
  i[o + 25] = aBS1;
  i[o + 26] = bBS1;
}

/**
 * C[b] = op(A[b]) @ op(B[b]) for b in 0..batch-1 (row-major float32, contiguous).
 * A is [batch, M, K] ([batch, K, M] if transA), B is [batch, K, N] ([batch, N, K] if transB),
 * C is [batch, M, N]. A batch stride of 0 broadcasts that operand (it is read once).
 */
export function matmulF32(
  a: Float32Array,
  b: Float32Array,
  batch: number,
  M: number,
  K: number,
  N: number,
  opts?: MatmulOptions,
): Float32Array {
  const s = wasm;
  if (opts?.aLoad || opts?.bLoad) {
    if (!s) {
      const l = loaded(a, b, opts);
      return matmulF32(l.a, l.b, batch, M, K, N, l.opts);
    }
  }
  if (!s) {
    stats.jsCalls++;
    return matmulF32JS(a, b, batch, M, K, N, opts);
  }
  const nrm = normalize(a, b, batch, M, K, N, opts);
  let aStride = nrm.aStride;
  const bStride = nrm.bStride;
  const out = nrm.out;
  if (batch === 0 || M === 0 || N === 0) return out;
  if (K === 0) {
    out.fill(0, 0, batch * M * N);
    if (opts?.bias) addBiasRows(out, batch * M, N, opts.bias);
    return out;
  }
  const transA = opts?.transA === true;
  const transB = opts?.transB === true;
  const strided = !!(opts?.aStrides || opts?.bStrides);

  // Fold the batch into M when B is shared and A's items are stacked row-major
  // (the common [B, T, D] @ [D, E] linear layer): one big product instead of many.
  if (batch > 1 && bStride === 0 && !transA && aStride === M * K && !strided) {
    M *= batch;
    batch = 1;
    aStride = M * K;
  }

  // Each operand as the kernel reads it: element strides of its rows and columns as stored, and
  // byte strides between groups of `inner` items and inside a group; the elements copied in.
  const inner = opts?.innerBatch ?? 1;
  const operand = (x: Float32Array, st: OperandStrides | undefined, stride: number, rows: number, cols: number) => {
    if (st) return { ...st, len: x.length };
    const items = stride === 0 ? 1 : batch;
    return { group: stride * inner, inner: stride, row: cols, col: 1, len: (items - 1) * stride + rows * cols };
  };
  const A = operand(a, opts?.aStrides, aStride, transA ? K : M, transA ? M : K);
  const B = operand(b, opts?.bStrides, bStride, transB ? N : K, transB ? K : N);
  const aLen = A.len;
  const bLen = B.len;
  const cItem = M * N;
  const cLen = batch * cItem;

  // Problem as the kernel sees it: element strides of op(A) (mm x K) and op(B) (K x nn).
  let rsA = transA ? A.col : A.row;
  let csA = transA ? A.row : A.col;
  let rsB = transB ? B.col : B.row;
  let csB = transB ? B.row : B.col;
  let mm = M;
  let nn = N;
  // Narrow outputs (N < 16) waste most of a 2x16 tile: compute C^T = op(B)^T op(A)^T
  // instead when that pads less, and transpose on the way out.
  const swap = N < NR && roundUp(N, MR) * roundUp(M, NR) < roundUp(M, MR) * roundUp(N, NR);
  if (swap) {
    const t0 = rsA,
      t1 = csA;
    rsA = csB;
    csA = rsB;
    rsB = t1;
    csB = t0;
    mm = N;
    nn = M;
  }

  // Threads and blocking
  const macs = batch * M * K * N;
  let threads = opts?.threads ?? 0;
  let arm = -1; // automatic choice being measured (index into s.ema)
  if (threads === 0) {
    // automatic: small products stay on this thread; big ones go where they ran faster
    threads = 1;
    if (macs >= config.threadMinMacs && config.maxThreads > 1) {
      arm = autoThreads(s, macs);
      threads = 1 + (arm & 1);
    }
  }
  threads = Math.max(1, Math.min(threads, config.maxThreads));
  const tStart = arm >= 0 ? performance.now() : 0;
  let nc = Math.min(config.NC, Math.max(NR, Math.floor(config.packedBFloats / K / NR) * NR));
  let mch = mm; // rows per chunk: everything on one thread
  if (threads > 1) {
    // Cut each item into enough chunks for dynamic balancing. Each thread packs the B panels
    // of the chunks it runs (once per panel) and every chunk packs its own rows of A, so
    // wide products are split by columns first, tall ones by rows first.
    const perItem = Math.ceil(config.targetChunks / batch);
    if (perItem > 1 && nn > mm) {
      nc = Math.min(nc, Math.max(64, roundUp(Math.ceil(nn / perItem), NR)));
      const jcs = Math.ceil(nn / nc);
      if (jcs < perItem) mch = Math.min(mch, Math.max(16, roundUp(Math.ceil(mm / Math.ceil(perItem / jcs)), MR)));
    } else if (perItem > 1) {
      mch = Math.min(mch, Math.max(16, roundUp(Math.ceil(mm / perItem), MR)));
      const rc = Math.ceil(mm / mch);
      if (rc < perItem) nc = Math.min(nc, Math.max(64, roundUp(Math.ceil(nn / Math.ceil(perItem / rc)), NR)));
    }
  }
  const ncUsed = Math.min(nc, roundUp(nn, NR));

  // Memory: [ctrl 4 KiB] … blocks (./heap.ts): one scratch block [thread 0: wsA wsB tmp][thread 1:
  // wsA wsB tmp][A][B][C][bias] where A, B, C and the bias have a part only when they are not
  // buffers in the kernel's memory already (those are read and written in place)
  const heap = s.heap;
  const wsA = roundUp(Math.min(config.MC, roundUp(mch, MR)) * Math.min(config.KC, K) * 4, 256);
  const wsB = roundUp(ncUsed * K * 4, 256);
  const ws = wsA + wsB + 256;
  const bias = opts?.bias;
  const inPlace = (x: Float32Array | undefined, load: unknown) => !!x && !load && heap.holds(x);
  const aIn = inPlace(a, opts?.aLoad);
  const bIn = inPlace(b, opts?.bLoad);
  // (C is written in place unless it overlaps an operand read in place: matmulF32 allows out to alias them)
  const overlaps = (x: Float32Array, xIn: boolean) =>
    xIn && out.byteOffset < x.byteOffset + x.byteLength && x.byteOffset < out.byteOffset + out.byteLength;
  const cIn = !swap && inPlace(out, undefined) && !overlaps(a, aIn) && !overlaps(b, bIn);
  const biasIn = inPlace(bias, undefined);
  // (a loader writes all of its operand)
  const aBytes = aIn ? 0 : roundUp((opts?.aLoad ? Math.max(aLen, a.length) : aLen) * 4, 64);
  const bBytes = bIn ? 0 : roundUp((opts?.bLoad ? Math.max(bLen, b.length) : bLen) * 4, 64);
  const cBytes = cIn ? 0 : roundUp(cLen * 4, 64);
  const need = threads * ws + aBytes + bBytes + cBytes + (bias && !biasIn ? N * 4 : 0);
  const scratch = need > MAX_PAGES * PAGE ? null : scratchBlock(s, need);
  if (scratch === null) {
    // Too big for one pass (or the process could not get the memory): split the batch (each
    // chunk is a smaller call), or run the plain-JS loops, which need less.
    const o2: MatmulOptions = { ...opts, aBatchStride: aStride, bBatchStride: bStride, out };
    if (strided) return matmulF32(...unstridedCall(a, b, batch, M, K, N, o2));
    if (o2.aLoad || o2.bLoad) {
      const l = loaded(a, b, o2);
      return matmulF32(l.a, l.b, batch, M, K, N, l.opts);
    }
    if (batch === 1) {
      stats.jsCalls++;
      return matmulF32JS(a, b, batch, M, K, N, o2);
    }
    const half = batch >> 1;
    o2.out = out.subarray(0, half * cItem);
    matmulF32(a, b, half, M, K, N, o2);
    o2.out = out.subarray(half * cItem, cLen);
    matmulF32(a.subarray(half * aStride), b.subarray(half * bStride), batch - half, M, K, N, o2);
    return out;
  }
  refreshViews(s);
  const wsBase = scratch;
  const aPtr = aIn ? a.byteOffset : wsBase + threads * ws;
  const bPtr = bIn ? b.byteOffset : wsBase + threads * ws + aBytes;
  const cPtr = cIn ? out.byteOffset : wsBase + threads * ws + aBytes + bBytes;
  const biasPtr = biasIn ? bias!.byteOffset : wsBase + threads * ws + aBytes + bBytes + cBytes;
  const f32 = s.f32;
  if (opts?.aLoad) opts.aLoad(f32, aPtr >> 2);
  else if (!aIn) f32.set(aLen === a.length ? a : a.subarray(0, aLen), aPtr >> 2);
  if (opts?.bLoad) opts.bLoad(f32, bPtr >> 2);
  else if (!bIn) f32.set(bLen === b.length ? b : b.subarray(0, bLen), bPtr >> 2);
  if (bias && !biasIn) f32.set(bias, biasPtr >> 2);

  const i32 = s.i32;
  const pA = swap ? bPtr : aPtr;
  const pB = swap ? aPtr : bPtr;
  const aBS = (swap ? B : A).group * 4;
  const bBS = (swap ? A : B).group * 4;
  const aBS1 = (swap ? B : A).inner * 4;
  const bBS1 = (swap ? A : B).inner * 4;
  const ws0 = wsBase;
  stats.wasmCalls++;
  const useWorker = threads > 1 && workerAvailable(host!, spins());
  if (useWorker) {
    const p = PARAM_SHARED;
    writeParams(i32, p, pA, pB, cPtr, aBS, bBS, cItem * 4, batch, mm, K, nn, rsA, csA, rsB, csB, mch, nc);
    writeGroups(i32, p, inner, aBS1, bBS1);
    const ws1 = wsBase + ws;
    i32[CTRL_WS] = ws1;
    i32[CTRL_WS + 1] = ws1 + wsA;
    i32[CTRL_WS + 2] = ws1 + wsA + wsB;
    if (runShared(i32, 0, spins(), () => s.runJob(p, ws0, ws0 + wsA, ws0 + wsA + wsB))) stats.threadedCalls++;
    else stats.workerMissed++; // the worker did not wake up in time: this thread did every chunk
  } else {
    if (threads > 1) arm = -1; // the worker is not up yet: nothing to learn from this call
    writeParams(i32, PARAM_MAIN, pA, pB, cPtr, aBS, bBS, cItem * 4, batch, mm, K, nn, rsA, csA, rsB, csB, mch, nc);
    writeGroups(i32, PARAM_MAIN, inner, aBS1, bBS1);
    s.runJob(PARAM_MAIN, ws0, ws0 + wsA, ws0 + wsA + wsB);
  }

  const src = s.f32.subarray(cPtr >> 2, (cPtr >> 2) + cLen);
  if (!swap) {
    if (bias) s.addBias(cPtr, batch * M, N, biasPtr);
    if (!cIn) out.set(src);
  } else {
    // src holds C^T per batch item: [N, M]
    for (let bi = 0; bi < batch; bi++) {
      const o = bi * cItem;
      for (let j = 0; j < N; j++) {
        const row = o + j * M;
        if (bias) {
          const bj = bias[j];
          for (let i = 0; i < M; i++) out[o + i * N + j] = src[row + i] + bj;
        } else for (let i = 0; i < M; i++) out[o + i * N + j] = src[row + i];
      }
    }
  }
  if (arm >= 0) {
    // moving average of the time per multiply-add; one outlier (GC pause, a cold wake-up of
    // the worker, another process) moves it by at most 30% of a factor 2
    const t = (performance.now() - tStart) / macs;
    const e = s.ema[arm];
    s.ema[arm] = e === 0 ? t : e + 0.3 * (Math.min(2 * e, Math.max(0.5 * e, t)) - e);
    if (arm & 1) stats.autoTwoThreads++;
    else stats.autoOneThread++;
  }
  return out;
}

/** Which implementation `matmulF32` uses. */
export function matmulInfo(): { impl: string; simd: boolean; threads: number; error?: string } {
  if (!wasm) return { impl: 'js', simd: false, threads: 1, error: String(loadError) };
  return { impl: `wasm-simd128${fma ? '-fma' : ''}-${MR}x${NR}`, simd: true, threads: config.maxThreads };
}

/** Counters since load: wasm calls; threaded calls the worker joined; threaded calls the worker
 * missed (it woke too late, the main thread did every chunk); automatic-mode products (above the
 * size threshold) run on one / two threads; plain-JS fallback calls. */
export function matmulStats(): Readonly<typeof stats> {
  return { ...stats };
}

/** The native matmul's tunables (blocking, threading); see setMatmulConfig. */
export type MatmulConfig = typeof config;

/** Tune blocking / threading (benchmarks, tests). Returns the previous config. */
export function setMatmulConfig(c: Partial<MatmulConfig>): MatmulConfig {
  const prev = { ...config };
  const posInt = (v: number | undefined) => v === undefined || (Number.isInteger(v) && v >= 1);
  for (const [k, v] of Object.entries(c)) {
    if (!(k in config)) throw new RangeError(`setMatmulConfig: unknown key ${k}`);
    if (!posInt(v as number) && k !== 'workerSpin' && k !== 'mainSpin' && k !== 'threadMinMacs')
      throw new RangeError(`setMatmulConfig: ${k} must be a positive integer`);
  }
  if (c.MC !== undefined && c.MC % MR) throw new RangeError('MC must be a multiple of 2');
  if (c.NC !== undefined && c.NC % NR) throw new RangeError('NC must be a multiple of 16');
  Object.assign(config, c);
  config.maxThreads = Math.max(1, Math.min(2, config.maxThreads));
  return prev;
}

export function getMatmulConfig(): Readonly<MatmulConfig> {
  return { ...config };
}
