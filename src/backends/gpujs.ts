/**
 * The gpu.js backend: every primitive's forward pass is a gpu.js kernel (kernels/gpujs/*).
 *
 * Modes. `createGpujsBackend(mode)` asks gpu.js for `cpu` (kernels translated to JS),
 * `webasm` (WebAssembly, f32x4 SIMD), `headlessgl` (Node + the optional `gl` package),
 * `webgl2` (browsers) or `gpu` (gpu.js's own pick). Every gpu.js fallback is silent, so the
 * backend checks what really runs — the class of each compiled kernel and its `fallbackReason` —
 * and `describe()` reports it (e.g. `gpu` in Node without `gl` runs as webasm).
 * `defaultGpujsMode()` is the mode for a bare `gpujs`: webgl2 in a browser, headlessgl in Node
 * when it works, cpu otherwise (CI).
 *
 * Buffers are `GpujsBuffer`s: a shape and a reference-counted store holding either a
 * Float32Array (cpu, webasm) or a gpu.js Texture (GL modes). In GL modes every kernel runs with
 * `pipeline: true` — textures in, textures out — and only `download` reads back; uploads go
 * through a copy kernel, so a kernel's arguments are always of one kind (gpujs-notes §2, §6).
 *
 * Kernels are compiled once per (op, shapes, params) and cached; each has a fixed output size
 * (no dynamicOutput), `tactic: 'precision'`, `immutable: true` (a result is never overwritten by
 * the next call, §5) and literal loop bounds with `loopMaxIterations` set to cover them (§4).
 * The cache is an LRU; in GL modes a kernel is only destroyed when none of its output textures
 * is alive (gpu.js's `Kernel.destroy()` deletes every texture the kernel made).
 *
 * Memory. `dispose(buf)` frees a buffer now (deletes its texture when the last reference goes:
 * a reshape shares its input's store). It is idempotent, so an engine scope may dispose
 * everything it created except its results; using a disposed buffer throws. A
 * FinalizationRegistry frees buffers that are garbage-collected without a dispose — a fallback
 * only: GC does not see GPU memory pressure.
 */
import type { GPU, IGPUKernelSettings } from 'gpu.js';
import { isNode } from '../../kernels/platform';
import { gpujsLib } from './gpujs-lib';
import type { Backend, KernelTable } from '../backend';
import { registerBackend } from '../core';
import { matmulDims } from '../primitives';
import { fmt, size, type Shape } from '../shape';
import { copyKernel, type KernelSource, lit } from '../../kernels/gpujs/common';
import { elementwiseKernel, exprKernel, type ElementwiseOp } from '../../kernels/gpujs/elementwise';
import {
  broadcastKernel,
  CONCAT_MAX_INPUTS,
  concatKernel,
  padKernel,
  sliceKernel,
  transposeKernel,
} from '../../kernels/gpujs/layout';
import { planReduce, reduceKernel, type ReduceKind } from '../../kernels/gpujs/reduce';
import { axisView, gatherKernel, inverseIndex, scatterAddKernel, scatterLoopBound } from '../../kernels/gpujs/indexing';
import { type ArgKind, mapKernel, rowChunk, rowMapKernel, rowReduceKernel } from '../../kernels/gpujs/rowwise';
import { defaultMatmulVariant, matmulKernel, type MatmulVariant, planMatmul } from '../../kernels/gpujs/matmul';

export type GpujsMode = 'cpu' | 'webasm' | 'headlessgl' | 'gpu' | 'webgl2';
export const GPUJS_MODES: GpujsMode[] = ['cpu', 'webasm', 'headlessgl', 'gpu', 'webgl2'];

/** Largest buffer the float32 index arithmetic of the kernels addresses exactly (gpujs-notes §9). */
export const MAX_ELEMENTS = 2 ** 24;
/** Most recently used kernels that eviction never touches. */
const PROTECT_RECENT = 32;
/** Uploads up to this many elements keep a host copy (index tensors: validation, scatterAdd). */
const HOST_SHADOW_MAX = 1 << 20;

// A gpu.js Texture (GL modes), as far as this backend uses it.
interface GpuTexture {
  toArray(): Float32Array | number[];
  delete(): void;
}
// The part of a WebGL2 context that asynchronous read-back uses.
interface WebGL2Fences {
  readonly SYNC_GPU_COMMANDS_COMPLETE: number;
  readonly TIMEOUT_EXPIRED: number;
  fenceSync(condition: number, flags: number): unknown;
  clientWaitSync(sync: unknown, flags: number, timeout: number): number;
  deleteSync(sync: unknown): void;
  flush(): void;
}
// A compiled kernel (gpu.js's run shortcut).
interface KernelFn {
  (...args: unknown[]): unknown;
  kernel?: { constructor: { name: string; mode?: string }; fallbackReason?: string | null; context?: unknown };
  destroy(): void;
}

