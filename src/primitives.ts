/**
 * Every primitive of the engine, declared once: its parameters, its shape rule, its VJP rule and
 * its FLOP count. Kernels live in the backends (src/backends/*, kernels/*); everything else in
 * the engine — composites, models — is written in terms of these.
 *
 * VJP rules are written with the differentiable ops of src/ops.ts, never with raw arrays, so the
 * backward pass is itself differentiable (grad of grad). A rule receives the cotangent of the
 * output, the inputs and the output (one level below the level being differentiated), and a
 * flag per input saying whether its cotangent is wanted; it returns one cotangent per input
 * (null: not wanted, or no gradient — e.g. comparisons and indices).
 *
 * `PrimRules` is a total mapped type: adding a name to `PrimParams` without its rules is a
 * type error, and so is a backend without its kernel (see src/backend.ts).
 */
import * as op from './ops';
import { evalExpr, exprOps, type Expr } from './fused';
import { vjp as vjpOf } from './autodiff';
import { defineRules, type PrimRules, type Tensor } from './core';
import { layerNormalizeVjpComposite } from './composites';
import { broadcastShapes, checkShape, fmt, normAxis, ShapeError, size, type Shape } from './shape';

type NoParams = Record<string, never>;

export interface PrimParams {
  // elementwise unary
  neg: NoParams;
  exp: NoParams;
  log: NoParams;
  sqrt: NoParams;
  rsqrt: NoParams;
  square: NoParams;
  tanh: NoParams;
  erf: NoParams;
  // fused elementwise: exact GELU x·Φ(x) and its derivative Φ(x) + x·φ(x)
  gelu: NoParams;
  geluGrad: NoParams;
  // fused row-wise ops over the last axis
  softmax: NoParams;
  /** (x − mean)/√(var + eps) over the last axis (LayerNorm without its affine part). */
  layerNormalize: { eps: number };
  /** inputs (x, g): the VJP of layerNormalize at x for the cotangent g. */
  layerNormalizeVjp: { eps: number };
  /** inputs (x, γ, β), γ and β of shape [d] (x's last axis): LayerNorm, layerNormalize(x)·γ + β in one pass. */
  layerNorm: { eps: number };
  // elementwise binary, NumPy broadcasting
  add: NoParams;
  sub: NoParams;
  mul: NoParams;
  div: NoParams;
  pow: NoParams;
  maximum: NoParams;
  minimum: NoParams;
  // comparisons: 1.0 where true, 0.0 where false; no gradient
  greater: NoParams;
  greaterEqual: NoParams;
  equal: NoParams;
  // where(cond, a, b): a where cond ≠ 0 else b
  where: NoParams;
  // reductions (keep the reduced axes with size 1; ops.sum/max drop them with a reshape)
  sum: { axes: number[] };
  max: { axes: number[] };
  // layout
  reshape: { shape: number[] };
  transpose: { perm: number[] };
  broadcast: { shape: number[] };
  slice: { begin: number[]; size: number[] };
  pad: { lo: number[]; hi: number[] };
  concat: { axis: number };
  // indexing: idx has shape x.shape[:axis] + [M]; out[..., m, ...] = x[..., idx[..., m], ...]
  gather: { axis: number };
  // the transpose of gather: out has size `size` along axis, src rows added at idx
  scatterAdd: { axis: number; size: number };
  // batched matrix product with NumPy-broadcast batch dims; optional transposes of the last two axes
  matmul: { transA: boolean; transB: boolean };
  /** (x, W, b) → x·Wᵀ + b: PyTorch's Linear with x [..., K], W [N, K], b [N] (matmul with the bias fused). */
  linear: NoParams;
  /** One pass of an elementwise expression over the inputs (src/fused.ts); `src` is its scalar source. */
  fused: { expr: Expr; src: string; shape?: number[] };
}

/** The name of a primitive. */
export type PrimName = keyof PrimParams;

export type { PrimRules } from './core';

// ---------------------------------------------------------------------------------------------
// helpers for rules

