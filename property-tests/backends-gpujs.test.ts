/**
 * The gpu.js backend (src/backends/gpujs.ts, kernels/gpujs/*) against the float64 reference.
 *
 * 1. Every primitive and composite of SPECS on gpujs-cpu (and gpujs-webasm where WebAssembly
 *    works), inputs rounded to float32 for both sides:
 *        |out − ref| ≤ 1e-5 + 1e-4·|ref|
 *    (float32 storage between kernels; cpu mode computes in float64 inside a kernel, webasm in
 *    float32; erf/gelu use a 1.2e-7-relative erfc fit). Observed worst: 27% of this budget on
 *    cpu (layerNormalizeVjp with rows of 2, where its row statistics, stored as float32 between
 *    kernels, cancel), under 5% elsewhere and on webasm.
 * 2. A regression test per trap of /work/shared/gpujs-notes.md (loop caps, resizing, non-square
 *    shapes, buffer reuse, argument kinds, pipeline types, GLSL-safe math, the 2^24 limit) and
 *    per design point of the backend (real-mode reporting, kernel cache, deterministic freeing).
 * 3. headlessgl: the same agreement properties where the optional `gl` package works; skipped
 *    with the reason otherwise.
 * 4. The GL code path without a GPU: in a child process, gpu.js gets a recording fake WebGL
 *    context (WebGL2 through a fake OffscreenCanvas; headlessgl through a fake `gl` module), the
 *    backend runs every SPECS case in texture/pipeline mode inside an engine scope (values are
 *    meaningless there: it checks the plumbing — uploads, texture outputs, eviction of kernels
 *    with live textures, and that every texture is freed when the scope ends — and captures
 *    every generated shader), and each shader is checked: loops of
 *    the GLSL ES 1.00 form `for (int i = c; i < c; i++)` only, and, where Python and Mesa's EGL
 *    are available, compiled and linked by Mesa (llvmpipe, GLES 3.2 context).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GPU } from 'gpu.js';
import { afterAll, describe, expect, it } from 'vitest';
import * as mp from '../src/index';
import type { Tensor } from '../src/core';
import { createGpujsBackend, gpujsModeAvailable, GpujsBackend, GpujsBuffer } from '../src/backends/gpujs';
import { agree as agreeWithReference, within, worstShare } from './conformance';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const TOL = { atol: 1e-5, rtol: 1e-4 };

/** Run `fn` on `backend` with inputs from host arrays; returns shape and values. */
function runOn(backend: string, fn: (...xs: Tensor[]) => Tensor, values: Float32Array[], shapes: number[][]) {
  return mp.withBackend(backend, () => {
    const xs = values.map((v, i) => mp.tensor(v, shapes[i]));
    const out = fn(...xs);
    return { shape: [...out.shape], data: out.toArray() };
  });
}

const agree = (backend: string, numRuns: number) => agreeWithReference(backend, TOL, numRuns, 2024);

afterAll(() => {
  for (const [b, w] of Object.entries(worstShare))
    console.log(`${b}: worst error ${(w * 100).toFixed(1)}% of the tolerance budget (1e-5 + 1e-4·|ref|)`);
});

const cpu = () => mp.getBackend('gpujs-cpu') as GpujsBackend;

/** Host values of `fn` on gpujs-cpu and on ref64, for the same float32 inputs. */
function both(fn: (...xs: Tensor[]) => Tensor, values: Float32Array[], shapes: number[][], backend = 'gpujs-cpu') {
  return { got: runOn(backend, fn, values, shapes), ref: runOn('ref64', fn, values, shapes) };
}
const rand = (n: number, seed: number, lo = -2, hi = 2) => {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + ((hi - lo) * s) / 2 ** 32;
  });
};

describe('gpujs-cpu agrees with the float64 reference on every primitive', () => {
  agree('gpujs-cpu', 60);
});

describe.runIf(gpujsModeAvailable('webasm').ok)(
  'gpujs-webasm agrees with the float64 reference on every primitive',
  () => {
    agree('gpujs-webasm', 30);
  },
);

