/**
 * MATPAC end to end: the loss of one batch and one training step, as pure functions.
 *
 * Forward (aurianworld/matpac training_matpac/models/model.py `forward_cls_pred` l. 256-329,
 * `forward_student_encoder_pred` l. 381-409, `forward_teacher_encoder_pred` l. 411-429):
 *
 *   X = patches(batch)·W̃ᵀ + b + P                       [B, N, D]   patch.ts, positional.ts
 *   (visible, masked) = randomMasking(key)                            masking.ts
 *   Z_v   = Enc_θ([c_cls ; X_visible])                   [B, 1+N_v, D]  (student)        vit.ts
 *   Ẑ_m   = Pred_φ(Z_v, masks)                           [B, N_m, D]                     predictor.ts
 *   Z_m   = sg(Enc_ξ([c_cls ; X_masked]))[:, 1:]         [B, N_m, D]  (teacher, no grad)
 *   L_pred = mean 2 − 2·cos(Ẑ_m, Z_m)                                                     losses.ts
 *   P̂_m   = h_ψ(Ẑ_m),  P_m = sg(h_ω(Z_m))                [B, N_m, K]                     heads.ts
 *   p_t   = softmax((P_m − c)/τ_t(step)),  L_cls = mean −Σ p_t log softmax(P̂_m/τ_s)
 *   L     = w_cls·L_cls + w_pred·L_pred                  (0.5, 0.5: config/matpac.yaml l. 31-33)
 *   c'    = μ·c + (1 − μ)·mean p_t                        (centre of probabilities, as the official code)
 *
 * MATPAC++ (config `mcl.heads` = n > 0; models/mcl.ts, official `forward_cls_pred` l. 267-292):
 *   Ẑ_m   = MCL_φ'(H_m) ∈ ℝ^{B×N_m×n×D}, H_m the predictor before its output projection
 *   L_pred = mean Σ_h sg(w_h)·ℓ_h, w = softmax(−ℓ/T(step)) (soft) or one-hot argmin ℓ (hard)
 *   P̂_m   = h_ψ(ẑ_best), ẑ_best = Ẑ_m at argmin_h ℓ_h     (the best head feeds the classification head)
 *
 * The teacher uses the student's patch embedding, positions and CLS token (not EMA copies), on
 * stop-gradient inputs, as the official `torch.no_grad()` teacher forward (l. 263-265).
 *
 * Gradient of L with respect to the student's parameters θ (patch embedding, CLS, encoder),
 * φ (predictor, mask token) and ψ (student head): L_pred reaches φ and θ through Ẑ_m; L_cls reaches
 * ψ, then φ and θ through Ẑ_m as well. The teacher (ξ, ω) and the centre get none.
 *
 * Training step (the official order; `trainStep` below):
 *   1. key → (next key, step key); the masks come from the step key
 *   2. (L, aux), g = valueAndGrad(L)(student)            with the teacher at ξ_t, ω_t and the centre c_t
 *   3. ω ← EMA(ω, ψ, m_head(t)), then ξ ← EMA(ξ, θ_enc, m_enc(t)), both with the student *before*
 *      this step's update and skipped at t = 0 (model.py `do_ema_step` l. 762-786, called inside
 *      the forward at l. 317-327, before the backward and the optimizer step)
 *   4. g ← g·3/‖g‖ if ‖g‖ > 3 (clip_norm 3.0, the FP16Optimizer's rule), then AdamW with fairseq's
 *      ε placement and the warm-up-cosine learning rate (fairseq: loss → backward → clip_grad_norm →
 *      optimizer.step → lr_scheduler.step_update); `optimizer` below says why these rules
 *   5. c ← c', step ← t + 1
 */
