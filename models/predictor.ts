/**
 * The predictor (the official "decoder"): from the student's visible latents to a prediction of
 * the teacher's latents at the masked positions (aurianworld/matpac training_matpac/models/model.py
 * `forward_decoder` l. 481-524, modules in training_matpac/models/decoder.py l. 22-53; from M2D).
 *
 * Input Z_v ∈ ℝ^{B×(1+N_v)×D} (CLS first, visible tokens in shuffle order), masks from masking.ts.
 *
 *   Y      = Z_v·W_embᵀ + b_emb                                   ∈ ℝ^{B×(1+N_v)×D_p}
 *   S      = [Y ; m, …, m]   (N_m copies of the learnable mask token m ∈ ℝ^{D_p})  ∈ ℝ^{B×(1+N)×D_p}
 *   U[b,0] = S[b,0],  U[b,1+n] = S[b, 1 + restore_b[n]]            (unshuffle: original order, CLS first)
 *   U     ← U + P_p    (fixed sin-cos table of width D_p, zero CLS row — positional.ts)
 *   H      = LN_p(Block_k(… Block_1(U)))                           (vit.ts blocks, D_p wide)
 *   Ẑ[b,j] = H[b, 1 + masked_b[j]]·W_predᵀ + b_pred                ∈ ℝ^{B×N_m×D}
 *
 * `predictorHidden` returns H_m = H[b, 1 + masked_b[·]], the rows before W_pred; models/matpac.ts
 * applies W_pred (MATPAC) or the n MCL heads of models/mcl.ts that replace it (MATPAC++; official
 * `forward_decoder` l. 518-522).
 *
 * i.e. the masked positions are read back in the teacher's token order (the official
 * argsort(ids_restore) re-shuffle followed by `y[:, len_keep:]`). The unshuffle and the read-back
 * are one `gather` each (with CLS folded into the first index set), and W_pred is applied after
 * the read-back, on the N_m rows only (a row-wise linear commutes with row selection).
 *
 * Gradient: gather's VJP scatter-adds the cotangent back to the rows it read, so the mask token
 * receives the sum of the cotangents of all masked positions (through broadcastTo's VJP, a sum),
 * and the visible latents — hence the student encoder — receive theirs at their own positions.
 */
import * as mp from '../src/engine';
import type { Tensor } from '../src/engine';
import type { Masking } from './masking';
import { sincos2dWithCls } from './positional';
import { block, dense, type BlockParams, type LayerNormParams, type LinearParams } from './vit';

/** Official names: `decoder.{decoder_embed, mask_token, decoder_blocks.N, decoder_norm, decoder_pred}`. */
export interface PredictorParams {
  decoder_embed: LinearParams; // [D_p, D]
  mask_token: Tensor; // [1, 1, D_p]
  decoder_blocks: BlockParams[];
  decoder_norm: LayerNormParams;
  /** [D, D_p]; absent in MATPAC++, whose MCL heads (models/mcl.ts) replace it. */
  decoder_pred?: LinearParams;
}

/** Host index tables of the predictor's two gathers, from the masks. */
export function predictorIndices(m: Masking): { unshuffle: Tensor; readBack: Tensor } {
  const { batch: B, nTokens: N, nMasked: Nm, nVisible: Nv } = m;
  const un = new Float32Array(B * (1 + N));
  const rb = new Float32Array(B * Nm);
  for (let b = 0; b < B; b++) {
    un[b * (1 + N)] = 0;
    for (let n = 0; n < N; n++) un[b * (1 + N) + 1 + n] = 1 + m.restore[b * N + n];
    for (let j = 0; j < Nm; j++) rb[b * Nm + j] = 1 + m.shuffle[b * N + Nv + j];
  }
  return { unshuffle: mp.tensor(un, [B, 1 + N]), readBack: mp.tensor(rb, [B, Nm]) };
}

/**
 * H_m [B, N_m, D_p]: the predictor's final-LayerNorm outputs at the masked positions (in the
 * teacher's token order), before the output projection, from the student output Z_v [B, 1 + N_v, D].
 */
export function predictorHidden(
  p: PredictorParams,
  zv: Tensor,
  m: Masking,
  grid: { F: number; T: number },
  heads: number,
  eps: number,
): Tensor {
  const [B] = zv.shape;
  const Dp = p.decoder_embed.weight.shape[0];
  const y = dense(zv, p.decoder_embed); // [B, 1+Nv, Dp]
  const maskTokens = mp.broadcastTo(p.mask_token, [B, m.nMasked, Dp]);
  const { unshuffle, readBack } = predictorIndices(m);
  let h = mp.gather(mp.concat([y, maskTokens], 1), unshuffle, 1); // [B, 1+N, Dp], original order
  h = mp.add(h, sincos2dWithCls(Dp, grid.F, grid.T));
  for (const blk of p.decoder_blocks) h = block(blk, h, heads, eps);
  h = mp.layerNorm(h, p.decoder_norm.weight, p.decoder_norm.bias, eps);
  return mp.gather(h, readBack, 1); // [B, Nm, Dp]
}
