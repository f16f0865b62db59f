/**
 * gpu.js kernels for the reductions (sum, max; reduced axes kept with size 1).
 *
 * A reduction is planned as a sequence of passes over a [A, R, B] view of the current data
 * (A: axes before a run of adjacent reduced axes, R: the run, B: axes after it). One pass reduces
 * R in chunks of C consecutive elements, [A, R, B] → [A, ⌈R/C⌉, B]. Every loop has a literal
 * bound C ≤ MAX_LOOP (1024): loops are never long enough to be cut by gpu.js's
 * `loopMaxIterations` (gpujs-notes §4 — a sum of 1500 ones would come back as 1000) nor by
 * llvmpipe's 65,535-iteration limit, and a long reduction becomes a tree of passes
 * (e.g. 393,216 → 1,536 → 6 → 1), which also keeps float32 accumulation error small on GL.
 * Non-adjacent reduced axes are reduced one run after another (sum and max are separable).
 */
import type { Shape } from '../../src/shape';
import { indexVars, type KernelSource, linear, MAX_LOOP } from './common';

export type ReduceKind = 'sum' | 'max';

/** Chunk length of the first passes of a reduction longer than MAX_LOOP. */
export const REDUCE_CHUNK = 256;

export interface ReducePass {
  A: number;
  R: number;
  B: number;
  /** Chunk length: the pass outputs [A, ⌈R/C⌉, B]. */
  C: number;
}

/**
 * The passes that reduce `axes` of `s`; empty when there is nothing to do (every reduced axis has
 * size 1: the data is unchanged). Reduced axes of size 0 are the caller's business.
 */
export function planReduce(s: Shape, axes: number[]): ReducePass[] {
  const cur = [...s];
  const red = new Set(axes.filter((a) => s[a] !== 1));
  const passes: ReducePass[] = [];
  // runs of adjacent reduced axes, ignoring size-1 axes in between (they do not move data)
  let d = cur.length - 1;
  while (d >= 0) {
    if (!red.has(d)) {
      d--;
      continue;
    }
    let first = d;
    for (let e = d - 1; e >= 0; e--) {
      if (red.has(e)) first = e;
      else if (cur[e] !== 1) break;
    }
    const A = cur.slice(0, first).reduce((x, y) => x * y, 1);
    let R = cur.slice(first, d + 1).reduce((x, y) => x * y, 1);
    const B = cur.slice(d + 1).reduce((x, y) => x * y, 1);
    while (R > 1) {
      const C = R <= MAX_LOOP ? R : REDUCE_CHUNK;
      passes.push({ A, R, B, C });
      R = Math.ceil(R / C);
    }
    for (let e = first; e <= d; e++) cur[e] = 1;
    d = first - 1;
  }
  return passes;
}

/** One pass: [A, R, B] → [A, ⌈R/C⌉, B], each output the sum/max of C consecutive elements along R. */
export function reduceKernel(kind: ReduceKind, { A, R, B, C }: ReducePass): KernelSource {
  const J = Math.ceil(R / C);
  const { code, vars } = indexVars([A, J, B]);
  const [va, vj, vb] = vars;
  const base = linear([
    [va, R * B],
    [vj, C * B],
    [vb, 1],
  ]);
  const ragged = R % C !== 0; // the last chunk is short
  const guard = (i: string) => (ragged ? `${vj ?? '0'} * ${C} + ${i} < ${R}` : '');
  const at = (i: string) => (B === 1 ? `base + ${i}` : `base + ${i} * ${B}`);
  let body: string;
  if (kind === 'sum') {
    const add = `acc = acc + x[${at('i')}];`;
    body = `let acc = 0;\nfor (let i = 0; i < ${C}; i++) {\n${ragged ? `if (${guard('i')}) { ${add} }` : add}\n}\nreturn acc;`;
  } else {
    const upd = `const v = x[${at('i')}];\nif (v > acc || v !== v) { acc = v; }`;
    body = `let acc = x[base];\nfor (let i = 1; i < ${C}; i++) {\n${ragged ? `if (${guard('i')}) {\n${upd}\n}` : upd}\n}\nreturn acc;`;
  }
  return { source: `function(x) {\n${code}const base = ${base};\n${body}\n}`, n: A * J * B, loopMax: C };
}
