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

/** Everything a training run carries from step to step: step, parameters, optimizer state, teacher, RNG key, extras. */
export interface TrainState<Params = unknown, Teacher = unknown, Extra = unknown> {
  /** Number of optimizer updates done (0 before the first); schedules are evaluated at it. */
  readonly step: number;
  /** The RNG key the next step draws from. */
  readonly key: Key;
  /** Student parameters: what the optimizer trains. */
  readonly params: Params;
  /** Teacher parameters, updated by EMA (src/ema.ts), not by the optimizer. */
  readonly teacher: Teacher;
  /** The optimizer's state (a plain tree: tensors and numbers). */
  readonly optState: unknown;
  /** Any other running state, e.g. MATPAC's `{ center }`. */
  readonly extra: Extra;
}

/** One training step: a pure function from a state and a batch to the next state and metrics. */
export type TrainStep<S, B, M = Record<string, number>> = (state: S, batch: B) => readonly [S, M];

/** What `createTrainState` starts from. */
export interface CreateTrainStateOptions<P, T, E> {
  params: P;
  teacher: T;
  tx: GradientTransformation<any>;
  key: Key;
  extra: E;
}

/** The state before the first update: step 0 and the optimizer's initial state for `params`. */
export function createTrainState<P, T, E>(o: CreateTrainStateOptions<P, T, E>): TrainState<P, T, E> {
  return { step: 0, key: o.key, params: o.params, teacher: o.teacher, optState: o.tx.init(o.params), extra: o.extra };
}

/**
 * One optimizer update of the student from `grads` (the same tree type as params): runs
 * `tx.update`, applies the updates, and counts the step (flax's TrainState.apply_gradients).
 * Teacher, extra and key are left to the caller's trainStep.
 */
export function applyGradients<P, T, E>(
  state: TrainState<P, T, E>,
  grads: P,
  tx: GradientTransformation<any>,
): TrainState<P, T, E> {
  const [updates, optState] = tx.update(grads, state.optState, state.params);
  return { ...state, params: applyUpdates(state.params, updates), optState, step: state.step + 1 };
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
