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
 *   allocF32(n)    contents undefined: for kernels that write every element
 *   zerosF32(n)    zero-filled: for kernels that accumulate or leave gaps (pad, scatterAdd)
 *   releaseF32(a)  `a` is dead: a later alloc of the same length may return it
 */
const pool = new Map<number, Float32Array[]>();
/** Bytes held by the pool; beyond MAX_POOLED, released buffers are left to the GC. */
let pooledBytes = 0;
const MAX_POOLED = 768 * 2 ** 20;
const stats = { allocs: 0, reused: 0, released: 0, dropped: 0 };

export function allocF32(n: number): Float32Array {
  stats.allocs++;
  const free = pool.get(n);
  const a = free?.pop();
  if (a) {
    stats.reused++;
    pooledBytes -= a.byteLength;
    return a;
  }
  return new Float32Array(n);
}

export function zerosF32(n: number): Float32Array {
  const free = pool.get(n);
  if (free && free.length) return allocF32(n).fill(0);
  return allocF32(n);
}

export function releaseF32(a: Float32Array): void {
  // only whole, unshared buffers of their own ArrayBuffer are recycled (never views)
  if (
    a.length === 0 ||
    a.byteOffset !== 0 ||
    a.buffer.byteLength !== a.byteLength ||
    (typeof SharedArrayBuffer !== 'undefined' && a.buffer instanceof SharedArrayBuffer)
  )
    return;
  if (pooledBytes + a.byteLength > MAX_POOLED) {
    stats.dropped++;
    return;
  }
  let free = pool.get(a.length);
  if (!free) pool.set(a.length, (free = []));
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