import * as mp from '../src/engine';
import type { Tensor } from '../src/engine';
import { jit, valueAndGrad, type JitStats } from '../src/engine';
import type { Plan } from '../src/jit/plan';
import { emaStep } from '../src/ema';
import { adamw, chain, clipByGlobalNorm, globalNorm, type GradientTransformation } from '../src/optim';
import { split, keyFromSeed, foldIn, type Key } from '../src/random';
import { constant, linear, untilThen, warmupCosine, type Schedule } from '../src/schedules';
import { treeMap } from '../src/tree';
import { applyGradients, createTrainState, takeKey, type TrainState as GenericTrainState } from '../src/train-state';
import { gridOf, validateConfig, type MatpacConfig } from './config';
import { head, type HeadParams } from './heads';
import { encoderInit, headsInit, mclHeadsInit, normalInit, patchEmbedInit, predictorInit } from './init';
import { mclPredictions, mclPredLoss, type MclHeadsParams } from './mcl';
import { centreUpdate, clsLoss, predLoss, targetPerplexity, teacherProbs } from './losses';
import { gatherTokens, randomMasking, type Masking } from './masking';
import { embedPatches, patchify, type PatchEmbedParams } from './patch';
import { sincos2d } from './positional';
import { predictorHidden, type PredictorParams } from './predictor';
import { dense, encoder, type EncoderParams } from './vit';

/** Everything the optimizer updates, with the official parameter names. */
export interface StudentParams {
  patch_embed: PatchEmbedParams;
  cls_token: Tensor; // [1, 1, D]
  student_encoder: EncoderParams;
  decoder: PredictorParams;
  /** MATPAC++ only (config mcl.heads > 0): the n prediction heads, official `mcl_heads.mcl_heads.N.*`. */
  mcl_heads?: MclHeadsParams;
  cls_student_head: HeadParams;
}

/** The EMA teacher: encoder blocks + final norm, and the classification head. */
export interface TeacherParams {
  encoder: EncoderParams;
  head: HeadParams;
}

/** What the loss reads besides the student: the teacher, the centre and the step (for τ_t). */
export interface TeacherState extends TeacherParams {
  centre: Tensor; // [K]
  step: number;
}

/**
 * MATPAC's training state: the generic one (src/train-state.ts: step, RNG key, student, teacher,
 * optimizer state) with the centre of the teacher's probabilities beside them.
 */
export type TrainState = GenericTrainState<StudentParams, TeacherParams, { centre: Tensor }>;

/** The two losses of one step, the teacher targets' perplexity and the teacher temperature. */
export interface LossMetrics {
  lPred: Tensor;
  lCls: Tensor;
  /** exp(entropy) of the batch-mean teacher distribution: 1 = collapsed, K = all classes used evenly. */
  targetPerplexity: Tensor;
  teacherTemp: number;
  /** MATPAC++: tokens of the batch each head won (argmin ℓ), [n], the assignment weights [B, N_m, n] and temperature. */
  mcl?: { wins: Tensor; assignment: Tensor; temperature: number };
}

/** The loss and its metrics. */
export interface LossOutput {
  loss: Tensor;
  metrics: LossMetrics;
  newCentre: Tensor;
}

/** What one training step reports (losses, learning rate, EMA momentum, temperatures, gradient norm). */
export interface StepMetrics {
  loss: number;
  lPred: number;
  lCls: number;
  lr: number;
  emaMomentum: number;
  emaMomentumHead: number;
  teacherTemp: number;
  gradNorm: number;
  /** exp(entropy) of the batch-mean teacher distribution (1 = collapsed, K = every class used evenly). */
  targetPerplexity: number;
  /** MATPAC++ only: the assignment temperature T of this step (the hard phase once ≤ mcl.temperatureEnd). */
  mclTemperature?: number;
  /** MATPAC++ only: how many of the batch's masked tokens each head won (argmin ℓ). */
  headWins?: number[];
}

// ---------------------------------------------------------------------------------------------
// schedules (all in optimizer steps)

/** The schedules of a MATPAC run, each a function of the step. */
export interface Schedules {
  learningRate: Schedule;
  encoderMomentum: Schedule;
  headMomentum: Schedule;
  teacherTemp: Schedule;
}

/**
 * The teacher head's EMA momentum, as the official `do_ema_step` (model.py l. 762-786): linear from
 * headStart to headEnd over annealSteps, and from annealSteps on the *encoder's* end momentum
 * (l. 775-776 set `self.cfg.ema_end_decay`, whichever teacher is stepped), so the head, nearly
 * frozen at the end of annealing, follows the student again at encoderEnd. When headStart equals
 * headEnd the official code never sets the decay (l. 774), so it stays at headStart throughout.
 */
function headMomentum(c: MatpacConfig): Schedule {
  const { headStart, headEnd, encoderEnd, annealSteps } = c.ema;
  if (headStart === headEnd) return constant(headStart);
  return untilThen(linear(headStart, headEnd, annealSteps), annealSteps, encoderEnd);
}

