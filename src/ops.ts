/**
 * The operations users write models with: thin wrappers over the primitives (src/primitives.ts)
 * plus the composites built from them (softmax, log_softmax, logsumexp, layer_norm, gelu,
 * l2_normalize, cross_entropy). Composites are plain compositions, so their gradients are by
 * construction those of the primitive composition.
 *
 * Numbers are accepted wherever a tensor is and become scalar constants on the backend of the
 * other operand.
 */
import { bind as coreBind, Concrete, fromHost, getBackend, Tensor, Tracer } from './core';
import type { PrimName, PrimParams } from './primitives';
import { fmt, normAxis, ShapeError, size, type Shape } from './shape';

export { Tensor } from './core';
/** A plain number where an op accepts a constant. */
export type Scalar = number;
/** A tensor, or a number broadcast as a constant of the other operand's backend. */
export type TensorLike = Tensor | number;

/** Apply primitive `prim` to `inputs` (the one entry point of every op; see src/core.ts). */
export function bind<P extends PrimName>(prim: P, inputs: Tensor[], params: PrimParams[P]): Tensor {
  return coreBind(prim, inputs, params);
}

const NONE = {} as Record<string, never>;

// ---------------------------------------------------------------------------------------------
// creation

/** A tensor from a flat array (with a shape) or a nested array (shape inferred). */
export function tensor(
  data: Float32Array | Float64Array | readonly number[] | unknown[] | number,
  shape?: Shape,
): Tensor {
  if (typeof data === 'number') return fromHost([data], shape ?? []);
  if (shape) return fromHost(data as readonly number[], shape);
  if (data instanceof Float32Array || data instanceof Float64Array) return fromHost(data, [data.length]);
  const inferred: number[] = [];
  let cur: unknown = data;
  while (Array.isArray(cur)) {
    inferred.push(cur.length);
    cur = cur[0];
  }
  const flat = (data as unknown[]).flat(Infinity) as number[];
  return fromHost(flat, inferred);
}

/** A rank-0 tensor holding `v` (on the backend of `like` when given). */
export const scalar = (v: number, like?: Tensor): Tensor => fromHost([v], [], like ? like.backend : undefined);
/** A tensor of `shape` filled with `v`. */
export const full = (shape: Shape, v: number, like?: Tensor): Tensor =>
  fromHost(new Float32Array(size(shape)).fill(v), shape, like ? like.backend : undefined);
/** A tensor of `shape` filled with 0. */
export const zeros = (shape: Shape, like?: Tensor): Tensor => full(shape, 0, like);
/** A tensor of `shape` filled with 1. */
export const ones = (shape: Shape, like?: Tensor): Tensor => full(shape, 1, like);
/** Zeros of `t`'s shape, on `t`'s backend. */
export const zerosLike = (t: Tensor): Tensor => full(t.shape, 0, t);
/** Ones of `t`'s shape, on `t`'s backend. */
export const onesLike = (t: Tensor): Tensor => full(t.shape, 1, t);

function lift(x: TensorLike, like: Tensor | undefined): Tensor {
  if (x instanceof Tensor) return x;
  return fromHost([x], [], like ? like.backend : getBackend());
}
function lift2(a: TensorLike, b: TensorLike): [Tensor, Tensor] {
  const like = a instanceof Tensor ? a : b instanceof Tensor ? b : undefined;
  return [lift(a, like), lift(b, like)];
}

/** The value with every level of differentiation removed: its gradient is zero. */
export function stopGradient(x: Tensor): Tensor {
  let t: Tensor = x;
  while (t instanceof Tracer) t = t.primal;
  return t as Concrete;
}

// ---------------------------------------------------------------------------------------------
// elementwise

/** −x, elementwise. */
export const neg = (x: Tensor) => bind('neg', [x], NONE);
/** eˣ, elementwise. */
export const exp = (x: Tensor) => bind('exp', [x], NONE);
/** Natural logarithm, elementwise. */
export const log = (x: Tensor) => bind('log', [x], NONE);
/** √x, elementwise. */
export const sqrt = (x: Tensor) => bind('sqrt', [x], NONE);
/** 1/√x, elementwise. */
export const rsqrt = (x: Tensor) => bind('rsqrt', [x], NONE);
/** x², elementwise. */
export const square = (x: Tensor) => bind('square', [x], NONE);
/** Hyperbolic tangent, elementwise. */
export const tanh = (x: Tensor) => bind('tanh', [x], NONE);
/** The error function, elementwise. */
export const erf = (x: Tensor) => bind('erf', [x], NONE);

