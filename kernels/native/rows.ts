/**
 * SIMD WebAssembly kernels for the native backend's transcendental and row-wise primitives
 * (exp, gelu, geluGrad, softmax, layerNormalize, layerNormalizeVjp): ./rows.wat, where the
 * approximations and their accuracy are described, assembled ahead of time into ./rows.wasm
 * (scripts/build-wasm.ts) and loaded at module load (./platform.ts).
 *
 *   rowsWasm.elementwise('gelu', x)                 → Float32Array, or null without the module
 *   rowsWasm.softmax(x, d) / layerNormalize(x, d, eps, { gamma, beta }?) / layerNormalizeVjp(x, g, d, eps)
 *
 * Operands are copied into the module's own memory (reused across calls, grown as needed) with
 * each row padded to whole vectors (softmax's rows, and exp's array, to groups of four vectors;
 * softmax's inside the module), and results are copied out. The plain-JS kernels
 * (./rowwise.ts, ./elementwise.ts) remain the fallback where WebAssembly SIMD is unavailable
 * (said once on the console), and `setRowsWasm(false)` selects them (tests check both paths).
 */
import { allocF32 } from './alloc';
import { warnFallback, wasmBytes } from '../platform';

interface Exports {
  exp(src: number, dst: number, nvec: number): void;
  gelu(src: number, dst: number, nvec: number): void;
  gelu_grad(src: number, dst: number, nvec: number): void;
  softmax_rows(src: number, dst: number, rows: number, vpr: number): void;
  spread_rows(src: number, dst: number, rows: number, d: number, dp: number, pad: number): void;
  gather_rows(src: number, dst: number, rows: number, d: number, dp: number): void;
  layer_norm_rows(
    src: number,
    dst: number,
    rows: number,
    vpr: number,
    d: number,
    eps: number,
    gamma: number,
    beta: number,
  ): void;
  layer_norm_vjp_rows(x: number, g: number, dst: number, rows: number, vpr: number, d: number, eps: number): void;
}

const PAGE = 65536;
let mod: { exports: Exports; memory: WebAssembly.Memory; f32: Float32Array } | null = null;
let loadError: unknown = null;
let enabled = true;

async function load(): Promise<NonNullable<typeof mod>> {
  const bytes = await wasmBytes(new URL('./rows.wasm', import.meta.url));
  const memory = new WebAssembly.Memory({ initial: 16, maximum: 65536 });
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
  return { exports: instance.exports as unknown as Exports, memory, f32: new Float32Array(memory.buffer) };
}

try {
  mod = await load();
} catch (e) {
  loadError = e;
  warnFallback('native rows: the WebAssembly SIMD kernels did not load; plain-JS loops run instead (slower)', e);
}

/** Use the SIMD kernels (default) or the plain-JS ones; returns the previous setting. */
export function setRowsWasm(on: boolean): boolean {
  const prev = enabled;
  enabled = on;
  return prev;
}

/** 'wasm-simd128' when the SIMD kernels run, else why not. */
export function rowsInfo(): { impl: 'wasm-simd128' | 'js'; why?: string } {
  if (!mod) return { impl: 'js', why: `rows.wat did not load: ${String(loadError)}` };
  return enabled ? { impl: 'wasm-simd128' } : { impl: 'js', why: 'disabled (setRowsWasm(false))' };
}

/** The module's float32 view with room for `floats` floats. */
function room(floats: number): Float32Array {
  const m = mod!;
  const need = floats * 4;
  const have = m.memory.buffer.byteLength;
  if (need > have) m.memory.grow(Math.ceil((need - have) / PAGE));
  if (m.f32.buffer !== m.memory.buffer) m.f32 = new Float32Array(m.memory.buffer);
  return m.f32;
}

/** Copy rows of d floats into mem at float offset `at`, each padded to dp floats with `pad`. */
function putRows(mem: Float32Array, at: number, x: Float32Array, d: number, dp: number, pad: number): void {
  if (d === dp) {
    mem.set(x, at);
    return;
  }
  // row by row with block copies (a scalar copy loop costs several times the kernel itself)
  const rows = x.length / d;
  for (let r = 0; r < rows; r++) {
    const q = at + r * dp;
    mem.set(x.subarray(r * d, r * d + d), q);
    for (let i = d; i < dp; i++) mem[q + i] = pad;
  }
}

