/** The hand-derived layer_norm gradient of docs/autodiff.md equals the engine's composed gradient. */
import { describe, expect, it } from 'vitest';
import * as mp from '../src/index';
import { keyFromSeed, normalHost } from '../src/random';

describe('layer_norm gradient, derived by hand', () => {
  it('matches the engine on random rows', () => {
    mp.withBackend('ref64', () => {
      const [N, D, eps] = [5, 7, 1e-6];
      const x = normalHost(keyFromSeed(1), N * D);
      const gamma = normalHost(keyFromSeed(2), D);
      const ybar = normalHost(keyFromSeed(3), N * D);
      const [, pull] = mp.vjp((p: { x: mp.Tensor; g: mp.Tensor; b: mp.Tensor }) => mp.layerNorm(p.x, p.g, p.b, eps), {
        x: mp.tensor(x, [N, D]),
        g: mp.tensor(gamma, [D]),
        b: mp.zeros([D]),
      });
      const grads = pull(mp.tensor(ybar, [N, D]));
      const xbar = grads.x.toArray();
      const gbar = new Float64Array(D);
      for (let n = 0; n < N; n++) {
        const row = x.slice(n * D, (n + 1) * D);
        const mu = row.reduce((a, b) => a + b, 0) / D;
        const variance = row.reduce((a, b) => a + (b - mu) ** 2, 0) / D;
        const s = 1 / Math.sqrt(variance + eps);
        const xhat = row.map((v) => (v - mu) * s);
        const g = Array.from({ length: D }, (_, j) => ybar[n * D + j] * gamma[j]);
        const meanG = g.reduce((a, b) => a + b, 0) / D;
        const meanGX = g.reduce((a, b, j) => a + b * xhat[j], 0) / D;
        for (let j = 0; j < D; j++) {
          const expected = s * (g[j] - meanG - xhat[j] * meanGX);
          expect(Math.abs(xbar[n * D + j] - expected)).toBeLessThan(1e-12);
          gbar[j] += ybar[n * D + j] * xhat[j];
        }
      }
      const gg = grads.g.toArray();
      for (let j = 0; j < D; j++) expect(Math.abs(gg[j] - gbar[j])).toBeLessThan(1e-12);
    });
  });
});
