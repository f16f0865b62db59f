/**
 * For every primitive and composite: reverse-mode VJP vs float64 central differences, on random
 * shapes (broadcasting, size-1 axes) and values inside each op's smooth domain.
 * Tolerance (check.ts): |analytic − numeric| ≤ 1e-6 · (1 + |numeric| + |⟨v, f(x)⟩|) — central
 * differences with ε = 1e-5 in float64 are accurate to ~1e-9 for these functions.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mul, stopGradient, withBackend } from '../src/index';
import { SPECS } from './specs';
import { checkFirstOrder, gradCheckPasses } from './check';

describe('VJP rules match float64 central differences', () => {
  for (const spec of SPECS) {
    it(spec.name, () => {
      withBackend('ref64', () => {
        fc.assert(
          fc.property(spec.gen, fc.integer({ min: 0, max: 1e6 }), (c, seed) => {
            return gradCheckPasses(checkFirstOrder(c, seed), spec.zeroGrad);
          }),
          { numRuns: 40, seed: 42 },
        );
      });
    });
  }
});

describe('a wrong VJP rule is caught', () => {
  it('the check fails for a function whose recorded gradient is wrong', () => {
    // d/dx stopGradient(x)·x is x by the rules (only one factor is differentiated) but 2x numerically
    withBackend('ref64', () => {
      const r = checkFirstOrder(
        { inputs: [{ shape: [3], domain: 'positive' }], fn: (x) => mul(stopGradient(x), x) },
        7,
      );
      expect(Math.abs(r.analytic - r.numeric)).toBeGreaterThan(0.1);
    });
  });
});
