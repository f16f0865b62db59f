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

/** The largest share of the tolerance budget `agree` has seen used, per backend (for a report after the run). */
export const worstShare: Record<string, number> = {};

/**
 * Throws naming `what` and the first element outside |got − ref| ≤ atol + rtol·|ref| (a NaN
 * reference wants NaN, an infinite one the same infinity); returns the largest share of the
 * budget used by a finite reference.
 */
export function within(
  got: ArrayLike<number>,
  ref: ArrayLike<number>,
  what: string,
  tol: { atol: number; rtol: number },
): number {
  expect(got.length, `${what}: length`).toBe(ref.length);
  let worst = 0;
  for (let i = 0; i < ref.length; i++) {
    const r = ref[i];
    const g = got[i];
    const budget = tol.atol + tol.rtol * Math.abs(r);
    const ok = Number.isNaN(r) ? Number.isNaN(g) : r === g || Math.abs(g - r) <= budget;
    if (!ok) throw new Error(`${what}: element ${i} is ${g}, reference ${r}`);
    if (Number.isFinite(r)) worst = Math.max(worst, Math.abs(g - r) / budget);
  }
  return worst;
}

/** One `it` per spec: `backend` against ref64 on `numRuns` random cases (fast-check `seed`). */
export function agree(backend: string, tol: { atol: number; rtol: number }, numRuns = 25, seed = 1234) {
  for (const spec of SPECS) {
    it(spec.name, () => {
      fc.assert(
        fc.property(spec.gen, fc.integer({ min: 0, max: 1e6 }), (c, draw) => {
          const values = c.inputs.map((inp, i) => Float32Array.from(drawValues(inp, draw * 7919 + i)));
          const run = (name: string) =>
            mp.withBackend(name, () => {
              const xs = values.map((v, i) => mp.tensor(v, c.inputs[i].shape));
              const out: Tensor = c.fn(...xs);
              return { shape: [...out.shape], data: out.toArray() };
            });
          const ref = run('ref64');
          const got = run(backend);
          expect(got.shape).toEqual(ref.shape);
          const shapes = JSON.stringify(c.inputs.map((x) => x.shape));
          const w = within(got.data, ref.data, `${spec.name} on ${backend} (shapes ${shapes})`, tol);
          worstShare[backend] = Math.max(worstShare[backend] ?? 0, w);
        }),
        { numRuns, seed },
      );
    });
  }
}
