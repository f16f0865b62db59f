/**
 * MATPAC++'s multiple-choice prediction heads (Quelennec et al., MATPAC++, arXiv 2508.12709;
 * official code aurianworld/matpac `training_matpac/models/mcl.py`, `model.py` `forward_decoder`
 * l. 518-522, `forward_loss_pred` l. 431-479, `forward_cls_pred` l. 281-292; config
 * `config/matpac_plusplus.yaml` l. 67-77).
 *
 * Heads (mcl.py l. 36-38, 56-61): n linear maps from the predictor's width to the encoder's, in
 * place of the single output projection decoder_pred, applied to the predictor's masked-token
 * outputs H_m ∈ ℝ^{B×N_m×D_p}:
 *
 *   Ẑ[b, j, h] = H_m[b, j]·W_hᵀ + b_h                     ∈ ℝ^{B×N_m×n×D}
 *
 * Per token and head, the prediction loss of MATPAC (models/losses.ts) against the teacher's z:
 *
 *   ℓ[b, j, h] = 2 − 2·⟨ẑ_h/‖ẑ_h‖, z/‖z‖⟩                   (l. 437-452)
 *
 * Annealed multiple-choice learning (l. 458-477): with T(t) = T₀·r^t (utils.py `get_exp_annealed_rate`
 * l. 47-48; T₀ = temperature_start 0.1, r = decay_rate 0.99997, t = num_updates),
 *
 *   soft phase, T > T_end:  w[b, j, ·] = sg(softmax_h(−ℓ[b, j, ·]/T)),   ℓ_tok = Σ_h w_h·ℓ_h
 *   hard phase, T ≤ T_end:  ℓ_tok = min_h ℓ_h  =  Σ_h w_h·ℓ_h with w = one-hot(argmin_h ℓ) (constant)
 *   L_pred = mean over the B·N_m tokens of ℓ_tok
 *
 * The weights are detached (`.detach()`, l. 467), so ∂L_pred/∂ẑ_h = w_h·∂ℓ_h/∂ẑ_h / (B·N_m): each
 * head is pulled towards the target in proportion to how well it already predicts it — in the hard
 * phase only the winner moves (torch.min's backward routes the gradient to the selected index; we
 * write the minimum as the one-hot-weighted sum, whose gradient is the same). Ties go to the first
 * head, as argmin.
 *
 * The classification head receives the best head's prediction (l. 281-292, `torch.gather` with
 * best_head_idx = argmin_h ℓ, in both phases):
 *
 *   ẑ_best[b, j] = Σ_h one-hot(argmin ℓ[b, j, ·])_h · Ẑ[b, j, h]
 *
 * whose gradient reaches only the winning head's prediction (gather's VJP). Everything is built
 * from existing primitives (linear, reshape, l2Normalize, softmax, min/max, comparisons): no new
 * primitive, so the gradient is the composition of tested VJPs.
 */
import * as mp from '../src/engine';
import type { Tensor } from '../src/engine';
import type { MatpacConfig } from './config';
import { dense, type LinearParams } from './vit';

/** Official names: `mcl_heads.mcl_heads.N.{weight, bias}` (weight [D, D_p]). */
export interface MclHeadsParams {
  mcl_heads: LinearParams[];
}

/** Ẑ [B, N_m, n, D] from the predictor's masked-token outputs H_m [B, N_m, D_p]: one matmul with the heads stacked. */
export function mclPredictions(p: MclHeadsParams, hm: Tensor): Tensor {
  const n = p.mcl_heads.length;
  const D = p.mcl_heads[0].weight.shape[0];
  const weight = mp.concat(
    p.mcl_heads.map((h) => h.weight),
    0,
  ); // [n·D, D_p]: row h·D + d is head h's row d
  const bias = mp.concat(
    p.mcl_heads.map((h) => h.bias),
    0,
  );
  const [B, Nm] = hm.shape;
  return mp.reshape(dense(hm, { weight, bias }), [B, Nm, n, D]);
}

