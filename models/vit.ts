/**
 * The ViT encoder: pre-LayerNorm transformer blocks (timm `Block`, as used by MATPAC's
 * `encoder_layers`, aurianworld/matpac training_matpac/models/encoder.py l. 20-72 and
 * inference_matpac/matpac/encoder.py: qkv bias, MLP ratio 4, LayerNorm ε 1e-6, exact GELU,
 * no dropout, no drop-path, no layer scale) and a final LayerNorm.
 *
 * For a sequence X ∈ ℝ^{L×D} with H heads of width d = D/H:
 *
 *   LN(x)      = (x − μ(x)) / √(σ²(x) + ε) ⊙ γ + β          (per token, biased variance)
 *   [Q K V]    = LN₁(X)·W_qkvᵀ + b_qkv,    W_qkv ∈ ℝ^{3D×D} (rows: q, then k, then v; within each,
 *                                            head h owns rows h·d .. h·d + d − 1 — timm's
 *                                            reshape(B, N, 3, H, d))
 *   A_h        = softmax(Q_h K_hᵀ / √d)      (row-wise)
 *   MSA(X)     = [A_1 V_1, …, A_H V_H]·W_projᵀ + b_proj
 *   X'         = X + MSA(X)
 *   Block(X)   = X' + W₂ᵀ·GELU(W₁ᵀ·LN₂(X') + b₁) + b₂,   GELU(x) = x·Φ(x) = ½x(1 + erf(x/√2))
 *   Encoder(X) = LN_final(Block_n(… Block_1(X)))
 *
 * Gradients flow through every op by its VJP rule (src/primitives.ts); the residual stream adds
 * the cotangent of each branch to that of its input. Implementation notes for speed: every
 * linear map runs as a single 2-D [B·L, in]×[out, in]ᵀ matmul (transB, no transposed copy of W),
 * and Q, K, V are computed from row slices of W_qkv (weight-sized slices, whose VJP is a
 * weight-sized pad) rather than by slicing the [B, L, 3D] activation; the 1/√d scale is folded into
 * the q rows of W_qkv and b_qkv (numerically the same as timm's q·scale).
 */
import * as mp from '../src/engine';
import type { Tensor } from '../src/engine';

export interface LinearParams {
  weight: Tensor; // [out, in] (PyTorch layout)
  bias: Tensor; // [out]
}
export interface LayerNormParams {
  weight: Tensor; // γ [D]
  bias: Tensor; // β [D]
}
export interface BlockParams {
  norm1: LayerNormParams;
  attn: { qkv: LinearParams; proj: LinearParams };
  norm2: LayerNormParams;
  mlp: { fc1: LinearParams; fc2: LinearParams };
}
/** timm-style encoder: official names `blocks.N.*` and `norm.*`. */
export interface EncoderParams {
  blocks: BlockParams[];
  norm: LayerNormParams;
}

/** y = x·Wᵀ + b on the last axis, computed as one 2-D matmul. */
export function dense(x: Tensor, p: { weight: Tensor; bias?: Tensor }): Tensor {
  const inF = x.shape[x.rank - 1];
  const outF = p.weight.shape[0];
  const lead = x.shape.slice(0, -1);
  const rows = lead.reduce((a, b) => a * b, 1);
  const y = mp.linear(x.rank === 2 ? x : mp.reshape(x, [rows, inF]), p.weight, p.bias);
  return x.rank === 2 ? y : mp.reshape(y, [...lead, outF]);
}

/** Multi-head self-attention of x [B, L, D] (already layer-normed). */
export function attention(p: BlockParams['attn'], x: Tensor, heads: number): Tensor {
  const [B, L, D] = x.shape;
  const d = D / heads;
  const x2 = mp.reshape(x, [B * L, D]);
  const w = p.qkv.weight;
  const b = p.qkv.bias;
  const scale = 1 / Math.sqrt(d);
  const rows = (t: Tensor, i: number) => mp.sliceAxis(t, 0, i * D, (i + 1) * D);
  const q = mp.linear(x2, mp.mul(rows(w, 0), scale), mp.mul(rows(b, 0), scale));
  const k = mp.linear(x2, rows(w, 1), rows(b, 1));
  const v = mp.linear(x2, rows(w, 2), rows(b, 2));
  const toHeads = (t: Tensor) => mp.transpose(mp.reshape(t, [B, L, heads, d]), [0, 2, 1, 3]); // [B, H, L, d]
  const scores = mp.matmul(toHeads(q), toHeads(k), { transB: true }); // [B, H, L, L]
  const o = mp.matmul(mp.softmax(scores, -1), toHeads(v)); // [B, H, L, d]
  const merged = mp.reshape(mp.transpose(o, [0, 2, 1, 3]), [B * L, D]);
  return mp.reshape(mp.linear(merged, p.proj.weight, p.proj.bias), [B, L, D]);
}

/** One pre-LN block on x [B, L, D]. */
export function block(p: BlockParams, x: Tensor, heads: number, eps: number): Tensor {
  const h = mp.add(x, attention(p.attn, mp.layerNorm(x, p.norm1.weight, p.norm1.bias, eps), heads));
  const m = dense(mp.gelu(dense(mp.layerNorm(h, p.norm2.weight, p.norm2.bias, eps), p.mlp.fc1)), p.mlp.fc2);
  return mp.add(h, m);
}

/**
 * Every block's output, the last one after the final LayerNorm: depth × [B, L, D] (the official
 * `encoder_layers.forward(x, return_layers=True)`, inference_matpac/matpac/encoder.py l. 42-72,
 * "replace the last feature with the normalized one").
 */
export function encoderLayers(p: EncoderParams, x: Tensor, heads: number, eps: number): Tensor[] {
  const out: Tensor[] = [];
  let h = x;
  for (const blk of p.blocks) out.push((h = block(blk, h, heads, eps)));
  out[out.length - 1] = mp.layerNorm(h, p.norm.weight, p.norm.bias, eps);
  return out;
}

/** Blocks then the final LayerNorm: [B, L, D] → [B, L, D]. */
export function encoder(p: EncoderParams, x: Tensor, heads: number, eps: number): Tensor {
  let h = x;
  for (const blk of p.blocks) h = block(blk, h, heads, eps);
  return mp.layerNorm(h, p.norm.weight, p.norm.bias, eps);
}
