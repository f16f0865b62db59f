/**
 * Gradient transformations, the optax way (`optax/_src/base.py`, `transform.py`, `alias.py`).
 *
 * An optimizer is a pair of pure functions:
 *     init(params) → state
 *     update(updates, state, params) → [updates', state']
 * `updates` are gradients on the way in and parameter increments on the way out; small pieces
 * compose with `chain`, and `applyUpdates(params, updates)` adds the result. AdamW is literally
 * chain(scaleByAdam, addDecayedWeights, scaleByLearningRate).
 *
 * State is a plain tree — tensors, numbers, arrays and objects — so it checkpoints with
 * saveState (src/checkpoint/file.ts) like any other tree. Step counters are plain numbers: schedules
 * and bias corrections are computed on the host, and no update ever reads a value back from the
 * device. The arithmetic is done with engine ops (src/ops.ts), so updates run on whatever
 * backend the parameters live on, and since tensors are immutable values, old states stay valid.
 *
 * Formulas (docs/optimization.md):
 *   scaleByAdam:        m ← b1·m + (1−b1)·g;  v ← b2·v + (1−b2)·g²;  t ← t+1
 *                       u = m̂/(√v̂ + ε),  m̂ = m/(1−b1^t),  v̂ = v/(1−b2^t)
 *   addDecayedWeights:  u ← u + λ·θ            (on the leaves the mask selects)
 *   scaleByLearningRate:u ← −η(t)·u, η evaluated at the transformation's own count (0 first)
 *   so AdamW:           u = −η·(m̂/(√v̂ + ε) + λ·θ).
 * PyTorch's AdamW instead multiplies θ by (1 − η·λ) and then subtracts η·m̂/(√v̂ + ε); fairseq's
 * Adam (MATPAC's optimizer, fairseq/optim/adam.py) subtracts η·λ·θ and then the Adam step. All
 * three decay with the θ from before the step. fairseq's Adam also adds ε to √v *before* the bias
 * correction, i.e. u = m̂/(√v̂ + ε/√(1−b2^t)): `scaleByAdam({ epsOnRawMoment: true })`, which
 * MATPAC's presets use (models/matpac.ts `optimizer`).
 */
import { Tensor } from './core';
import { add, concat, div, minimum, mul, reshape, scalar, sqrt, square, sum, zerosLike } from './ops';
import { E, fused } from './fused';
import type { Schedule } from './schedules';
import { flatten, treeMap } from './tree';

/** What `update` returns: the transformed updates and the new state. */
export type UpdateResult<T, S> = readonly [T, S];

/**
 * A gradient transformation. `update` is generic over the tree type, so a model's typed
 * parameter tree goes in and the same type comes out. States are plain trees.
 */
export interface GradientTransformation<S = unknown> {
  /** The initial state for parameters `params`. */
  readonly init: (params: unknown) => S;
  /** Transform `updates` (gradients, or the previous transformation's output) given the state (and the parameters): new updates and state. */
  readonly update: <T>(updates: T, state: S, params?: T) => UpdateResult<T, S>;
}

/** The state of a transformation that keeps none. */
export type EmptyState = Record<string, never>;

/** A learning rate: a number or a schedule of the update count. */
export type LearningRate = number | Schedule;

/**
 * Which leaves weight decay applies to, from the leaf's tree path and the tensor.
 * MATPAC decays every parameter (the default); M2D (timm's param_groups_weight_decay) excludes
 * biases and 1-D parameters: see `excludeBiasAndOneDim`.
 */
export type DecayMask = (path: string, param: Tensor) => boolean;

/** timm/M2D's rule: no decay for 1-D parameters (LayerNorm, biases) and names ending in `bias`. */
export const excludeBiasAndOneDim: DecayMask = (path, p) => !(p.rank <= 1 || path === 'bias' || path.endsWith('.bias'));

// ---------------------------------------------------------------------------------------------
// helpers

const EMPTY: EmptyState = Object.freeze({}) as EmptyState;

/** Build a transformation from an untyped update (the public type is generic over the tree). */
function transformation<S>(
  init: (params: unknown) => S,
  update: (updates: unknown, state: S, params?: unknown) => UpdateResult<unknown, S>,
): GradientTransformation<S> {
  return { init, update: update as GradientTransformation<S>['update'] };
}

/**
 * Scalars used in one update: one constant tensor per (backend, value), shared by every leaf,
 * so a tree of N leaves costs a handful of uploads per step rather than one per op per leaf.
 */