interface CacheEntry {
  key: string;
  fn: KernelFn;
  /** Output buffers of this kernel that are still alive (GL modes: gates destruction). */
  live: number;
  checked: boolean;
}

interface Store {
  n: number;
  data: Float32Array | null;
  tex: GpuTexture | null;
  /** Host copy of uploaded data (small uploads only). */
  host: Float32Array | null;
  refs: number;
  owner: CacheEntry | null;
}

/** A buffer of the gpu.js backend: the same wrapper whether the data is a texture or an array. */
export class GpujsBuffer {
  disposed = false;
  constructor(
    readonly shape: readonly number[],
    readonly store: Store,
  ) {}
  get kind(): 'texture' | 'array' {
    return this.store.tex ? 'texture' : 'array';
  }
}

export interface GpujsStats {
  /** Buffers not yet disposed (or collected). */
  liveBuffers: number;
  /** Distinct stores (textures/arrays) alive; reshapes share one. */
  liveStores: number;
  /** Elements held by live stores. */
  liveElements: number;
  /** Kernels in the cache. */
  kernels: number;
  compiles: number;
  hits: number;
  evictions: number;
  /** Buffers freed by the FinalizationRegistry (not disposed explicitly). */
  finalized: number;
  /** Read-backs of device textures to the host (`download` of a texture), and their elements. */
  downloads: number;
  downloadedElements: number;
}

const gpus = new Map<string, GPU>();
/** One GPU instance per requested mode per process (gpujs-notes §10). */
function gpuFor(mode: GpujsMode): GPU {
  let g = gpus.get(mode);
  if (!g) {
    g = new (gpujsLib().GPU)({ mode: mode as never });
    gpus.set(mode, g);
  }
  return g;
}

/**
 * The mode `gpujs` picks: outside Node (a page or a Web Worker: gpu.js tests WebGL2 on a canvas or
 * an OffscreenCanvas) webgl2 where it works, else webasm; in Node headlessgl where it works, else cpu.
 */
export function defaultGpujsMode(): GpujsMode {
  const { GPU } = gpujsLib();
  if (!isNode) return GPU.isWebGL2Supported ? 'webgl2' : 'webasm';
  return GPU.isHeadlessGLSupported ? 'headlessgl' : 'cpu';
}

/** Whether `mode` can start here, and if not, why. */
export function gpujsModeAvailable(mode: GpujsMode): { ok: boolean; why?: string } {
  const { GPU } = gpujsLib();
  switch (mode) {
    case 'cpu':
    case 'gpu':
      return { ok: true };
    case 'webasm':
      return GPU.isWebAssemblySupported ? { ok: true } : { ok: false, why: 'WebAssembly is not supported here' };
    case 'headlessgl':
      return GPU.isHeadlessGLSupported
        ? { ok: true }
        : {
            ok: false,
            why: 'headless-gl is not usable: the optional `gl` package (gl@8.1.6, built from source; apt: build-essential python3 pkg-config libxi-dev libxext-dev libx11-dev libgl1-mesa-dev) is not installed, or no display is available (run under `xvfb-run -a`)',
          };
    case 'webgl2':
      return GPU.isWebGL2Supported
        ? { ok: true }
        : {
            ok: false,
            why: isNode
              ? 'WebGL2 is only available in browsers'
              : 'this browser gives no WebGL2 context with float textures',
          };
  }
}

const GL_CLASSES = new Set(['HeadlessGLKernel', 'WebGLKernel', 'WebGL2Kernel']);

export class GpujsBackend implements Backend {
  readonly name: string;
  readonly precision = 'float32' as const;
  readonly kernels: KernelTable;
  /** Whether buffers are textures (a GL kernel class really runs). */
  readonly textures: boolean;
  /** Matmul kernel variant (default per kernel class; tests and the bench switch it). */
  matmulVariant: MatmulVariant;
  /** Most kernels kept compiled (LRU). */
  maxKernels: number;

  private readonly gpu: GPU;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly classes = new Set<string>();
  private readonly fallbacks = new Set<string>();
  private renderer: string | null = null;
  private readonly counters = {
    liveBuffers: 0,
    liveStores: 0,
    liveElements: 0,
    compiles: 0,
    hits: 0,
    evictions: 0,
    finalized: 0,
    downloads: 0,
    downloadedElements: 0,
  };
  private readonly registry = new FinalizationRegistry<Store>((store) => {
    this.counters.finalized++;
    this.counters.liveBuffers--;
    this.release(store);
  });

