/**
 * Fused kernels stand for compositions of primitives: their values and gradients (first and
 * second order) must equal those of the unfused composition, in float64.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as mp from '../src/index';
import type { Tensor } from '../src/core';
import * as ref from '../src/composites';
import { drawValues, shapeArb } from './specs';
import { randomLike, dot } from './check';

/** Fixed weights for the linear pair, square so the output has x's shape: W [K, K] and b [K] (gradients in W and b: specs.ts). */
const linearW = (x: Tensor) => {
  const K = x.shape[x.rank - 1];
  return mp.tensor(
    Array.from({ length: K * K }, (_, i) => Math.sin(1 + i)),
    [K, K],
  );
};
const linearB = (x: Tensor) => mp.tensor(Array.from({ length: x.shape[x.rank - 1] }, (_, i) => Math.cos(2 + i)));
const rows = (x: Tensor) => (x.rank === 1 ? mp.reshape(x, [1, x.shape[0]]) : x);

const PAIRS: [string, (x: Tensor) => Tensor, (x: Tensor) => Tensor][] = [
  ['gelu', mp.gelu, ref.geluComposite],
  ['softmax', (x) => mp.softmax(x), (x) => ref.softmaxComposite(x)],
  ['layerNormalize', (x) => mp.bind('layerNormalize', [x], { eps: 1e-5 }), (x) => ref.layerNormalizeComposite(x, 1e-5)],
  // (rank-1 x as one row: the composite's matmul needs rank ≥ 2; the primitive's rank-1 case is in specs.ts)
  [
    'linear',
    (x) => mp.reshape(mp.linear(rows(x), linearW(x), linearB(x)), x.shape),
    (x) => mp.reshape(ref.linearComposite(rows(x), linearW(x), linearB(x)), x.shape),
  ],
  [
    'layerNorm affine',
    (x) =>
      mp.layerNorm(
        x,
        mp.tensor(x.shape[x.rank - 1] > 0 ? Array.from({ length: x.shape[x.rank - 1] }, (_, i) => 1 + 0.1 * i) : []),
        mp.zeros([x.shape[x.rank - 1]]),
        1e-5,
      ),
    (x) =>
      mp.add(
        mp.mul(
          ref.layerNormalizeComposite(x, 1e-5),
          mp.tensor(Array.from({ length: x.shape[x.rank - 1] }, (_, i) => 1 + 0.1 * i)),
        ),
        mp.zeros([x.shape[x.rank - 1]]),
      ),
  ],
];

describe('fused kernels equal their composition (value, gradient, gradient of gradient)', () => {
  for (const [name, fused, composite] of PAIRS) {
    it(name, () => {
      mp.withBackend('ref64', () => {
        fc.assert(
          fc.property(
            shapeArb(1, 3).filter((s) => s[s.length - 1] >= 2),
            fc.nat({ max: 1e6 }),
            (shape, seed) => {
              const x = mp.tensor(drawValues({ shape, domain: 'any' }, seed), shape);
              const v = randomLike(x, seed + 1);
              const close = (a: Tensor, b: Tensor) => {
                const p = a.toArray();
                const q = b.toArray();
                for (let i = 0; i < p.length; i++)
                  expect(Math.abs(p[i] - q[i])).toBeLessThan(1e-10 * (1 + Math.abs(q[i])));
              };
              close(fused(x), composite(x));
              const g = (f: (x: Tensor) => Tensor) => mp.grad((y: Tensor) => mp.sum(mp.mul(f(y), v)));
              close(g(fused)(x), g(composite)(x));
              const r = randomLike(x, seed + 2);
              const h = (f: (x: Tensor) => Tensor) => mp.grad((y: Tensor) => mp.sum(mp.mul(g(f)(y), r)));
              close(h(fused)(x), h(composite)(x));
              return dot(x, x) >= 0;
            },
          ),
          { numRuns: 25, seed: 3 },
        );
      });
    });
  }
});