describe('headlessgl', () => {
  const avail = gpujsModeAvailable('headlessgl');
  if (!avail.ok) {
    it.skip(`skipped: ${avail.why}`, () => {});
    it('reports why it cannot start', () => {
      expect(() => createGpujsBackend('headlessgl')).toThrow(/gl/);
    });
  } else {
    agree('gpujs-headlessgl', 10);
  }
});

/** `gl`: GLSL has no infinities/NaN guarantees (Infinity is FLT_MAX, sqrt(−x) is undefined). */
function traps(B: string, mathRtol: number, gl = false) {
  it('§4 loop cap: reductions over 1500 and 100,000 elements are complete', () => {
    mp.withBackend(B, () => {
      expect(mp.sum(mp.ones([1500])).item()).toBe(1500);
      expect(mp.sum(mp.full([100_000], 0.1)).item()).toBeCloseTo(10_000, 1);
      const x = Float32Array.from({ length: 3 * 1500 }, (_, i) => (i % 1500 === 1234 ? 7 + Math.floor(i / 1500) : 0));
      expect(Array.from(mp.max(mp.tensor(x, [3, 1500]), 1).toArray())).toEqual([7, 8, 9]);
      // leading-axis and non-adjacent-axis reductions over more than 1000 elements
      expect(Array.from(mp.sum(mp.ones([1500, 2]), 0).toArray())).toEqual([1500, 1500]);
      expect(Array.from(mp.sum(mp.ones([40, 3, 50]), [0, 2]).toArray())).toEqual([2000, 2000, 2000]);
    });
  });

  it('§4 loop cap: matmul and linear with K = 1500 and split-K (K = 5000), rows of 1500 in softmax/layerNormalize', () => {
    const cases: [string, (...xs: Tensor[]) => Tensor, number[][]][] = [
      [
        'matmul K=1500',
        (a, b) => mp.matmul(a, b),
        [
          [3, 1500],
          [1500, 2],
        ],
      ],
      [
        'matmul K=5000 transA',
        (a, b) => mp.matmul(a, b, { transA: true }),
        [
          [5000, 3],
          [5000, 2],
        ],
      ],
      [
        'matmul K=5000 batched transB',
        (a, b) => mp.matmul(a, b, { transB: true }),
        [
          [2, 2, 5000],
          [2, 3, 5000],
        ],
      ],
      ['linear K=1500 (bias in the matmul kernel)', (x, w, b) => mp.linear(x, w, b), [[3, 1500], [2, 1500], [2]]],
      [
        'linear K=5000 (split K: matmul, then the bias)',
        (x, w, b) => mp.linear(x, w, b),
        [[2, 2, 5000], [3, 5000], [3]],
      ],
      ['softmax D=1500', (x) => mp.softmax(x), [[2, 1500]]],
      ['layerNorm D=1500', (x) => mp.bind('layerNormalize', [x], { eps: 1e-6 }), [[2, 1500]]],
      [
        'layerNormVjp D=1500',
        (x, g) => mp.bind('layerNormalizeVjp', [x, g], { eps: 1e-6 }),
        [
          [2, 1500],
          [2, 1500],
        ],
      ],
    ];
    for (const [name, fn, shapes] of cases) {
      const values = shapes.map((s, i) =>
        rand(
          s.reduce((a, b) => a * b, 1),
          17 + i,
        ),
      );
      const { got, ref } = both(fn, values, shapes, B);
      within(got.data, ref.data, name, { atol: 1e-4, rtol: 1e-4 });
    }
  });

  it('matmul variants (naive, unroll4) and split-K with ragged chunks, against the reference', () => {
    const be = mp.getBackend(B) as GpujsBackend;
    const saved = be.matmulVariant;
    try {
      for (const variant of ['naive', 'unroll4'] as const) {
        be.matmulVariant = variant;
        for (const [K, ta, tb] of [
          [1, false, false],
          [5, true, false],
          [8, false, true],
          [13, true, true],
          [1001, false, false],
          [4097, true, false],
          [8193, false, true],
        ] as const) {
          const as = ta ? [2, K, 3] : [2, 3, K];
          const bs = tb ? [4, K] : [K, 4];
          const values = [rand(2 * 3 * K, K), rand(4 * K, K + 1)];
          const { got, ref } = both((a, b) => mp.matmul(a, b, { transA: ta, transB: tb }), values, [as, bs], B);
          within(got.data, ref.data, `matmul ${variant} K=${K} transA=${ta} transB=${tb}`, { atol: 1e-4, rtol: 1e-4 });
        }
      }
    } finally {
      be.matmulVariant = saved;
    }
  });

  it('§4 loop cap: scatterAdd with 3000 source rows onto one index', () => {
    mp.withBackend(B, () => {
      const idx = mp.tensor(new Float32Array(3000).fill(2), [3000]);
      const out = mp.scatterAdd(mp.ones([3000, 2]), idx, 0, 4);
      expect(Array.from(out.toArray())).toEqual([0, 0, 0, 0, 3000, 3000, 0, 0]);
    });
  });

  it('§1 resizing: one op at 2×2 then 1000×1000 gets a kernel per shape, with the right size', () => {
    mp.withBackend(B, () => {
      const small = mp.add(mp.ones([2, 2]), 1);
      const big = mp.add(mp.ones([1000, 1000]), 1);
      expect(small.toArray().length).toBe(4);
      const b = big.toArray();
      expect(b.length).toBe(1_000_000);
      expect(b[999_999]).toBe(2);
      expect(Array.from(mp.add(mp.ones([2, 2]), 2).toArray())).toEqual([3, 3, 3, 3]);
    });
  });

  it('§3 non-square shapes: transpose, broadcast and matmul on [3,7]-like shapes', () => {
    const cases: [string, (...xs: Tensor[]) => Tensor, number[][]][] = [
      ['transpose', (x) => mp.transpose(x), [[3, 7]]],
      ['transpose 3-d', (x) => mp.transpose(x, [2, 0, 1]), [[3, 7, 5]]],
      [
        'broadcast add',
        (a, b) => mp.add(a, b),
        [
          [3, 1, 7],
          [5, 1],
        ],
      ],
      [
        'matmul',
        (a, b) => mp.matmul(a, b),
        [
          [3, 5],
          [5, 7],
        ],
      ],
      [
        'matmul both transposed',
        (a, b) => mp.matmul(a, b, { transA: true, transB: true }),
        [
          [5, 3],
          [7, 5],
        ],
      ],
      [
        'matmul broadcast batch',
        (a, b) => mp.matmul(a, b),
        [
          [4, 1, 3, 5],
          [2, 5, 7],
        ],
      ],
      ['slice', (x) => mp.slice(x, [1, 2], [2, 4]), [[3, 7]]],
      ['pad', (x) => mp.pad(x, [0, 2], [1, 0]), [[3, 7]]],
      [
        'gather',
        (x, i) => mp.gather(x, i, 1),
        [
          [3, 7, 2],
          [3, 5],
        ],
      ],
      [
        'large odd dims',
        (a, b) => mp.mul(a, b),
        [
          [37, 53, 3],
          [53, 1],
        ],
      ],
    ];
    for (const [name, fn, shapes] of cases) {
      const values = shapes.map((s, i) => {
        const n = s.reduce((a, b) => a * b, 1);
        return name === 'gather' && i === 1 ? Float32Array.from(rand(n, 5, 0, 7), Math.floor) : rand(n, 31 + i);
      });
      const { got, ref } = both(fn, values, shapes, B);
      expect(got.shape, name).toEqual(ref.shape);
      within(got.data, ref.data, name, TOL);
    }
  });

  it('§5 immutable results: a second call of the same kernel does not overwrite the first', () => {
    mp.withBackend(B, () => {
      const a = mp.exp(mp.tensor([0, 1], [2]));
      const before = Array.from(a.toArray());
      const b = mp.exp(mp.tensor([2, 3], [2]));
      expect(Array.from(a.toArray())).toEqual(before);
      expect(b.toArray()[0]).toBeCloseTo(Math.exp(2), 5);
      const buf = (a as unknown as { concrete(): { buffer: GpujsBuffer } }).concrete().buffer;
      const buf2 = (b as unknown as { concrete(): { buffer: GpujsBuffer } }).concrete().buffer;
      expect(buf.store).not.toBe(buf2.store);
    });
  });

  it('§2/§6 one buffer kind per backend: uploads and kernel outputs are wrapped alike', () => {
    mp.withBackend(B, () => {
      const x = mp.tensor([1, 2, 3, 4], [2, 2]);
      const y = mp.matmul(x, x);
      const z = mp.reshape(y, [4]);
      const kinds = [x, y, z].map((t) => (t.concrete().buffer as GpujsBuffer).kind);
      expect(new Set(kinds)).toEqual(new Set([(mp.getBackend(B) as GpujsBackend).textures ? 'texture' : 'array']));
      expect(Array.from(z.toArray())).toEqual([7, 10, 15, 22]);
    });
  });

  it('§8 GLSL-safe math: tanh, erf, gelu, pow at the edges', () => {
    const x = Float32Array.from([50, -50, 1e-8, -1e-8, 0.2, 0.3, 3, -6, 1e-30]);
    for (const [name, fn] of [
      ['tanh', mp.tanh],
      ['erf', mp.erf],
      ['gelu', mp.gelu],
      ['geluGrad', (t: Tensor) => mp.bind('geluGrad', [t], {})],
    ] as [string, (t: Tensor) => Tensor][]) {
      const { got, ref } = both(fn, [x], [[x.length]], B);
      // relative accuracy everywhere (tiny arguments included), down to float32 underflow
      within(got.data, ref.data, name, { atol: 1e-35, rtol: mathRtol });
    }
    // gelu far in the negative tail is relatively accurate (Φ from erfc, not 1 + erf, which
    // cancels; reference values x·erfc(−x/√2)/2 from Python's math.erfc)
    const tail = mp.withBackend(B, () => mp.gelu(mp.tensor([-5, -7, -9], [3])).toArray());
    within(tail, [-1.4332578593959731e-6, -8.958687807200846e-12, -1.015729565358458e-18], 'gelu tail', {
      atol: 0,
      rtol: mathRtol,
    });
    const a = Float32Array.from([-2, -2, -8, 0, 0, 0, 2.5]);
    const b = Float32Array.from([3, 2, 1 / 3, 2, 0, -1, 0.5]);
    const p = both(mp.pow, [a, b], [[7], [7]], B);
    expect(Array.from(p.got.data.slice(0, 2))).toEqual([-8, 4]);
    expect(Array.from(p.got.data.slice(3, 5))).toEqual([0, 1]);
    if (!gl) {
      expect(Number.isNaN(p.got.data[2])).toBe(true);
      expect(p.got.data[5]).toBe(Infinity);
    }
    expect(p.got.data[6]).toBeCloseTo(Math.sqrt(2.5), 6);
  });

  it('§9 float32 index arithmetic: buffers beyond 2^24 elements are refused, not silently wrong', () => {
    mp.withBackend(B, () => {
      expect(() => mp.broadcastTo(mp.ones([1]), [4097, 4097])).toThrow(RangeError);
    });
  });

  it('indices out of range are reported (gather, scatterAdd)', () => {
    mp.withBackend(B, () => {
      expect(() => mp.gather(mp.ones([3, 2]), mp.tensor([0, 3], [2]), 0)).toThrow(RangeError);
      expect(() => mp.scatterAdd(mp.ones([2, 2]), mp.tensor([0, 5], [2]), 0, 3)).toThrow(RangeError);
    });
  });

  it('empty tensors and degenerate shapes', () => {
    mp.withBackend(B, () => {
      expect(mp.add(mp.ones([0, 3]), 1).toArray().length).toBe(0);
      expect(Array.from(mp.sum(mp.ones([2, 0]), 1).toArray())).toEqual([0, 0]);
      expect(Array.from(mp.max(mp.ones([2, 0]), 1).toArray())).toEqual([-Infinity, -Infinity]);
      expect(Array.from(mp.matmul(mp.ones([2, 0]), mp.ones([0, 2])).toArray())).toEqual([0, 0, 0, 0]);
      expect(Array.from(mp.concat([mp.ones([0, 2]), mp.full([1, 2], 3)], 0).toArray())).toEqual([3, 3]);
      expect(mp.sum(mp.tensor(5)).item()).toBe(5);
    });
  });

  it('concat of more inputs than one kernel takes (texture units)', () => {
    mp.withBackend(B, () => {
      const xs = Array.from({ length: 19 }, (_, i) => mp.full([2, 1], i));
      const out = mp.concat(xs, 1).toArray();
      expect(Array.from(out.slice(0, 19))).toEqual(Array.from({ length: 19 }, (_, i) => i));
    });
  });
}