  constructor(readonly mode: GpujsMode) {
    const avail = gpujsModeAvailable(mode);
    if (!avail.ok) throw new Error(`gpujs-${mode}: ${avail.why}`);
    this.name = `gpujs-${mode}`;
    this.gpu = gpuFor(mode);
    // probe what really runs: gpu.js picks (and falls back) silently
    const probe = this.gpu.createKernel(copyKernel(1).source, {
      output: [1],
      tactic: 'precision',
      precision: 'single',
      immutable: true,
      pipeline: true,
    }) as unknown as KernelFn;
    const r = probe(new Float32Array([1]));
    const cls = probe.kernel?.constructor.name ?? 'unknown';
    this.textures = GL_CLASSES.has(cls);
    if (this.textures) {
      this.renderer = glRenderer(probe.kernel?.context);
      (r as GpuTexture).delete();
    }
    probe.destroy();
    this.classes.add(cls);
    this.matmulVariant = defaultMatmulVariant(cls);
    this.maxKernels = 4096;
    this.kernels = this.makeKernels();
  }

  describe(): string {
    const classes = [...this.classes].join(', ');
    const ran = [...new Set([...this.classes].map(classMode))].join(' + ');
    const parts = [`gpu.js ${this.mode === ran ? ran : `${this.mode} → runs as ${ran}`} (${classes})`];
    parts.push(this.textures ? 'pipeline: textures on the device' : 'buffers: Float32Array on the host');
    if (this.renderer) parts.push(`renderer: ${this.renderer}`);
    if (isNode) parts.push(`headlessgl ${gpujsLib().GPU.isHeadlessGLSupported ? 'available' : 'unavailable'}`);
    if (this.fallbacks.size) parts.push(`FALLBACKS: ${[...this.fallbacks].join('; ')}`);
    return parts.join('; ');
  }

  /** The gpu.js kernel classes that have run (e.g. ['WebAssemblyKernel']). */
  kernelClasses(): string[] {
    return [...this.classes];
  }

  /** Kernels that gpu.js silently moved to another backend, with its reasons. */
  fallbackReasons(): string[] {
    return [...this.fallbacks];
  }

  stats(): GpujsStats {
    return { ...this.counters, kernels: this.cache.size };
  }

  // ------------------------------------------------------------------------------------------
  // buffers

  upload(data: Float32Array | Float64Array | readonly number[], shape: Shape): GpujsBuffer {
    const n = size(shape);
    if (data.length !== n) throw new Error(`${this.name}: ${data.length} values for shape ${fmt(shape)}`);
    const arr = Float32Array.from(data);
    if (n === 0 || !this.textures) return this.wrap(shape, arr, null, null, null);
    checkSize(n);
    const entry = this.kernel(`copy|${n}`, () => copyKernel(n));
    const out = this.call(entry, [arr]);
    if (out instanceof Float32Array) return this.wrap(shape, out, null, null, null); // fell back: see describe()
    return this.wrap(shape, null, out, n <= HOST_SHADOW_MAX ? arr : null, entry);
  }

  download(buf: unknown, shape: Shape): Float32Array {
    const b = this.live(buf);
    const n = size(shape);
    if (b.store.data) return b.store.data.slice(0, n);
    this.counters.downloads++;
    this.counters.downloadedElements += n;
    const a = (b.store.tex as GpuTexture).toArray();
    return a instanceof Float32Array && a.length === n
      ? a
      : Float32Array.from((a as ArrayLike<number>).length === n ? a : Array.prototype.slice.call(a, 0, n));
  }

  /**
   * `download` after the device has finished the buffer's work, waited for without blocking: in
   * WebGL2 a fence polled from timers (so a page stays responsive while the GPU computes), then the
   * read-back; host buffers and other GL contexts read at once.
   */
  async downloadAsync(buf: unknown, shape: Shape): Promise<Float32Array> {
    const tex = this.live(buf).store.tex as (GpuTexture & { context?: unknown }) | undefined;
    const gl = tex?.context as WebGL2Fences | undefined;
    if (gl && typeof gl.fenceSync === 'function') {
      const sync = gl.fenceSync(gl.SYNC_GPU_COMMANDS_COMPLETE, 0);
      if (sync) {
        gl.flush();
        try {
          while (gl.clientWaitSync(sync, 0, 0) === gl.TIMEOUT_EXPIRED) await new Promise((r) => setTimeout(r, 1));
        } finally {
          gl.deleteSync(sync);
        }
      }
    } else await Promise.resolve();
    return this.download(buf, shape);
  }

  dispose(buf: unknown): void {
    const b = buf as GpujsBuffer;
    if (!(b instanceof GpujsBuffer) || b.disposed) return;
    b.disposed = true;
    this.registry.unregister(b);
    this.counters.liveBuffers--;
    this.release(b.store);
  }

  /** Destroy every cached kernel (buffers stay valid in cpu/webasm modes only). */
  clearKernels(): void {
    for (const e of this.cache.values()) if (!this.textures || e.live === 0) this.destroyEntry(e);
  }