/** The schedules of config `c`: learning rate, encoder and head EMA momentum, teacher temperature. */
export function schedules(c: MatpacConfig): Schedules {
  const o = c.optim;
  return {
    learningRate: warmupCosine({
      initValue: 0,
      peakValue: o.peakLr,
      warmupSteps: o.warmupSteps,
      decaySteps: o.totalSteps,
      endValue: 0,
    }),
    encoderMomentum: linear(c.ema.encoderStart, c.ema.encoderEnd, c.ema.annealSteps),
    headMomentum: headMomentum(c),
    teacherTemp:
      c.cls.teacherTempWarmupSteps > 0
        ? linear(c.cls.teacherTempStart, c.cls.teacherTempEnd, c.cls.teacherTempWarmupSteps)
        : () => c.cls.teacherTempEnd,
  };
}

/**
 * clip(3.0) then AdamW (decay on every parameter, as MATPAC) with the warm-up-cosine schedule, by
 * the rules the config names (every preset: the official run's; docs/optimization.md):
 *   clip 'fp16' (official): g·c/‖g‖ only when ‖g‖ > c — config/matpac.yaml sets common.fp16: true
 *     (l. 7), so fairseq's trainer (trainer.py l. 322-338) wraps the optimizer in FP16Optimizer, whose
 *     clip_grad_norm (fp16_optimizer.py l. 191-211) takes that branch because it has a loss scaler;
 *   clip 'fp32': fairseq's utils.clip_grad_norm_, g·min(1, c/(‖g‖ + 1e-6)) (utils.py l. 392-395);
 *   adamEps 'fairseq' (official): ε added to √v before the bias correction — fairseq/optim/adam.py
 *     falls back to its own Adam (l. 55-77, 223-234) when apex's FusedAdam is absent, and
 *     environment.yml installs no apex;
 *   adamEps 'pytorch': ε added to the bias-corrected √v̂ (torch AdamW, optax, apex FusedAdam).
 */
export function optimizer(c: MatpacConfig): GradientTransformation<unknown[]> {
  const o = c.optim;
  return chain(
    clipByGlobalNorm(o.clipNorm, { eps: o.clip === 'fp32' ? FAIRSEQ_CLIP_EPS : 0 }),
    adamw({
      learningRate: schedules(c).learningRate,
      b1: o.b1,
      b2: o.b2,
      eps: o.eps,
      epsOnRawMoment: o.adamEps === 'fairseq',
      weightDecay: o.weightDecay,
    }),
  );
}

/** What fairseq's fp32 clip_grad_norm_ adds to ‖g‖ (fairseq/utils.py l. 394). */
const FAIRSEQ_CLIP_EPS = 1e-6;

// ---------------------------------------------------------------------------------------------
// the loss

/** Patch tokens with positions: [B, N, D], and the grid. */
export function tokens(
  params: Pick<StudentParams, 'patch_embed'>,
  batch: Tensor,
  c: MatpacConfig,
): { x: Tensor; F: number; T: number } {
  const { patches, F, T } = patchify(batch, c.patchSize);
  const x = mp.add(embedPatches(params.patch_embed, patches), sincos2d(c.encoder.dim, F, T));
  return { x, F, T };
}

/** [CLS ; x] with the CLS token (position 0 is the zero row of the table, so no position is added). */
export function withCls(cls: Tensor, x: Tensor): Tensor {
  const [B, , D] = x.shape;
  return mp.concat([mp.broadcastTo(cls, [B, 1, D]), x], 1);
}

/** The teacher's outputs for one batch: what the loss holds fixed (stop-gradient). */
export interface TeacherOutputs {
  /** Z_m: teacher encoder output at the masked tokens, CLS dropped, [B, N_m, D]. */
  zm: Tensor;
  /** P_m: teacher head logits, [B, N_m, K]. */
  pm: Tensor;
}

/** The teacher's outputs from the (stop-gradient) tokens, CLS token and masks. */
export function teacherForward(
  teacher: TeacherParams,
  x: Tensor,
  cls: Tensor,
  m: Masking,
  c: MatpacConfig,
): TeacherOutputs {
  const sg = <T>(t: T): T => treeMap(mp.stopGradient, t);
  const xm = gatherTokens(mp.stopGradient(x), m.maskedIdx);
  const out = encoder(sg(teacher.encoder), withCls(mp.stopGradient(cls), xm), c.encoder.heads, c.lnEps);
  const zm = mp.sliceAxis(out, 1, 1, 1 + m.nMasked);
  return { zm, pm: head(sg(teacher.head), zm, c.head.layers) };
}