const unaryShape =
  (name: string) =>
  (s: Shape[]): Shape => {
    if (s.length !== 1) throw new ShapeError(`${name}: expects 1 input, got ${s.length}`);
    return s[0];
  };
const binaryShape =
  (name: string) =>
  (s: Shape[]): Shape =>
    broadcastShapes(name, s);
const elementwiseFlops = (_: Shape[], out: Shape) => size(out);
const noFlops = () => 0;

function unary(name: string, vjp: (ct: Tensor, x: Tensor, out: Tensor) => Tensor): PrimRules<NoParams> {
  return { shape: unaryShape(name), vjp: (ct, [x], out) => [vjp(ct, x, out)], flops: elementwiseFlops };
}

function binary(
  name: string,
  vjpA: (ct: Tensor, a: Tensor, b: Tensor, out: Tensor) => Tensor,
  vjpB: (ct: Tensor, a: Tensor, b: Tensor, out: Tensor) => Tensor,
): PrimRules<NoParams> {
  return {
    shape: binaryShape(name),
    vjp: (ct, [a, b], out, _, needs) => [
      needs[0] ? op.unbroadcast(vjpA(ct, a, b, out), a.shape) : null,
      needs[1] ? op.unbroadcast(vjpB(ct, a, b, out), b.shape) : null,
    ],
    flops: elementwiseFlops,
  };
}

function compare(name: string): PrimRules<NoParams> {
  return { shape: binaryShape(name), vjp: () => [null, null], flops: elementwiseFlops };
}

function checkAxes(name: string, axes: number[], rank: number): void {
  const seen = new Set<number>();
  for (const a of axes) {
    if (!Number.isInteger(a) || a < 0 || a >= rank)
      throw new ShapeError(`${name}: axis ${a} out of range for rank ${rank}`);
    if (seen.has(a)) throw new ShapeError(`${name}: axis ${a} repeated`);
    seen.add(a);
  }
}

const reduceShape =
  (name: string) =>
  ([s]: Shape[], p: { axes: number[] }): Shape => {
    checkAxes(name, p.axes, s.length);
    return s.map((d, i) => (p.axes.includes(i) ? 1 : d));
  };

/** Shape of a matmul: [...batch, M, K] × [...batch, K, N] → [...broadcast(batch), M, N]. */
export function matmulDims(a: Shape, b: Shape, p: { transA: boolean; transB: boolean }) {
  if (a.length < 2 || b.length < 2) throw new ShapeError(`matmul: needs rank ≥ 2 inputs, got ${fmt(a)} and ${fmt(b)}`);
  const [ar, ac] = a.slice(-2);
  const [br, bc] = b.slice(-2);
  const M = p.transA ? ac : ar;
  const K = p.transA ? ar : ac;
  const Kb = p.transB ? bc : br;
  const N = p.transB ? br : bc;
  if (K !== Kb)
    throw new ShapeError(
      `matmul: inner dimensions differ: ${fmt(a)}${p.transA ? 'ᵀ' : ''} × ${fmt(b)}${p.transB ? 'ᵀ' : ''} (${K} vs ${Kb})`,
    );
  const batch = broadcastShapes('matmul (batch dims)', [a.slice(0, -2), b.slice(0, -2)]);
  return { M, K, N, batch };
}

// ---------------------------------------------------------------------------------------------
// the rule table

