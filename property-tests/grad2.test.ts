/** Grad of grad against float64 central differences, for the smooth primitives and composites. */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { withBackend } from '../src/index';
import { SPECS } from './specs';
import { checkSecondOrder } from './check';

const SECOND_ORDER = [
  'tanh',
  'exp',
  'log',
  'mul',
  'div',
  'matmul',
  'linear',
  'fused',
  'softmax',
  'logSoftmax',
  'erf',
  'gelu',
  'layerNorm',
  'sqrt',
  'rsqrt',
  'pow',
  'l2Normalize',
  'crossEntropy',
  'sum',
  'transpose',
  'gather',
  'concat',
];

describe('second-order gradients match central differences of the gradient', () => {
  for (const name of SECOND_ORDER) {
    const spec = SPECS.find((s) => s.name === name)!;
    it(name, () => {
      withBackend('ref64', () => {
        fc.assert(
          fc.property(spec.gen, fc.integer({ min: 0, max: 1e6 }), (c, seed) => {
            const { analytic, numeric, scale } = checkSecondOrder(c, seed);
            return Math.abs(analytic - numeric) <= 1e-5 * scale;
          }),
          { numRuns: 15, seed: 7 },
        );
      });
    });
  }
});
