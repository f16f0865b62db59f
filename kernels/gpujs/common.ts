/**
 * Shared vocabulary of the gpu.js kernels (kernels/gpujs/*): a kernel is described by a
 * `KernelSource` — the source text of a gpu.js kernel function, specialised to one shape
 * signature, plus its flat output length — and the backend (src/backends/gpujs.ts) compiles each
 * distinct source once and caches it.
 *
 * Conventions every kernel here follows (see /work/shared/gpujs-notes.md for why):
 * - Buffers are flat: every argument is a 1-D array/texture in row-major order and every output
 *   is 1-D (`output: [n]`), so a reshape is free and `this.thread.x` is the flat output index.
 * - Shapes, strides and loop bounds are baked into the source as literals: a cached kernel has a
 *   fixed output size and fixed argument sizes (no dynamicOutput / dynamicArguments), and loops
 *   have literal bounds (gpu.js cuts loops with non-literal bounds at `loopMaxIterations`; the
 *   backend also sets `loopMaxIterations` to the largest bound, `loopMax`).
 * - Index arithmetic is written to be exact in float32 (GLSL, WebAssembly f32) up to 2^24
 *   elements: a quotient from `Math.floor(t / d)` is corrected by one step either way, because a
 *   float32 division may round across an integer.
 * - Only the gpu.js subset: no `a.length`, no helper functions, numbers only (booleans only
 *   inside conditions); `Infinity` only where GLSL's stand-in FLT_MAX is acceptable (0^−b), and
 *   no NaN literal (GLSL has no reliable NaN).
 */
import { size, stridesOf, type Shape } from '../../src/shape';

export interface KernelSource {
  /** gpu.js kernel function source (`function(a, b) { ... }`). */
  source: string;
  /** Flat output length (the kernel's `output: [n]`). */
  n: number;
  /** Largest literal loop bound in the source (0 when there is no loop). */
  loopMax: number;
}

/** Longest single loop a kernel may run; longer reductions are split into passes. */
export const MAX_LOOP = 1024;

/** A number as a source literal (finite numbers only; integers print without exponent). */
export function lit(v: number): string {
  if (!Number.isFinite(v)) throw new Error(`gpujs kernels: non-finite literal ${v}`);
  return Number.isInteger(v) ? v.toFixed(0) : String(v);
}

export { collapse } from '../../src/shape';

/**
 * Statements that split the flat thread index into float indices over `dims` (row-major), one
 * variable per axis of size > 1, named `${p}0, ${p}1, ...` in order; `vars[d]` is the name of
 * axis d's index, or null for an axis of size 1 (its index is always 0). Exact for indices below
 * 2^24 in float32: each quotient from a float division is corrected by one step either way.
 */
export function indexVars(dims: readonly number[], p = 'i'): { code: string; vars: (string | null)[] } {
  const live = dims.map((d, i) => (d === 1 ? -1 : i)).filter((i) => i >= 0);
  const vars: (string | null)[] = dims.map(() => null);
  live.forEach((axis, k) => (vars[axis] = `${p}${k}`));
  const k = live.length;
  if (k === 0) return { code: '', vars };
  if (k === 1) return { code: `const ${p}0 = this.thread.x;\n`, vars };
  let code = `const ${p}r${k - 1} = this.thread.x;\n`;
  for (let d = k - 1; d >= 1; d--) {
    const D = lit(dims[live[d]]);
    const src = `${p}r${d}`;
    const q = `${p}q${d}`;
    const v = `${p}${d}`;
    code +=
      `let ${q} = Math.floor(${src} / ${D});\n` +
      `let ${v} = ${src} - ${q} * ${D};\n` +
      `if (${v} < 0) { ${v} = ${v} + ${D}; ${q} = ${q} - 1; }\n` +
      `if (${v} >= ${D}) { ${v} = ${v} - ${D}; ${q} = ${q} + 1; }\n`;
    code += d - 1 === 0 ? `const ${p}0 = ${q};\n` : `const ${p}r${d - 1} = ${q};\n`;
  }
  return { code, vars };
}

/** `base + Σ var·stride` as source; null variables (index 0) and zero strides are dropped. */
export function linear(terms: [string | null, number][], base = 0): string {
  const parts: string[] = [];
  if (base !== 0) parts.push(lit(base));
  for (const [v, s] of terms) {
    if (v === null || s === 0) continue;
    parts.push(s === 1 ? v : `${v} * ${lit(s)}`);
  }
  return parts.length ? parts.join(' + ') : '0';
}

/** Row-major strides of a shape. */
export const contiguous = (s: Shape): number[] => stridesOf(s);

export const prod = (s: readonly number[]): number => size(s);

/** The identity kernel on `n` elements (upload of host data in texture modes, copies). */
export function copyKernel(n: number): KernelSource {
  return { source: `function(x) {\nreturn x[this.thread.x];\n}`, n, loopMax: 0 };
}
