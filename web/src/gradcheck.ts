/**
 * "Check this gradient" for one equation of a trace: the float64 central-difference property of
 * property-tests/ (check.ts, the same code `npm test` runs for every primitive), applied to that
 * primitive with that equation's params at the very inputs the trace recorded (ref64 tensors).
 * Which inputs are held constant (indices, conditions) and whether the primitive has a gradient at
 * all come from the primitive's entry in property-tests/specs.ts.
 *
 * `perturb` scales every cotangent the rule returns by 1.01 for the duration of the check — a
 * deliberately wrong rule, to see the check catch it.
 */
import fc from 'fast-check';
import { checkFirstOrderAt, FIRST_ORDER_TOL, gradCheckPasses, type GradCheck } from '../../property-tests/check';
import { SPECS, type Case } from '../../property-tests/specs';
import { bind, withBackend, type Tensor } from '../../src/core';
import { mul } from '../../src/ops';
import { PRIMITIVES, type PrimName } from '../../src/primitives';
import type { TraceEquation } from '../../src/trace';

export interface EquationCheck extends GradCheck {
  pass: boolean;
  tol: number;
  note?: string;
}

/** The property-test facts about a primitive: constant inputs and whether it has no gradient. */
function specFacts(prim: PrimName): { constant: number[]; zeroGrad: boolean } {
  const spec = SPECS.find((s) => !s.composite && s.covers.includes(prim));
  if (!spec) return { constant: [], zeroGrad: false };
  const [sample] = fc.sample(spec.gen, { numRuns: 1, seed: 0 }) as Case[];
  return { constant: sample?.constant ?? [], zeroGrad: spec.zeroGrad ?? false };
}

function withPerturbedRule<T>(prim: PrimName, fn: () => T): T {
  const rules = PRIMITIVES[prim] as { vjp: (...a: unknown[]) => (Tensor | null)[] };
  const rule = rules.vjp;
  rules.vjp = (...a) => rule(...a).map((g) => (g ? mul(g, 1.01) : g));
  try {
    return fn();
  } finally {
    rules.vjp = rule;
  }
}

/** Run the first-order property for equation `eq` (traced with keepInputs on ref64). */
export function checkEquation(eq: TraceEquation, perturb: boolean, seed = 1): EquationCheck {
  const xs = eq.inputTensors;
  if (!xs) throw new Error('internal: the trace was made without its inputs');
  const { constant, zeroGrad } = specFacts(eq.prim);
  const c: Case = {
    inputs: eq.inShapes.map((shape) => ({ shape, domain: 'any' })),
    fn: (...ts: Tensor[]) => bind(eq.prim, ts, eq.params as never),
    constant,
  };
  if (constant.length === xs.length)
    return { analytic: 0, numeric: 0, scale: 1, pass: true, tol: FIRST_ORDER_TOL, note: 'no differentiable input' };
  const run = () => withBackend('ref64', () => checkFirstOrderAt(c, xs, seed));
  const r = perturb ? withPerturbedRule(eq.prim, run) : run();
  return {
    ...r,
    pass: gradCheckPasses(r, zeroGrad),
    tol: FIRST_ORDER_TOL,
    note: zeroGrad ? 'no gradient by definition: both sides must be exactly 0' : undefined,
  };
}
