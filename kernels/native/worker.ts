/**
 * The native kernels' second thread: one worker, spawned on first need, that shares the wasm
 * matmul's memory (kernels/native/matmul.ts) and takes part in two kinds of jobs:
 *
 *   wasm  a product: both threads call the kernel's `run_job` on the parameter block at
 *         PARAM_SHARED, which claims chunks of the product from an atomic counter;
 *   js    a generated JavaScript loop (elementwise, batches: ./elementwise.ts, ./batch.ts): both
 *         threads run `job(args, chunk)` for the chunks they claim from the same counter. The job's
 *         source and its arguments (typed arrays on SharedArrayBuffers, ./alloc.ts) reach the worker
 *         through a MessagePort that it reads synchronously (`receiveMessageOnPort`: Node only;
 *         elsewhere js jobs run on the calling thread). Besides the scalar helpers, a job's source
 *         sees each WebAssembly module shared with `shareJobModule` under its name, as this
 *         thread's own instance ({ exports, memory }, on a memory of its own): the row kernels
 *         (./rows.ts) run that way, each thread copying its rows through its own instance.
 *
 * Protocol (Int32 words of the control block at byte 0 of the memory; seq counts posted jobs):
 *   main:   write the job (PARAM_SHARED; for js: post {seq, key, src, args}); KIND; JOIN = 2*seq;
 *           SEQ = seq; notify(SEQ); run chunks itself; then CAS(JOIN, 2*seq -> -1): if that
 *           succeeds the worker never joined (every chunk was done here) and the job is closed;
 *           otherwise wait until every chunk completed, and before the next job wait for DONE == seq.
 *   worker: spin (SPIN iterations), then sleep, until SEQ changes to s; read the port's messages;
 *           join with CAS(JOIN, 2*s -> 2*s+1) (fails if the job is closed or superseded); run
 *           chunks; DONE = s; notify.
 * Dynamic chunks make the split robust: a worker that wakes late, or that has to share a core
 * (other processes, or the scheduler placing it next to the main thread), takes fewer chunks
 * instead of stretching the job. The idle worker spins for a while before it sleeps, so
 * back-to-back jobs skip the futex wake-up (tens of µs). Results do not depend on which thread
 * ran a chunk.
 *
 * The worker is plain JS (../platform.ts starts it from source with `workerData` in scope), so it
 * starts the same under tsx, vitest, node and in a browser's Web Worker.
 */
import { HELPER_NAMES, HELPERS_SOURCE, scalarHelpers } from '../../src/fused';
import { erf32 } from '../../src/math';
import { nodeBuiltin, spawnWorker, type KernelWorker } from '../platform';

// Int32 indices of the control words at byte 0 of the memory
const CTRL_SEQ = 0; // job counter posted by the main thread
const CTRL_DONE = 1; // last job counter the worker finished
const CTRL_READY = 2; // worker instantiated
const CTRL_ERR = 3; // worker caught an exception
/** the worker's wsA, wsB, tmp byte addresses for a wasm job (3 words) */
export const CTRL_WS = 4;
const CTRL_SPIN = 7; // worker spin iterations
const CTRL_JOIN = 8; // 2*seq: job open; 2*seq+1: the worker joined it; -1: closed by the main thread
const CTRL_KIND = 9; // 0: wasm, 1: js
/** Byte addresses of the job parameter blocks: one thread's own jobs, and the job shared by both. */
export const PARAM_MAIN = 256;
export const PARAM_SHARED = 512;
/** Word offsets inside a parameter block (the wasm layout is documented in matmul.wat). */
export const P_CHUNKS = 20;
const P_CLAIM = 21;
const P_COMPLETED = 22;
const SEQ_MASK = 0x1fffffff;

/** What the worker shares: the kernel module and its memory (the control block lives at byte 0). */
export interface WorkerHost {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  /** The memory as Int32 words (refreshed by the host when the memory grows). */
  i32: () => Int32Array;
}

/** Spin budgets: the idle worker's, and the main thread's while it waits for the worker's last chunk. */
export interface Spins {
  worker: number;
  main: number;
}

/** js jobs: loops over at least `min` elements use the worker too, cut into `chunks` chunks (setJsParallel). */
const jsConfig = { min: 1 << 15, chunks: 4 };