function scalarCache(): (value: number, like: Tensor) => Tensor {
  const cache = new Map<unknown, Map<number, Tensor>>();
  return (value, like) => {
    const backend = like.backend;
    let m = cache.get(backend);
    if (!m) cache.set(backend, (m = new Map()));
    let t = m.get(value);
    if (!t) m.set(value, (t = scalar(value, like)));
    return t;
  };
}

const valueAt = (lr: LearningRate, count: number): number => (typeof lr === 'number' ? lr : lr(count));

function checkUnit(name: string, what: string, x: number): void {
  if (!(x >= 0 && x < 1)) throw new RangeError(`${name}: ${what} must be in [0, 1), got ${x}`);
}

// ---------------------------------------------------------------------------------------------
// composition

/** The transformation that changes nothing (the unit of `chain`). */
export const identity = (): GradientTransformation<EmptyState> =>
  transformation(
    () => EMPTY,
    (u, s) => [u, s],
  );

/**
 * Apply transformations in sequence: each one's output updates are the next one's input.
 * The state is the array of the inner states, in order.
 */
export function chain(...txs: GradientTransformation<any>[]): GradientTransformation<unknown[]> {
  return transformation(
    (params) => txs.map((tx) => tx.init(params)),
    (updates, state, params) => {
      if (!Array.isArray(state) || state.length !== txs.length)
        throw new Error(
          `chain: state has ${Array.isArray(state) ? state.length : 'no'} entries, the chain has ${txs.length} transformations (was it made by this chain's init?)`,
        );
      let u = updates;
      const next: unknown[] = [];
      txs.forEach((tx, i) => {
        const [ui, si] = tx.update(u, state[i], params);
        u = ui;
        next.push(si);
      });
      return [u, next];
    },
  );
}

/** A monoid, structurally the same as fp-ts's `Monoid<A>` (so fp-ts's `concatAll` folds with it). */
export interface Monoid<A> {
  /** Combine two values (associative). */
  readonly concat: (x: A, y: A) => A;
  /** The identity of `concat`. */
  readonly empty: A;
}

/**
 * `chain` as a monoid (fp-ts): concat(a, b) = chain(a, b), empty = identity(). The laws —
 * associativity and identity — hold for the updates (states nest differently); they are the
 * "chain order laws" tested in test/optim.test.ts.
 */
export const monoidTransformation: Monoid<GradientTransformation<any>> = {
  concat: (a, b) => chain(a, b),
  empty: identity(),
};

// ---------------------------------------------------------------------------------------------
// transformations

/** Multiply updates by a constant. */
export function scale(factor: number): GradientTransformation<EmptyState> {
  return transformation(
    () => EMPTY,
    (updates, state) => {
      const k = scalarCache();
      return [treeMap((u) => mul(u, k(factor, u)), updates), state];
    },
  );
}

/** State of a transformation that only counts steps. */
export interface CountState {
  /** Number of updates done so far (a plain number; the next update evaluates schedules at it). */
  readonly count: number;
}

/**
 * u ← −η·u with η a number or a schedule evaluated at this transformation's own count (0 for
 * the first update, as optax's scale_by_learning_rate / scale_by_schedule, and as fairseq,
 * whose first update runs with the scheduler's value at num_updates = 0).
 */
export function scaleByLearningRate(learningRate: LearningRate): GradientTransformation<CountState> {
  return transformation(
    () => ({ count: 0 }),
    (updates, state) => {
      const eta = valueAt(learningRate, state.count);
      const k = scalarCache();
      return [treeMap((u) => mul(u, k(-eta, u)), updates), { count: state.count + 1 }];
    },
  );
}

/** Adam's state: step count and the first and second moments. */
export interface AdamState<T = unknown> {
  readonly count: number;
  /** First moment m (optax: mu; PyTorch: exp_avg). */
  readonly mu: T;
  /** Second moment v (optax: nu; PyTorch: exp_avg_sq). */
  readonly nu: T;
}

/** Options of scaleByAdam. */
export interface ScaleByAdamOptions {
  b1?: number;
  b2?: number;
  eps?: number;
  /**
   * false (default; optax, PyTorch, apex FusedAdam): u = m̂/(√v̂ + ε).
   * true (fairseq's own Adam, fairseq/optim/adam.py, and Kingma & Ba's "efficient" form):
   * u = m̂/(√v̂ + ε/√(1−b2^t)), i.e. ε is added to √v before the bias correction.
   */
  epsOnRawMoment?: boolean;
}

