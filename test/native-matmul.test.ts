import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  getMatmulConfig,
  matmulF32,
  matmulF32JS,
  matmulInfo,
  matmulStats,
  setMatmulConfig,
  type MatmulFn,
  type MatmulOptions,
} from '../kernels/native/matmul';
import { transposeInto } from '../kernels/native/layout';

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

/** Small deterministic PRNG (mulberry32) so properties stay fast with big arrays. */
function rng(seed: number): () => number {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

function randomArray(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = r() * 2 - 1;
  return a;
}

interface Case {
  batch: number;
  M: number;
  K: number;
  N: number;
  transA: boolean;
  transB: boolean;
  bcastA: boolean;
  bcastB: boolean;
  seed: number;
}

/** float64 reference and the per-element magnitude sum_k |a_ik b_kj| (for the error bound). */
function reference(a: Float32Array, b: Float32Array, c: Case): { ref: Float64Array; mag: Float64Array } {
  const { batch, M, K, N, transA, transB } = c;
  const aS = c.bcastA ? 0 : M * K;
  const bS = c.bcastB ? 0 : K * N;
  const ref = new Float64Array(batch * M * N);
  const mag = new Float64Array(batch * M * N);
  for (let t = 0; t < batch; t++) {
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        let m = 0;
        for (let k = 0; k < K; k++) {
          const av = a[t * aS + (transA ? k * M + i : i * K + k)];
          const bv = b[t * bS + (transB ? j * K + k : k * N + j)];
          s += av * bv;
          m += Math.abs(av * bv);
        }
        ref[(t * M + i) * N + j] = s;
        mag[(t * M + i) * N + j] = m;
      }
    }
  }
  return { ref, mag };
}

function inputs(c: Case): { a: Float32Array; b: Float32Array; opts: MatmulOptions } {
  const aItems = c.bcastA ? 1 : c.batch;
  const bItems = c.bcastB ? 1 : c.batch;
  const a = randomArray(aItems * c.M * c.K, c.seed);
  const b = randomArray(bItems * c.K * c.N, c.seed ^ 0x9e3779b9);
  const opts: MatmulOptions = { transA: c.transA, transB: c.transB };
  if (c.bcastA) opts.aBatchStride = 0;
  if (c.bcastB) opts.bBatchStride = 0;
  return { a, b, opts };
}

/**
 * |C - ref| <= (K + 2) * 2^-23 * sum_k |a_ik b_kj| + tiny: the classic gamma_K bound for a
 * float32 dot product of K terms in any summation order (with a 2x safety margin).
 */
function checkClose(fn: MatmulFn, c: Case, extra: MatmulOptions = {}): Float32Array {
  const { a, b, opts } = inputs(c);
  const out = fn(a, b, c.batch, c.M, c.K, c.N, { ...opts, ...extra });
  expect(out.length).toBe(c.batch * c.M * c.N);
  const { ref, mag } = reference(a, b, c);
  const u = 2 ** -23;
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < ref.length; i++) {
    const tol = (c.K + 2) * u * mag[i] + 1e-30;
    const r = Math.abs(out[i] - ref[i]) / tol;
    if (!(r <= worst)) {
      worst = r;
      worstAt = i;
    }
  }
  if (!(worst <= 1)) {
    throw new Error(
      `mismatch ${JSON.stringify(c)} ${JSON.stringify(extra)} at ${worstAt}: got ${out[worstAt]}, want ${ref[worstAt]}`,
    );
  }
  return out;
}

const dim = fc.integer({ min: 1, max: 70 });
const caseArb: fc.Arbitrary<Case> = fc.record({
  batch: fc.integer({ min: 1, max: 3 }),
  M: dim,
  K: dim,
  N: dim,
  transA: fc.boolean(),
  transB: fc.boolean(),
  bcastA: fc.boolean(),
  bcastB: fc.boolean(),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
});

const defaults = getMatmulConfig();
afterEach(() => {
  setMatmulConfig(defaults);
});

// ---------------------------------------------------------------------------
// tests
// ---------------------------------------------------------------------------

