/** Splittable keys: known answers, determinism, independence of split keys, same stream on every backend. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as mp from '../src/index';
import {
  keyFromSeed,
  normalHost,
  permutationHost,
  randomBits,
  split,
  threefry2x32,
  uniformHost,
  foldIn,
} from '../src/random';
import { uniform, normal } from '../src/rng-tensor';

describe('threefry2x32', () => {
  it('matches the Random123 known-answer vectors', () => {
    expect(threefry2x32([0, 0], 0, 0)).toEqual([0x6b200159, 0x99ba4efe]);
    expect(threefry2x32([0xffffffff, 0xffffffff], 0xffffffff, 0xffffffff)).toEqual([0x1cb996fc, 0xbb002be7]);
  });
  it('is deterministic', () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat({ max: 1000 }), (seed, n) => {
        const k = keyFromSeed(seed);
        expect(Array.from(randomBits(k, n))).toEqual(Array.from(randomBits(k, n)));
      }),
    );
  });
  it('split keys are distinct and their streams uncorrelated', () => {
    fc.assert(
      fc.property(fc.nat(), (seed) => {
        const [a, b] = split(keyFromSeed(seed));
        expect(a).not.toEqual(b);
        const x = uniformHost(a, 4000);
        const y = uniformHost(b, 4000);
        const mean = (v: Float64Array) => v.reduce((s, t) => s + t, 0) / v.length;
        const mx = mean(x);
        const my = mean(y);
        let cov = 0;
        let vx = 0;
        let vy = 0;
        for (let i = 0; i < x.length; i++) {
          cov += (x[i] - mx) * (y[i] - my);
          vx += (x[i] - mx) ** 2;
          vy += (y[i] - my) ** 2;
        }
        const corr = cov / Math.sqrt(vx * vy);
        // |corr| of independent samples of 4000 has sd ≈ 0.016
        return Math.abs(corr) < 0.08 && Math.abs(mx - 0.5) < 0.03 && Math.abs(vx / x.length - 1 / 12) < 0.01;
      }),
      { numRuns: 20 },
    );
    expect(foldIn(keyFromSeed(1), 3)).not.toEqual(foldIn(keyFromSeed(1), 4));
  });
  it('normals have mean 0 and variance 1; permutations are permutations', () => {
    const z = normalHost(keyFromSeed(5), 20000);
    const m = z.reduce((a, b) => a + b, 0) / z.length;
    const v = z.reduce((a, b) => a + (b - m) ** 2, 0) / z.length;
    expect(Math.abs(m)).toBeLessThan(0.03);
    expect(Math.abs(v - 1)).toBeLessThan(0.05);
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 300 }), (seed, n) => {
        const p = Array.from(permutationHost(keyFromSeed(seed), n)).sort((a, b) => a - b);
        return p.every((x, i) => x === i);
      }),
    );
  });
  it('gives the same stream on every backend', () => {
    const k = keyFromSeed(99);
    const ref = mp.withBackend('ref64', () => Array.from(uniform(k, [3, 5]).toArray()));
    // 24-bit uniforms are exact in float32, so every backend must return the identical values
    for (const b of mp.usableBackends()) {
      const got = mp.withBackend(b, () => Array.from(uniform(k, [3, 5]).toArray()));
      expect(got).toEqual(ref);
      const n1 = mp.withBackend(b, () => Array.from(normal(k, [4]).toArray()).map(Math.fround));
      const n0 = mp.withBackend('ref64', () => Array.from(normal(k, [4]).toArray()).map(Math.fround));
      expect(n1).toEqual(n0);
    }
  });
});