const [X0, X1, X2, X3, X4] = [E.x(0), E.x(1), E.x(2), E.x(3), E.x(4)];
/** β·x1 + (1−β)·x0: the first moment from (g, m). */
const ADAM_MOMENT = (b: number) => E.add(E.mul(b, X1), E.mul(1 - b, X0));
/** β·x1 + (1−β)·x0²: the second moment from (g, v). */
const ADAM_SECOND_MOMENT = (b: number) => E.add(E.mul(b, X1), E.mul(1 - b, E.square(X0)));
/** (x0·x2) / (√(x1·x3) + x4) from (m, v, 1/(1−β₁ᵗ), 1/(1−β₂ᵗ), ε̂): m̂/(√v̂ + ε̂) (ε̂ changes with t when epsOnRawMoment). */
const ADAM_DIRECTION = E.div(E.mul(X0, X2), E.add(E.sqrt(E.mul(X1, X3)), X4));

/** Adam's rescaling with bias correction (no learning rate, no sign flip). */
export function scaleByAdam(o: ScaleByAdamOptions = {}): GradientTransformation<AdamState> {
  const b1 = o.b1 ?? 0.9;
  const b2 = o.b2 ?? 0.999;
  const eps = o.eps ?? 1e-8;
  checkUnit('scaleByAdam', 'b1', b1);
  checkUnit('scaleByAdam', 'b2', b2);
  if (!(eps >= 0)) throw new RangeError(`scaleByAdam: eps must be ≥ 0, got ${eps}`);
  return transformation(
    (params) => ({ count: 0, mu: treeMap(zerosLike, params), nu: treeMap(zerosLike, params) }),
    (updates, state) => {
      const k = scalarCache();
      const t = state.count + 1;
      const bc1 = 1 - b1 ** t;
      const bc2 = 1 - b2 ** t;
      const epsHat = o.epsOnRawMoment ? eps / Math.sqrt(bc2) : eps;
      // one fused pass each (src/fused.ts); the step-dependent corrections enter as scalar inputs
      // (x2, x3), so the expressions, and their compiled kernels, are the same at every step
      const mu = treeMap((g, m) => fused(ADAM_MOMENT(b1), [g, m]), updates, state.mu); //   m ← β₁m + (1−β₁)g
      const nu = treeMap((g, v) => fused(ADAM_SECOND_MOMENT(b2), [g, v]), updates, state.nu); // v ← β₂v + (1−β₂)g²
      const out = treeMap((m, v) => fused(ADAM_DIRECTION, [m, v, k(1 / bc1, m), k(1 / bc2, v), k(epsHat, v)]), mu, nu); // m̂/(√v̂ + ε)
      return [out, { count: t, mu, nu }];
    },
  );
}

/**
 * u ← u + λ·θ on the leaves `mask` selects (all by default). Needs `params`. With λ = 0 the
 * updates are returned as they are, so adamw with weightDecay 0 is exactly adam.
 */
export function addDecayedWeights(weightDecay: number, mask?: DecayMask): GradientTransformation<EmptyState> {
  if (!(weightDecay >= 0)) throw new RangeError(`addDecayedWeights: weight decay must be ≥ 0, got ${weightDecay}`);
  return transformation(
    () => EMPTY,
    (updates, state, params) => {
      if (weightDecay === 0) return [updates, state];
      if (params === undefined) throw new Error('addDecayedWeights: update(updates, state, params) needs params');
      const fu = flatten(updates);
      const fp = flatten(params);
      if (fu.paths.length !== fp.paths.length || fu.paths.some((p, i) => p !== fp.paths[i]))
        throw new Error(
          `addDecayedWeights: updates and params differ in structure (${fu.paths.length} vs ${fp.paths.length} leaves)`,
        );
      const decayed = E.add(X0, E.mul(weightDecay, X1)); // u + λθ, one fused pass
      const out = fu.leaves.map((u, i) =>
        mask && !mask(fp.paths[i], fp.leaves[i]) ? u : fused(decayed, [u, fp.leaves[i]]),
      );
      return [fu.rebuild(out), state];
    },
  );
}

/** ‖g‖ over every leaf of the tree, as a rank-0 tensor (computed on the device, not read back). */
export function globalNorm(tree: unknown): Tensor {
  const ls = flatten(tree).leaves;
  if (ls.length === 0) throw new Error('globalNorm: the tree has no tensor leaves');
  const squares = ls.map((l) => reshape(sum(square(l)), [1]));
  return sqrt(sum(concat(squares, 0)));
}