describe('gpu.js traps (gpujs-notes.md), as regression tests: gpujs-cpu', () => traps('gpujs-cpu', 1e-6));
// webasm computes in float32 inside kernels: exp/tanh/erfc to a few float32 ulps
describe.runIf(gpujsModeAvailable('webasm').ok)(
  'gpu.js traps (gpujs-notes.md), as regression tests: gpujs-webasm',
  () => traps('gpujs-webasm', 1e-5),
);
// GLSL exp/log are good to ~1e-6 relative (gpujs-notes: llvmpipe exp 5.8e-7, log 1.1e-6)
describe.runIf(gpujsModeAvailable('headlessgl').ok)(
  'gpu.js traps (gpujs-notes.md), as regression tests: gpujs-headlessgl',
  () => traps('gpujs-headlessgl', 2e-5, true),
);

describe('the backend reports what really runs', () => {
  it('names the kernel classes that ran and the real mode', () => {
    const b = cpu();
    mp.withBackend('gpujs-cpu', () => mp.add(mp.ones([2]), 1).toArray());
    expect(b.name).toBe('gpujs-cpu');
    expect(b.kernelClasses()).toEqual(['CPUKernel']);
    expect(b.fallbackReasons()).toEqual([]);
    expect(b.describe()).toMatch(/gpu\.js cpu \(CPUKernel\)/);
  });

  it.runIf(!GPU.isHeadlessGLSupported)(
    "mode 'gpu' without headless-gl is reported as the backend gpu.js silently picked",
    () => {
      const b = createGpujsBackend('gpu');
      expect(b.describe()).toMatch(/gpu → runs as (webasm|cpu)/);
      expect(b.textures).toBe(false);
      expect(Array.from(mp.withBackend('gpujs-gpu', () => mp.mul(mp.tensor([1, 2], [2]), 3).toArray()))).toEqual([
        3, 6,
      ]);
    },
  );

  it('webgl2 outside a browser fails with the reason', () => {
    expect(() => createGpujsBackend('webgl2')).toThrow(/browser/);
  });
});