  private wrap(
    shape: Shape,
    data: Float32Array | null,
    tex: GpuTexture | null,
    host: Float32Array | null,
    owner: CacheEntry | null,
  ): GpujsBuffer {
    const n = size(shape);
    const store: Store = { n, data, tex, host, refs: 1, owner: tex ? owner : null };
    if (store.owner) store.owner.live++;
    this.counters.liveStores++;
    this.counters.liveElements += n;
    return this.track(new GpujsBuffer([...shape], store));
  }

  private track(b: GpujsBuffer): GpujsBuffer {
    this.counters.liveBuffers++;
    this.registry.register(b, b.store, b);
    return b;
  }

  /** A second buffer on the same store (reshape). */
  private share(b: GpujsBuffer, shape: Shape): GpujsBuffer {
    b.store.refs++;
    return this.track(new GpujsBuffer([...shape], b.store));
  }

  private release(store: Store): void {
    if (--store.refs > 0) return;
    this.counters.liveStores--;
    this.counters.liveElements -= store.n;
    if (store.tex) {
      store.tex.delete();
      store.tex = null;
    }
    if (store.owner) store.owner.live--;
    store.data = null;
    store.host = null;
  }

  private live(buf: unknown): GpujsBuffer {
    if (!(buf instanceof GpujsBuffer))
      throw new Error(`${this.name}: not a gpu.js buffer (${Object.prototype.toString.call(buf)})`);
    if (buf.disposed || buf.store.refs <= 0)
      throw new Error(`${this.name}: buffer of shape ${fmt(buf.shape)} used after dispose`);
    return buf;
  }

  private zeros(shape: Shape, fill = 0): GpujsBuffer {
    return this.upload(new Float32Array(size(shape)).fill(fill), shape);
  }

  /** Host values of a buffer: its array, its upload copy, or a download. */
  private hostValues(b: GpujsBuffer): Float32Array {
    return b.store.data ?? b.store.host ?? this.download(b, b.shape);
  }

  // ------------------------------------------------------------------------------------------
  // kernels

  private kernel(key: string, make: () => KernelSource): CacheEntry {
    const hit = this.cache.get(key);
    if (hit) {
      this.counters.hits++;
      this.cache.delete(key); // LRU: most recent last
      this.cache.set(key, hit);
      return hit;
    }
    const src = make();
    checkSize(src.n);
    const fn = this.gpu.createKernel(src.source, {
      output: [src.n],
      tactic: 'precision',
      precision: 'single',
      immutable: true,
      pipeline: this.textures,
      dynamicOutput: false,
      dynamicArguments: false,
      // accepted by gpu.js at run time, missing from its typings
      loopMaxIterations: Math.max(1000, src.loopMax + 1),
    } as IGPUKernelSettings) as unknown as KernelFn;
    const entry: CacheEntry = { key, fn, live: 0, checked: false };
    this.counters.compiles++;
    if (this.cache.size >= this.maxKernels) this.evict();
    this.cache.set(key, entry);
    return entry;
  }

  /**
   * Destroy least-recently-used kernels down to 3/4 of the cap. The most recently used entries
   * are never candidates (an op may hold a few entries while it runs), nor, in GL modes, kernels
   * with live output textures (destroying a gpu.js kernel deletes every texture it made).
   */
  private evict(): void {
    const target = Math.floor(this.maxKernels * 0.75);
    const candidates = [...this.cache.values()].slice(0, Math.max(0, this.cache.size - PROTECT_RECENT));
    for (const e of candidates) {
      if (this.cache.size <= target) break;
      if (this.textures && e.live > 0) continue;
      this.destroyEntry(e);
      this.counters.evictions++;
    }
  }

  private destroyEntry(e: CacheEntry): void {
    this.cache.delete(e.key);
    try {
      e.fn.destroy();
    } catch {
      // a kernel that never ran has nothing to free
    }
  }

  /** Run a kernel on buffers / host arrays; returns the raw result (texture or array). */
  private call(entry: CacheEntry, args: (GpujsBuffer | Float32Array)[]): GpuTexture | Float32Array {
    const raw = args.map((a) => (a instanceof GpujsBuffer ? (this.live(a).store.data ?? a.store.tex) : a));
    const out = entry.fn(...raw);
    if (!entry.checked) {
      entry.checked = true;
      const k = entry.fn.kernel;
      const cls = k?.constructor.name ?? 'unknown';
      this.classes.add(cls);
      if (k?.fallbackReason) this.fallbacks.add(`${entry.key.split('|')[0]}: ${k.fallbackReason}`);
      else if (this.textures !== GL_CLASSES.has(cls)) this.fallbacks.add(`${entry.key.split('|')[0]}: ran as ${cls}`);
    }
    return out as GpuTexture | Float32Array;
  }

