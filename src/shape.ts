/**
 * Shapes, strides and NumPy broadcasting — the small vocabulary every primitive's shape rule uses.
 * Errors name the op and the shapes so that a user can act on them (see `ShapeError`).
 */

export type Shape = readonly number[];

/** A shape or dtype mismatch: names the op, the shapes and, when known, the inputs' parameter paths. */
export class ShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShapeError';
  }
}

export const fmt = (s: Shape): string => `[${s.join(',')}]`;

export const size = (s: Shape): number => s.reduce((a, b) => a * b, 1);

export function stridesOf(s: Shape): number[] {
  const st = new Array<number>(s.length);
  let acc = 1;
  for (let i = s.length - 1; i >= 0; i--) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

/** NumPy broadcasting of two or more shapes; throws a ShapeError naming `op` on mismatch. */
export function broadcastShapes(op: string, shapes: Shape[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const j = rank - s.length + i;
      const d = s[i];
      if (d === out[j] || d === 1) continue;
      if (out[j] === 1) out[j] = d;
      else
        throw new ShapeError(
          `${op}: shapes ${shapes.map(fmt).join(' and ')} cannot be broadcast together (axis ${j}: ${out[j]} vs ${d})`,
        );
    }
  }
  return out;
}

/** Strides of `s` viewed as broadcast to `out` (0 along broadcast axes). */
export function broadcastStrides(s: Shape, out: Shape): number[] {
  const st = stridesOf(s);
  const res = new Array<number>(out.length).fill(0);
  for (let i = 0; i < s.length; i++) {
    const j = out.length - s.length + i;
    res[j] = s[i] === 1 && out[j] !== 1 ? 0 : st[i];
  }
  return res;
}

/**
 * Collapse an output shape viewed through per-operand strides: drop size-1 axes, and merge
 * adjacent axes that are contiguous for every operand. Returns the collapsed dims and strides
 * (possibly empty: a single element).
 */
export function collapse(out: Shape, strides: number[][]): { dims: number[]; strides: number[][] } {
  const dims: number[] = [];
  const st: number[][] = strides.map(() => []);
  for (let d = 0; d < out.length; d++) {
    if (out[d] === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && strides.every((s, k) => st[k][last] === s[d] * out[d])) {
      dims[last] *= out[d];
      strides.forEach((s, k) => (st[k][last] = s[d]));
    } else {
      dims.push(out[d]);
      strides.forEach((s, k) => st[k].push(s[d]));
    }
  }
  return { dims, strides: st };
}

/** Normalise a possibly negative axis; throws naming the op. */
export function normAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank)
    throw new ShapeError(`${op}: axis ${axis} out of range for rank ${rank}`);
  return a;
}

export function checkShape(op: string, s: Shape): void {
  for (const d of s) if (!Number.isInteger(d) || d < 0) throw new ShapeError(`${op}: invalid shape ${fmt(s)}`);
}
