/**
 * Elementwise loops as WebAssembly SIMD (kernels/native/wasm-loop.ts) compute the generated JS
 * loops' arithmetic exactly — float64 operations on float32 values, each result rounded to
 * float32 — so they must agree with the scalar JS definition (src/fused.ts SCALAR_OPS) bit for bit
 * on random expressions, shapes, read patterns and special values (±0, ±∞, NaN, subnormals).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allocF32 } from '../kernels/native/alloc';
import { fusedBatch } from '../kernels/native/batch';
import { elementwiseExprs } from '../kernels/native/elementwise';
import { kernelHeap } from '../kernels/native/heap';
import { reduce } from '../kernels/native/layout';
import { columnSumsWasm, rowSumsWasm } from '../kernels/native/wasm-sums';
import { loopModule, runWasmLoop, setWasmLoops, wasmLoopsInfo, type RowAccess } from '../kernels/native/wasm-loop';
import { matmulInfo } from '../kernels/native/matmul';
import {
  compileScalar,
  exprSource,
  parseExprSource,
  scalarHelpers,
  SCALAR_OPS,
  type Expr,
  type FusedOp,
} from '../src/fused';

const LOWERED: FusedOp[] = [
  'add',
  'sub',
  'mul',
  'div',
  'neg',
  'square',
  'sqrt',
  'rsqrt',
  'maximum',
  'minimum',
  'greater',
  'greaterEqual',
  'equal',
  'where',
];

/** Random expressions over `nIn` inputs, with the operations in `ops` and constants. */
const exprArb = (nIn: number, ops: FusedOp[]) =>
  fc.letrec<{ e: Expr }>((tie) => ({
    e: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.integer({ min: 0, max: nIn - 1 }).map((k): Expr => ({ x: k })),
      fc.constantFrom(0, 1, -0.5, 2, 1e-7, 0.999, 3.5e5),
      fc
        .tuple(fc.constantFrom(...ops), fc.array(tie('e'), { minLength: 3, maxLength: 3 }))
        .map(([op, args]): Expr => ({ op, args: args.slice(0, SCALAR_OPS[op].arity) })),
    ),
  })).e;

const SPECIAL = [0, -0, Infinity, -Infinity, NaN, 1e-40, -1e-42, 3.4e38, 1, -1];
/** A heap block (where the wasm loops read and write) of `n` values, some of them special. */
function values(n: number, seed: number): Float32Array {
  const a = allocF32(Math.max(n, 1), true);
  let t = seed >>> 0;
  for (let i = 0; i < n; i++) {
    t = (Math.imul(t, 1664525) + 1013904223) >>> 0;
    a[i] = t % 3 === 0 ? SPECIAL[(t >>> 8) % SPECIAL.length] : (t / 2 ** 31 - 1) * 4;
  }
  return a;
}

