/**
 * Generated loops on two threads (kernels/native/worker.ts): elementwise loops (flat and
 * broadcast/strided), batched maps, column sums and the SIMD row kernels (softmax, layer norm and
 * its VJP, exp, gelu: each thread through its own instance of rows.wasm) over at least the
 * parallel size run in chunks on this thread and the worker, on SharedArrayBuffers (outputs of
 * 4096+ elements; smaller ones stay on one thread), and give exactly what one thread gives.
 * (Elementwise loops that kernels/native/wasm-loop.ts can run are switched to the JS ones here.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { elementwise, elementwiseExprs } from '../kernels/native/elementwise';
import { fusedBatch } from '../kernels/native/batch';
import { reduce, stridedCopy, transpose, transposeInto } from '../kernels/native/layout';
import { reduceExpr } from '../kernels/native/reduce-expr';
import { allocF32 } from '../kernels/native/alloc';
import { matmulF32 } from '../kernels/native/matmul';
import { everyRowKernel } from './rows-kernels';
import { setJsParallelMin, workerJsStats } from '../kernels/native/worker';
import { setWasmLoops } from '../kernels/native/wasm-loop';

function filled(n: number, seed: number): Float32Array {
  const a = allocF32(n);
  let t = seed >>> 0;
  for (let i = 0; i < n; i++) {
    t = (Math.imul(t, 1664525) + 1013904223) >>> 0;
    a[i] = t / 2 ** 31 - 1;
  }
  return a;
}

/** f() on one thread and on two (js jobs from 1 element up), with the results compared bit for bit. */
function bothWays(f: () => Float32Array[]): { one: Float32Array[]; two: Float32Array[] } {
  const prev = setJsParallelMin(Infinity);
  try {
    const one = f().map((a) => a.slice());
    setJsParallelMin(1);
    const two = f();
    return { one, two };
  } finally {
    setJsParallelMin(prev);
  }
}

