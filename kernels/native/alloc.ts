/**
 * Output buffers of the native backend: Float32Arrays recycled by length.
 *
 * A training step writes ~0.5 GB of intermediates (tiny preset). Fresh typed arrays cost a
 * zero-fill, page faults on first touch and garbage-collector work; the engine already knows
 * when a buffer dies (its scopes and `disposeTree` dispose every intermediate of a step, which
 * on GL frees textures), so the native backend returns disposed buffers here and kernels take
 * their outputs from here. Without scopes nothing is disposed and the GC reclaims buffers as
 * before.
 *
 *   allocF32(n)    contents undefined: for kernels that write every element (shared = true: on a
 *                  SharedArrayBuffer however small, where the worker thread can write it)
 *   zerosF32(n)    zero-filled: for kernels that accumulate or leave gaps (pad, scatterAdd)
 *   releaseF32(a)  `a` is dead: a later alloc of the same length may return it
 */
import { cores, nodeBuiltin, threadsAllowed } from '../platform';
import { kernelHeap } from './heap';

/**
 * Buffers of at least SHARED_MIN elements lie in shared memory where that pays: in the kernels'
 * WebAssembly memory when it is shared (./heap.ts: the matmul reads and writes them in place),
 * else on SharedArrayBuffers of their own where the generated loops can run on the worker thread
 * too (Node with 2+ cores: kernels/native/worker.ts), so that it reads and writes them in place.
 */
const SHARED_MIN = 4096;
const shareable = threadsAllowed() && cores() > 1 && nodeBuiltin('node:worker_threads') !== null;
/** Shared buffers made here (not a kernel's WebAssembly memory seen through a view, nor a caller's). */
const ownShared = new WeakSet<Float32Array>();
/** Heap buffers' blocks go back to the heap when the GC collects a buffer that was never released. */
const collected = new FinalizationRegistry<{ at: number; bytes: number }>((b) => kernelHeap()?.free(b.at, b.bytes));

/** Whether `a` lies on shared memory (the worker thread can read and write it in place). */
export const onShared = (a: Float32Array): boolean =>
  typeof SharedArrayBuffer !== 'undefined' && a.buffer instanceof SharedArrayBuffer;

const pool = new Map<number, Float32Array[]>();
/** Bytes held by the pool; beyond MAX_POOLED, released buffers are left to the GC. */
let pooledBytes = 0;
const MAX_POOLED = 768 * 2 ** 20;
const stats = { allocs: 0, reused: 0, released: 0, dropped: 0, heap: 0 };

/** Free buffers by length, shared ones under the negated length (a request for shared memory gets shared memory). */
const keyOf = (n: number, shared: boolean) => (shared ? -n : n);

let heapBuffers = true;

/**
 * Whether new buffers may be blocks of the kernels' memory (default: yes; benchmarks compare).
 * Empties the pool, so that what follows is allocated the new way. Returns the previous setting.
 */
export function setHeapBuffers(on: boolean): boolean {
  const prev = heapBuffers;
  heapBuffers = on;
  clearPool();
  return prev;
}

/** A buffer in the kernels' shared WebAssembly memory, or null when there is none or it is full. */
function heapF32(n: number): Float32Array | null {
  const heap = kernelHeap();
  if (!heap?.shared || !heapBuffers) return null;
  const at = heap.alloc(4 * n);
  if (at === null) return null;
  const a = new Float32Array(heap.memory.buffer, at, n);
  collected.register(a, { at, bytes: 4 * n }, a);
  stats.heap++;
  return a;
}

export function allocF32(n: number, shared = false): Float32Array {
  stats.allocs++;
  const onShared = (shareable || kernelHeap()?.shared === true) && (shared || n >= SHARED_MIN);
  const a = pool.get(keyOf(n, onShared))?.pop();
  if (a) {
    stats.reused++;
    pooledBytes -= a.byteLength;
    return a;
  }
  if (!onShared) return new Float32Array(n);
  const b = heapF32(n) ?? new Float32Array(new SharedArrayBuffer(4 * n));
  ownShared.add(b);
  return b;
}

export function zerosF32(n: number): Float32Array {
  return allocF32(n).fill(0); // (a recycled array, or a reused block of the kernels' memory, holds old values)
}

export function releaseF32(a: Float32Array): void {
  // only whole buffers are recycled (never views): arrays of their own ArrayBuffer, and shared
  // ones made here (on a SharedArrayBuffer of their own or a block of the kernels' memory)
  const own = ownShared.has(a);
  if (a.length === 0 || (!own && (a.byteOffset !== 0 || a.buffer.byteLength !== a.byteLength || onShared(a)))) return;
  if (pooledBytes + a.byteLength > MAX_POOLED) {
    stats.dropped++;
    const heap = kernelHeap();
    if (own && heap?.holds(a) && collected.unregister(a)) heap.free(a.byteOffset, a.byteLength); // dead: its block is free now
    return;
  }
  const key = keyOf(a.length, own);
  let free = pool.get(key);
  if (!free) pool.set(key, (free = []));
  free.push(a);
  pooledBytes += a.byteLength;
  stats.released++;
}

/** Counters (allocations, how many reused a released buffer) and the bytes pooled now. */
export function allocStats(): {
  allocs: number;
  reused: number;
  released: number;
  dropped: number;
  pooledBytes: number;
} {
  return { ...stats, pooledBytes };
}

/** Drop every pooled buffer (tests; or to hand memory back after a big job). */
export function clearPool(): void {
  pool.clear();
  pooledBytes = 0;
}
