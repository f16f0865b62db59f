/**
 * Random tensors from keys. The numbers are drawn on the host from (key, counter) by
 * src/random.ts and uploaded, so a key gives the same values on every backend.
 */
import { fromHost } from './core';
import type { Tensor } from './core';
import { normalHost, permutationHost, uniformHost, type Key } from './random';
import { size, type Shape } from './shape';

/** A tensor of uniform values in [lo, hi) drawn from `key` (counter-based: the same key gives the same values). */
export const uniform = (key: Key, shape: Shape, lo = 0, hi = 1): Tensor =>
  fromHost(
    uniformHost(key, size(shape)).map((u) => lo + (hi - lo) * u),
    shape,
  );
/** A tensor of normal values with standard deviation `std` drawn from `key`. */
export const normal = (key: Key, shape: Shape, std = 1): Tensor =>
  fromHost(
    normalHost(key, size(shape)).map((z) => z * std),
    shape,
  );
/** A random permutation of 0..n−1 as a float tensor of indices (exact below 2^24). */
export const permutation = (key: Key, n: number): Tensor => fromHost(Float64Array.from(permutationHost(key, n)), [n]);
