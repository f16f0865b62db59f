/**
 * What the kernels need from the platform — their compiled WebAssembly, the core count,
 * a worker thread, shared memory — looked up at run time, so that the engine imports nothing
 * from `node:*` and bundles for browsers as it is.
 *
 * In Node, built-ins come from `process.getBuiltinModule` (Node ≥ 20.16) and `.wasm` files are
 * read from disk; elsewhere `.wasm` files are fetched (the `new URL('./x.wasm', import.meta.url)`
 * pattern that bundlers copy as assets) and workers are Web Workers. Shared memory, and with it a
 * second thread, needs Node or a cross-origin-isolated page (COOP/COEP headers), and a thread
 * that may block (`Atomics.wait`): a Web Worker, not a page's main thread. In a browser the second
 * thread (a nested Web Worker) starts once the calling worker first returns to its event loop;
 * products run on one thread until then. (Checked in Chromium 156: a page's main thread runs the
 * SIMD kernels on one thread; a cross-origin-isolated page's worker runs threaded products with
 * results equal to the float64 reference's.)
 */

interface NodeProcess {
  versions?: { node?: string };
  getBuiltinModule?: (id: string) => unknown;
}

const proc = (globalThis as { process?: NodeProcess }).process;

/** True in Node (and runtimes that present themselves as Node). */
export const isNode = typeof proc?.versions?.node === 'string';

/** A Node built-in module, or null outside Node. */
export function nodeBuiltin<T>(id: string): T | null {
  return (proc?.getBuiltinModule?.(id) as T | undefined) ?? null;
}

/** The bytes of a compiled kernel (a `file:` URL is read from disk in Node, anything else fetched). */
export async function wasmBytes(url: URL): Promise<Uint8Array<ArrayBuffer>> {
  const fs = nodeBuiltin<{ readFileSync(u: URL): Uint8Array }>('node:fs');
  if (fs && url.protocol === 'file:') return new Uint8Array(fs.readFileSync(url));
  const res = await fetch(url);
  if (!res.ok) throw new Error(`cannot fetch ${url.href}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/** Logical cores available to this process (1 when unknown). */
export function cores(): number {
  try {
    const os = nodeBuiltin<{ availableParallelism(): number }>('node:os');
    if (os) return os.availableParallelism();
    return (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
  } catch {
    return 1;
  }
}

/** Whether a shared WebAssembly.Memory can be made and this thread may block on it. */
export function threadsAllowed(): boolean {
  if (typeof SharedArrayBuffer === 'undefined') return false;
  if (!isNode && (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated !== true) return false;
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0); // throws on a browser's main thread
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether WebAssembly's relaxed SIMD (here: its fused multiply-add, `f32x4.relaxed_madd`) compiles.
 * Chromium ≥ 114, Firefox ≥ 120 and Node ≥ 22 ship it; Node 20's V8 has it behind a flag, which is
 * switched on here (`v8.setFlagsFromString`, read when a module is validated). `MATPAC_FMA=0` in
 * the environment turns it off: the kernels then multiply and add separately, as every machine
 * does without FMA (results differ in the last bits, not in accuracy).
 */
export function relaxedSimd(): boolean {
  const env = (proc as { env?: Record<string, string | undefined> } | undefined)?.env;
  if (env?.MATPAC_FMA === '0') return false;
  nodeBuiltin<{ setFlagsFromString(f: string): void }>('node:v8')?.setFlagsFromString(
    '--experimental-wasm-relaxed-simd',
  );
  return WebAssembly.validate(RELAXED_MADD_PROBE);
}

/** `(func (param v128 v128 v128) (result v128) (f32x4.relaxed_madd (local.get 0) (local.get 1) (local.get 2)))` */
const RELAXED_MADD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 8, 1, 96, 3, 123, 123, 123, 1, 123, 3, 2, 1, 0, 10, 13, 1, 11, 0, 32, 0, 32, 1, 32, 2,
  253, 133, 2, 11,
]);

/** A worker running `body` (plain JavaScript with `workerData` in scope). */
export interface KernelWorker {
  /** Let the process exit while the worker waits (Node). */
  unref(): void;
  /** Called once if the worker fails or exits. */
  onGone(cb: () => void): void;
}

/** Start a worker thread (Node worker_threads, else a Web Worker) running `body` with `data` as `workerData` (`transfer`: its transferables, e.g. a MessagePort). */
export function spawnWorker(body: string, data: unknown, transfer: unknown[] = []): KernelWorker {
  const wt = nodeBuiltin<{
    Worker: new (src: string, o: object) => { unref(): void; on(ev: string, cb: () => void): void };
  }>('node:worker_threads');
  if (wt) {
    const w = new wt.Worker(`const { workerData } = require('node:worker_threads');\n${body}`, {
      eval: true,
      workerData: data,
      transferList: transfer,
    });
    return { unref: () => w.unref(), onGone: (cb) => (w.on('error', cb), w.on('exit', cb)) };
  }
  const g = globalThis as unknown as {
    Worker?: new (url: string) => {
      postMessage(d: unknown, transfer: unknown[]): void;
      addEventListener(ev: string, cb: () => void): void;
    };
    Blob: typeof Blob;
    URL: typeof URL;
  };
  if (!g.Worker) throw new Error('no Worker here');
  const src = `self.onmessage = (e) => { self.onmessage = null; const workerData = e.data;\n${body}\n};`;
  const url = g.URL.createObjectURL(new g.Blob([src], { type: 'text/javascript' }));
  const w = new g.Worker(url);
  w.postMessage(data, transfer);
  return { unref: () => {}, onGone: (cb) => (w.addEventListener('error', cb), w.addEventListener('messageerror', cb)) };
}

const warned = new Set<string>();

/** Say once (console.warn) that a kernel runs slower than it could, and why: never fall back silently. */
export function warnFallback(what: string, why: unknown): void {
  if (warned.has(what)) return;
  warned.add(what);
  console.warn(`matpac: ${what} (${String(why).split('\n')[0]})`);
}