const binop =
  (name: 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum' | 'greater' | 'greaterEqual' | 'equal') =>
  (a: TensorLike, b: TensorLike): Tensor =>
    bind(name, lift2(a, b), NONE);
/** a + b, elementwise with NumPy broadcasting (numbers are constants). */
export const add = binop('add');
/** a − b, elementwise with broadcasting. */
export const sub = binop('sub');
/** a · b, elementwise with broadcasting. */
export const mul = binop('mul');
/** a / b, elementwise with broadcasting. */
export const div = binop('div');
/** aᵇ, elementwise with broadcasting. */
export const pow = binop('pow');
/** The larger of a and b, elementwise with broadcasting. */
export const maximum = binop('maximum');
/** The smaller of a and b, elementwise with broadcasting. */
export const minimum = binop('minimum');
/** 1 where a > b, else 0 (a constant: no gradient). */
export const greater = binop('greater');
/** 1 where a ≥ b, else 0 (a constant: no gradient). */
export const greaterEqual = binop('greaterEqual');
/** 1 where a = b, else 0 (a constant: no gradient). */
export const equal = binop('equal');
/** 1 where a < b, else 0 (a constant: no gradient). */
export const less = (a: TensorLike, b: TensorLike) => greater(b, a);
/** 1 where a ≤ b, else 0 (a constant: no gradient). */
export const lessEqual = (a: TensorLike, b: TensorLike) => greaterEqual(b, a);

/** `a` where `cond` is non-zero, else `b`, elementwise with broadcasting. */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  return bind('where', [cond, lift(a, cond), lift(b, cond)], NONE);
}

/** max(x, 0), elementwise. */
export const relu = (x: Tensor) => maximum(x, 0);
/** 1 / (1 + e⁻ˣ), elementwise. */
export const sigmoid = (x: Tensor) => div(1, add(1, exp(neg(x))));
/** |x|, elementwise (computed as √(x²)). */
export const abs = (x: Tensor) => sqrt(square(x));

// ---------------------------------------------------------------------------------------------
// reductions

function axesOf(name: string, x: Tensor, axis?: number | number[]): number[] {
  if (axis === undefined) return x.shape.map((_, i) => i);
  const list = Array.isArray(axis) ? axis : [axis];
  return list.map((a) => normAxis(name, a, x.rank));
}

function reduce(name: 'sum' | 'max', x: Tensor, axis?: number | number[], keepdims = false): Tensor {
  const axes = axesOf(name, x, axis);
  const r = bind(name, [x], { axes });
  return keepdims
    ? r
    : reshape(
        r,
        x.shape.filter((_, i) => !axes.includes(i)),
      );
}
/** Sum over `axis` (one, several, or all when omitted), keeping reduced axes as size 1 with `keepdims`. */
export const sum = (x: Tensor, axis?: number | number[], keepdims = false) => reduce('sum', x, axis, keepdims);
/** Maximum over `axis` (all when omitted). */
export const max = (x: Tensor, axis?: number | number[], keepdims = false) => reduce('max', x, axis, keepdims);
/** Minimum over `axis` (all when omitted). */
export const min = (x: Tensor, axis?: number | number[], keepdims = false) => neg(max(neg(x), axis, keepdims));
/** Mean over `axis` (all when omitted). */
export function mean(x: Tensor, axis?: number | number[], keepdims = false): Tensor {
  const axes = axesOf('mean', x, axis);
  const n = axes.reduce((acc, a) => acc * x.shape[a], 1);
  return div(sum(x, axes, keepdims), n);
}

// ---------------------------------------------------------------------------------------------
// layout

