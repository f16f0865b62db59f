/**
 * Schedules: plain functions of the update count (optax `optax/_src/schedule.py`).
 *
 * A schedule is evaluated on the host with the optimizer's step counter, which is a plain number
 * in the optimizer state, so reading it never needs a device readback. Step 0 is the first
 * update. Every schedule returns its endpoints exactly (the clamps below do not rely on the
 * floating-point formula landing on them) and is monotone on each piece.
 *
 * Formulas and where they come from (docs/optimization.md has the derivations):
 *   linear:        v(s) = end − (end − init)·(1 − (s − begin)/steps) for begin < s < begin + steps,
 *                  init before, end after — the form of MATPAC's `get_annealed_rate`
 *                  (aurianworld/matpac, training_matpac/models/utils.py), used for the EMA
 *                  momenta and the teacher temperature.
 *   warmupCosine:  v(s) = init + s·(peak − init)/W for s < W, then
 *                  end + ½(peak − end)(1 + cos(π·(s − W)/(T − W))) until T, end after — fairseq's
 *                  `cosine` scheduler (fairseq/optim/lr_scheduler/cosine_lr_scheduler.py,
 *                  `CosineLRSchedule.step_update`), which MATPAC's config uses (lr_scheduler:
 *                  cosine, warmup_updates 19654, max_update 294816). Past T fairseq restarts the
 *                  cosine at a tenth of the peak (lr_shrink); we hold `end`, since T is the end
 *                  of training.
 */

/** A value as a function of the update count (0 = the first update). */
export type Schedule = (step: number) => number;

/** The same value at every step. */
export const constant =
  (value: number): Schedule =>
  () =>
    value;

function checkSteps(name: string, steps: number): void {
  if (!(steps > 0) || !Number.isFinite(steps))
    throw new RangeError(`${name}: steps must be a positive finite number, got ${steps}`);
}

/**
 * From `init` to `end` linearly over `steps` updates starting at `begin`, constant outside.
 * Monotone (non-decreasing if end ≥ init, non-increasing otherwise).
 */
export function linear(init: number, end: number, steps: number, begin = 0): Schedule {
  checkSteps('linear', steps);
  const r = end - init;
  return (s) => {
    if (s <= begin) return init;
    if (s >= begin + steps) return end;
    // get_annealed_rate: end − r·pct_remaining, pct_remaining = 1 − (s − begin)/steps
    return end - r * (1 - (s - begin) / steps);
  };
}

/** `schedule` before step `at`, the constant `after` from `at` on. */
export function untilThen(schedule: Schedule, at: number, after: number): Schedule {
  return (s) => (s >= at ? after : schedule(s));
}

/** Options of warmupCosine. */
export interface WarmupCosineOptions {
  /** Value at step 0 (fairseq's warmup_init_lr; MATPAC: 0). */
  initValue?: number;
  /** Value reached at the end of the warm-up (MATPAC: 3e-4). */
  peakValue: number;
  /** Length of the linear warm-up in updates (MATPAC: 19654, i.e. 20 epochs). */
  warmupSteps: number;
  /** Total length of the schedule, warm-up included, as optax's decay_steps (MATPAC: 294816). */
  decaySteps: number;
  /** Floor reached at `decaySteps` and held after (MATPAC: 0). */
  endValue?: number;
}

/** Linear warm-up from `initValue` to `peakValue`, then cosine decay to `endValue`. */
export function warmupCosine(o: WarmupCosineOptions): Schedule {
  const init = o.initValue ?? 0;
  const end = o.endValue ?? 0;
  const { peakValue: peak, warmupSteps: W, decaySteps: T } = o;
  if (!(W >= 0) || !(T > W)) throw new RangeError(`warmupCosine: need 0 ≤ warmupSteps < decaySteps, got ${W} and ${T}`);
  const lrStep = W > 0 ? (peak - init) / W : 0; // fairseq: self.lr_step
  const period = T - W;
  return (s) => {
    if (s <= 0) return W > 0 ? init : peak;
    if (s < W) return init + s * lrStep;
    if (s === W) return peak;
    if (s >= T) return end;
    return end + 0.5 * (peak - end) * (1 + Math.cos((Math.PI * (s - W)) / period));
  };
}

/** The run length and end points of the MATPAC schedules. */
export interface MatpacScheduleOptions {
  /** Total number of updates (official config: optimization.max_update = 294816, 300 epochs). */
  totalSteps?: number;
  /** Learning-rate warm-up (official: warmup_updates = 19654, 20 epochs). */
  warmupSteps?: number;
  /** Teacher-temperature warm-up (official: cls_head_cfg.warmup_n_steps = 9827, 10 epochs). */
  temperatureWarmupSteps?: number;
  /** Peak learning rate (official: optimization.lr = 3e-4). */
  peakLearningRate?: number;
}

/** The MATPAC schedules, each a function of the step. */
export interface MatpacSchedules {
  learningRate: Schedule;
  /** Momentum of the teacher encoder's EMA (0.99995 → 0.99999 over the run). */
  encoderMomentum: Schedule;
  /** Momentum of the teacher classification head's EMA (0.998 → 1.0 over the run, then the encoder's 0.99999). */
  headMomentum: Schedule;
  /** Teacher softmax temperature τ_t (0.04 → 0.07, then constant). */
  teacherTemperature: Schedule;
}

/**
 * MATPAC's four schedules with the official defaults (aurianworld/matpac,
 * training_matpac/config/matpac.yaml and the dataclasses in models/model.py, models/cls_head.py).
 * Pass smaller step counts for short runs; the shapes stay the same.
 *
 * The momenta anneal over `ema_anneal_end_step = optimization.max_update` in `do_ema_step`
 * (models/model.py l. 762-786). Once num_updates ≥ that step the official code sets the *head's*
 * decay to the encoder's end value (`self.cfg.ema_end_decay`, l. 775-776), and so does this
 * head schedule: a run continued past its annealing length reaches it.
 */
export function matpacSchedules(o: MatpacScheduleOptions = {}): MatpacSchedules {
  const T = o.totalSteps ?? 294816;
  const W = o.warmupSteps ?? 19654;
  return {
    learningRate: warmupCosine({
      initValue: 0,
      peakValue: o.peakLearningRate ?? 3e-4,
      warmupSteps: W,
      decaySteps: T,
      endValue: 0,
    }),
    encoderMomentum: linear(0.99995, 0.99999, T),
    headMomentum: untilThen(linear(0.998, 1.0, T), T, 0.99999),
    teacherTemperature: linear(0.04, 0.07, o.temperatureWarmupSteps ?? 9827),
  };
}
