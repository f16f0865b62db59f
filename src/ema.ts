/**
 * The teacher as an exponential moving average of the student — a pure state transition over
 * parameter trees:
 *     θ_t ← m·θ_t + (1 − m)·θ_s
 *
 * MATPAC (aurianworld/matpac, training_matpac/models/model.py, `GeneralModel.do_ema_step`) runs
 * this for the teacher encoder (m: 0.99995 → 0.99999 over the run) and for the teacher
 * classification head (m: 0.998 → 1.0), both through fairseq's `EMAModule.step`
 * (fairseq/modules/ema_module.py, `_step_internal`: `ema_param.mul_(1 - lr)` then
 * `ema_param.add_(param, alpha=lr)` with lr = 1 − decay). `do_ema_step` is called inside the
 * training forward (`forward_cls_pred`), i.e. before that step's optimizer update, so it sees the
 * student as the previous update left it; it is skipped when `num_updates == 0`, and when the
 * decay is not below 1 (`if teacher_model.get_decay() < 1`). `emaStep` below reproduces those
 * rules. (M2D, nttcslab/m2d `train_audio.py`/`engine_pretrain_m2d.py`, differs: its
 * `update_target_network` runs after the optimizer step, from step 0.)
 *
 * The teacher does not start as a copy of the student: MATPAC's `make_ema_teacher` builds a
 * fresh encoder with its own random init (`teacher_model.blocks.apply(self._init_weights)`) and
 * wraps it with `EMAModule(..., copy_model=False)`, as M2D does for its target network
 * (docs/optimization.md discusses why).
 */
import type { Tensor } from './core';
import { scalar } from './ops';
import { E, fused } from './fused';

/** θ_t·x2 + θ_s·x3 from (θ_t, θ_s, 1−lr, lr): one fused pass; the momentum enters as scalar inputs. */
const EMA = E.add(E.mul(E.x(0), E.x(2)), E.mul(E.x(1), E.x(3)));
import type { Schedule } from './schedules';
import { treeMap } from './tree';

/**
 * One EMA update of `teacher` towards `student` with momentum m ∈ [0, 1]: m·θ_t + (1−m)·θ_s,
 * leaf by leaf (the trees must have the same structure). m = 1 returns the teacher itself and
 * m = 0 the student's leaves (no arithmetic, so both are exact).
 */
export function emaUpdate<T>(teacher: T, student: T, m: number): T {
  if (!(m >= 0 && m <= 1)) throw new RangeError(`emaUpdate: momentum must be in [0, 1], got ${m}`);
  if (m === 1) return treeMap((t) => t, teacher, student);
  if (m === 0) return treeMap((_t, s) => s, teacher, student);
  const lr = 1 - m; // fairseq EMAModule: lr = 1 − decay; ema·(1 − lr) + param·lr
  const consts = new Map<unknown, [Tensor, Tensor]>();
  return treeMap(
    (t, s) => {
      const b = t.backend;
      let c = consts.get(b);
      if (!c) consts.set(b, (c = [scalar(1 - lr, t), scalar(lr, t)]));
      return fused(EMA, [t, s, c[0], c[1]]);
    },
    teacher,
    student,
  );
}

/**
 * MATPAC's EMA at update `step` (0 = the first update), with momentum `schedule(step)`: the
 * teacher is returned unchanged at step 0 and whenever the momentum is ≥ 1; otherwise one
 * emaUpdate. Call it with the student *before* this step's optimizer update.
 */
export function emaStep<T>(teacher: T, student: T, step: number, schedule: Schedule): T {
  if (step === 0) return teacher;
  const m = schedule(step);
  if (m >= 1) return teacher;
  return emaUpdate(teacher, student, m);
}