/** Constants the loss may be given instead of computing them (for finite differences): MATPAC++'s assignment weights. */
export interface HeldConstants {
  assignment?: Tensor;
}

function studentSide(
  params: StudentParams,
  x: Tensor,
  grid: { F: number; T: number },
  m: Masking,
  teacher: TeacherOutputs,
  ts: Pick<TeacherState, 'centre' | 'step'>,
  c: MatpacConfig,
  held: HeldConstants = {},
): LossOutput {
  // student: visible tokens + CLS → encoder → predictor at the masked positions
  const zv = encoder(
    params.student_encoder,
    withCls(params.cls_token, gatherTokens(x, m.visibleIdx)),
    c.encoder.heads,
    c.lnEps,
  );
  const hm = predictorHidden(params.decoder, zv, m, grid, c.predictor.heads, c.lnEps);
  let zHat: Tensor; // what the classification head receives
  let lPred: Tensor;
  let mcl: LossMetrics['mcl'];
  if (c.mcl.heads > 0) {
    if (!params.mcl_heads)
      throw new Error(`config ${c.name}: mcl.heads is ${c.mcl.heads} but the parameters have no mcl_heads`);
    const r = mclPredLoss(mclPredictions(params.mcl_heads, hm), teacher.zm, c.mcl, ts.step, held.assignment);
    [zHat, lPred, mcl] = [r.best, r.lPred, { wins: r.wins, assignment: r.assignment, temperature: r.temperature }];
  } else {
    if (!params.decoder.decoder_pred)
      throw new Error(`config ${c.name}: mcl.heads is 0 but the parameters have no decoder.decoder_pred`);
    zHat = dense(hm, params.decoder.decoder_pred);
    lPred = predLoss(zHat, teacher.zm);
  }
  const teacherTemp = schedules(c).teacherTemp(ts.step);
  const pt = teacherProbs(teacher.pm, ts.centre, teacherTemp);
  const lCls = clsLoss(head(params.cls_student_head, zHat, c.head.layers), pt, c.cls.studentTemp);
  const loss = mp.add(mp.mul(lCls, c.loss.clsWeight), mp.mul(lPred, c.loss.predWeight));
  return {
    loss,
    metrics: { lPred, lCls, targetPerplexity: targetPerplexity(pt), teacherTemp, ...(mcl ? { mcl } : {}) },
    newCentre: centreUpdate(ts.centre, pt, c.cls.centerMomentum),
  };
}

const masksFor = (x: Tensor, key: Key, c: MatpacConfig): Masking =>
  randomMasking(key, x.shape[0], x.shape[1], c.maskRatio);

/**
 * The MATPAC loss of one batch [B, nMels, frames] with the masks drawn from `key`.
 * Pure: the same inputs give the same outputs; nothing is updated in place.
 */
export function matpacLoss(
  params: StudentParams,
  teacherState: TeacherState,
  batch: Tensor,
  key: Key,
  config: MatpacConfig,
): LossOutput {
  const { x, F, T } = tokens(params, batch, config);
  const m = masksFor(x, key, config);
  const teacher = teacherForward(teacherState, x, params.cls_token, m, config);
  return studentSide(params, x, { F, T }, m, teacher, teacherState, config);
}

/** The teacher's outputs matpacLoss uses for this (params, batch, key). */
export function teacherOutputs(
  params: StudentParams,
  teacherState: TeacherParams,
  batch: Tensor,
  key: Key,
  config: MatpacConfig,
): TeacherOutputs {
  const { x } = tokens(params, batch, config);
  return teacherForward(teacherState, x, params.cls_token, masksFor(x, key, config), config);
}

/**
 * matpacLoss with the teacher's outputs given instead of computed. At the parameters the outputs
 * were computed with, its value and its gradient equal matpacLoss's (the teacher branch is
 * stop-gradient); it is the function finite differences must be taken of, since the teacher's
 * inputs — the student's patch embedding and CLS token — move with the parameters. For MATPAC++,
 * `held.assignment` holds the assignment weights too (they are stop-gradient functions of the
 * parameters, as the teacher's outputs are).
 */