  /** Run a kernel and wrap its output; keeps every buffer of a GL backend a texture. */
  private run(entry: CacheEntry, args: (GpujsBuffer | Float32Array)[], shape: Shape): GpujsBuffer {
    const out = this.call(entry, args);
    if (out instanceof Float32Array) {
      // a GL backend whose kernel fell back to the CPU: re-upload, so arguments keep one kind
      if (this.textures) return this.upload(out, shape);
      return this.wrap(shape, out, null, null, null);
    }
    if (!this.textures)
      return this.wrap(shape, Float32Array.from(out.toArray() as ArrayLike<number>), null, null, null);
    return this.wrap(shape, null, out, null, entry);
  }

  /** Host arrays as kernel arguments of the right kind (textures in GL modes); free with `done`. */
  private aux(arrays: Float32Array[]): { args: (GpujsBuffer | Float32Array)[]; done: () => void } {
    if (!this.textures) return { args: arrays, done: () => {} };
    const bufs = arrays.map((a) => this.upload(a, [a.length]));
    return { args: bufs, done: () => bufs.forEach((b) => this.dispose(b)) };
  }

  private elementwise(op: ElementwiseOp) {
    return (inputs: unknown[], shapes: Shape[], out: Shape): GpujsBuffer => {
      if (size(out) === 0) return this.wrap(out, new Float32Array(0), null, null, null);
      const e = this.kernel(`${op}|${shapes.map((s) => s.join(',')).join(';')}|${out.join(',')}`, () =>
        elementwiseKernel(op, shapes, out),
      );
      return this.run(e, inputs as GpujsBuffer[], out);
    };
  }

  private reduce(kind: ReduceKind) {
    return ([x]: unknown[], [s]: Shape[], out: Shape, p: { axes: number[] }): GpujsBuffer => {
      const xb = this.live(x);
      if (size(out) === 0) return this.wrap(out, new Float32Array(0), null, null, null);
      if (size(s) === 0) return this.zeros(out, kind === 'sum' ? 0 : -Infinity);
      const passes = planReduce(s, p.axes);
      if (passes.length === 0) return this.share(xb, out);
      let cur = xb;
      passes.forEach((pass, i) => {
        const e = this.kernel(`${kind}|${pass.A},${pass.R},${pass.B},${pass.C}`, () => reduceKernel(kind, pass));
        const J = Math.ceil(pass.R / pass.C);
        const next = this.run(e, [cur], i === passes.length - 1 ? out : [pass.A, J, pass.B]);
        if (cur !== xb) this.dispose(cur);
        cur = next;
      });
      return cur;
    };
  }