const helpers = scalarHelpers((x) => x); // (no erf in the lowered operations)
/** Equal as float32 values: the same bits, or both NaN (a NaN's payload and sign are not specified). */
function sameValues(a: Float32Array, b: Float32Array): boolean {
  const ia = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ib = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < a.length; i++) if (ia[i] !== ib[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return false;
  return true;
}

/** f() with the WebAssembly loops on or off (the JS loops). */
function withWasmLoops<T>(on: boolean, f: () => T): T {
  const prev = setWasmLoops(on);
  try {
    return f();
  } finally {
    setWasmLoops(prev);
  }
}

describe('WebAssembly elementwise loops', () => {
  it('have the kernels shared memory to run in (Node)', () => {
    expect(matmulInfo().impl).toMatch(/^wasm/); // (its module owns the memory)
    expect(wasmLoopsInfo()).toMatch(/^wasm-simd128/);
    expect(kernelHeap()?.shared).toBe(true);
  });

  it('sources parse back to the expressions that wrote them (every operation)', () => {
    const all = [...LOWERED, 'exp', 'tanh', 'erf', 'gelu', 'geluGrad', 'log', 'pow'] as FusedOp[];
    fc.assert(
      fc.property(exprArb(4, all), (e) => {
        const src = exprSource(e);
        const back = parseExprSource(src);
        expect(back).not.toBeNull();
        expect(exprSource(back!)).toBe(src);
      }),
      { numRuns: 300 },
    );
    expect(parseExprSource('((x0 + x1))')).toBeNull(); // not a source exprSource writes
    expect(parseExprSource('x0 + x1')).toBeNull();
  });

  it('equal the scalar JS definition bit for bit: random expressions, rows, read patterns, several outputs', () => {
    const N_IN = 3;
    fc.assert(
      fc.property(
        fc.array(exprArb(N_IN, LOWERED), { minLength: 1, maxLength: 3 }),
        fc.array(fc.constantFrom<RowAccess>('c', 'b'), { minLength: N_IN, maxLength: N_IN }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 37 }),
        fc.integer({ min: 0, max: 3 }),
        fc.nat(),
        (exprs, pattern, rows, inner, pad, seed) => {
          // and an operand of the first as an output too (jit's multi-output groups share sub-expressions)
          const first = exprs[0];
          const part = typeof first === 'object' && 'op' in first ? [first.args[0]] : [];
          const srcs = [...exprs, ...part].map(exprSource);
          // contiguous inputs: rows of `inner` values `inner + pad` apart; one-value inputs: one per row (or one in all)
          const rowStrides = pattern.map((p, k) => (p === 'c' ? inner + pad : (seed + k) % 2));
          const ins = pattern.map((p, k) =>
            values(p === 'c' ? (rows - 1) * rowStrides[k] + inner : (rows - 1) * rowStrides[k] + 1, seed + k),
          );
          const outs = srcs.map(() => allocF32(rows * inner, true));
          expect(runWasmLoop(srcs, pattern, ins, outs, rows, inner, rowStrides)).toBe(true);
          srcs.forEach((src, j) => {
            const f = compileScalar(src, N_IN, helpers);
            const want = new Float32Array(rows * inner);
            for (let r = 0; r < rows; r++)
              for (let e = 0; e < inner; e++)
                want[r * inner + e] = f(...ins.map((a, k) => a[r * rowStrides[k] + (pattern[k] === 'c' ? e : 0)]));
            expect(sameValues(outs[j], want), `${src} (${pattern.join('')}, ${rows} × ${inner})`).toBe(true);
          });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('give what the JS loops give through the kernel (flat, and rows with a bias), and leave library functions to JS', () => {
    const n = 1003;
    const [a, b, bias] = [values(n, 1), values(n, 2), values(17, 3)];
    const s = Float32Array.of(0.25); // a one-value input outside the kernels' memory: copied in
    const srcs = ['((x0 * x1) + x2)', '(x0 * x1)', 'fmax(x0, x1)', '(x1 !== 0 ? (x0 / x1) : x2)', 'sq(sq(x0))'];
    const flat = () => elementwiseExprs(srcs, [a, b, s], [[n], [n], []], [n]);
    const flatJs = withWasmLoops(false, flat);
    withWasmLoops(true, flat).forEach((o, j) => expect(sameValues(o, flatJs[j])).toBe(true));
    const x = values(59 * 17, 4);
    const rows = () => elementwiseExprs(['(x0 + x1)'], [x, bias], [[59, 17], [17]], [59, 17]);
    expect(sameValues(withWasmLoops(true, rows)[0], withWasmLoops(false, rows)[0])).toBe(true);
    // a batch (jit's horizontal fusion): members in the kernels' memory run as WebAssembly, the others (plain arrays) as JS
    const members = [5000, 3, 70_001, 17].map((m, i) => ({
      inputs: [
        i % 2 ? Float32Array.from(values(m, 10 + i)) : values(m, 10 + i),
        values(m, 20 + i),
        Float32Array.of(0.9),
      ],
      n: m,
    }));
    const batch = () => fusedBatch('map', ['((x2 * x0) + (((1.0) - x2) * x1))', '(x0 - x1)'], members).flat();
    const batchJs = withWasmLoops(false, batch);
    withWasmLoops(true, batch).forEach((o, j) => expect(sameValues(o, batchJs[j])).toBe(true));
    expect(loopModule(['Math.exp(x0)'], ['c'])).toBeNull();
  });

  it('sum rows and columns in the order of the JS loops: the same bits, every shape (four-row and two-column blocks, and what is left)', () => {
    const both = (f: () => Float32Array) => ({ js: withWasmLoops(false, f).slice(), wasm: withWasmLoops(true, f) });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 23 }), fc.integer({ min: 1, max: 19 }), fc.nat(), (rows, n, seed) => {
        // values of very different magnitudes, so that float64 sums round and their association shows
        // finite values of very different magnitudes (float64 sums round, so their association shows), and with ±∞/NaN
        const spread = allocF32(rows * n, true);
        spread.forEach((_, i) => {
          const t = Math.imul(i + 1, 0x9e3779b1 ^ seed) >>> 0;
          spread[i] = (t / 2 ** 31 - 1) * 2 ** -(t % 61);
        });
        for (const [x, axes] of [[0], [1], [0, 1]].flatMap((a) => [
          [spread, a] as const,
          [values(rows * n, seed), a] as const,
        ])) {
          const { js, wasm } = both(() => reduce('sum', x, [rows, n], axes));
          expect(sameValues(wasm, js), `${rows} × ${n} over ${axes}`).toBe(true);
        }
        expect(columnSumsWasm(spread, allocF32(n, true), rows, n)).toBe(true);
        expect(rowSumsWasm(spread, allocF32(rows, true), rows, n)).toBe(true);
      }),
      { numRuns: 150 },
    );
    // where the association shows through the float32 result: (1 + 2⁻²⁴) + (2⁻⁵³ + 2⁻⁵³) lies above
    // float32's tie between 1 and 1 + 2⁻²³, ((1 + 2⁻²⁴) + 2⁻⁵³) + 2⁻⁵³ on it (rounded to 1)
    const tie = allocF32(4, true);
    tie.set([1, 2 ** -24, 2 ** -53, 2 ** -53]);
    for (const [shape, axes] of [
      [[4, 1], [0]],
      [[4, 2], [0]],
      [[1, 4], [1]],
    ] as const) {
      const x = allocF32(shape[0] * shape[1], true);
      x.forEach((_, i) => (x[i] = tie[shape[1] === 4 ? i : Math.floor(i / shape[1])]));
      const { js, wasm } = both(() => reduce('sum', x, [...shape], [...axes]));
      expect(js[0]).toBe(1 + 2 ** -23);
      expect(sameValues(wasm, js)).toBe(true);
    }
    expect(loopModule(['(x0 + x1)'], ['c', 'b'])).not.toBeNull();
  });
});