describe('generated loops on the worker thread', () => {
  // the JS loops (the WebAssembly ones, kernels/native/wasm-loop.ts, run on one thread and are tested on their own)
  let wasmLoops = true;
  beforeAll(() => void (wasmLoops = setWasmLoops(false)));
  afterAll(() => void setWasmLoops(wasmLoops));
  it('start the worker (a large product spawns it), then split elementwise and batch loops with it', async () => {
    const m = new Float32Array(256 * 256);
    for (let i = 0; i < 50 && workerJsStats().threaded === 0; i++) {
      matmulF32(m, m, 1, 256, 256, 256, { threads: 2 });
      await new Promise((r) => setTimeout(r, 20));
      bothWays(() => [elementwise('neg', [filled(8192, 1)], [[8192]], [8192])]);
    }
    const before = workerJsStats();
    expect(before.threaded + before.missed).toBeGreaterThan(0);

    // flat: contiguous inputs and a scalar; sizes not multiples of the unroll or the chunk count
    for (const n of [1, 7, 1001, 40_003]) {
      const a = filled(n, 3);
      const b = filled(n, 4);
      const s = Float32Array.of(0.5);
      const { one, two } = bothWays(() =>
        elementwiseExprs(['x0 * x1 + x2', 'Math.exp(x0) - x1'], [a, b, s], [[n], [n], []], [n]),
      );
      expect(two.map((x) => Array.from(x))).toEqual(one.map((x) => Array.from(x)));
    }
    // strided: a bias over rows, and a transposed (column-broadcast) read; outer sizes of 1, 3 and 97
    for (const [r, c] of [
      [1, 5000],
      [3, 33],
      [97, 130],
    ]) {
      const x = filled(r * c, 5);
      const bias = filled(c, 6);
      const col = filled(r, 7);
      const { one, two } = bothWays(() => [
        elementwise('add', [x, bias], [[r, c], [c]], [r, c]),
        elementwise(
          'mul',
          [x, col],
          [
            [r, c],
            [r, 1],
          ],
          [r, c],
        ),
        elementwise(
          'sub',
          [bias, x],
          [
            [1, 1, c],
            [r, 1, c],
          ],
          [r, 1, c],
        ),
      ]);
      expect(two.map((v) => Array.from(v))).toEqual(one.map((v) => Array.from(v)));
    }
    // a batch of members of very different sizes (split across chunks, some members cut in two)
    const sizes = [3, 70_000, 128, 2, 9_999, 2];
    const members = sizes.map((n, i) => ({ inputs: [filled(n, 10 + i), filled(n, 20 + i), Float32Array.of(0.9)], n }));
    const { one, two } = bothWays(() => fusedBatch('map', ['x2 * x0 + (1 - x2) * x1', 'x0 - x1'], members).flat());
    expect(two.map((v) => Array.from(v))).toEqual(one.map((v) => Array.from(v)));
    // and with the worker: at least one of these jobs ran on two threads
    expect(workerJsStats().threaded).toBeGreaterThan(before.threaded);
  });

  it('split column sums (a bias gradient, and a fused expression summed over rows) by columns and row reductions by rows, bit for bit', () => {
    const before = workerJsStats().threaded;
    for (const [r, c] of [
      [992, 96],
      [5, 4099],
      [1001, 33],
    ]) {
      const x = filled(r * c, 30);
      const y = filled(r * c, 31);
      const s = Float32Array.of(1.5);
      const { one, two } = bothWays(() => [
        reduce('sum', x, [r, c], [0]),
        reduce('sum', x, [r, 1, c], [0, 1]),
        // row reductions: over the last axis, and over the first (read through a transpose)
        reduce('sum', x, [r, c], [1]),
        reduce('max', x, [r, c], [1]),
        reduce('max', x, [r, c], [0]),
        reduceExpr('sum', 'x0 * x1 + x2', [x, y, s], [[r, c], [r, c], []], [r, c], [0]),
        reduceExpr(
          'max',
          'x0 - x1',
          [x, y],
          [
            [1, r, c],
            [1, r, c],
          ],
          [1, r, c],
          [0, 1],
        ),
      ]);
      expect(two.map((v) => Array.from(v))).toEqual(one.map((v) => Array.from(v)));
    }
    expect(workerJsStats().threaded).toBeGreaterThan(before);
  });

  it('split the SIMD row kernels by rows (and exp, gelu by elements), bit for bit', () => {
    const before = workerJsStats().threaded;
    // row lengths that are and are not whole vectors or groups of four; row counts that do not
    // divide into the chunks; pieces of several of the kernels' 128-KiB blocks
    for (const [r, d] of [
      [4099, 31],
      [992, 128],
      [37, 512],
      [3, 20_000],
    ]) {
      const x = filled(r * d, 40);
      const g = filled(r * d, 41);
      const gamma = filled(d, 42);
      const beta = filled(d, 43);
      const { one, two } = bothWays(() => everyRowKernel(x, g, d, { gamma, beta }));
      expect(two.map((v) => Array.from(v))).toEqual(one.map((v) => Array.from(v)));
    }
    expect(workerJsStats().threaded).toBeGreaterThan(before);
  });

  it('split strided copies (transposes, a transpose into an offset of another array) by rows, bit for bit', () => {
    const before = workerJsStats().threaded;
    for (const [shape, perm] of [
      [
        [32, 31, 4, 32],
        [0, 2, 1, 3],
      ],
      [
        [7, 3, 2000],
        [2, 0, 1],
      ],
      [
        [5, 40_000],
        [1, 0],
      ],
      [
        [128, 31, 33],
        [0, 2, 1],
      ],
    ] as [number[], number[]][]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const x = filled(n, 50);
      const into = allocF32(n + 37, true);
      const { one, two } = bothWays(() => {
        into.fill(0);
        transposeInto(x, shape, perm, into, 37);
        // a strided view with an offset and a step (every other row of the last-but-one axis)
        const half = shape.slice(0, -1).map((d, i, a) => (i === a.length - 1 ? Math.floor(d / 2) : d));
        const st = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
        const stepped = stridedCopy(
          x,
          st.at(-1)!,
          [...half, shape.at(-1)!],
          st.map((v, i) => (i === st.length - 2 ? 2 * v : v)),
        );
        return [transpose(x, shape, perm), into.slice(), stepped];
      });
      expect(two.map((v) => Array.from(v))).toEqual(one.map((v) => Array.from(v)));
    }
    expect(workerJsStats().threaded).toBeGreaterThan(before);
  });
});