/** Options of clipByGlobalNorm. */
export interface ClipOptions {
  /**
   * Added to the norm in the scale factor: g·min(1, c/(‖g‖ + eps)). 0 (default) is optax's
   * clip_by_global_norm and fairseq's FP16Optimizer.clip_grad_norm (fairseq/optim/fp16_optimizer.py,
   * the path MATPAC's fp16 run took): g·c/‖g‖ when ‖g‖ > c, gradients with ‖g‖ ≤ c returned
   * unchanged. fairseq's fp32 path, utils.clip_grad_norm_ (fairseq/utils.py), has eps = 1e-6.
   */
  eps?: number;
}

/** Scale the whole tree down so that its global norm is at most `maxNorm`. */
export function clipByGlobalNorm(maxNorm: number, o: ClipOptions = {}): GradientTransformation<EmptyState> {
  if (!(maxNorm > 0)) throw new RangeError(`clipByGlobalNorm: maxNorm must be > 0, got ${maxNorm}`);
  const eps = o.eps ?? 0;
  return transformation(
    () => EMPTY,
    (updates, state) => {
      if (flatten(updates).leaves.length === 0) return [updates, state];
      const norm = globalNorm(updates);
      // min(1, c/(‖g‖+eps)): exactly 1 — updates untouched — when ‖g‖ + eps ≤ c; 1 when ‖g‖ = 0
      // (c/0 = ∞); NaN propagates, so a NaN gradient is not hidden.
      const coef = minimum(1, div(maxNorm, add(norm, eps)));
      return [treeMap((u) => mul(u, coef), updates), state];
    },
  );
}

/** State of `trace` (momentum): the running velocity. */
export interface TraceState<T = unknown> {
  readonly trace: T;
}

/** Momentum: τ ← g + μ·τ; u = τ (or g + μ·τ with Nesterov) — optax trace, PyTorch SGD (dampening 0). */
export function trace(momentum: number, nesterov = false): GradientTransformation<TraceState> {
  checkUnit('trace', 'momentum', momentum);
  return transformation(
    (params) => ({ trace: treeMap(zerosLike, params) }),
    (updates, state) => {
      const step = E.add(X0, E.mul(momentum, X1)); // g + μτ, one fused pass
      const tr = treeMap((g, t) => fused(step, [g, t]), updates, state.trace);
      const out = nesterov ? treeMap((g, t) => fused(step, [g, t]), updates, tr) : tr;
      return [out, { trace: tr }];
    },
  );
}

// ---------------------------------------------------------------------------------------------
// optimizers (optax alias.py)

/** Options of sgd. */
export interface SgdOptions {
  learningRate: LearningRate;
  /** Heavy-ball momentum μ (none if absent or 0). */
  momentum?: number;
  nesterov?: boolean;
}

/** SGD: θ ← θ − η·g, with optional (Nesterov) momentum. */
export function sgd(o: SgdOptions): GradientTransformation<unknown[]> {
  const m = o.momentum ?? 0;
  return m > 0
    ? chain(trace(m, o.nesterov ?? false), scaleByLearningRate(o.learningRate))
    : chain(scaleByLearningRate(o.learningRate));
}

/** Options of adam. */
export interface AdamOptions extends ScaleByAdamOptions {
  learningRate: LearningRate;
}

/** Adam: chain(scaleByAdam, scaleByLearningRate). State: [AdamState, CountState]. */
export function adam(o: AdamOptions): GradientTransformation<unknown[]> {
  return chain(scaleByAdam(o), scaleByLearningRate(o.learningRate));
}

/** Options of adamw. */
export interface AdamWOptions extends AdamOptions {
  /** Decoupled weight decay λ (default 1e-4 as optax; MATPAC 0.05). */
  weightDecay?: number;
  /** Leaves to decay (default: all, as MATPAC). */
  mask?: DecayMask;
}

/**
 * AdamW: chain(scaleByAdam, addDecayedWeights, scaleByLearningRate), i.e.
 * u = −η(t)·(m̂/(√v̂ + ε) + λ·θ). State: [AdamState, EmptyState, CountState].
 */
export function adamw(o: AdamWOptions): GradientTransformation<unknown[]> {
  return chain(scaleByAdam(o), addDecayedWeights(o.weightDecay ?? 1e-4, o.mask), scaleByLearningRate(o.learningRate));
}

/** θ + u, leaf by leaf (the trees must have the same structure). */
export function applyUpdates<T>(params: T, updates: T): T {
  return treeMap((p, u) => add(p, u), params, updates);
}