describe('kernel cache and deterministic freeing', () => {
  it('compiles once per (op, shapes, params) and reuses the kernel', () => {
    const b = cpu();
    mp.withBackend('gpujs-cpu', () => {
      const x = mp.ones([5, 6]);
      mp.sum(mp.mul(x, x), 1).toArray();
      const s0 = b.stats();
      for (let i = 0; i < 5; i++) mp.sum(mp.mul(x, x), 1).toArray();
      const s1 = b.stats();
      expect(s1.compiles).toBe(s0.compiles);
      expect(s1.hits).toBeGreaterThanOrEqual(s0.hits + 10);
    });
  });

  it('dispose frees a buffer now; reshapes share it by reference count; use after dispose throws', () => {
    const b = cpu();
    mp.withBackend('gpujs-cpu', () => {
      const base = b.stats().liveStores;
      const x = mp.tensor([1, 2, 3, 4], [2, 2]).concrete();
      const y = mp.reshape(x, [4]).concrete();
      expect(b.stats().liveStores).toBe(base + 1); // one store, two buffers
      x.dispose();
      x.dispose(); // idempotent
      expect(Array.from(y.toArray())).toEqual([1, 2, 3, 4]);
      expect(() => mp.neg(x)).toThrow(/after dispose/);
      y.dispose();
      expect(b.stats().liveStores).toBe(base);
    });
  });

  it('buffers collected without dispose are freed by the FinalizationRegistry (fallback)', () => {
    // needs --expose-gc: a child process of its own
    const code = `
      const mp = await import('./src/index.ts');
      const b = mp.getBackend('gpujs-cpu');
      mp.withBackend('gpujs-cpu', () => { for (let i = 0; i < 100; i++) mp.exp(mp.ones([10])); });
      const before = b.stats().liveStores;
      for (let i = 0; i < 3; i++) { gc(); await new Promise((r) => setTimeout(r, 20)); }
      console.log(JSON.stringify({ before, after: b.stats().liveStores, finalized: b.stats().finalized }));`;
    const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    const r = JSON.parse(out.trim().split('\n').pop() as string);
    expect(r.before).toBeGreaterThanOrEqual(200);
    expect(r.after).toBeLessThan(r.before);
    expect(r.finalized).toBeGreaterThan(0);
  });

  it('an engine scope frees every intermediate of a step and keeps its result', () => {
    const b = cpu();
    mp.withBackend('gpujs-cpu', () => {
      const w = mp.tensor(rand(64 * 32, 3), [64, 32]);
      const x = mp.tensor(rand(16 * 64, 4), [16, 64]);
      const step = () =>
        mp.scope(() => {
          const [loss, g] = mp.valueAndGrad((p: Tensor) => mp.mean(mp.square(mp.gelu(mp.matmul(x, p)))))(w);
          return { loss, g };
        });
      const first = step();
      first.loss.concrete().dispose();
      first.g.concrete().dispose();
      const base = b.stats().liveStores;
      for (let i = 0; i < 5; i++) {
        const r = step();
        expect(Number.isFinite(r.loss.item())).toBe(true);
        r.loss.concrete().dispose();
        r.g.concrete().dispose();
      }
      expect(b.stats().liveStores).toBe(base);
    });
  });
});