  private makeKernels(): KernelTable {
    const ew = (op: ElementwiseOp) => this.elementwise(op);
    return {
      neg: ew('neg'),
      exp: ew('exp'),
      log: ew('log'),
      sqrt: ew('sqrt'),
      rsqrt: ew('rsqrt'),
      square: ew('square'),
      tanh: ew('tanh'),
      erf: ew('erf'),
      gelu: ew('gelu'),
      geluGrad: ew('geluGrad'),
      softmax: ([x], [s], out) => {
        const xb = this.live(x);
        const { rows, D } = rowsOf(s);
        if (rows * D === 0) return this.wrap(out, new Float32Array(0), null, null, null);
        const m = this.rowReduce('max', rows, D, [xb], ['full'], 'x0', null);
        const z = this.rowReduce('sum', rows, D, [xb, m], ['full', 'row'], 'Math.exp(x0 - x1)', null);
        try {
          return this.rowMap(rows, D, [xb, m, z], ['full', 'row', 'row'], 'Math.exp(x0 - x1) / x2', out);
        } finally {
          this.dispose(m);
          this.dispose(z);
        }
      },
      layerNormalize: ([x], [s], out, p) => {
        const xb = this.live(x);
        const { rows, D } = rowsOf(s);
        if (rows * D === 0) return this.wrap(out, new Float32Array(0), null, null, null);
        const [mu, rs] = this.rowMoments(xb, rows, D, p.eps);
        try {
          return this.rowMap(rows, D, [xb, mu, rs], ['full', 'row', 'row'], '(x0 - x1) * x2', out);
        } finally {
          this.dispose(mu);
          this.dispose(rs);
        }
      },
      layerNorm: ([x, gamma, beta], [s], out, p) => {
        const xb = this.live(x);
        const { rows, D } = rowsOf(s);
        if (rows * D === 0) return this.wrap(out, new Float32Array(0), null, null, null);
        const [mu, rs] = this.rowMoments(xb, rows, D, p.eps);
        const args = [xb, mu, rs, this.live(gamma), this.live(beta)];
        try {
          return this.rowMap(rows, D, args, ['full', 'row', 'row', 'col', 'col'], '(x0 - x1) * x2 * x3 + x4', out);
        } finally {
          this.dispose(mu);
          this.dispose(rs);
        }
      },
      // s·(g − mean(g) − x̂·mean(g⊙x̂)), x̂ = (x − μ)·s, s = 1/√(var + eps)
      layerNormalizeVjp: ([x, g], [s], out, p) => {
        const xb = this.live(x);
        const gb = this.live(g);
        const { rows, D } = rowsOf(s);
        if (rows * D === 0) return this.wrap(out, new Float32Array(0), null, null, null);
        const [mu, rs] = this.rowMoments(xb, rows, D, p.eps);
        const mg = this.rowReduce('sum', rows, D, [gb], ['full'], 'x0', `acc / ${lit(D)}`);
        const mgx = this.rowReduce(
          'sum',
          rows,
          D,
          [xb, gb, mu, rs],
          ['full', 'full', 'row', 'row'],
          'x1 * (x0 - x2) * x3',
          `acc / ${lit(D)}`,
        );
        try {
          return this.rowMap(
            rows,
            D,
            [xb, gb, mu, rs, mg, mgx],
            ['full', 'full', 'row', 'row', 'row', 'row'],
            'x3 * ((x1 - x4) - (x0 - x2) * x3 * x5)',
            out,
          );
        } finally {
          [mu, rs, mg, mgx].forEach((b) => this.dispose(b));
        }
      },
      add: ew('add'),
      sub: ew('sub'),
      mul: ew('mul'),
      div: ew('div'),
      pow: ew('pow'),
      maximum: ew('maximum'),
      minimum: ew('minimum'),
      greater: ew('greater'),
      greaterEqual: ew('greaterEqual'),
      equal: ew('equal'),
      where: ew('where'),
      sum: this.reduce('sum'),
      max: this.reduce('max'),
      // buffers are flat and immutable: a reshape shares its input's store
      reshape: ([x], _s, out) => this.share(this.live(x), out),
      transpose: ([x], [s], out, p) => {
        if (size(out) === 0) return this.wrap(out, new Float32Array(0), null, null, null);
        const e = this.kernel(`transpose|${s.join(',')}|${p.perm.join(',')}`, () => transposeKernel(s, p.perm));
        return this.run(e, [this.live(x)], out);
      },
      broadcast: ([x], [s], out) => {
        if (size(out) === 0) return this.wrap(out, new Float32Array(0), null, null, null);
        if (size(s) === size(out)) return this.share(this.live(x), out); // only size-1 axes added
        const e = this.kernel(`broadcast|${s.join(',')}|${out.join(',')}`, () => broadcastKernel(s, out));
        return this.run(e, [this.live(x)], out);
      },
      slice: ([x], [s], out, p) => {
        if (size(out) === 0) return this.wrap(out, new Float32Array(0), null, null, null);
        if (size(out) === size(s)) return this.share(this.live(x), out);
        const e = this.kernel(`slice|${s.join(',')}|${p.begin.join(',')}|${p.size.join(',')}`, () =>
          sliceKernel(s, p.begin, p.size),
        );
        return this.run(e, [this.live(x)], out);
      },
      pad: ([x], [s], out, p) => {
        if (size(out) === 0) return this.wrap(out, new Float32Array(0), null, null, null);
        if (size(s) === 0) return this.zeros(out);
        if (size(out) === size(s)) return this.share(this.live(x), out);
        const e = this.kernel(`pad|${s.join(',')}|${p.lo.join(',')}|${out.join(',')}`, () => padKernel(s, p.lo, out));
        return this.run(e, [this.live(x)], out);
      },
      concat: (xs, shapes, out, p) => this.concat(xs as GpujsBuffer[], shapes, p.axis, out),
      gather: ([x, idx], [s, is], out, p) => {
        const xb = this.live(x);
        const ib = this.live(idx);
        if (size(out) === 0) return this.wrap(out, new Float32Array(0), null, null, null);
        const v = axisView(s, p.axis);
        const M = is[p.axis];
        // indices are validated where their values are on the host (cpu/webasm: always; GL: uploads)
        const host = ib.store.data ?? ib.store.host;
        if (host) checkIndices('gather', host, v.N);
        else if (v.N === 0) throw new RangeError(`gather: axis ${p.axis} of ${fmt(s)} is empty`);
        const e = this.kernel(`gather|${v.Bt},${v.N},${v.R}|${M}`, () => gatherKernel(v, M));
        return this.run(e, [xb, ib], out);
      },
      scatterAdd: ([src, idx], [s], out, p) => {
        const sb = this.live(src);
        const ib = this.live(idx);
        if (size(out) === 0) return this.wrap(out, new Float32Array(0), null, null, null);
        const v = axisView(s, p.axis);
        const inv = inverseIndex(this.hostValues(ib), v.Bt, v.N, p.size);
        if (size(s) === 0 || inv.maxCount === 0) return this.zeros(out);
        const bound = scatterLoopBound(inv.maxCount);
        const { args, done } = this.aux([inv.offsets, inv.rows]);
        const e = this.kernel(`scatterAdd|${v.Bt},${v.N},${v.R}|${p.size}|${bound}`, () =>
          scatterAddKernel(v, p.size, bound),
        );
        try {
          return this.run(e, [sb, ...args], out);
        } finally {
          done();
        }
      },
      matmul: ([a, b], [as, bs], out, p) => {
        const ab = this.live(a);
        const bb = this.live(b);
        if (size(out) === 0) return this.wrap(out, new Float32Array(0), null, null, null);
        const { K } = matmulDims(as, bs, p);
        if (K === 0) return this.zeros(out);
        const plan = planMatmul(as, bs, p.transA, p.transB);
        const variant = this.matmulVariant;
        const e = this.kernel(`matmul|${as.join(',')}|${bs.join(',')}|${+p.transA}${+p.transB}|${variant}`, () =>
          matmulKernel(as, bs, p.transA, p.transB, plan, variant),
        );
        if (plan.S === 1) return this.run(e, [ab, bb], out);
        // split-K: partial products [S, ...out], then a sum over the leading axis
        const partial = this.run(e, [ab, bb], [plan.S, ...out]);
        const summed = this.kernels.sum([partial], [[plan.S, ...out]], [1, ...out], { axes: [0] }) as GpujsBuffer;
        this.dispose(partial);
        const res = this.share(summed, out);
        this.dispose(summed);
        return res;
      },
      fused: (inputs, shapes, out, p) => {
        if (size(out) === 0) return this.wrap(out, new Float32Array(0), null, null, null);
        const e = this.kernel(`fused|${p.src}|${shapes.map((s) => s.join(',')).join(';')}|${out.join(',')}`, () =>
          exprKernel(p.expr, shapes, out),
        );
        return this.run(e, inputs as GpujsBuffer[], out);
      },
      // x·Wᵀ + b: one matmul kernel with the bias added in its epilogue; with split K (long
      // rows), the matmul and then the broadcast add
      linear: ([x, w, b], [xs, ws, bs], out) => {
        const [N, K] = ws;
        const rows = size(xs) / K;
        if (size(out) === 0) return this.wrap(out, new Float32Array(0), null, null, null);
        const plan = K > 0 ? planMatmul([rows, K], ws, false, true) : null;
        if (plan && plan.S === 1) {
          const variant = this.matmulVariant;
          const e = this.kernel(`linear|${rows},${K}|${N}|${variant}`, () =>
            matmulKernel([rows, K], ws, false, true, plan, variant, true),
          );
          return this.run(e, [this.live(x), this.live(w), this.live(b)], out);
        }
        const x2 = this.share(this.live(x), [rows, K]);
        const y = this.kernels.matmul([x2, w], [[rows, K], ws], [rows, N], {
          transA: false,
          transB: true,
        }) as GpujsBuffer;
        this.dispose(x2);
        const r = this.kernels.add([y, b], [[rows, N], bs], [rows, N], {}) as GpujsBuffer;
        this.dispose(y);
        const res = this.share(r, out);
        this.dispose(r);
        return res;
      },
    };
  }

