/**
 * Worked example for docs/extending.md, "Add a primitive": the pieces of a `softplus` primitive,
 * softplus(x) = log(1 + eˣ), each in the form the engine's tables take. test/extending-examples.test.ts
 * compiles this file and checks the pieces (VJP against central differences of the kernel,
 * native kernel against the float64 one). Registering it for real is the checklist's step 1:
 * a `softplus: NoParams` line in `PrimParams` (src/primitives.ts), after which the compiler
 * lists every table that still lacks an entry.
 */
import type { PrimRules, Tensor } from '../../src/core';
import * as op from '../../src/ops';
import type { Shape } from '../../src/shape';

type NoParams = Record<string, never>;

/** Shape, VJP and FLOP rules — the `PRIMITIVES` entry. d softplus = σ(x) = 1/(1 + e⁻ˣ), written with ops so it is differentiable again. */
export const softplusRules: PrimRules<NoParams> = {
  shape: ([s]: Shape[]) => s,
  vjp: (ct: Tensor, [x]: Tensor[]) => [op.mul(ct, op.sigmoid(x))],
  flops: (_s: Shape[], out: Shape) => 3 * out.reduce((a, b) => a * b, 1),
};

/** Stable scalar definition: max(x, 0) + log1p(e^−|x|). */
export const softplusScalar = (x: number): number => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));

/** The float64 reference kernel (src/backends/ref64.ts: `softplus: unary(softplusScalar)`). */
export const softplusRef64 = ([x]: unknown[]): Float64Array => (x as Float64Array).map(softplusScalar);

/**
 * The native kernel body (kernels/native/elementwise.ts: an `ELEMENTWISE_EXPR` entry, JS source
 * in x0, from which the typed-array loops are generated).
 */
export const SOFTPLUS_EXPR = 'Math.max(x0, 0) + Math.log1p(Math.exp(-Math.abs(x0)))';
