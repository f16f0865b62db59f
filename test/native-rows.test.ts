/**
 * The native backend's SIMD WebAssembly kernels for exp, gelu, geluGrad, softmax and LayerNorm
 * (kernels/native/rows.wat) against float64 over wide input ranges — tails, huge and tiny
 * values, ±inf and NaN, odd row lengths (padding) — beyond what the [-2, 2] property domain
 * reaches; and the plain-JS fallback against the same references.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { rowsCalls, rowsInfo, rowsWasm, setRowsWasm } from '../kernels/native/rows';
import { allocF32 } from '../kernels/native/alloc';
import { everyRowKernel } from './rows-kernels';
import { erf } from '../src/math';
import * as mp from '../src/index';

const f32 = (xs: number[]) => Float32Array.from(xs);
const phi = (x: number) => 0.5 * (1 + erf(x / Math.SQRT2));
const ref = {
  exp: (x: number) => Math.exp(x),
  gelu: (x: number) => x * phi(x),
  geluGrad: (x: number) => phi(x) + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI),
};
/** |got − want| ≤ atol + rtol·|want|, NaN matching NaN and infinities matching exactly. */
function close(got: number, want: number, atol: number, rtol: number): boolean {
  if (Number.isNaN(want)) return Number.isNaN(got);
  if (!Number.isFinite(want)) return got === want;
  return Math.abs(got - want) <= atol + rtol * Math.abs(want);
}

afterEach(() => void setRowsWasm(true));

