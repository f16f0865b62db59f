/**
 * The native backend's matmul reading operands through jit's views (src/backends/native-matmul.ts):
 * a transposed (and possibly reshaped, possibly batch-broadcast) operand is read in place through
 * strides over a two-level batch, or materialised when strides cannot express it. Checked against
 * a float64 product of the explicitly transposed operands.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matmul, type View } from '../src/backends/native-matmul';
import { matmulF32 } from '../kernels/native/matmul';
import { broadcastShapes, size, type Shape } from '../src/shape';

/** Row-major array of `shape` whose element at logical index ix is src at stored index ix∘perm⁻¹. */
function transposed(src: Float32Array, stored: Shape, perm: number[]): Float64Array {
  const shape = perm.map((p) => stored[p]);
  const st = new Array<number>(stored.length);
  for (let i = stored.length - 1, acc = 1; i >= 0; i--) {
    st[i] = acc;
    acc *= stored[i];
  }
  const out = new Float64Array(size(shape));
  const ix = new Array<number>(shape.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    out[o] = src[ix.reduce((a, v, j) => a + v * st[perm[j]], 0)];
    for (let d = shape.length - 1; d >= 0 && ++ix[d] === shape[d]; d--) ix[d] = 0;
  }
  return out;
}

/** float64 batched matmul with broadcasting over contiguous operands. */
function reference(a: Float64Array, as: Shape, b: Float64Array, bs: Shape, tA: boolean, tB: boolean): Float64Array {
  const [ar, ac] = as.slice(-2);
  const [br, bc] = bs.slice(-2);
  const [M, K, N] = [tA ? ac : ar, tA ? ar : ac, tB ? br : bc];
  const batch = broadcastShapes('ref', [as.slice(0, -2), bs.slice(0, -2)]);
  const out = new Float64Array(size(batch) * M * N);
  const item = (s: Shape, idx: number[]) => {
    const bd = s.slice(0, -2);
    let o = 0;
    bd.forEach((d, j) => (o = o * d + (d === 1 ? 0 : idx[idx.length - bd.length + j])));
    return o * s.at(-1)! * s.at(-2)!;
  };
  const idx = new Array<number>(batch.length).fill(0);
  for (let t = 0; t < size(batch); t++) {
    const ao = item(as, idx);
    const bo = item(bs, idx);
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let acc = 0;
        for (let k = 0; k < K; k++)
          acc += a[ao + (tA ? k * ac + i : i * ac + k)] * b[bo + (tB ? j * bc + k : k * bc + j)];
        out[(t * M + i) * N + j] = acc;
      }
    for (let d = batch.length - 1; d >= 0 && ++idx[d] === batch[d]; d--) idx[d] = 0;
  }
  return out;
}

const operand = (batch: number[], rows: number, cols: number) =>
  fc
    .record({
      // a suffix of the batch, each axis kept or broadcast (1)
      keep: fc.array(
        fc.integer({ min: 0, max: 3 }).map((x) => x > 0),
        { minLength: batch.length, maxLength: batch.length },
      ),
      drop: fc.constantFrom(0, 0, 0, 1, 2, 3).map((d) => Math.min(d, batch.length)),
      perm: fc.nat(),
      view: fc.boolean(),
      merge: fc.boolean(),
      seed: fc.nat(),
    })
    .map((o) => {
      const bd = batch.slice(o.drop).map((d, j) => (o.keep[j + o.drop] ? d : 1));
      const shape = [...bd, rows, cols];
      // a random permutation of the axes (Lehmer code from perm)
      const free = shape.map((_, i) => i);
      const perm: number[] = [];
      for (let r = o.perm, n = free.length; n > 0; n--) {
        perm.push(free.splice(r % n, 1)[0]);
        r = Math.floor(r / n);
      }
      return { shape, perm: o.view ? perm : shape.map((_, i) => i), merge: o.merge, seed: o.seed };
    });

describe('native matmul through views (two-level strides)', () => {
  it('equals the float64 product of the transposed, reshaped, broadcast operands', () => {
    fc.assert(
      fc.property(
        fc
          .record({
            batch: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 3 }), // (axes of 1 are skipped by the kernel)
            M: fc.integer({ min: 1, max: 7 }),
            K: fc.integer({ min: 1, max: 7 }),
            N: fc.integer({ min: 1, max: 20 }),
            tA: fc.boolean(),
            tB: fc.boolean(),
          })
          .chain((c) =>
            fc.record({
              c: fc.constant(c),
              a: operand(c.batch, c.tA ? c.K : c.M, c.tA ? c.M : c.K),
              b: operand(c.batch, c.tB ? c.N : c.K, c.tB ? c.K : c.N),
            }),
          ),
        ({ c, a, b }) => {
          const make = (o: { shape: number[]; perm: number[]; merge: boolean; seed: number }) => {
            // stored so that transposing by perm gives the logical shape
            const stored = new Array<number>(o.shape.length);
            o.perm.forEach((p, j) => (stored[p] = o.shape[j]));
            let t = o.seed;
            const data = Float32Array.from({ length: size(stored) }, () => {
              t = (Math.imul(t, 1664525) + 1013904223) >>> 0;
              return t / 2 ** 31 - 1;
            });
            // the matmul sees a reshape of the transpose when `merge`: its two leading batch axes as one
            let shape = o.shape;
            if (o.merge && shape.length >= 4) shape = [shape[0] * shape[1], ...shape.slice(2)];
            const view: View = o.perm.every((p, i) => p === i) ? null : { stored, perm: o.perm };
            return { data, shape, view, exact: transposed(data, stored, o.perm) };
          };
          const A = make(a);
          const B = make(b);
          let batchOk = true;
          try {
            broadcastShapes('x', [A.shape.slice(0, -2), B.shape.slice(0, -2)]);
          } catch {
            batchOk = false; // merging made the batches incompatible: not a program jit would build
          }
          fc.pre(batchOk);
          const got = matmul(A.data, B.data, [A.shape, B.shape], { transA: c.tA, transB: c.tB }, [A.view, B.view]);
          const want = reference(A.exact, A.shape, B.exact, B.shape, c.tA, c.tB);
          expect(got.length).toBe(want.length);
          for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-5 * (1 + c.K));
        },
      ),
      { numRuns: 300, seed: 42 },
    );
  });
});

describe('matmulF32 strided operands', () => {
  it('rejects strides that read past the array, a non-divisor innerBatch, and strides with a loader', () => {
    const x = new Float32Array(12);
    const st = { group: 6, inner: 3, row: 3, col: 1 };
    expect(() => matmulF32(x, x, 4, 1, 3, 1, { aStrides: st, innerBatch: 2 })).not.toThrow();
    expect(() => matmulF32(x, x, 4, 2, 3, 1, { aStrides: st, innerBatch: 2 })).toThrow(/its strides read 15/);
    expect(() => matmulF32(x, x, 4, 1, 3, 1, { aStrides: st, innerBatch: 3 })).toThrow(RangeError);
    expect(() => matmulF32(x, x, 4, 1, 3, 1, { aStrides: { ...st, row: -1 }, innerBatch: 2 })).toThrow(RangeError);
    expect(() => matmulF32(x, x, 4, 1, 3, 1, { aStrides: st, innerBatch: 2, aLoad: () => {} })).toThrow(/not both/);
  });
});