/** Set the size from which generated loops use the worker thread too (Infinity: never); returns the previous one. */
export function setJsParallelMin(n: number): number {
  const prev = jsConfig.min;
  jsConfig.min = n;
  return prev;
}

/** Set how many chunks a js job is cut into (dynamic balancing between the two threads); returns the previous count. */
export function setJsChunks(n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setJsChunks: a positive integer, got ${n}`);
  const prev = jsConfig.chunks;
  jsConfig.chunks = n;
  return prev;
}

/** Chunks per js job. */
export const jsChunks = (): number => jsConfig.chunks;

/** Whether a loop over n elements should run as a js job on both threads. */
export function jsParallel(n: number): boolean {
  return n >= jsConfig.min && state.host !== null && !state.failed;
}

/** The spin budgets of js jobs (the matmul's are in its config, with the same defaults). */
const workerSpins: Spins = { worker: 1 << 17, main: 1 << 12 };

const HELPERS = scalarHelpers(erf32);

/** A WebAssembly module whose instances a job's source sees by name (see shareJobModule). */
export interface JobModule {
  exports: WebAssembly.Exports;
  memory: WebAssembly.Memory;
}

/**
 * Where a shared module's worker instance gets its memory: one of its own of [initial, maximum]
 * pages, or the kernels' shared memory (the matmul's, which the worker already has).
 */
export type JobMemory = [number, number] | 'kernels';

/** Modules shared with js jobs: the main thread's instance, and what the worker needs to make its own. */
const jobModules = new Map<string, { module: WebAssembly.Module; memory: JobMemory; here: JobModule }>();

/**
 * Make `name` a variable of every job's source: on this thread `here` (an instance of `module`),
 * in the worker an instance of the same module on the memory `memory` says, imported as
 * env.memory. Register before the worker starts (at module load): a worker already running
 * does not get it (`jobModuleShared` says so).
 */
export function shareJobModule(name: string, module: WebAssembly.Module, memory: JobMemory, here: JobModule): void {
  jobModules.set(name, { module, memory, here });
}

/** Whether jobs that use module `name` can run on the worker (it was registered before the worker started). */
export const jobModuleShared = (name: string): boolean =>
  jobModules.has(name) && (state.worker === null || state.modules.includes(name));

/**
 * A generated loop and the job that runs one chunk of it, compiled here from source (function
 * bodies of the scalar helpers and the shared modules: `loopSrc` returns the loop, `jobSrc`
 * returns the job with `loop` in scope); `src` is what the worker compiles for the same job.
 */
export function compileJob<L, J>(loopSrc: string, jobSrc: string): { loop: L; job: J; src: string } {
  const src = `const loop = (() => { ${loopSrc} })();\n${jobSrc}`;
  const names = [...HELPER_NAMES, ...jobModules.keys()];
  const values = [...HELPER_NAMES.map((h) => HELPERS[h]), ...[...jobModules.values()].map((m) => m.here)];
  return {
    loop: new Function(...names, loopSrc)(...values) as L,
    job: new Function(...names, src)(...values) as J,
    src,
  };
}

const SHARED = PARAM_SHARED >> 2;
const WORKER_SRC = `
const { module, memory, port, helpers, modules } = workerData;
const inst = new WebAssembly.Instance(module, { env: { memory } });
const runJob = inst.exports.run_job;
const ctrl = new Int32Array(memory.buffer, 0, 1024);
const COMPLETED = ${SHARED + P_COMPLETED};
const receive = port && typeof require === 'function' ? require('node:worker_threads').receiveMessageOnPort : null;
const scalar = new Function('erf', helpers.source)(new Function('return ' + helpers.erf)());
const own = (m) => {
  const mem = m.memory === 'kernels' ? memory : new WebAssembly.Memory({ initial: m.memory[0], maximum: m.memory[1] });
  return { exports: new WebAssembly.Instance(m.module, { env: { memory: mem } }).exports, memory: mem };
};
const names = [...helpers.names, ...modules.map((m) => m.name)];
const values = [...helpers.names.map((n) => scalar[n]), ...modules.map(own)];
const jobs = new Map(); // key -> job function
const inbox = new Map(); // seq -> message of a js job not run yet
const older = (q, s) => q !== s && ((s - q) & ${SEQ_MASK}) < ${(SEQ_MASK + 1) / 2};
function drain(s) {
  for (let r = receive && receive(port); r; r = receive(port)) {
    const m = r.message;
    if (m.src) jobs.set(m.key, new Function(...names, m.src)(...values));
    inbox.set(m.seq, m);
  }
  const m = inbox.get(s);
  for (const q of inbox.keys()) if (q === s || older(q, s)) inbox.delete(q);
  return m;
}
function runJs(m) {
  const job = jobs.get(m.key);
  const n = ctrl[${SHARED + P_CHUNKS}];
  for (let c = Atomics.add(ctrl, ${SHARED + P_CLAIM}, 1); c < n; c = Atomics.add(ctrl, ${SHARED + P_CLAIM}, 1)) {
    job(m.args, c);
    Atomics.add(ctrl, COMPLETED, 1);
  }
}
let seen = Atomics.load(ctrl, ${CTRL_SEQ});
Atomics.store(ctrl, ${CTRL_READY}, 1);
Atomics.notify(ctrl, ${CTRL_READY});
let spin = 0; // spin only after a job we made it to: a late worker is short of CPU, and
              // spinning would take it from the main thread if they share a core
for (;;) {
  let s = Atomics.load(ctrl, ${CTRL_SEQ});
  for (let i = spin; i > 0 && s === seen; i--) s = Atomics.load(ctrl, ${CTRL_SEQ});
  if (s === seen) {
    Atomics.wait(ctrl, ${CTRL_SEQ}, seen);
    continue;
  }
  seen = s;
  let m;
  try {
    m = drain(s);
  } catch (e) {
    Atomics.store(ctrl, ${CTRL_ERR}, 1);
  }
  const js = Atomics.load(ctrl, ${CTRL_KIND}) === 1;
  if ((js && !m) || Atomics.compareExchange(ctrl, ${CTRL_JOIN}, 2 * s, 2 * s + 1) !== 2 * s) {
    spin = 0; // missed it (or superseded): the main thread does all the work
    continue;
  }
  spin = Atomics.load(ctrl, ${CTRL_SPIN});
  try {
    if (js) runJs(m);
    else runJob(${PARAM_SHARED}, ctrl[${CTRL_WS}], ctrl[${CTRL_WS + 1}], ctrl[${CTRL_WS + 2}]);
  } catch (e) {
    Atomics.store(ctrl, ${CTRL_ERR}, 1);
  }
  Atomics.store(ctrl, ${CTRL_DONE}, s);
  Atomics.notify(ctrl, ${CTRL_DONE});
  Atomics.notify(ctrl, COMPLETED);
}
`;

interface Channel {
  port1: { postMessage(m: unknown): void };
  port2: unknown;
}

const state = {
  worker: null as KernelWorker | null,
  failed: false,
  /** last job counter posted */
  seq: 0,
  /** the worker joined the last posted job and may not have reported DONE yet */
  joined: false,
  /** the main thread's end of the worker's message port (Node), else null: js jobs stay here */
  port: null as Channel['port1'] | null,
  /** job sources the worker has been sent */
  sent: new Set<string>(),
  /** the shared modules the worker was started with (./shareJobModule) */
  modules: [] as string[],
  host: null as WorkerHost | null,
};

/** Wait (spin, then sleep) until i32[idx] satisfies ok(). The other side notifies idx. */
function waitFor(i32: Int32Array, idx: number, ok: (v: number) => boolean, spins: number): void {
  for (;;) {
    const v = Atomics.load(i32, idx);
    if (ok(v)) return;
    if (spins > 0) spins--;
    else Atomics.wait(i32, idx, v, 20); // sleeping yields the core if the worker shares it
  }
}

/** Where js jobs may start the worker (matmul.ts registers its kernel when threads are allowed). */
export function setWorkerHost(host: WorkerHost): void {
  state.host = host;
}

/**
 * True when the worker is up and can take a job (spawning it on the first call, which returns
 * false: it starts in tens of ms, and this job runs on one thread).
 */
export function workerAvailable(host: WorkerHost, spins: Spins): boolean {
  if (state.failed) return false;
  const i32 = host.i32();
  if (!state.worker) {
    try {
      Atomics.store(i32, CTRL_SPIN, spins.worker);
      const wt = nodeBuiltin<{ MessageChannel: new () => Channel }>('node:worker_threads');
      const ch = wt ? new wt.MessageChannel() : null;
      const helpers = { names: HELPER_NAMES, source: HELPERS_SOURCE, erf: erf32.toString() };
      const modules = [...jobModules].map(([name, m]) => ({ name, module: m.module, memory: m.memory }));
      const w = spawnWorker(
        WORKER_SRC,
        { module: host.module, memory: host.memory, port: ch?.port2 ?? null, helpers, modules },
        ch ? [ch.port2] : [],
      );
      state.modules = modules.map((m) => m.name);
      w.unref();
      w.onGone(() => {
        state.failed = true;
        state.worker = null;
      });
      state.worker = w;
      state.port = ch?.port1 ?? null;
      state.host = host;
    } catch {
      state.failed = true;
      return false;
    }
  }
  if (Atomics.load(i32, CTRL_READY) !== 1) return false;
  if (state.joined) {
    // it joined the previous job, whose chunks are all done: it is about to report DONE
    const seq = state.seq;
    waitFor(i32, CTRL_DONE, (v) => v === seq, spins.main);
    state.joined = false;
  }
  return true;
}

/**
 * Post the job already written at PARAM_SHARED (kind 0: wasm; 1: js, whose message `post`
 * sends with the job's seq), run `mainPart` (this thread's chunks), and wait for the worker's.
 * Returns whether the worker joined. Call only after workerAvailable() returned true.
 */
export function runShared(
  i32: Int32Array,
  kind: 0 | 1,
  spins: Spins,
  mainPart: () => void,
  post?: (seq: number) => void,
): boolean {
  const seq = (state.seq = (state.seq + 1) & SEQ_MASK);
  post?.(seq);
  Atomics.store(i32, CTRL_SPIN, spins.worker);
  Atomics.store(i32, CTRL_KIND, kind);
  Atomics.store(i32, CTRL_JOIN, 2 * seq);
  Atomics.store(i32, CTRL_SEQ, seq);
  Atomics.notify(i32, CTRL_SEQ);
  mainPart();
  if (Atomics.compareExchange(i32, CTRL_JOIN, 2 * seq, -1) === 2 * seq) return false;
  state.joined = true;
  const nChunks = i32[SHARED + P_CHUNKS];
  waitFor(i32, SHARED + P_COMPLETED, (v) => v >= nChunks, spins.main);
  if (Atomics.exchange(i32, CTRL_ERR, 0) !== 0) throw new Error('native kernels: the worker thread failed');
  return true;
}

/** Counters of js jobs: run on two threads, run here because the worker missed them, run here alone. */
const jsStats = { threaded: 0, missed: 0, single: 0 };

/**
 * Run `job(args, c)` for c = 0 … chunks-1 on this thread and the worker; `src` is the job's
 * source (the body of a function of the scalar helpers that returns the job), `key` names it
 * (the worker compiles each key once). The arguments' typed arrays must lie on
 * SharedArrayBuffers. Without the worker (not started, a browser, threads off) every chunk runs
 * here. Chunks must not depend on each other's results.
 */
export function runJsChunks<A>(
  key: string,
  src: string,
  job: (args: A, c: number) => void,
  args: A,
  chunks: number,
): void {
  const spins = workerSpins;
  const host = state.host;
  const port = state.port;
  if (!host || !port || chunks < 2 || !workerAvailable(host, spins)) {
    jsStats.single++;
    for (let c = 0; c < chunks; c++) job(args, c);
    return;
  }
  const i32 = host.i32();
  i32[SHARED + P_CHUNKS] = chunks;
  i32[SHARED + P_CLAIM] = 0;
  i32[SHARED + P_COMPLETED] = 0;
  const post = (seq: number) => {
    const first = !state.sent.has(key);
    if (first) state.sent.add(key);
    port.postMessage({ seq, key, src: first ? src : undefined, args });
  };
  const joined = runShared(
    i32,
    1,
    spins,
    () => {
      for (let c = Atomics.add(i32, SHARED + P_CLAIM, 1); c < chunks; c = Atomics.add(i32, SHARED + P_CLAIM, 1)) {
        job(args, c);
        Atomics.add(i32, SHARED + P_COMPLETED, 1);
      }
    },
    post,
  );
  if (joined) jsStats.threaded++;
  else jsStats.missed++;
}

/** Counters of js jobs since load (see runJsChunks). */
export function workerJsStats(): Readonly<typeof jsStats> {
  return { ...jsStats };
}