/** The same values in a new shape of the same size (one dimension may be −1). */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const s = [...shape];
  const unknown = s.indexOf(-1);
  if (unknown >= 0) {
    const rest = s.reduce((acc, d, i) => (i === unknown ? acc : acc * d), 1);
    s[unknown] = rest === 0 ? 0 : x.size / rest;
  }
  if (s.length === x.rank && s.every((d, i) => d === x.shape[i])) return x;
  return bind('reshape', [x], { shape: s });
}
/** Axes permuted by `perm` (default: reversed). */
export function transpose(x: Tensor, perm?: number[]): Tensor {
  const p = perm ?? x.shape.map((_, i) => x.rank - 1 - i);
  if (p.every((a, i) => a === i)) return x;
  return bind('transpose', [x], { perm: p });
}
/** Swap the last two axes. */
export const mT = (x: Tensor) =>
  transpose(
    x,
    [...x.shape.keys()].map((i) => (i < x.rank - 2 ? i : i === x.rank - 2 ? x.rank - 1 : x.rank - 2)),
  );
/** x broadcast to `shape` (NumPy rules). */
export function broadcastTo(x: Tensor, shape: Shape): Tensor {
  if (shape.length === x.rank && shape.every((d, i) => d === x.shape[i])) return x;
  return bind('broadcast', [x], { shape: [...shape] });
}
/** Sum `x` down to `shape` (the adjoint of broadcasting). */
export function unbroadcast(x: Tensor, shape: Shape): Tensor {
  if (shape.length === x.rank && shape.every((d, i) => d === x.shape[i])) return x;
  const lead = x.rank - shape.length;
  if (lead < 0) throw new ShapeError(`unbroadcast: cannot reduce ${fmt(x.shape)} to ${fmt(shape)}`);
  const axes: number[] = [];
  for (let i = 0; i < x.rank; i++) if (i < lead || (shape[i - lead] === 1 && x.shape[i] !== 1)) axes.push(i);
  const r = axes.length ? bind('sum', [x], { axes }) : x;
  return reshape(r, shape);
}
/** x with a new axis of size 1 at `axis`. */
export const expandDims = (x: Tensor, axis: number) => {
  const a = axis < 0 ? axis + x.rank + 1 : axis;
  return reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
};
/** x without its axis `axis`, which must have size 1. */
export const squeeze = (x: Tensor, axis: number) => {
  const a = normAxis('squeeze', axis, x.rank);
  if (x.shape[a] !== 1) throw new ShapeError(`squeeze: axis ${axis} of ${fmt(x.shape)} has size ${x.shape[a]}, not 1`);
  return reshape(
    x,
    x.shape.filter((_, i) => i !== a),
  );
};
/** The block of `sizes` starting at `begin`. */
export function slice(x: Tensor, begin: number[], sizes: Shape): Tensor {
  if (sizes.every((d, i) => d === x.shape[i]) && begin.every((b) => b === 0)) return x;
  return bind('slice', [x], { begin: [...begin], size: [...sizes] });
}
/** x[..., start:end, ...] along one axis. */
export function sliceAxis(x: Tensor, axis: number, start: number, end: number): Tensor {
  const a = normAxis('sliceAxis', axis, x.rank);
  return slice(
    x,
    x.shape.map((_, i) => (i === a ? start : 0)),
    x.shape.map((d, i) => (i === a ? end - start : d)),
  );
}
/** x padded with zeros: `lo[i]` before and `hi[i]` after along each axis. */
export function pad(x: Tensor, lo: number[], hi: number[]): Tensor {
  if ([...lo, ...hi].every((w) => w === 0)) return x;
  return bind('pad', [x], { lo: [...lo], hi: [...hi] });
}
/** Tensors joined along `axis`. */
export function concat(xs: Tensor[], axis: number): Tensor {
  if (xs.length === 1) return xs[0];
  return bind('concat', xs, { axis: normAxis('concat', axis, xs[0].rank) });
}
/** Tensors of one shape stacked along a new axis `axis`. */
export const stack = (xs: Tensor[], axis = 0) =>
  concat(
    xs.map((x) => expandDims(x, axis)),
    axis,
  );

// ---------------------------------------------------------------------------------------------
// indexing

/** out[b..., m, rest...] = x[b..., idx[b..., m], rest...] with idx of shape x.shape[:axis] + [M]. */
export function gather(x: Tensor, idx: Tensor, axis: number): Tensor {
  return bind('gather', [x, idx], { axis: normAxis('gather', axis, x.rank) });
}
/** The adjoint of gather: rows of `src` added into a zero tensor of `size` rows along `axis`. */
export function scatterAdd(src: Tensor, idx: Tensor, axis: number, size: number): Tensor {
  return bind('scatterAdd', [src, idx], { axis: normAxis('scatterAdd', axis, src.rank), size });
}

