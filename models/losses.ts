/**
 * MATPAC's two losses and the centre's state transition.
 *
 * Masked latent prediction (aurianworld/matpac training_matpac/models/model.py `forward_loss_pred`
 * l. 431-455; the teacher forward runs under torch.no_grad, l. 263-265):
 *
 *   ℓ_pred(ẑ, z) = ‖ẑ/‖ẑ‖ − z/‖z‖‖² = 2 − 2·⟨ẑ/‖ẑ‖, z/‖z‖⟩,     L_pred = mean over the B·N_m masked tokens
 *
 *   ∂ℓ/∂ẑ = −2 (I − n̂ n̂ᵀ) n / ‖ẑ‖ with n̂ = ẑ/‖ẑ‖, n = z/‖z‖; z is a constant (stop-gradient).
 *
 * Unsupervised classification (cls_head.py `Cls_Loss` l. 86-201, model.py l. 272-315):
 *
 *   p_t   = softmax((P − c)/τ_t)                (teacher logits P, centre c; no gradient)
 *   log q = log_softmax(P̂/τ_s)                 (student logits P̂)
 *   L_cls = mean over tokens of −Σ_k p_t,k · log q_k
 *
 *   ∂L_cls/∂P̂ = (q − p_t)/(τ_s·B·N_m) per token.
 *
 * Centre (cls_head.py `update_center` / `apply_center_update` l. 169-201):
 *
 *   c ← μ·c + (1 − μ)·mean_{b,n} p_t[b, n]       μ = 0.9
 *
 * We follow the official code: the centre averages the teacher's *probabilities* (the output of
 * `softmax_center_teacher`, passed to `update_center` at model.py l. 305-310), whereas DINO
 * (facebookresearch/dino main_dino.py `DINOLoss.update_center`) averages the raw teacher *logits*.
 * Reason: this is what produced MATPAC's reported numbers, and the two are not equivalent (a centre
 * of probabilities lies in the simplex, so it shifts logits by at most 1/τ_t·max_k c_k ≤ 1/τ_t).
 * The official update is deferred to the start of the next step (`apply_center_update` runs inside
 * the next `softmax_center_teacher`), so step t uses the centre built from steps < t — exactly
 * the state transition here: the loss at step t reads c_t and returns c_{t+1}.
 */
import * as mp from '../src/engine';
import type { Tensor } from '../src/engine';

/** Mean over tokens of 2 − 2·cos(pred, target); target is treated as a constant. */
export function predLoss(pred: Tensor, target: Tensor): Tensor {
  const a = mp.l2Normalize(pred, -1, 1e-12);
  const b = mp.l2Normalize(mp.stopGradient(target), -1, 1e-12);
  return mp.mean(mp.sub(2, mp.mul(mp.sum(mp.mul(a, b), -1), 2)));
}

/** Teacher targets p_t = softmax((P − c)/τ_t), as constants. */
export function teacherProbs(teacherLogits: Tensor, centre: Tensor, teacherTemp: number): Tensor {
  return mp.softmax(mp.div(mp.sub(mp.stopGradient(teacherLogits), mp.stopGradient(centre)), teacherTemp), -1);
}

/** L_cls = mean over tokens of −Σ_k p_t,k log softmax(P̂/τ_s)_k. */
export function clsLoss(studentLogits: Tensor, targets: Tensor, studentTemp: number): Tensor {
  const logq = mp.logSoftmax(mp.div(studentLogits, studentTemp), -1);
  return mp.mean(mp.neg(mp.sum(mp.mul(mp.stopGradient(targets), logq), -1)));
}

/** c' = μ·c + (1 − μ)·(mean of p_t over every axis but the last): [K]. */
export function centreUpdate(centre: Tensor, targets: Tensor, momentum: number): Tensor {
  const K = targets.shape[targets.rank - 1];
  const batchMean = mp.mean(mp.reshape(mp.stopGradient(targets), [-1, K]), 0);
  return mp.add(mp.mul(mp.stopGradient(centre), momentum), mp.mul(batchMean, 1 - momentum));
}

/** exp(entropy) of the batch-mean teacher distribution (the official `cls_perplexity` log): 1 = collapse to one class. */
export function targetPerplexity(targets: Tensor): Tensor {
  const K = targets.shape[targets.rank - 1];
  const pbar = mp.mean(mp.reshape(mp.stopGradient(targets), [-1, K]), 0);
  return mp.exp(mp.neg(mp.sum(mp.mul(pbar, mp.log(mp.add(pbar, 1e-7))))));
}