describe('native SIMD kernels (rows.wat)', () => {
  it('load here (WebAssembly SIMD is present on the project machines)', () => {
    expect(rowsInfo().impl).toBe('wasm-simd128');
    expect(mp.getBackend('native').describe()).toContain('exp/gelu/softmax/layer_norm: wasm-simd128');
  });

  it('exp: relative error ≤ 4e-7 on [-87, 88], 0 below, +inf above, NaN stays NaN', () => {
    const xs = [0, -0, 1, -1, 0.5, 88.7, 88.8, 100, -87.3, -87.4, -103, -1000, Infinity, -Infinity, NaN, 1e-8, -1e-8];
    for (let i = 0; i < 5000; i++) xs.push(-87 + (175 * i) / 5000);
    const x = f32(xs);
    const got = rowsWasm.elementwise('exp', x)!;
    for (let i = 0; i < x.length; i++) {
      const want = Math.exp(x[i]);
      const ok = x[i] < -87.34 ? got[i] === 0 : x[i] > 88.73 ? got[i] === Infinity : close(got[i], want, 0, 4e-7);
      expect(ok, `exp(${x[i]}) = ${got[i]}, float64 ${want}`).toBe(true);
    }
  });

  it('exp: relative error below 1.9e-7 (under 3 ulp) vs Math.exp on a dense grid of [-87.3, 88.7]', () => {
    const n = 1 << 20;
    const x = Float32Array.from({ length: n }, (_, i) => -87.3 + (176 * i) / (n - 1));
    const got = rowsWasm.elementwise('exp', x)!;
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(got[i] / Math.exp(x[i]) - 1));
    expect(worst).toBeLessThan(1.9e-7);
  });

  it('gelu and geluGrad: within 2e-7·(1 + |x|) + 2e-6·|ref| on [-15, 15] (1 + erf cancels in the left tail, as in PyTorch), exact limits at ±inf, NaN stays NaN', () => {
    const xs: number[] = [];
    for (let i = 0; i <= 6001; i++) xs.push(-15 + (30 * i) / 6001);
    xs.push(0, -0, 1e-30, -1e-30, 40, -40, Infinity, NaN);
    const x = f32(xs);
    for (const name of ['gelu', 'geluGrad'] as const) {
      const got = rowsWasm.elementwise(name, x)!;
      let worst = 0;
      for (let i = 0; i < x.length; i++) {
        const want = ref[name](x[i]);
        const atol = 2e-7 * (1 + Math.abs(x[i]));
        expect(close(got[i], want, atol, 2e-6), `${name}(${x[i]}) = ${got[i]}, float64 ${want}`).toBe(true);
        if (Number.isFinite(want)) worst = Math.max(worst, Math.abs(got[i] - want) / (atol + 2e-6 * Math.abs(want)));
      }
      expect(worst).toBeLessThan(1);
      // in the bulk, -1.5 <= x <= 3, on a dense grid (2^18 points): gelu to 2e-6 relative, geluGrad
      // (which crosses 0 at x ≈ -0.75) to 2.5e-7 absolute (its worst there is about 2.1e-7)
      const bulk = f32(Array.from({ length: 2 ** 18 + 1 }, (_, i) => -1.5 + (4.5 * i) / 2 ** 18));
      const bulkGot = rowsWasm.elementwise(name, bulk)!;
      for (let i = 0; i < bulk.length; i++) {
        if (bulk[i] === 0) continue;
        const want = ref[name](bulk[i]);
        const err = name === 'gelu' ? Math.abs(bulkGot[i] / want - 1) : Math.abs(bulkGot[i] - want);
        if (!(err < (name === 'gelu' ? 2e-6 : 2.5e-7)))
          expect.fail(`${name}(${bulk[i]}) = ${bulkGot[i]}, float64 ${want}`);
      }
    }
    // odd lengths: the padding never leaks into the output
    for (const n of [1, 2, 3, 5, 7])
      expect(Array.from(rowsWasm.elementwise('gelu', x.subarray(0, n))!)).toHaveLength(n);
  });

  const rowsArb = fc.record({
    rows: fc.integer({ min: 1, max: 6 }),
    d: fc.integer({ min: 1, max: 70 }),
    offset: fc.constantFrom(0, 30, -50, 1000),
    scale: fc.constantFrom(0.01, 1, 20),
    seed: fc.integer({ min: 0, max: 1e6 }),
  });
  const draw = (n: number, seed: number) => {
    let s = seed + 1;
    return Array.from({ length: n }, () => ((s = (s * 16807) % 2147483647) / 2147483647) * 2 - 1);
  };

  it('softmax rows: any row length, large offsets and scales, vs float64', () => {
    fc.assert(
      fc.property(rowsArb, ({ rows, d, offset, scale, seed }) => {
        const x = f32(draw(rows * d, seed).map((v) => offset + scale * v));
        for (const on of [true, false]) {
          setRowsWasm(on);
          const got = on
            ? rowsWasm.softmax(x, d)!
            : mp.withBackend('native', () => mp.softmax(mp.tensor(x, [rows, d])).toArray());
          for (let r = 0; r < rows; r++) {
            const row = Array.from(x.subarray(r * d, r * d + d));
            const m = Math.max(...row);
            const z = row.reduce((a, v) => a + Math.exp(v - m), 0);
            for (let i = 0; i < d; i++) {
              const want = Math.exp(row[i] - m) / z;
              if (!close(got[r * d + i], want, 1e-7, 2e-6))
                throw new Error(`${on ? 'wasm' : 'js'} softmax row ${r} [${i}] = ${got[r * d + i]}, float64 ${want}`);
            }
          }
        }
      }),
      { numRuns: 200, seed: 7 },
    );
    // many rows: several chunks of rows through the kernel, padded (d = 37) and not (d = 192)
    setRowsWasm(true);
    for (const [rows, d] of [
      [3001, 37],
      [1001, 192],
    ]) {
      const x = f32(draw(rows * d, rows).map((v) => 5 * v));
      const got = rowsWasm.softmax(x, d)!;
      let bad = '';
      for (let r = 0; r < rows && !bad; r++) {
        const row = Array.from(x.subarray(r * d, r * d + d));
        const m = Math.max(...row);
        const z = row.reduce((a, v) => a + Math.exp(v - m), 0);
        for (let i = 0; i < d; i++)
          if (!close(got[r * d + i], Math.exp(row[i] - m) / z, 1e-7, 2e-6)) bad = `[${r}, ${i}] of [${rows}, ${d}]`;
      }
      expect(bad).toBe('');
    }
    // -inf entries (masked logits) get probability 0
    const got = rowsWasm.softmax(f32([0, -Infinity, 0, -Infinity, 1]), 5)!;
    expect(got[1]).toBe(0);
    expect(got[0]).toBeCloseTo(1 / (2 + Math.E), 6);
  });

  it('layerNormalize, layerNorm (x̂·γ + β) and the VJP rows: any row length, a mean far from 0, vs float64', () => {
    fc.assert(
      fc.property(rowsArb, ({ rows, d, offset, scale, seed }) => {
        const eps = 1e-6;
        const x = f32(draw(rows * d, seed).map((v) => offset + scale * v));
        const g = f32(draw(rows * d, seed + 99));
        for (const on of [true, false]) {
          setRowsWasm(on);
          const y = mp.withBackend('native', () =>
            mp.bind('layerNormalize', [mp.tensor(x, [rows, d])], { eps }).toArray(),
          );
          const vjp = mp.withBackend('native', () =>
            mp.bind('layerNormalizeVjp', [mp.tensor(x, [rows, d]), mp.tensor(g, [rows, d])], { eps }).toArray(),
          );
          const [gamma, beta] = [g.subarray(0, d), g.subarray(d * (rows - 1))];
          const affine = mp.withBackend('native', () =>
            mp.layerNorm(mp.tensor(x, [rows, d]), mp.tensor(gamma, [d]), mp.tensor(beta, [d]), eps).toArray(),
          );
          for (let r = 0; r < rows; r++) {
            const row = Array.from(x.subarray(r * d, r * d + d));
            const gr = Array.from(g.subarray(r * d, r * d + d));
            const mu = row.reduce((a, v) => a + v, 0) / d;
            const s = 1 / Math.sqrt(row.reduce((a, v) => a + (v - mu) ** 2, 0) / d + eps);
            const xh = row.map((v) => (v - mu) * s);
            const mg = gr.reduce((a, v) => a + v, 0) / d;
            const mgx = gr.reduce((a, v, i) => a + v * xh[i], 0) / d;
            for (let i = 0; i < d; i++) {
              // float32 inputs: x̂ is known to a few ulps of |x|·s, the VJP to s times that
              const tolY = 4e-7 * (1 + Math.abs(row[i]) * s);
              if (!(Math.abs(y[r * d + i] - xh[i]) <= tolY))
                throw new Error(`${on ? 'wasm' : 'js'} layerNormalize [${r},${i}] = ${y[r * d + i]}, float64 ${xh[i]}`);
              const wantAffine = xh[i] * gamma[i] + beta[i];
              if (
                !(Math.abs(affine[r * d + i] - wantAffine) <= tolY * Math.abs(gamma[i]) + 2e-7 * Math.abs(wantAffine))
              )
                throw new Error(
                  `${on ? 'wasm' : 'js'} layerNorm [${r},${i}] = ${affine[r * d + i]}, float64 ${wantAffine}`,
                );
              const want = s * (gr[i] - mg - xh[i] * mgx);
              if (!(Math.abs(vjp[r * d + i] - want) <= tolY * s * (1 + Math.abs(mgx)) + 1e-6 * Math.abs(want)))
                throw new Error(
                  `${on ? 'wasm' : 'js'} layerNormalizeVjp [${r},${i}] = ${vjp[r * d + i]}, float64 ${want}`,
                );
            }
          }
        }
      }),
      { numRuns: 200, seed: 11 },
    );
  });

  it('in place in the kernels’ memory (rows of whole vectors): bit for bit what the copies through the module give', () => {
    const before = rowsCalls();
    // rows of whole vectors (softmax: groups of four) and arrays of whole groups of 16 run in place
    // when they lie in the kernels' memory (allocF32 puts 4096+ floats there); plain arrays are
    // copied through the module's own memory, as rows of other lengths are
    for (const [rows, d] of [
      [1024, 16],
      [65, 128],
      [300, 192],
      [9, 1024],
      [2048, 4],
    ]) {
      const heap = allocF32(rows * d);
      const draws = draw(rows * d, rows + d);
      draws.forEach((v, i) => (heap[i] = 4 * v));
      const g = allocF32(rows * d);
      draw(rows * d, d).forEach((v, i) => (g[i] = v));
      const gamma = f32(draw(d, 1));
      const beta = f32(draw(d, 2));
      const both = (x: Float32Array, y: Float32Array) => everyRowKernel(x, y, d, { gamma, beta }, d % 16 === 0);
      const inPlace = both(heap, g).map((a) => Array.from(a));
      const copied = both(heap.slice(), g.slice()).map((a) => Array.from(a));
      expect(inPlace).toEqual(copied);
    }
    const after = rowsCalls();
    expect(after.inPlace - before.inPlace).toBeGreaterThanOrEqual(30);
    expect(after.copied - before.copied).toBeGreaterThanOrEqual(30);
  });

  it('the JS fallback gives the same elementwise results within the same bounds', () => {
    const x = f32(Array.from({ length: 999 }, (_, i) => -12 + (24 * i) / 998));
    setRowsWasm(false);
    expect(rowsInfo().impl).toBe('js');
    expect(rowsWasm.elementwise('gelu', x)).toBeNull();
    for (const name of ['exp', 'gelu', 'geluGrad'] as const) {
      const got = mp.withBackend('native', () =>
        (name === 'geluGrad'
          ? mp.bind('geluGrad', [mp.tensor(x)], {})
          : name === 'exp'
            ? mp.exp(mp.tensor(x))
            : mp.gelu(mp.tensor(x))
        ).toArray(),
      );
      for (let i = 0; i < x.length; i++)
        expect(close(got[i], ref[name](x[i]), 2e-7, 2e-6), `${name}(${x[i]})`).toBe(true);
    }
  });
});