// ---------------------------------------------------------------------------------------------
// linear algebra

/** Batched matrix product op(a)·op(b) over the last two axes (leading axes broadcast); `transA`/`transB` transpose an operand. */
export function matmul(a: Tensor, b: Tensor, opts: { transA?: boolean; transB?: boolean } = {}): Tensor {
  return bind('matmul', [a, b], { transA: opts.transA ?? false, transB: opts.transB ?? false });
}
/**
 * y = x·Wᵀ + b with PyTorch's Linear layout: W is [out, in]. With a bias this is the `linear`
 * primitive (backends fuse the bias into the product); src/composites.ts has the same function
 * from matmul and add, the reference the fused primitive is tested against.
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  return bias ? bind('linear', [x, weight, bias], NONE) : matmul(x, weight, { transB: true });
}

// ---------------------------------------------------------------------------------------------
// composites

/** log Σ exp(x) along `axis`, stabilised by the (non-differentiated) maximum. */
export function logsumexp(x: Tensor, axis = -1, keepdims = false): Tensor {
  const m = stopGradient(max(x, axis, true));
  const r = add(log(sum(exp(sub(x, m)), axis, true)), m);
  return keepdims ? r : squeeze(r, axis);
}
/** Softmax along `axis` (the fused row kernel; another axis is moved last and back). */
export function softmax(x: Tensor, axis = -1): Tensor {
  const a = normAxis('softmax', axis, x.rank);
  if (a === x.rank - 1) return bind('softmax', [x], NONE);
  const perm = x.shape.map((_, i) => i);
  [perm[a], perm[x.rank - 1]] = [perm[x.rank - 1], perm[a]];
  return transpose(bind('softmax', [transpose(x, perm)], NONE), perm);
}
/** log softmax along `axis`: x − logsumexp(x). */
export const logSoftmax = (x: Tensor, axis = -1): Tensor => sub(x, logsumexp(x, axis, true));

/**
 * LayerNorm over the last axis: (x − μ)/√(σ² + ε)·γ + β (biased variance, as PyTorch). γ and β of
 * shape [d] (PyTorch's) run as one kernel; other shapes broadcast against the normalised x.
 */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-6): Tensor {
  const d = x.shape[x.rank - 1];
  if (x.rank >= 1 && [gamma, beta].every((t) => t.rank === 1 && t.shape[0] === d))
    return bind('layerNorm', [x, gamma, beta], { eps });
  return add(mul(bind('layerNormalize', [x], { eps }), gamma), beta);
}
/** Exact GELU: x·Φ(x) = ½x(1 + erf(x/√2)) (one fused kernel; src/composites.ts has the composition). */
export const gelu = (x: Tensor): Tensor => bind('gelu', [x], NONE);
/** The standard normal density φ(x) = exp(−x²/2)/√(2π). */
export const normalPdf = (x: Tensor): Tensor => mul(exp(mul(square(x), -0.5)), 1 / Math.sqrt(2 * Math.PI));

/** x / max(‖x‖₂, ε) along `axis` (PyTorch F.normalize). */
export function l2Normalize(x: Tensor, axis = -1, eps = 1e-12): Tensor {
  return div(x, maximum(sqrt(sum(square(x), axis, true)), eps));
}
/** Cross-entropy of target distributions p with log-probabilities log q: mean over rows of −Σ p·log q. */
export function crossEntropy(targetProbs: Tensor, logProbs: Tensor, axis = -1): Tensor {
  return mean(neg(sum(mul(targetProbs, logProbs), axis)));
}
/** Cross-entropy with integer class labels given as a one-hot or probability tensor of logits' shape. */
export const softmaxCrossEntropy = (logits: Tensor, targetProbs: Tensor) =>
  crossEntropy(targetProbs, logSoftmax(logits));

/** One-hot rows for integer labels (a constant). */
export function oneHot(labels: ArrayLike<number>, classes: number, like?: Tensor): Tensor {
  const d = new Float32Array(labels.length * classes);
  for (let i = 0; i < labels.length; i++) d[i * classes + labels[i]] = 1;
  return fromHost(d, [labels.length, classes], like ? like.backend : undefined);
}
