/**
 * The native backend's matmul and linear: how tensors (and jit's permuted views of them) are
 * handed to the wasm kernel (kernels/native/matmul.ts).
 *
 * An operand is read where it lies whenever its batch fits the kernel's two-level batch: each
 * logical axis of a view of a row-major array has an element stride (a transpose permutes the
 * strides, a broadcast batch axis has stride 0), adjacent batch axes that are contiguous in both
 * operands merge, and up to two batch axes remain (groups × inner items). Attention's
 * Q·Kᵀ and P·V on [B, T, H, d] tensors read as [B, H, T, d] are such products: no copy of Q, K
 * or V is made. Anything else (three or more unmergeable batch axes) is materialised first.
 */
import { matmulF32, type MatmulOptions, type OperandStrides } from '../../kernels/native/matmul';
import { elementwise } from '../../kernels/native/elementwise';
import * as L from '../../kernels/native/layout';
import { allocF32, releaseF32 } from '../../kernels/native/alloc';
import { matmulDims } from '../primitives';
import { size, type Shape } from '../shape';

type F32 = Float32Array;
/** jit's view of an operand: the stored array's shape, transposed by `perm` (then reshaped to the operand's shape). */
export type View = { stored: Shape; perm: number[] } | null;

/** Row-major element strides of a shape. */
function rowMajor(s: Shape): number[] {
  const st = new Array<number>(s.length);
  for (let i = s.length - 1, acc = 1; i >= 0; i--) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

/**
 * Strides for reading a strided layout (shape `from`, strides `st`) as shape `to` without a copy,
 * or null when some merged axes are not contiguous (NumPy's no-copy reshape rule). Sizes > 0.
 */
function reshapeStrides(from: Shape, st: number[], to: Shape): number[] | null {
  const o = from.filter((d) => d !== 1);
  const os = st.filter((_, i) => from[i] !== 1);
  const res = new Array<number>(to.length).fill(0);
  let i = 0;
  let j = 0;
  while (j < to.length) {
    if (to[j] === 1) {
      j++;
      continue;
    }
    // the smallest run of old axes i..i2 and new axes j..j2 with equal products
    let i2 = i;
    let j2 = j;
    let po = o[i];
    let pn = to[j];
    while (po !== pn) {
      if (po < pn) po *= o[++i2];
      else pn *= to[++j2];
    }
    for (let k = i; k < i2; k++) if (os[k] !== os[k + 1] * o[k + 1]) return null;
    for (let k = j2, s = os[i2]; k >= j; k--) {
      res[k] = to[k] === 1 ? 0 : s;
      s *= to[k];
    }
    i = i2 + 1;
    j = j2 + 1;
  }
  return res;
}

/** Element strides of an operand of logical shape `shape`, stored as `view` says; null: not expressible. */
function operandStrides(shape: Shape, view: View): { shape: Shape; strides: number[] } | null {
  if (!view) return { shape, strides: rowMajor(shape) };
  if (size(shape) === 0) return null;
  const st = rowMajor(view.stored);
  const strides = reshapeStrides(
    view.perm.map((p) => view.stored[p]),
    view.perm.map((p) => st[p]),
    shape,
  );
  return strides && { shape, strides };
}

/**
 * Both operands' strides over at most two batch levels (groups × inner), or null when the batch
 * axes do not merge into two.
 */
function twoLevel(
  batch: Shape,
  ops: { shape: Shape; strides: number[] }[],
): { inner: number; strides: OperandStrides[] } | null {
  // per batch axis (aligned right, as broadcasting does): its size and each operand's stride
  const axes: { n: number; s: number[] }[] = [];
  batch.forEach((n, i) => {
    if (n === 1) return;
    const s = ops.map((o) => {
      const j = i - (batch.length - (o.shape.length - 2));
      return j < 0 || o.shape[j] === 1 ? 0 : o.strides[j];
    });
    const prev = axes[axes.length - 1];
    // merge into the previous axis when it steps over exactly this axis's extent in both operands
    if (prev && prev.s.every((p, k) => p === s[k] * n)) {
      prev.n *= n;
      prev.s = s;
    } else axes.push({ n, s });
  });
  if (axes.length > 2) return null;
  const [outer, inner] = axes.length === 2 ? axes : [axes[0] ?? { n: 1, s: ops.map(() => 0) }, null];
  return {
    inner: inner?.n ?? 1,
    strides: ops.map((o, k) => ({
      group: outer.s[k],
      inner: inner?.s[k] ?? 0,
      row: o.strides[o.shape.length - 2],
      col: o.strides[o.shape.length - 1],
    })),
  };
}

/**
 * The item stride of an operand whose items are contiguous row-major matrices, one after the
 * other (or one item shared by all: 0), as the kernel's one-level batch reads them; else null.
 */
function plain(st: OperandStrides, rows: number, cols: number, innerN: number): number | null {
  if (st.col !== 1 || st.row !== cols) return null;
  const item = innerN === 1 ? st.group : st.inner;
  if (item !== 0 && item !== rows * cols) return null;
  return innerN === 1 || st.group === item * innerN ? item : null;
}

/**
 * Batched matmul of operands of logical shapes `shapes`, each stored contiguously or seen through
 * a view (jit's transposes read by matmul); the result is contiguous [...batch, M, N].
 */
export function matmul(
  a: F32,
  b: F32,
  shapes: Shape[],
  p: { transA: boolean; transB: boolean },
  views: [View, View] = [null, null],
): F32 {
  const { M, K, N, batch } = matmulDims(shapes[0], shapes[1], p);
  const B = size(batch);
  const opts: MatmulOptions = { transA: p.transA, transB: p.transB, out: allocF32(B * M * N) };
  const va = operandStrides(shapes[0], views[0]);
  const vb = operandStrides(shapes[1], views[1]);
  const lv = va && vb && twoLevel(batch, [va, vb]);
  if (lv) {
    const [sa, sb] = lv.strides;
    const pa = plain(sa, shapes[0].at(-2)!, shapes[0].at(-1)!, lv.inner);
    const pb = plain(sb, shapes[1].at(-2)!, shapes[1].at(-1)!, lv.inner);
    // contiguous items take the kernel's one-level path (it folds a shared B's batch into M)
    if (pa !== null && pb !== null) return matmulF32(a, b, B, M, K, N, { ...opts, aBatchStride: pa, bBatchStride: pb });
    return matmulF32(a, b, B, M, K, N, { ...opts, aStrides: sa, bStrides: sb, innerBatch: lv.inner });
  }
  // a view that no strides express, or more batch axes than the kernel walks: materialise both
  // operands at the full batch
  const full = (x: F32, view: View, shape: Shape): F32 => {
    const v = view ? L.transpose(x, view.stored, view.perm) : x;
    const y = elementwise('identity', [v], [shape], [...batch, ...shape.slice(-2)]);
    if (v !== x) releaseF32(v);
    return y;
  };
  const A = full(a, views[0], shapes[0]);
  const Bm = full(b, views[1], shapes[1]);
  const C = matmulF32(A, Bm, B, M, K, N, opts);
  releaseF32(A);
  releaseF32(Bm);
  return C;
}

/**
 * x [..., K] · Wᵀ + b: the wasm matmul adds the bias to C before copying it out. An x that is a
 * transpose of a stored array (`view`: jit's) is gathered straight into the kernel's memory: its
 * rows are not one stride apart.
 */
export function linear([x, w, b]: unknown[], [xs, ws]: Shape[], view: View = null): F32 {
  const [N, K] = ws;
  const rows = size(xs) / K;
  return matmulF32(x as F32, w as F32, 1, rows, K, N, {
    transB: true,
    bias: b as F32,
    out: allocF32(rows * N),
    aLoad: view ? (dst, at) => L.transposeInto(x as F32, view.stored, view.perm, dst, at) : undefined,
  });
}
