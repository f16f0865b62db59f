/**
 * Patch embedding: a log-mel batch X ∈ ℝ^{B×(F·p)×(T·p)} → tokens E ∈ ℝ^{B×N×D}, N = F·T.
 *
 * The official module is a Conv2d(1 → D, kernel = stride = p) followed by flatten(2).transpose(1, 2)
 * (aurianworld/matpac training_matpac/models/utils.py `PatchEmbed`, l. 51-75). A convolution whose
 * stride equals its kernel is a linear map of each flattened patch:
 *
 *   x_n[i·p + j] = X[b, f·p + i, t·p + j]                  n = f·T + t  (frequency-major order)
 *   E[b, n, :]   = W̃ · x_n + b,      W̃ = reshape(W, [D, p²]),  W ∈ ℝ^{D×1×p×p} (PyTorch layout)
 *
 * Gradient: ∂L/∂W̃ = Σ_{b,n} (∂L/∂E[b,n]) x_nᵀ (one [D, B·N]×[B·N, p²] matmul, via the matmul VJP),
 * ∂L/∂b = Σ_{b,n} ∂L/∂E[b,n]. The input is data: no gradient is taken with respect to it.
 * A trailing remainder of fewer than p frames (or bins) is dropped, as the strided convolution does.
 */
import * as mp from '../src/engine';
import type { Tensor } from '../src/engine';
import { ShapeError } from '../src/engine';

export interface PatchEmbedParams {
  proj: { weight: Tensor; bias: Tensor };
}

/** [B, H, W] → [B, (H/p)·(W/p), p²], frequency-major, each patch flattened row-major (bin, frame). */
export function patchify(x: Tensor, p: number): { patches: Tensor; F: number; T: number } {
  if (x.rank !== 3) throw new ShapeError(`patchify: expects a batch [B, mels, frames], got rank ${x.rank}`);
  const [B, H, W] = x.shape;
  const F = Math.floor(H / p);
  const T = Math.floor(W / p);
  if (F < 1 || T < 1) throw new ShapeError(`patchify: input [${x.shape}] is smaller than one ${p}×${p} patch`);
  const cropped = H === F * p && W === T * p ? x : mp.slice(x, [0, 0, 0], [B, F * p, T * p]);
  const blocks = mp.reshape(cropped, [B, F, p, T, p]);
  const patches = mp.reshape(mp.transpose(blocks, [0, 1, 3, 2, 4]), [B, F * T, p * p]);
  return { patches, F, T };
}

/** Tokens [B, N, D] from flattened patches [B, N, p²]. */
export function embedPatches(params: PatchEmbedParams, patches: Tensor): Tensor {
  const [B, N, P] = patches.shape;
  const D = params.proj.weight.shape[0];
  const w = mp.reshape(params.proj.weight, [D, P]);
  const y = mp.linear(mp.reshape(patches, [B * N, P]), w, params.proj.bias);
  return mp.reshape(y, [B, N, D]);
}