describe('native matmul (kernels/native/matmul.ts)', () => {
  it('loads the SIMD WebAssembly kernel', () => {
    const info = matmulInfo();
    expect(info.impl).toMatch(/^wasm-simd128/);
    expect(info.simd).toBe(true);
    expect(info.threads).toBeGreaterThanOrEqual(1);
  });

  it('matches a float64 reference on random shapes (1..70, batch 1..3, transposes, broadcasts)', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        checkClose(matmulF32, c);
      }),
      { numRuns: 300 },
    );
  });

  it('plain-JS reference matches the float64 reference too', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        checkClose(matmulF32JS, c);
      }),
      { numRuns: 60 },
    );
  });

  it('exercises every blocking edge with tiny block sizes (multi-panel K, N, M)', () => {
    // KC=8, MC=4, NC=32 and a packed-B budget that forces narrow panels: K, N and M
    // all span several blocks at these sizes, and chunks cover several A blocks.
    setMatmulConfig({ KC: 8, MC: 4, NC: 32, packedBFloats: 16 * 40 });
    fc.assert(
      fc.property(caseArb, fc.constantFrom(1, 2), (c, threads) => {
        checkClose(matmulF32, c, { threads });
      }),
      { numRuns: 150 },
    );
  });

  it('starts the worker thread and runs products on it', () => {
    if (matmulInfo().threads < 2) return; // single-core machine: nothing to test
    // The worker is spawned by the first product that asks for 2 threads and starts in the
    // background (that product runs on one thread); keep asking until it has joined one.
    const n = 128;
    const a = randomArray(n * n, 21);
    const want = matmulF32(a, a, 1, n, n, n, { threads: 1 });
    const before = matmulStats().threadedCalls;
    const t0 = Date.now();
    while (matmulStats().threadedCalls === before && Date.now() - t0 < 10_000) {
      expect(matmulF32(a, a, 1, n, n, n, { threads: 2 })).toEqual(want);
    }
    expect(matmulStats().threadedCalls).toBeGreaterThan(before);
  });

  it('is bitwise identical on 1 and 2 threads (same blocking, same summation order)', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { a, b, opts } = inputs(c);
        const one = matmulF32(a, b, c.batch, c.M, c.K, c.N, { ...opts, threads: 1 });
        const two = matmulF32(a, b, c.batch, c.M, c.K, c.N, { ...opts, threads: 2 });
        expect(two).toEqual(one);
      }),
      { numRuns: 100 },
    );
  });

  it('handles large-ish shapes on 1 and 2 threads', () => {
    const cases: Case[] = [
      { batch: 1, M: 300, K: 257, N: 513, transA: false, transB: false, bcastA: false, bcastB: false, seed: 1 },
      { batch: 1, M: 257, K: 300, N: 130, transA: true, transB: false, bcastA: false, bcastB: false, seed: 2 },
      { batch: 1, M: 130, K: 600, N: 257, transA: false, transB: true, bcastA: false, bcastB: false, seed: 3 },
      { batch: 1, M: 199, K: 70, N: 301, transA: true, transB: true, bcastA: false, bcastB: false, seed: 4 },
      { batch: 6, M: 64, K: 96, N: 80, transA: false, transB: true, bcastA: false, bcastB: false, seed: 5 },
      { batch: 3, M: 100, K: 192, N: 200, transA: false, transB: false, bcastA: false, bcastB: true, seed: 6 },
      { batch: 4, M: 50, K: 130, N: 90, transA: true, transB: false, bcastA: true, bcastB: false, seed: 7 },
      // N > NC (2048): two column panels; N < 16: the transposed (C^T) path
      { batch: 1, M: 5, K: 40, N: 2100, transA: false, transB: false, bcastA: false, bcastB: false, seed: 8 },
      { batch: 2, M: 333, K: 77, N: 3, transA: false, transB: true, bcastA: false, bcastB: false, seed: 9 },
    ];
    for (const c of cases) {
      const one = checkClose(matmulF32, c, { threads: 1 });
      const two = checkClose(matmulF32, c, { threads: 2 });
      expect(two).toEqual(one);
    }
  });

  it('writes into `out` and reads only the needed prefix of longer inputs', () => {
    const M = 7,
      K = 19,
      N = 23;
    const a = randomArray(M * K + 5, 11);
    const b = randomArray(K * N + 9, 12);
    const out = new Float32Array(M * N + 4).fill(42);
    const r = matmulF32(a, b, 1, M, K, N, { out });
    expect(r).toBe(out);
    expect(Array.from(out.subarray(M * N))).toEqual([42, 42, 42, 42]);
    const want = matmulF32JS(a.subarray(0, M * K), b.subarray(0, K * N), 1, M, K, N);
    for (let i = 0; i < M * N; i++) expect(out[i]).toBeCloseTo(want[i], 5);
    // an `out` that is a subarray view of a bigger buffer
    const big = new Float32Array(M * N + 10);
    matmulF32(a, b, 1, M, K, N, { out: big.subarray(10) });
    expect(big.subarray(10)).toEqual(out.subarray(0, M * N));
  });

  it('degenerate sizes: K = 0 gives zeros, empty M / N / batch give empty results', () => {
    const out = new Float32Array(6).fill(3);
    expect(Array.from(matmulF32(new Float32Array(0), new Float32Array(0), 1, 2, 0, 3, { out }))).toEqual([
      0, 0, 0, 0, 0, 0,
    ]);
    expect(matmulF32(new Float32Array(0), new Float32Array(12), 1, 0, 4, 3).length).toBe(0);
    expect(matmulF32(new Float32Array(8), new Float32Array(0), 1, 2, 4, 0).length).toBe(0);
    expect(matmulF32(new Float32Array(8), new Float32Array(12), 0, 2, 4, 3).length).toBe(0);
  });

  it('propagates NaN and Infinity like IEEE arithmetic', () => {
    const a = new Float32Array([1, 2, NaN, 4, Infinity, 1]); // 3x2
    const b = new Float32Array([1, 0, 0, 1]); // 2x2 identity
    const c = matmulF32(a, b, 1, 3, 2, 2);
    expect(Array.from(c.subarray(0, 2))).toEqual([1, 2]);
    expect(Number.isNaN(c[2])).toBe(true); // NaN*1 + 4*0
    expect(Number.isNaN(c[3])).toBe(true); // NaN*0 + 4*1
    expect(Number.isNaN(c[5])).toBe(true); // Inf*0 + 1*1
    expect(c[4]).toBe(Infinity);
    expect(matmulF32JS(a, b, 1, 3, 2, 2)).toEqual(c);
  });

  it('rejects inconsistent arguments', () => {
    expect(() => matmulF32(new Float32Array(5), new Float32Array(6), 1, 2, 3, 2)).toThrow(RangeError);
    expect(() => matmulF32(new Float32Array(6), new Float32Array(5), 1, 2, 3, 2)).toThrow(RangeError);
    expect(() => matmulF32(new Float32Array(6), new Float32Array(6), 1, 2, 3, 2, { out: new Float32Array(3) })).toThrow(
      RangeError,
    );
    expect(() => matmulF32(new Float32Array(6), new Float32Array(6), 1, 2.5, 3, 2)).toThrow(RangeError);
  });
});

