/**
 * Splittable, counter-based random keys (Threefry-2x32, 20 rounds — the generator JAX uses).
 *
 * A key is a pair of 32-bit words. Nothing here has state: the same key always gives the same
 * numbers, on every backend, because every draw is computed on the host from (key, counter)
 * and only then uploaded. New randomness comes only from `split`, so a training run is a pure
 * function of its seed, and a resumed run (whose key is stored in the checkpoint) continues
 * the exact same stream.
 *
 * Reference: Salmon et al., "Parallel random numbers: as easy as 1, 2, 3" (SC'11), Random123's
 * threefry2x32_20; JAX `jax/_src/prng.py` (threefry_2x32, threefry_split).
 */

/** A PRNG key: two unsigned 32-bit words. Treat as an opaque immutable value. */
export type Key = readonly [number, number];

const ROTATIONS_0 = [13, 15, 26, 6] as const;
const ROTATIONS_1 = [17, 29, 16, 24] as const;

const rotl = (x: number, r: number): number => ((x << r) | (x >>> (32 - r))) >>> 0;

/** The Threefry-2x32 block function with 20 rounds: (key, counter) → two random words. */
export function threefry2x32(key: Key, c0: number, c1: number): [number, number] {
  const ks0 = key[0] >>> 0;
  const ks1 = key[1] >>> 0;
  const ks2 = (ks0 ^ ks1 ^ 0x1bd11bda) >>> 0;
  const ks = [ks0, ks1, ks2];
  let x0 = (c0 + ks0) >>> 0;
  let x1 = (c1 + ks1) >>> 0;
  for (let group = 0; group < 5; group++) {
    const rot = group % 2 === 0 ? ROTATIONS_0 : ROTATIONS_1;
    for (const r of rot) {
      x0 = (x0 + x1) >>> 0;
      x1 = (rotl(x1, r) ^ x0) >>> 0;
    }
    const s = group + 1;
    x0 = (x0 + ks[s % 3]) >>> 0;
    x1 = (x1 + ks[(s + 1) % 3] + s) >>> 0;
  }
  return [x0, x1];
}

/** A key from an integer seed (as jax.random.PRNGKey: high and low 32 bits). */
export function keyFromSeed(seed: number): Key {
  if (!Number.isSafeInteger(seed)) throw new Error(`keyFromSeed: seed must be a safe integer, got ${seed}`);
  const hi = Math.floor(seed / 2 ** 32) >>> 0;
  const lo = (seed >>> 0) >>> 0;
  return [hi, lo];
}

/** `n` raw random 32-bit words from a key (counter blocks 0, 1, 2, ...). */
export function randomBits(key: Key, n: number): Uint32Array {
  const out = new Uint32Array(n);
  const blocks = Math.ceil(n / 2);
  for (let i = 0; i < blocks; i++) {
    const [a, b] = threefry2x32(key, i, 0x9e3779b9);
    out[2 * i] = a;
    if (2 * i + 1 < n) out[2 * i + 1] = b;
  }
  return out;
}

/** Split a key into `n` independent keys (default 2). */
export function split(key: Key, n = 2): Key[] {
  const keys: Key[] = [];
  for (let i = 0; i < n; i++) {
    const [a, b] = threefry2x32(key, i, 0);
    keys.push([a, b]);
  }
  return keys;
}

/** Derive a key for a named or numbered purpose (e.g. the step number) without consuming the parent. */
export function foldIn(key: Key, data: number): Key {
  const [a, b] = threefry2x32(key, data >>> 0, 0x5bd1e995);
  return [a, b];
}

/** `n` floats uniform in [0, 1), each with 24 random bits (exactly representable in float32). */
export function uniformHost(key: Key, n: number): Float64Array {
  const bits = randomBits(key, n);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (bits[i] >>> 8) / 16777216;
  return out;
}

/** `n` standard normal draws (Box–Muller on pairs of uniforms; u1 in (0, 1] so log is finite). */
export function normalHost(key: Key, n: number): Float64Array {
  const m = n + (n % 2);
  const u = uniformHost(key, m);
  const out = new Float64Array(n);
  for (let i = 0; i < m; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - u[i]));
    const th = 2 * Math.PI * u[i + 1];
    out[i] = r * Math.cos(th);
    if (i + 1 < n) out[i + 1] = r * Math.sin(th);
  }
  return out;
}

/** A uniformly random permutation of 0..n-1: argsort of random 32-bit words (ties by index). */
export function permutationHost(key: Key, n: number): Int32Array {
  const bits = randomBits(key, n);
  const idx = Array.from({ length: n }, (_, i) => i);
  idx.sort((a, b) => bits[a] - bits[b] || a - b);
  return Int32Array.from(idx);
}

/** Random integers in [lo, hi) (rejection-free; bias < 2^-32·(hi−lo), negligible for our ranges). */
export function randintHost(key: Key, n: number, lo: number, hi: number): Int32Array {
  const bits = randomBits(key, n);
  const out = new Int32Array(n);
  const span = hi - lo;
  for (let i = 0; i < n; i++) out[i] = lo + Math.floor((bits[i] / 4294967296) * span);
  return out;
}
