/**
 * The unfused compositions that the fused primitives stand for: gelu, softmax, layerNormalize,
 * its VJP, and linear. They are the references the fused kernels are tested against
 * (property-tests/fused.test.ts: values and gradients agree), and layerNormalizeVjp's own VJP
 * (needed only for second order) differentiates `layerNormalizeVjpComposite`. Not part of the
 * public API (src/index.ts does not export them): models use the fused ops of src/ops.ts.
 */
import type { Tensor } from './core';
import { add, div, erf, exp, matmul, max, mean, mul, rsqrt, square, stopGradient, sub, sum } from './ops';

/** x·Φ(x) = ½x(1 + erf(x/√2)). */
export const geluComposite = (x: Tensor): Tensor => mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1));

/** exp(x − max x)/Σ exp(x − max x) along `axis`. */
export function softmaxComposite(x: Tensor, axis = -1): Tensor {
  const e = exp(sub(x, stopGradient(max(x, axis, true))));
  return div(e, sum(e, axis, true));
}

/** (x − mean)/√(var + eps) over the last axis (biased variance). */
export function layerNormalizeComposite(x: Tensor, eps: number): Tensor {
  const xc = sub(x, mean(x, -1, true));
  return mul(xc, rsqrt(add(mean(square(xc), -1, true), eps)));
}

/** s·(g − mean(g) − x̂·mean(g⊙x̂)), s = 1/√(var + eps): the VJP of layerNormalize (docs/autodiff.md). */
export function layerNormalizeVjpComposite(x: Tensor, g: Tensor, eps: number): Tensor {
  const xc = sub(x, mean(x, -1, true));
  const s = rsqrt(add(mean(square(xc), -1, true), eps));
  const xhat = mul(xc, s);
  return mul(s, sub(sub(g, mean(g, -1, true)), mul(xhat, mean(mul(g, xhat), -1, true))));
}

/** x·Wᵀ + b from matmul and add. */
export function linearComposite(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  const y = matmul(x, weight, { transB: true });
  return bias ? add(y, bias) : y;
}