  /** Per row of [rows, D]: reduce `expr` over the row, then `post` (in `acc`). Output [rows]. */
  private rowReduce(
    kind: ReduceKind,
    rows: number,
    D: number,
    inputs: GpujsBuffer[],
    args: ArgKind[],
    expr: string,
    post: string | null,
  ): GpujsBuffer {
    const C = rowChunk(D);
    const J = Math.ceil(D / C);
    const e = this.kernel(`rowReduce|${kind}|${rows},${D},${C}|${args.join(',')}|${expr}|${post ?? ''}`, () =>
      rowReduceKernel(kind, rows, D, C, args, expr, post),
    );
    let out = this.run(e, inputs, [rows, J]);
    if (J === 1) return out;
    // a long row: finish the partials with reduce passes, then apply `post`
    const r = this.reduce(kind)([out], [[rows, J]], [rows, 1], { axes: [1] });
    this.dispose(out);
    out = r;
    if (!post) return out;
    const m = this.kernel(`map|${rows}|${post}`, () => mapKernel(rows, post.replace(/\bacc\b/g, 'x0')));
    const res = this.run(m, [out], [rows]);
    this.dispose(out);
    return res;
  }

  private rowMap(
    rows: number,
    D: number,
    inputs: GpujsBuffer[],
    args: ArgKind[],
    expr: string,
    out: Shape,
  ): GpujsBuffer {
    const e = this.kernel(`rowMap|${rows},${D}|${args.join(',')}|${expr}`, () => rowMapKernel(rows, D, args, expr));
    return this.run(e, inputs, out);
  }

