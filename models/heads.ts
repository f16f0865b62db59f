/**
 * The classification heads h_ψ (student) and h_ω (teacher, an EMA of h_ψ): DINO's head as MATPAC
 * uses it (aurianworld/matpac training_matpac/models/cls_head.py `Cls_Head` l. 40-83, built in
 * model.py `make_cls_heads` l. 341-373).
 *
 * For a token z ∈ ℝ^D (3 layers, the default):
 *
 *   u   = W₃ᵀ·GELU(W₂ᵀ·GELU(W₁ᵀ z + b₁) + b₂) + b₃          ∈ ℝ^{bottleneck}
 *   ū   = u / max(‖u‖₂, 1e-12)                              (F.normalize, float32 eps)
 *   W   = diag(g / ‖V_k‖₂)·V,   V ∈ ℝ^{K×bottleneck}, g ∈ ℝ^{K×1}  (weight_norm, dim 0: each of
 *                                                                  the K rows has norm g_k)
 *   P   = W ū                                                ∈ ℝ^K  (no bias)
 *
 * g is trainable (initialised to 1; the official code does not freeze it, unlike DINO's
 * norm_last_layer). Gradients: through the MLP as usual; through ū with the Jacobian
 * (I − ū ūᵀ)/‖u‖ of the normalisation; through W into both g (∂W/∂g_k = V_k/‖V_k‖) and V (the
 * component of ∂L/∂W_k orthogonal to V_k, scaled by g_k/‖V_k‖) — all by composition of the
 * engine's VJP rules (div, sqrt, sum, mul).
 *
 * Parameter names follow the official state dict: `mlp.0`, `mlp.2`, `mlp.4` (nn.Sequential indices,
 * GELUs at the odd indices) and `last_layer.weight_g`, `last_layer.weight_v`.
 */
import * as mp from '../src/engine';
import type { Tensor } from '../src/engine';
import { dense, type LinearParams } from './vit';

export interface HeadParams {
  /** Linear layers keyed by their nn.Sequential index: '0', '2', '4', … */
  mlp: Record<string, LinearParams>;
  last_layer: { weight_g: Tensor; weight_v: Tensor }; // [K, 1], [K, bottleneck]
}

/** Sequential index of the i-th linear layer of the head MLP. */
export const mlpKey = (i: number): string => String(2 * i);

/** W = g·V/‖V‖ row-wise (torch.nn.utils.weight_norm with dim=0). */
export function weightNorm(g: Tensor, v: Tensor): Tensor {
  return mp.mul(v, mp.div(g, mp.sqrt(mp.sum(mp.square(v), -1, true))));
}

/** Logits P ∈ ℝ^{…×K} for tokens z ∈ ℝ^{…×D}. */
export function head(p: HeadParams, z: Tensor, layers: number): Tensor {
  let u = z;
  for (let i = 0; i < layers; i++) {
    u = dense(u, p.mlp[mlpKey(i)]);
    if (i < layers - 1) u = mp.gelu(u);
  }
  const un = mp.l2Normalize(u, -1, 1e-12);
  return dense(un, { weight: weightNorm(p.last_layer.weight_g, p.last_layer.weight_v) });
}