/** Every primitive: its shape rule and its VJP (written with ops, so gradients nest). */
export const PRIMITIVES: { [P in PrimName]: PrimRules<PrimParams[P]> } = {
  neg: unary('neg', (ct) => op.neg(ct)),
  exp: unary('exp', (ct, _x, out) => op.mul(ct, out)),
  log: unary('log', (ct, x) => op.div(ct, x)),
  sqrt: unary('sqrt', (ct, _x, out) => op.div(ct, op.mul(out, 2))),
  // d/dx x^(-1/2) = -1/2 · x^(-1/2) / x
  rsqrt: unary('rsqrt', (ct, x, out) => op.mul(ct, op.mul(op.div(out, x), -0.5))),
  square: unary('square', (ct, x) => op.mul(ct, op.mul(x, 2))),
  // d tanh = 1 − tanh²
  tanh: unary('tanh', (ct, _x, out) => op.mul(ct, op.sub(1, op.square(out)))),
  // d erf = 2/√π · exp(−x²)
  erf: unary('erf', (ct, x) => op.mul(ct, op.mul(op.exp(op.neg(op.square(x))), 2 / Math.sqrt(Math.PI)))),

  // Fused kernels. Their VJP rules are still written with primitives, and
  // property-tests/fused.test.ts checks value and gradient against the unfused composition.
  // d gelu = Φ(x) + x·φ(x)
  gelu: unary('gelu', (ct, x) => op.mul(ct, op.bind('geluGrad', [x], {}))),
  // d² gelu = φ(x)·(2 − x²)
  geluGrad: unary('geluGrad', (ct, x) => op.mul(ct, op.mul(op.normalPdf(x), op.sub(2, op.square(x))))),
  // softmax VJP: y ⊙ (ct − Σ ct⊙y)
  softmax: {
    shape: ([s]) => {
      if (s.length < 1) throw new ShapeError(`softmax: needs rank ≥ 1, got ${fmt(s)}`);
      return s;
    },
    vjp: (ct, _x, out) => [op.mul(out, op.sub(ct, op.sum(op.mul(ct, out), -1, true)))],
    flops: ([s]) => 5 * size(s),
  },
  layerNormalize: {
    shape: ([s]) => {
      if (s.length < 1) throw new ShapeError(`layerNormalize: needs rank ≥ 1, got ${fmt(s)}`);
      return s;
    },
    vjp: (ct, [x], _o, p) => [op.bind('layerNormalizeVjp', [x, ct], p)],
    flops: ([s]) => 7 * size(s),
  },
  // x̄ = layerNormalizeVjp(x, ȳ·γ); γ̄ = Σ ȳ·x̂ and β̄ = Σ ȳ over the leading axes
  layerNorm: {
    shape: ([x, g, b]) => {
      const d = x[x.length - 1];
      if (x.length < 1 || g.length !== 1 || b.length !== 1 || g[0] !== d || b[0] !== d)
        throw new ShapeError(`layerNorm: γ ${fmt(g)} and β ${fmt(b)} must be [d], d the last axis of x ${fmt(x)}`);
      return x;
    },
    vjp: (ct, [x, gamma], _o, p, needs) => {
      const lead = x.shape.slice(0, -1).map((_, i) => i);
      return [
        needs[0] ? op.bind('layerNormalizeVjp', [x, op.mul(ct, gamma)], p) : null,
        needs[1] ? op.sum(op.mul(ct, op.bind('layerNormalize', [x], p)), lead) : null,
        needs[2] ? op.sum(ct, lead) : null,
      ];
    },
    flops: ([s]) => 9 * size(s),
  },
  // its own VJP (needed only for second order) differentiates the unfused formula
  layerNormalizeVjp: {
    shape: ([x, g]) => {
      if (x.length < 1 || x.length !== g.length || x.some((d, i) => d !== g[i]))
        throw new ShapeError(`layerNormalizeVjp: x ${fmt(x)} and cotangent ${fmt(g)} must have the same shape`);
      return x;
    },
    vjp: (ct, [x, g], _o, p, needs) => {
      const [, pullback] = vjpOf(([a, b]: Tensor[]) => layerNormalizeVjpComposite(a, b, p.eps), [x, g]);
      const [dx, dg] = pullback(ct) as Tensor[];
      return [needs[0] ? dx : null, needs[1] ? dg : null];
    },
    flops: ([s]) => 12 * size(s),
  },

  add: binary(
    'add',
    (ct) => ct,
    (ct) => ct,
  ),
  sub: binary(
    'sub',
    (ct) => ct,
    (ct) => op.neg(ct),
  ),
  mul: binary(
    'mul',
    (ct, _a, b) => op.mul(ct, b),
    (ct, a) => op.mul(ct, a),
  ),
  div: binary(
    'div',
    (ct, _a, b) => op.div(ct, b),
    (ct, _a, b, out) => op.neg(op.mul(ct, op.div(out, b))),
  ),
  // d a^b / da = b·a^(b−1); d a^b / db = a^b·log a (defined for a > 0; 0 elsewhere)
  pow: binary(
    'pow',
    (ct, a, b) => op.mul(ct, op.mul(b, op.pow(a, op.sub(b, 1)))),
    (ct, a, _b, out) => {
      const positive = op.greater(a, 0);
      return op.where(positive, op.mul(ct, op.mul(out, op.log(op.where(positive, a, 1)))), 0);
    },
  ),
  // ties send the gradient to b (so relu(x) = maximum(x, 0) has derivative 0 at 0, as PyTorch)
  maximum: binary(
    'maximum',
    (ct, a, b) => op.where(op.greater(a, b), ct, 0),
    (ct, a, b) => op.where(op.greater(a, b), 0, ct),
  ),
  minimum: binary(
    'minimum',
    (ct, a, b) => op.where(op.greater(b, a), ct, 0),
    (ct, a, b) => op.where(op.greater(b, a), 0, ct),
  ),

  greater: compare('greater'),
  greaterEqual: compare('greaterEqual'),
  equal: compare('equal'),

  where: {
    shape: (s) => {
      if (s.length !== 3) throw new ShapeError(`where: expects 3 inputs (cond, a, b), got ${s.length}`);
      return broadcastShapes('where', s);
    },
    vjp: (ct, [cond, a, b], _out, _p, needs) => [
      null,
      needs[1] ? op.unbroadcast(op.where(cond, ct, 0), a.shape) : null,
      needs[2] ? op.unbroadcast(op.where(cond, 0, ct), b.shape) : null,
    ],
    flops: elementwiseFlops,
  },

  sum: {
    shape: reduceShape('sum'),
    vjp: (ct, [x]) => [op.broadcastTo(ct, x.shape)],
    flops: ([s]) => size(s),
  },
  // the gradient goes to the maximal elements, shared equally among ties
  max: {
    shape: reduceShape('max'),
    vjp: (ct, [x], out, p) => {
      const isMax = op.equal(x, out);
      const count = op.bind('sum', [isMax], { axes: p.axes });
      return [op.mul(op.broadcastTo(op.div(ct, count), x.shape), isMax)];
    },
    flops: ([s]) => size(s),
  },

  reshape: {
    shape: ([s], p) => {
      checkShape('reshape', p.shape);
      if (size(s) !== size(p.shape))
        throw new ShapeError(
          `reshape: cannot reshape ${fmt(s)} (${size(s)} elements) to ${fmt(p.shape)} (${size(p.shape)})`,
        );
      return p.shape;
    },
    vjp: (ct, [x]) => [op.reshape(ct, x.shape)],
    flops: noFlops,
  },
  transpose: {
    shape: ([s], p) => {
      if (p.perm.length !== s.length || [...p.perm].sort((a, b) => a - b).some((v, i) => v !== i))
        throw new ShapeError(`transpose: perm [${p.perm}] is not a permutation of the axes of ${fmt(s)}`);
      return p.perm.map((i) => s[i]);
    },
    vjp: (ct, _x, _o, p) => {
      const inv = new Array<number>(p.perm.length);
      p.perm.forEach((a, i) => (inv[a] = i));
      return [op.transpose(ct, inv)];
    },
    flops: noFlops,
  },
  broadcast: {
    shape: ([s], p) => {
      checkShape('broadcastTo', p.shape);
      const b = broadcastShapes('broadcastTo', [s, p.shape]);
      if (b.length !== p.shape.length || b.some((d, i) => d !== p.shape[i]))
        throw new ShapeError(`broadcastTo: cannot broadcast ${fmt(s)} to ${fmt(p.shape)}`);
      return p.shape;
    },
    vjp: (ct, [x]) => [op.unbroadcast(ct, x.shape)],
    flops: noFlops,
  },
  slice: {
    shape: ([s], p) => {
      if (p.begin.length !== s.length || p.size.length !== s.length)
        throw new ShapeError(`slice: begin [${p.begin}] / size [${p.size}] do not match rank of ${fmt(s)}`);
      s.forEach((d, i) => {
        if (p.begin[i] < 0 || p.size[i] < 0 || p.begin[i] + p.size[i] > d)
          throw new ShapeError(
            `slice: [${p.begin[i]}, ${p.begin[i] + p.size[i]}) out of range on axis ${i} of ${fmt(s)}`,
          );
      });
      return p.size;
    },
    vjp: (ct, [x], _o, p) => [
      op.pad(
        ct,
        p.begin,
        x.shape.map((d, i) => d - p.begin[i] - p.size[i]),
      ),
    ],
    flops: noFlops,
  },
  pad: {
    shape: ([s], p) => {
      if (p.lo.length !== s.length || p.hi.length !== s.length)
        throw new ShapeError(`pad: widths do not match rank of ${fmt(s)}`);
      if ([...p.lo, ...p.hi].some((w) => w < 0 || !Number.isInteger(w)))
        throw new ShapeError(`pad: widths must be non-negative integers`);
      return s.map((d, i) => d + p.lo[i] + p.hi[i]);
    },
    vjp: (ct, [x], _o, p) => [op.slice(ct, p.lo, x.shape)],
    flops: noFlops,
  },
  concat: {
    shape: (s, p) => {
      if (s.length === 0) throw new ShapeError('concat: needs at least one input');
      const r = s[0].length;
      const ax = normAxis('concat', p.axis, r);
      for (const t of s)
        if (t.length !== r || t.some((d, i) => i !== ax && d !== s[0][i]))
          throw new ShapeError(`concat: shapes ${s.map(fmt).join(', ')} differ off axis ${ax}`);
      return s[0].map((d, i) => (i === ax ? s.reduce((acc, t) => acc + t[ax], 0) : d));
    },
    vjp: (ct, xs, _o, p, needs) => {
      let offset = 0;
      return xs.map((x, i) => {
        const begin = x.shape.map((_, j) => (j === p.axis ? offset : 0));
        offset += x.shape[p.axis];
        return needs[i] ? op.slice(ct, begin, x.shape) : null;
      });
    },
    flops: noFlops,
  },
  gather: {
    shape: ([s, idx], p) => {
      if (p.axis < 0 || p.axis >= s.length) throw new ShapeError(`gather: axis ${p.axis} out of range for ${fmt(s)}`);
      const batch = s.slice(0, p.axis);
      if (idx.length !== p.axis + 1 || batch.some((d, i) => d !== idx[i]))
        throw new ShapeError(
          `gather: indices of shape ${fmt(idx)} must have shape [${batch.join(',')}${batch.length ? ',' : ''}M] for x ${fmt(s)} on axis ${p.axis}`,
        );
      return [...batch, idx[p.axis], ...s.slice(p.axis + 1)];
    },
    vjp: (ct, [x, idx], _o, p) => [op.scatterAdd(ct, idx, p.axis, x.shape[p.axis]), null],
    flops: noFlops,
  },
  scatterAdd: {
    shape: ([s, idx], p) => {
      if (p.axis < 0 || p.axis >= s.length)
        throw new ShapeError(`scatterAdd: axis ${p.axis} out of range for ${fmt(s)}`);
      if (idx.length !== p.axis + 1 || idx.some((d, i) => d !== s[i]))
        throw new ShapeError(`scatterAdd: indices ${fmt(idx)} must match the leading axes of the source ${fmt(s)}`);
      return s.map((d, i) => (i === p.axis ? p.size : d));
    },
    vjp: (ct, [, idx], _o, p) => [op.gather(ct, idx, p.axis), null],
    flops: ([s]) => size(s),
  },
  matmul: {
    shape: ([a, b], p) => {
      const { M, N, batch } = matmulDims(a, b, p);
      return [...batch, M, N];
    },
    // C = op(A)·op(B):  dA = dC·op(B)ᵀ (transposed back if A was stored transposed), dB likewise.
    vjp: (ct, [a, b], _o, p, needs) => [
      needs[0]
        ? op.unbroadcast(
            p.transA ? op.matmul(b, ct, { transA: p.transB, transB: true }) : op.matmul(ct, b, { transB: !p.transB }),
            a.shape,
          )
        : null,
      needs[1]
        ? op.unbroadcast(
            p.transB ? op.matmul(ct, a, { transA: true, transB: p.transA }) : op.matmul(a, ct, { transA: !p.transA }),
            b.shape,
          )
        : null,
    ],
    flops: ([a, b], out, p) => {
      const { K } = matmulDims(a, b, p);
      return 2 * size(out) * K;
    },
  },
  // y = x·Wᵀ + b over the rows of x (all leading axes):
  //   dx = dy·W,  dW = dyᵀ·x (rows flattened),  db = Σ_rows dy
  linear: {
    shape: ([x, w, b]) => linearShape(x, w, b),
    vjp: (ct, [x, w], _o, _p, needs) => {
      const [N, K] = w.shape;
      const rows = size(x.shape.slice(0, -1));
      const ct2 = op.reshape(ct, [rows, N]);
      return [
        needs[0] ? op.reshape(op.matmul(ct2, w), x.shape) : null,
        needs[1] ? op.matmul(ct2, op.reshape(x, [rows, K]), { transA: true }) : null,
        needs[2] ? op.sum(ct2, 0) : null,
      ];
    },
    flops: ([, w], out) => 2 * size(out) * w[1] + size(out),
  },
  // the VJP of the expression evaluated with the unfused primitives (any order)
  fused: {
    shape: (s, p) => {
      const b = broadcastShapes('fused', s);
      if (!p.shape) return b;
      const o = broadcastShapes('fused', [b, p.shape]);
      if (o.length !== p.shape.length || o.some((d, i) => d !== p.shape![i]))
        throw new ShapeError(`fused: inputs ${s.map(fmt).join(', ')} do not broadcast to ${fmt(p.shape)}`);
      return p.shape;
    },
    vjp: (ct, primals, out, p, needs) => {
      const composite = (xs: Tensor[]) => {
        const r = evalExpr(p.expr, xs);
        return op.broadcastTo(typeof r === 'number' ? op.scalar(r, xs[0]) : r, out.shape);
      };
      const [, pull] = vjpOf(composite, primals);
      const cts = pull(ct) as Tensor[];
      return cts.map((c, i) => (needs[i] ? c : null));
    },
    flops: (_s, out, p) => exprOps(p.expr) * size(out),
  },
};

/** Shape of linear: x [..., K] (rank ≥ 1), W [N, K], b [N] → [..., N]. */
export function linearShape(x: Shape, w: Shape, b: Shape): Shape {
  if (w.length !== 2 || b.length !== 1 || x.length < 1)
    throw new ShapeError(`linear: expects x [..., K], W [N, K] and b [N], got ${fmt(x)}, ${fmt(w)} and ${fmt(b)}`);
  const [N, K] = w;
  if (x[x.length - 1] !== K)
    throw new ShapeError(`linear: x's last axis ${x[x.length - 1]} ≠ W's in-features ${K} (x ${fmt(x)}, W ${fmt(w)})`);
  if (b[0] !== N) throw new ShapeError(`linear: bias ${fmt(b)} ≠ W's out-features ${N} (W ${fmt(w)})`);
  return [...x.slice(0, -1), N];
}

/** The names of all primitives. */
export const PRIM_NAMES = Object.keys(PRIMITIVES) as PrimName[];

for (const name of PRIM_NAMES) defineRules(name, PRIMITIVES[name] as PrimRules<never>);