/** Child-process script: a recording fake WebGL context under gpu.js, then the backend in a GL mode. */
const FAKE_GL_SCRIPT = String.raw`
const shaders = [];
class WebGLRenderingContext {}
class WebGL2RenderingContext extends WebGLRenderingContext {}
const consts = new Map();
const constOf = (name) => { if (!consts.has(name)) consts.set(name, 0x9000 + consts.size); return consts.get(name); };
const isConst = (p) => typeof p === 'string' && /^[A-Z_0-9]+$/.test(p);
function makeFake(gl2) {
  const target = Object.create((gl2 ? WebGL2RenderingContext : WebGLRenderingContext).prototype);
  const kinds = new Map();
  const handlers = {
    getExtension: (name) => new Proxy({}, { get: (_t, p) => (isConst(p) ? constOf(name + p) : () => {}) }),
    getSupportedExtensions: () => ['OES_texture_float', 'EXT_color_buffer_float'],
    getParameter: (p) => (p === constOf('MAX_TEXTURE_SIZE') ? 16384 : p === constOf('RENDERER') ? 'ANGLE' : 16),
    getShaderPrecisionFormat: () => ({ precision: 23, rangeMin: 127, rangeMax: 127 }),
    createShader: (k) => { const sh = {}; kinds.set(sh, k === constOf('VERTEX_SHADER') ? 'vert' : 'frag'); return sh; },
    shaderSource: (sh, src) => shaders.push({ kind: kinds.get(sh), src }),
    getShaderParameter: () => true,
    getProgramParameter: () => true,
    checkFramebufferStatus: () => constOf('FRAMEBUFFER_COMPLETE'),
    getAttribLocation: () => 0,
    getError: () => 0,
    readPixels: (...a) => { if (a[6] && a[6].fill) a[6].fill(a[6] instanceof Float32Array ? 1 : 0); },
    isContextLost: () => false,
    canvas: { width: 1, height: 1 },
  };
  return new Proxy(target, { get: (_t, p) => (typeof p !== 'string' ? undefined : p in handlers ? handlers[p] : isConst(p) ? constOf(p) : () => ({})) });
}
globalThis.WebGLRenderingContext = WebGLRenderingContext;
globalThis.WebGL2RenderingContext = WebGL2RenderingContext;
globalThis.OffscreenCanvas = class { getContext(k) { return k === 'webgl2' ? makeFake(true) : k === 'webgl' ? makeFake(false) : null; } };
const { createRequire } = await import('node:module');
const Module = createRequire(import.meta.url)('module');
const load = Module._load;
Module._load = function (request, ...rest) { return request === 'gl' ? () => makeFake(false) : load.call(this, request, ...rest); };

const MODE = process.env.FAKE_GL_MODE;
const mp = await import('./src/index.ts');
const { SPECS, materialise } = await import('./property-tests/specs.ts');
const fc = (await import('fast-check')).default;
const be = mp.getBackend(MODE);
be.maxKernels = 64; // exercise eviction under live textures
const first = shaders.length; // gpu.js's own feature probes come first
const base = be.stats().liveStores;
const errors = [];
for (const spec of SPECS)
  for (const [i, c] of fc.sample(spec.gen, { numRuns: 12, seed: 5 }).entries()) {
    try { mp.withBackend(MODE, () => mp.scope(() => { c.fn(...materialise(c, i)).toArray(); })); }
    catch (e) { errors.push(spec.name + ': ' + e.message); }
  }
mp.withBackend(MODE, () => mp.scope(() => {
  mp.sum(mp.ones([1500])).toArray();
  mp.matmul(mp.ones([2, 5000]), mp.ones([5000, 3])).toArray();
  mp.matmul(mp.ones([2, 4097]), mp.ones([4097, 3])).toArray();
  mp.matmul(mp.ones([2, 13]), mp.ones([13, 3])).toArray();
  be.matmulVariant = 'naive';
  mp.matmul(mp.ones([2, 4097]), mp.ones([3, 4097]), { transB: true }).toArray();
  mp.softmax(mp.ones([2, 1500])).toArray();
  mp.bind('layerNormalizeVjp', [mp.ones([2, 1500]), mp.ones([2, 1500])], { eps: 1e-6 }).toArray();
  mp.scatterAdd(mp.ones([3000, 2]), mp.tensor(new Float32Array(3000).fill(2), [3000]), 0, 4).toArray();
}));
const leaked = be.stats().liveStores - base; // every case ran in a scope: all textures freed
const own = shaders.slice(first);
const frags = [...new Set(own.filter((s) => s.kind === 'frag').map((s) => s.src))];
const badLoops = [];
for (const f of frags) for (const m of f.matchAll(/for \((.*?)\)\{/g)) if (!/^int (\w+)=-?\d+;\(\1<\d+\);\1\+\+$/.test(m[1])) badLoops.push(m[1]);
const pairs = [];
for (let i = 0; i + 1 < own.length; i += 2) if (own[i].kind === 'vert' && own[i + 1].kind === 'frag') pairs.push({ vert: own[i].src, frag: own[i + 1].src });
const unique = [...new Map(pairs.map((p) => [p.frag, p])).values()];
(await import('node:fs')).writeFileSync(process.env.FAKE_GL_OUT, JSON.stringify(unique));
console.log(JSON.stringify({ describe: be.describe(), errors, leaked, stats: be.stats(), fragments: frags.length, highp: frags.every((f) => f.includes('precision highp float')), badLoops }));
`;

