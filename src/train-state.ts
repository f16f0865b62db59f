/**
 * The whole training run as one value, and a step as a function of it:
 *
 *     trainStep(state, batch) → [state', metrics]
 *
 * A TrainState holds everything a resumed run needs to continue bit-identically: the student
 * parameters, the teacher (EMA) parameters, the optimizer state, any other running state
 * (MATPAC's centre), the RNG key and the update count. It is a plain tree, so
 * saveState/loadState (src/checkpoint/file.ts) store and restore it whole. Randomness comes only from
 * `state.key` (src/random.ts is counter-based and stateless), so nothing outside the state
 * influences the next step.
 */
import type { Key } from './random';
import { split } from './random';
import { applyUpdates, type GradientTransformation } from './optim';

/**
 * Everything a training run carries from step to step: the update count, the RNG key, the student
 * (what the optimizer trains), the teacher (what EMA updates), the optimizer state, and the model's
 * other running state `Extra` as fields of its own (MATPAC's `{ centre }`), so that checkpoint names
 * stay flat (`centre`, not `extra.centre`). models/matpac.ts's `TrainState` is this type.
 */
export type TrainState<Student = unknown, Teacher = unknown, Extra extends object = object> = {
  /** Number of optimizer updates done (0 before the first); schedules are evaluated at it. */
  readonly step: number;
  /** The RNG key the next step draws from. */
  readonly key: Key;
  /** Student parameters: what the optimizer trains. */
  readonly student: Student;
  /** Teacher parameters, updated by EMA (src/ema.ts), not by the optimizer. */
  readonly teacher: Teacher;
  /** The optimizer's state (a plain tree: tensors and numbers). */
  readonly optState: unknown;
} & Readonly<Extra>;

/** One training step: a pure function from a state and a batch to the next state and metrics. */
export type TrainStep<S, B, M = Record<string, number>> = (state: S, batch: B) => readonly [S, M];

/** What `createTrainState` starts from. */
export interface CreateTrainStateOptions<S, T, E extends object> {
  student: S;
  teacher: T;
  tx: GradientTransformation<any>;
  key: Key;
  /** The model's other running state, stored beside the fields above (e.g. `{ centre }`). */
  extra: E;
}

/** The state before the first update: step 0 and the optimizer's initial state for `student`. */
export function createTrainState<S, T, E extends object>(o: CreateTrainStateOptions<S, T, E>): TrainState<S, T, E> {
  return { ...o.extra, step: 0, key: o.key, student: o.student, teacher: o.teacher, optState: o.tx.init(o.student) };
}

/**
 * One optimizer update of the student from `grads` (the same tree type as the student): runs
 * `tx.update`, applies the updates, and counts the step (flax's TrainState.apply_gradients).
 * Teacher, extra fields and key are left to the caller's trainStep.
 */
export function applyGradients<S, T, E extends object>(
  state: TrainState<S, T, E>,
  grads: S,
  tx: GradientTransformation<any>,
): TrainState<S, T, E> {
  const [updates, optState] = tx.update(grads, state.optState, state.student);
  return { ...state, student: applyUpdates(state.student, updates), optState, step: state.step + 1 };
}

/** A fresh key for this step and the state that carries the next one (JAX's `key, sub = split(key)`). */
export function takeKey<S extends TrainState>(state: S): [Key, S] {
  const [next, sub] = split(state.key);
  return [sub, { ...state, key: next }];
}

/** Run `step` over `batches` in order: the final state and each step's metrics. */
export function runSteps<S, B, M>(step: TrainStep<S, B, M>, state: S, batches: Iterable<B>): [S, M[]] {
  const metrics: M[] = [];
  let s = state;
  for (const b of batches) {
    const [next, m] = step(s, b);
    s = next;
    metrics.push(m);
  }
  return [s, metrics];
}