/** ℓ [B, N_m, n]: 2 − 2·cos(ẑ_h, z) per token and head; the target z [B, N_m, D] is a constant. */
export function headLosses(preds: Tensor, target: Tensor): Tensor {
  const a = mp.l2Normalize(preds, -1, 1e-12);
  const b = mp.expandDims(mp.l2Normalize(mp.stopGradient(target), -1, 1e-12), 2); // [B, N_m, 1, D]
  return mp.sub(2, mp.mul(mp.sum(mp.mul(a, b), -1), 2));
}

/** One-hot of the first argmin over the last axis, as a constant (0/1, exactly one 1 per row). */
export function firstArgminOneHot(x: Tensor): Tensor {
  const v = mp.stopGradient(x);
  const n = v.shape[v.rank - 1];
  const isMin = mp.greaterEqual(mp.min(v, -1, true), v); // 1 at every minimal entry
  const rank = mp.tensor(
    Float32Array.from({ length: n }, (_, h) => n - h),
    [n],
  ); // earlier heads rank higher
  const score = mp.mul(isMin, rank); // n − h at the minimal heads, 0 elsewhere
  return mp.equal(score, mp.max(score, -1, true));
}

/** The assignment temperature at update `step`: T₀·r^step (official `get_exp_annealed_rate`). */
export function mclTemperature(m: MatpacConfig['mcl'], step: number): number {
  return m.temperatureStart * m.decayRate ** step;
}

/** Soft while T > T_end, hard from then on (l. 465). */
export const mclIsSoft = (m: MatpacConfig['mcl'], step: number): boolean => mclTemperature(m, step) > m.temperatureEnd;

/**
 * The assignment weights w [B, N_m, n] (constants): softmax(−ℓ/T) in the soft phase, one-hot of the
 * argmin in the hard phase.
 */
export function assignmentWeights(losses: Tensor, m: MatpacConfig['mcl'], step: number): Tensor {
  const l = mp.stopGradient(losses);
  return mclIsSoft(m, step) ? mp.softmax(mp.div(mp.neg(l), mclTemperature(m, step)), -1) : firstArgminOneHot(l);
}

export interface MclPrediction {
  /** L_pred = mean over tokens of Σ_h w_h·ℓ_h. */
  lPred: Tensor;
  /** ẑ_best [B, N_m, D]: the best head's prediction, what the classification head receives. */
  best: Tensor;
  /** [n]: how many tokens of the batch each head won (argmin ℓ). */
  wins: Tensor;
  /** w [B, N_m, n]: the assignment weights used (constants). */
  assignment: Tensor;
  /** The assignment temperature used. */
  temperature: number;
}

/**
 * The MCL prediction loss and the best head's prediction, from Ẑ [B, N_m, n, D] and the target
 * z [B, N_m, D]. `heldAssignment` replaces the weights computed here (they are constants either
 * way): with the weights of a point θ₀ held, the loss is the function whose finite differences the
 * gradient at θ₀ must match.
 */
export function mclPredLoss(
  preds: Tensor,
  target: Tensor,
  m: MatpacConfig['mcl'],
  step: number,
  heldAssignment?: Tensor,
): MclPrediction {
  const losses = headLosses(preds, target);
  const w = heldAssignment ? mp.stopGradient(heldAssignment) : assignmentWeights(losses, m, step);
  const lPred = mp.mean(mp.sum(mp.mul(w, losses), -1));
  const winner = firstArgminOneHot(losses); // [B, N_m, n]
  const best = mp.sum(mp.mul(mp.expandDims(winner, -1), preds), 2);
  const n = winner.shape[2];
  return {
    lPred,
    best,
    wins: mp.sum(mp.reshape(winner, [-1, n]), 0),
    assignment: w,
    temperature: mclTemperature(m, step),
  };
}