/** Compiles and links shader pairs with Mesa through EGL (surfaceless); exit 3 when unavailable. */
const MESA_COMPILE_PY = String.raw`
import ctypes, json, sys
try:
    egl = ctypes.CDLL('libEGL.so.1'); gles = ctypes.CDLL('libGLESv2.so.2')
    egl.eglGetProcAddress.restype = ctypes.c_void_p
    getPlat = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p)(egl.eglGetProcAddress(b'eglGetPlatformDisplayEXT'))
    dpy = ctypes.c_void_p(getPlat(0x31DD, None, None))
    assert egl.eglInitialize(dpy, None, None)
    egl.eglBindAPI(0x30A0)
    egl.eglCreateContext.restype = ctypes.c_void_p
    ctx = egl.eglCreateContext(dpy, None, None, (ctypes.c_int * 3)(0x3098, 3, 0x3038))
    assert ctx and egl.eglMakeCurrent(dpy, None, None, ctypes.c_void_p(ctx))
except Exception as e:
    print('no EGL/GLES here:', e); sys.exit(3)
gles.glGetString.restype = ctypes.c_char_p
def compile(kind, src):
    sh = gles.glCreateShader(kind); s = ctypes.c_char_p(src.encode())
    gles.glShaderSource(sh, 1, ctypes.byref(s), None); gles.glCompileShader(sh)
    ok = ctypes.c_int(); gles.glGetShaderiv(sh, 0x8B81, ctypes.byref(ok))
    log = ctypes.create_string_buffer(4096); gles.glGetShaderInfoLog(sh, 4096, None, log)
    return sh, ok.value, log.value.decode(errors='replace')
bad = []
items = json.load(open(sys.argv[1]))
for it in items:
    vs, okv, lv = compile(0x8B31, it['vert']); fs, okf, lf = compile(0x8B30, it['frag'])
    linked = ctypes.c_int()
    if okv and okf:
        p = gles.glCreateProgram(); gles.glAttachShader(p, vs); gles.glAttachShader(p, fs); gles.glLinkProgram(p)
        gles.glGetProgramiv(p, 0x8B82, ctypes.byref(linked))
    if not (okv and okf and linked.value): bad.append(lv + lf)
print(json.dumps({'renderer': gles.glGetString(0x1F01).decode(), 'compiled': len(items), 'failures': bad[:3], 'failed': len(bad)}))
`;

