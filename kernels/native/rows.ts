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
 * each row padded to whole vectors (softmax's rows, and exp's and gelu's arrays, to groups of four vectors;
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

/** Row kernels get about this many bytes of rows per call. */
const CHUNK_BYTES = 1 << 17;

/** n rounded up to whole vectors (the layer-norm kernels take one vector at a time). */
const roundUp4 = (n: number) => (n + 3) & ~3;
/** n rounded up to whole groups of four vectors (the exp, gelu and softmax loops take four at a time). */
const roundUp16 = (n: number) => (n + 15) & ~15;

/**
 * Run a row kernel over the rows of d floats of `xs` (one or two operands of the same shape), a
 * chunk of rows at a time so that the copies in, the kernel and the copy out stay in L2. Each
 * operand's rows are copied in back to back and padded to dp floats with `pad` inside the module
 * (`spread_rows`: a JS copy per row costs more than the kernel when rows are short); `consts` (rows
 * of d floats, such as γ and β) are placed once, padded with 0. `kernel(at, c, rows)` gets the
 * operands' and the consts' byte addresses and writes its result over the first operand's rows,
 * which are packed back (`gather_rows`) and copied out.
 */
function throughRows(
  xs: Float32Array[],
  d: number,
  dp: number,
  pad: number,
  kernel: (at: number[], c: number[], rows: number) => void,
  consts: Float32Array[] = [],
): Float32Array {
  const e = mod!.exports;
  const total = xs[0].length / d;
  const per = Math.max(1, Math.floor(CHUNK_BYTES / (4 * dp)));
  const flat = consts.length * dp; // the chunk's rows back to back, then 3 floats of slack
  const first = flat + Math.min(total, per) * d + 4; // each operand's padded rows, and slack
  const mem = room(first + xs.length * (Math.min(total, per) * dp + 4));
  const c = consts.map((row, k) => {
    mem.set(row, k * dp);
    mem.fill(0, k * dp + d, (k + 1) * dp);
    return k * dp * 4;
  });
  const at = xs.map((_, j) => (first + j * (Math.min(total, per) * dp + 4)) * 4);
  const out = allocF32(xs[0].length);
  for (let r = 0; r < total; r += per) {
    const n = Math.min(per, total - r);
    xs.forEach((x, j) => {
      const chunk = x.subarray(r * d, (r + n) * d);
      if (d === dp) mem.set(chunk, at[j] / 4);
      else {
        mem.set(chunk, flat);
        e.spread_rows(flat * 4, at[j], n, d, dp, pad);
      }
    });
    kernel(at, c, n);
    if (d === dp) out.set(mem.subarray(at[0] / 4, at[0] / 4 + n * d), r * d);
    else {
      e.gather_rows(at[0], flat * 4, n, d, dp);
      out.set(mem.subarray(flat, flat + n * d), r * d);
    }
  }
  return out;
}

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
    return throughRows([x], d, dp, -Infinity, ([p], _, n) => mod!.exports.softmax_rows(p, p, n, dp / 4));
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
    const { gamma, beta } = affine ?? { gamma: new Float32Array(d).fill(1), beta: new Float32Array(d) };
    return throughRows([x], d, dp, 0, ([p], [g, b], n) => mod!.exports.layer_norm_rows(p, p, n, dp / 4, d, eps, g, b), [
      gamma,
      beta,
    ]);
  },
  layerNormalizeVjp(x: Float32Array, g: Float32Array, d: number, eps: number): Float32Array | null {
    if (!mod || !enabled) return null;
    const rows = d === 0 ? 0 : x.length / d;
    if (rows === 0) return allocF32(x.length);
    const dp = roundUp4(d);
    return throughRows([x, g], d, dp, 0, ([p, q], _, n) =>
      mod!.exports.layer_norm_vjp_rows(p, q, p, n, dp / 4, d, eps),
    );
  },
};