function getRows(mem: Float32Array, at: number, n: number, d: number, dp: number): Float32Array {
  const out = allocF32(n);
  if (d === dp) {
    out.set(mem.subarray(at, at + n));
    return out;
  }
  const rows = n / d;
  for (let r = 0; r < rows; r++) out.set(mem.subarray(at + r * dp, at + r * dp + d), r * d);
  return out;
}

/** Softmax's rows go through the kernel about this many bytes at a time. */
const CHUNK_BYTES = 1 << 17;

/** n rounded up to whole vectors (the layer-norm kernels take one vector at a time). */
const roundUp4 = (n: number) => (n + 3) & ~3;
/** n rounded up to whole groups of four vectors (the exp and softmax loops take four at a time). */
const roundUp16 = (n: number) => (n + 15) & ~15;

export const rowsWasm = {
  /** exp / gelu / geluGrad of every element, or null when the SIMD kernels are off. */
  elementwise(name: 'exp' | 'gelu' | 'geluGrad', x: Float32Array): Float32Array | null {
    if (!mod || !enabled) return null;
    const n = x.length;
    const np = roundUp16(n);
    const mem = room(2 * np);
    mem.set(x, 0);
    const fn = name === 'exp' ? mod.exports.exp : name === 'gelu' ? mod.exports.gelu : mod.exports.gelu_grad;
    fn(0, np * 4, np / 4);
    const out = allocF32(n);
    out.set(mem.subarray(np, np + n));
    return out;
  },
  softmax(x: Float32Array, d: number): Float32Array | null {
    if (!mod || !enabled) return null;
    const rows = d === 0 ? 0 : x.length / d;
    if (rows === 0) return allocF32(x.length);
    const dp = roundUp16(d);
    // A chunk of rows at a time, so that its copy in, kernel and copy out stay in L2: the rows
    // are copied in back to back, padded inside the module (a JS loop per row costs more than
    // the kernel when rows are short), normalised in place and packed back.
    const per = Math.max(1, Math.floor(CHUNK_BYTES / (4 * dp)));
    const flat = Math.min(rows, per) * d + 4; // 3 floats of slack (spread_rows, gather_rows)
    const mem = room(flat + Math.min(rows, per) * dp + 4);
    const out = allocF32(x.length);
    const e = mod.exports;
    for (let r = 0; r < rows; r += per) {
      const n = Math.min(per, rows - r);
      mem.set(x.subarray(r * d, (r + n) * d), 0);
      if (d === dp) e.softmax_rows(0, 0, n, dp / 4);
      else {
        e.spread_rows(0, flat * 4, n, d, dp, -Infinity);
        e.softmax_rows(flat * 4, flat * 4, n, dp / 4);
        e.gather_rows(flat * 4, 0, n, d, dp);
      }
      out.set(mem.subarray(0, n * d), r * d);
    }
    return out;
  },
  /** x̂·γ + β over rows of d (γ, β: d floats each), or the bare x̂ without them. */
  layerNormalize(
    x: Float32Array,
    d: number,
    eps: number,
    affine?: { gamma: Float32Array; beta: Float32Array },
  ): Float32Array | null {
    if (!mod || !enabled) return null;
    const rows = d === 0 ? 0 : x.length / d;
    if (rows === 0) return allocF32(x.length);
    const dp = roundUp4(d);
    const m = rows * dp;
    const mem = room(2 * m + 2 * dp);
    putRows(mem, 0, x, d, dp, 0);
    const [g, b] = [2 * m, 2 * m + dp];
    if (affine) {
      putRows(mem, g, affine.gamma, d, dp, 0);
      putRows(mem, b, affine.beta, d, dp, 0);
    } else {
      mem.fill(1, g, g + dp);
      mem.fill(0, b, b + dp);
    }
    mod.exports.layer_norm_rows(0, m * 4, rows, dp / 4, d, eps, g * 4, b * 4);
    return getRows(mem, m, x.length, d, dp);
  },
  layerNormalizeVjp(x: Float32Array, g: Float32Array, d: number, eps: number): Float32Array | null {
    if (!mod || !enabled) return null;
    const rows = d === 0 ? 0 : x.length / d;
    if (rows === 0) return allocF32(x.length);
    const dp = roundUp4(d);
    const m = rows * dp;
    const mem = room(3 * m);
    putRows(mem, 0, x, d, dp, 0);
    putRows(mem, m, g, d, dp, 0);
    mod.exports.layer_norm_vjp_rows(0, m * 4, 2 * m * 4, rows, dp / 4, d, eps);
    return getRows(mem, 2 * m, x.length, d, dp);
  },
};
