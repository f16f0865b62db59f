/**
 * The backend conformance harness: every primitive and composite spec (specs.ts) run on a backend
 * and on the float64 reference, element by element within |out − ref| ≤ atol + rtol·|ref|.
 * Inputs are rounded to float32 first, so both sides see the same numbers. Call `agree` inside a
 * `describe` for a new backend (docs/extending.md).
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import * as mp from '../src/index';
import type { Tensor } from '../src/core';
import { drawValues, SPECS } from './specs';

export const TOLERANCES: Record<string, { atol: number; rtol: number }> = {
  native: { atol: 1e-6, rtol: 1e-5 },
};

export function agree(backend: string, tol: { atol: number; rtol: number }, numRuns = 25) {
  for (const spec of SPECS) {
    it(spec.name, () => {
      fc.assert(
        fc.property(spec.gen, fc.integer({ min: 0, max: 1e6 }), (c, seed) => {
          const values = c.inputs.map((inp, i) => Float32Array.from(drawValues(inp, seed * 7919 + i)));
          const run = (name: string) =>
            mp.withBackend(name, () => {
              const xs = values.map((v, i) => mp.tensor(v, c.inputs[i].shape));
              const out: Tensor = c.fn(...xs);
              return { shape: [...out.shape], data: Array.from(out.toArray()) };
            });
          const ref = run('ref64');
          const got = run(backend);
          expect(got.shape).toEqual(ref.shape);
          for (let i = 0; i < ref.data.length; i++) {
            const r = ref.data[i];
            const g = got.data[i];
            if (!(Math.abs(g - r) <= tol.atol + tol.rtol * Math.abs(r))) {
              throw new Error(
                `${spec.name} on ${backend}: element ${i} is ${g}, reference ${r} (shapes ${JSON.stringify(c.inputs.map((x) => x.shape))})`,
              );
            }
          }
        }),
        { numRuns, seed: 1234 },
      );
    });
  }
}