export function matpacLossGivenTeacher(
  params: StudentParams,
  teacher: TeacherOutputs,
  ts: Pick<TeacherState, 'centre' | 'step'>,
  batch: Tensor,
  key: Key,
  config: MatpacConfig,
  held: HeldConstants = {},
): LossOutput {
  const { x, F, T } = tokens(params, batch, config);
  return studentSide(params, x, { F, T }, masksFor(x, key, config), teacher, ts, config, held);
}

/** matpacLoss in the shape valueAndGrad(…, { hasAux: true }) wants: [loss, { metrics, newCentre }]. */
export function matpacLossAux(
  params: StudentParams,
  teacherState: TeacherState,
  batch: Tensor,
  key: Key,
  config: MatpacConfig,
): [Tensor, Omit<LossOutput, 'loss'>] {
  const { loss, ...aux } = matpacLoss(params, teacherState, batch, key, config);
  return [loss, aux];
}

// ---------------------------------------------------------------------------------------------
// state

/** Student (patch embedding, CLS, encoder, predictor, head), teacher and centre, from a key. */
export function initParams(
  config: MatpacConfig,
  key: Key,
): { student: StudentParams; teacher: TeacherParams; centre: Tensor } {
  const c = validateConfig(config);
  const k = (i: number) => foldIn(key, i);
  const heads = headsInit(k(5), c);
  const student: StudentParams = {
    patch_embed: patchEmbedInit(k(0), c),
    cls_token: normalInit(k(1), [1, 1, c.encoder.dim], 0.02),
    student_encoder: encoderInit(k(2), c.encoder),
    decoder: predictorInit(k(3), c),
    ...(c.mcl.heads > 0 ? { mcl_heads: mclHeadsInit(k(6), c) } : {}),
    cls_student_head: heads.student,
  };
  const teacher: TeacherParams = { encoder: encoderInit(k(4), c.encoder), head: heads.teacher };
  return { student, teacher, centre: mp.zeros([c.head.numClasses]) };
}

/** The state before the first step. `key` defaults to keyFromSeed(config.seed). */
export function initTrainState(config: MatpacConfig, key: Key = keyFromSeed(config.seed)): TrainState {
  const [kInit, kRun] = split(key);
  const { student, teacher, centre } = initParams(config, kInit);
  return createTrainState({ student, teacher, tx: optimizer(config), key: kRun, extra: { centre } });
}

/** The tensors of a step's metrics (read on the host by `stepMetrics`). */
export interface StepTensors {
  loss: Tensor;
  lPred: Tensor;
  lCls: Tensor;
  gradNorm: Tensor;
  targetPerplexity: Tensor;
  teacherTemp: number;
  /** MATPAC++'s multiple-choice heads (when configured): their temperature and per-head wins. */
  mcl?: LossMetrics['mcl'];
}

/**
 * One MATPAC update as a function of tensors only: [new state, metric tensors]. Pure and
 * traceable (it reads no tensor value), so `jit` can compile it (`makeTrainStep`).
 */
export function trainStepTensors(state: TrainState, batch: Tensor, config: MatpacConfig): [TrainState, StepTensors] {
  const c = config;
  const sch = schedules(c);
  const t = state.step;
  const [stepKey, keyed] = takeKey(state);
  const teacherState: TeacherState = { ...state.teacher, centre: state.centre, step: t };
  const [[loss, aux], grads] = valueAndGrad(matpacLossAux, { hasAux: true })(
    state.student,
    teacherState,
    batch,
    stepKey,
    c,
  );

  // EMA of the teacher towards the student as it was before this update (head first, as the official code)
  const head_ = emaStep(state.teacher.head, state.student.cls_student_head, t, sch.headMomentum);
  const encoder_ = emaStep(state.teacher.encoder, state.student.student_encoder, t, sch.encoderMomentum);

  const gradNorm = globalNorm(grads);
  const updated = { ...keyed, teacher: { encoder: encoder_, head: head_ }, centre: aux.newCentre };
  const next: TrainState = applyGradients(updated, grads, optimizer(c));
  const m = aux.metrics;
  return [
    next,
    {
      loss,
      lPred: m.lPred,
      lCls: m.lCls,
      gradNorm,
      targetPerplexity: m.targetPerplexity,
      teacherTemp: m.teacherTemp,
      mcl: m.mcl,
    },
  ];
}