describe('operands given by loaders (jit reads transposes straight into the kernel)', () => {
  it('equal the materialised operands, with and without transpose flags', () => {
    // A stored [3,4,5], read as transpose [1,0,2] → [4,3,5]; B stored [4,6,5], read as is, transB
    const a = randomArray(60, 11);
    const b = randomArray(120, 12);
    const aT = new Float32Array(60);
    transposeInto(a, [3, 4, 5], [1, 0, 2], aT, 0);
    const want = matmulF32(aT, b, 4, 3, 5, 6, { transB: true });
    const got = matmulF32(a, b, 4, 3, 5, 6, {
      transB: true,
      aLoad: (dst, at) => transposeInto(a, [3, 4, 5], [1, 0, 2], dst, at),
    });
    expect(Array.from(got)).toEqual(Array.from(want));
    // B through a loader, with A's transpose flag: A [4,3,5]ᵀ (M 5, K 3), B stored [4,10,3] read as [4,3,10]
    const bT = new Float32Array(120);
    transposeInto(b, [4, 10, 3], [0, 2, 1], bT, 0);
    const want2 = matmulF32(aT, bT, 4, 5, 3, 10, { transA: true });
    const got2 = matmulF32(aT, b, 4, 5, 3, 10, {
      transA: true,
      bLoad: (dst, at) => transposeInto(b, [4, 10, 3], [0, 2, 1], dst, at),
    });
    expect(Array.from(got2)).toEqual(Array.from(want2));
  });
});

describe('fused multiply-adds (relaxed SIMD)', () => {
  // C = -1·1 + (1+2⁻²³)(1−2⁻²³): exactly −2⁻⁴⁶; a separate multiply rounds the product to 1 first and gives 0.
  const e = 2 ** -23;
  const probe = (): number =>
    matmulF32(new Float32Array([-1, 1 + e]), new Float32Array([1, 1 - e]), 1, 1, 2, 1, { threads: 1 })[0];

  it('loads the FMA kernel where relaxed SIMD compiles (Node 20: behind the V8 flag the platform sets)', () => {
    expect(matmulInfo().impl).toBe('wasm-simd128-fma-2x16');
    expect(probe()).toBe(-(2 ** -46));
  });

  it('MATPAC_FMA=0 loads the kernel that multiplies and adds separately', () => {
    const src =
      "import { matmulF32, matmulInfo } from './kernels/native/matmul.ts';" +
      `const e = 2 ** -23; const c = matmulF32(new Float32Array([-1, 1 + e]), new Float32Array([1, 1 - e]), 1, 1, 2, 1);` +
      'console.log(matmulInfo().impl, c[0]);';
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', src], {
      env: { ...process.env, MATPAC_FMA: '0' },
      encoding: 'utf8',
    });
    expect(out.trim()).toBe('wasm-simd128-2x16 0');
  });
});