function fakeGlRun(mode: string) {
  const dir = mkdtempSync(join(tmpdir(), 'gpujs-fakegl-'));
  const out = join(dir, 'shaders.json');
  const res = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', FAKE_GL_SCRIPT], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, FAKE_GL_MODE: mode, FAKE_GL_OUT: out },
    maxBuffer: 1 << 26,
  });
  return { summary: JSON.parse(res.trim().split('\n').pop() as string), shaders: out, dir };
}

describe('the GL code path on a fake WebGL context (no GPU needed)', () => {
  for (const [mode, glsl] of [
    ['gpujs-webgl2', 'GLSL ES 3.00'],
    ['gpujs-headlessgl', 'GLSL ES 1.00'],
  ] as const) {
    it(`${mode}: every primitive runs in texture mode and every shader (${glsl}) is valid`, () => {
      const { summary, shaders, dir } = fakeGlRun(mode);
      expect(summary.errors).toEqual([]);
      expect(summary.leaked).toBe(0);
      expect(summary.describe).toMatch(/pipeline: textures on the device/);
      expect(summary.stats.evictions).toBeGreaterThan(0);
      expect(summary.fragments).toBeGreaterThan(100);
      expect(summary.highp).toBe(true);
      expect(summary.badLoops).toEqual([]);
      const py = join(dir, 'compile.py');
      writeFileSync(py, MESA_COMPILE_PY);
      const r = spawnSync('python3', [py, shaders], { encoding: 'utf8' });
      if (r.error || r.status === 3 || !existsSync(shaders)) {
        console.log(`${mode}: Mesa compile check skipped (${r.error?.message ?? r.stdout.trim()})`);
        return;
      }
      const c = JSON.parse(r.stdout.trim().split('\n').pop() as string);
      console.log(
        `${mode}: ${c.compiled} distinct shaders compiled and linked by Mesa (${c.renderer}), ${c.failed} failed`,
      );
      expect(c.failures).toEqual([]);
    });
  }
});