  /** Row mean μ and 1/√(var + eps) (two passes: the variance of centred values). */
  private rowMoments(x: GpujsBuffer, rows: number, D: number, eps: number): [GpujsBuffer, GpujsBuffer] {
    const mu = this.rowReduce('sum', rows, D, [x], ['full'], 'x0', `acc / ${lit(D)}`);
    const rs = this.rowReduce(
      'sum',
      rows,
      D,
      [x, mu],
      ['full', 'row'],
      '(x0 - x1) * (x0 - x1)',
      `1 / Math.sqrt(acc / ${lit(D)} + ${lit(eps)})`,
    );
    return [mu, rs];
  }

  private concat(xs: GpujsBuffer[], shapes: Shape[], axis: number, out: Shape): GpujsBuffer {
    xs.forEach((x) => this.live(x));
    if (size(out) === 0) return this.wrap(out, new Float32Array(0), null, null, null);
    const parts = xs.map((x, i) => ({ x, s: shapes[i] })).filter((q) => size(q.s) > 0);
    if (parts.length === 1) return this.share(parts[0].x, out);
    if (parts.length <= CONCAT_MAX_INPUTS) {
      const ps = parts.map((q) => q.s);
      const e = this.kernel(`concat|${ps.map((s) => s.join(',')).join(';')}|${axis}`, () =>
        concatKernel(ps, axis, out),
      );
      return this.run(
        e,
        parts.map((q) => q.x),
        out,
      );
    }
    // more inputs than texture units: concatenate groups, then the groups
    const groups: GpujsBuffer[] = [];
    const gshapes: Shape[] = [];
    for (let i = 0; i < parts.length; i += CONCAT_MAX_INPUTS) {
      const g = parts.slice(i, i + CONCAT_MAX_INPUTS);
      const gs = g[0].s.map((d, j) => (j === axis ? g.reduce((acc, q) => acc + q.s[axis], 0) : d));
      groups.push(
        this.concat(
          g.map((q) => q.x),
          g.map((q) => q.s),
          axis,
          gs,
        ),
      );
      gshapes.push(gs);
    }
    try {
      return this.concat(groups, gshapes, axis, out);
    } finally {
      groups.forEach((g) => this.dispose(g));
    }
  }
}

/**
 * The GL renderer as far as WebGL exposes it: the unmasked vendor/renderer where
 * WEBGL_debug_renderer_info exists (browsers: e.g. "NVIDIA Corporation / NVIDIA H100"), else
 * RENDERER/VERSION (headless-gl answers "ANGLE": run `glxinfo -B` under the same display to see
 * whether that is llvmpipe or a GPU driver).
 */
function glRenderer(context: unknown): string | null {
  try {
    const gl = context as {
      getParameter(p: number): unknown;
      RENDERER: number;
      VERSION: number;
      getExtension(n: string): { UNMASKED_RENDERER_WEBGL: number; UNMASKED_VENDOR_WEBGL: number } | null;
    };
    const ext = gl.getExtension('WEBGL_debug_renderer_info');
    if (ext)
      return `${String(gl.getParameter(ext.UNMASKED_VENDOR_WEBGL))} / ${String(gl.getParameter(ext.UNMASKED_RENDERER_WEBGL))}`;
    return `${String(gl.getParameter(gl.RENDERER))} (${String(gl.getParameter(gl.VERSION))})`;
  } catch {
    return null;
  }
}

function rowsOf(s: Shape): { rows: number; D: number } {
  const D = s[s.length - 1];
  return { rows: D === 0 ? 0 : size(s) / D, D };
}

function classMode(cls: string): string {
  switch (cls) {
    case 'CPUKernel':
      return 'cpu';
    case 'WebAssemblyKernel':
      return 'webasm';
    case 'HeadlessGLKernel':
      return 'headlessgl';
    case 'WebGL2Kernel':
      return 'webgl2';
    case 'WebGLKernel':
      return 'webgl';
    case 'WebGPUKernel':
      return 'webgpu';
    default:
      return cls;
  }
}

function checkSize(n: number): void {
  if (n > MAX_ELEMENTS)
    throw new RangeError(`gpujs: ${n} elements exceed 2^24, the range float32 index arithmetic addresses exactly`);
}

function checkIndices(op: string, idx: ArrayLike<number>, n: number): void {
  for (let i = 0; i < idx.length; i++) {
    const v = idx[i];
    if (!(Number.isInteger(v) && v >= 0 && v < n)) throw new RangeError(`${op}: index ${v} out of range [0, ${n})`);
  }
}

export function createGpujsBackend(mode: GpujsMode): GpujsBackend {
  return new GpujsBackend(mode);
}

/** Register `gpujs` (the default mode) and `gpujs-<mode>` for every mode (used by the CLI). */
export function registerGpujsBackends(): void {
  registerBackend('gpujs', () => createGpujsBackend(defaultGpujsMode()));
  for (const m of GPUJS_MODES) registerBackend(`gpujs-${m}`, () => createGpujsBackend(m));
}