/** The host metrics of step `t` from its tensors. */
export function stepMetrics(t: number, m: StepTensors, config: MatpacConfig): StepMetrics {
  const sch = schedules(config);
  return {
    loss: m.loss.item(),
    lPred: m.lPred.item(),
    lCls: m.lCls.item(),
    lr: sch.learningRate(t),
    emaMomentum: t === 0 ? 1 : sch.encoderMomentum(t),
    emaMomentumHead: t === 0 ? 1 : sch.headMomentum(t),
    teacherTemp: m.teacherTemp,
    gradNorm: m.gradNorm.item(),
    targetPerplexity: m.targetPerplexity.item(),
    ...(m.mcl ? { mclTemperature: m.mcl.temperature, headWins: Array.from(m.mcl.wins.toArray()) } : {}),
  };
}

/** One MATPAC update: pure, [new state, metrics]. `batch` is [B, nMels, frames]. */
export function trainStep(state: TrainState, batch: Tensor, config: MatpacConfig): [TrainState, StepMetrics] {
  const [next, m] = trainStepTensors(state, batch, config);
  return [next, stepMetrics(state.step, m, config)];
}

/**
 * The training step the trainer runs: `trainStep`, or (jit: true) the same step compiled with
 * `jit` — traced each step (the step count and key are host values), but the program is
 * compiled once per structure (the first step, which skips the EMA, and every later one), so
 * steps run a fused, memory-planned plan.
 */
export function makeTrainStep(
  config: MatpacConfig,
  opts: { jit: boolean },
): ((state: TrainState, batch: Tensor) => [TrainState, StepMetrics]) & {
  jitStats?: () => JitStats;
  lastPlan?: () => Plan | undefined;
} {
  if (!opts.jit) return (state, batch) => trainStep(state, batch, config);
  const compiled = jit((state: TrainState, batch: Tensor) => trainStepTensors(state, batch, config));
  const step = (state: TrainState, batch: Tensor): [TrainState, StepMetrics] => {
    const [next, m] = compiled(state, batch);
    return [next, stepMetrics(state.step, m, config)];
  };
  return Object.assign(step, { jitStats: () => compiled.stats, lastPlan: () => compiled.lastPlan() });
}

// ---------------------------------------------------------------------------------------------
// sizes

/** Parameter counts from the config alone (no allocation): what initParams builds. */
export function parameterCounts(config: MatpacConfig): {
  patchEmbed: number;
  clsToken: number;
  encoder: number;
  predictor: number;
  head: number;
  /** MATPAC++'s prediction heads (0 without MCL); `predictor` then has no output projection. */
  mclHeads: number;
  student: number;
  teacher: number;
  /** Entries of the official inference state dict (patch embedding, CLS, encoder and the fixed pos_embed). */
  inferenceStateDict: number;
} {
  const c = config;
  const lin = (i: number, o: number) => i * o + o;
  const blocks = (t: MatpacConfig['encoder']) =>
    t.depth *
    (2 * 2 * t.dim +
      lin(t.dim, 3 * t.dim) +
      lin(t.dim, t.dim) +
      lin(t.dim, t.mlpRatio * t.dim) +
      lin(t.mlpRatio * t.dim, t.dim));
  const D = c.encoder.dim;
  const Dp = c.predictor.dim;
  const { hiddenDim: h, bottleneckDim: bn, numClasses: K, layers } = c.head;
  const patchEmbed = lin(c.patchSize * c.patchSize, D);
  const encoder = blocks(c.encoder) + 2 * D;
  const mclHeads = c.mcl.heads * lin(Dp, D);
  const predictor = lin(D, Dp) + Dp + blocks(c.predictor) + 2 * Dp + (c.mcl.heads > 0 ? 0 : lin(Dp, D));
  const mlp = layers === 1 ? lin(D, bn) : lin(D, h) + (layers - 2) * lin(h, h) + lin(h, bn);
  const head = mlp + K + K * bn;
  const { N } = gridOf(c);
  return {
    patchEmbed,
    clsToken: D,
    encoder,
    predictor,
    head,
    mclHeads,
    student: patchEmbed + D + encoder + predictor + mclHeads + head,
    teacher: encoder + head,
    inferenceStateDict: patchEmbed + D + encoder + (1 + N) * D,
  };
}
