/**
 * gpu.js kernels for the fused row-wise primitives (softmax, layerNormalize, layerNorm, layerNormalizeVjp:
 * reductions over the last axis), built from two generic pieces:
 *
 * - `rowReduceKernel`: per row of a [rows, D] view, the sum or max over the row of an
 *   expression of the inputs — each input either `full` ([rows, D], read at (row, c)) or `row`
 *   ([rows], one value per row: a statistic computed by an earlier kernel) — optionally mapped
 *   by a `post` expression of the result `acc`. Rows longer than MAX_LOOP are reduced in
 *   chunks ([rows, ⌈D/C⌉] partials, finished by reduce passes; see kernels/gpujs/reduce.ts).
 * - `rowMapKernel`: an elementwise expression over [rows, D] of `full` and `row` inputs, and `col`
 *   ones ([D], one value per column: LayerNorm's γ and β).
 *
 * Expressions are source text in the loaded inputs x0, x1, ... (gpu.js subset).
 */
import { indexVars, type KernelSource, linear, lit, MAX_LOOP } from './common';
import { REDUCE_CHUNK } from './reduce';

/** How an input is read: [rows, D] at (row, c); [rows] at row; [D] at c (`col`: rowMapKernel only). */
export type ArgKind = 'full' | 'row' | 'col';

/** Chunk length of a row reduction over D elements (D itself when one loop suffices). */
export const rowChunk = (D: number): number => (D <= MAX_LOOP ? D : REDUCE_CHUNK);

/** Declarations `const x<i> = ...` for the inputs of kind `which`: full ones at column `c`. */
function loads(args: ArgKind[], vr: string | null, D: number, c: string, which: ArgKind): string {
  return args
    .map((k, i) => {
      if (k !== which) return '';
      return k === 'row'
        ? `const x${i} = a${i}[${vr ?? '0'}];\n`
        : `const x${i} = a${i}[${linear([[vr, D]])} + ${c}];\n`;
    })
    .join('');
}

/**
 * out[row, j] = reduce over c ∈ [j·C, min(D, (j+1)·C)) of `expr`; then `post` (in `acc`) when the
 * row is done in one chunk (C ≥ D). Output [rows, ⌈D/C⌉].
 */
export function rowReduceKernel(
  kind: 'sum' | 'max',
  rows: number,
  D: number,
  C: number,
  args: ArgKind[],
  expr: string,
  post: string | null,
): KernelSource {
  const J = Math.ceil(D / C);
  const { code, vars } = indexVars([rows, J]);
  const [vr, vj] = vars;
  const ragged = D % C !== 0;
  const start = vj ? `${vj} * ${lit(C)}` : '0';
  const argList = args.map((_, i) => `a${i}`).join(', ');
  const rowLoads = loads(args, vr, D, '', 'row');
  let body: string;
  if (kind === 'sum') {
    const inner = `const c = ${start} + i;\n${loads(args, vr, D, 'c', 'full')}acc = acc + (${expr});`;
    body = `let acc = 0;\nfor (let i = 0; i < ${C}; i++) {\n${ragged ? `if (${start} + i < ${D}) {\n${inner}\n}` : inner}\n}\n`;
  } else {
    const first = `const c0 = ${start};\n${loads(args, vr, D, 'c0', 'full')}`;
    const inner = `const c = ${start} + i;\n${loads(args, vr, D, 'c', 'full').replace(/const x/g, 'const y')}`;
    // the loop body reads y0, y1, ... so that the first element's x0, x1, ... stay in scope
    const yexpr = expr.replace(/\bx(\d+)\b/g, 'y$1');
    const upd = `${inner}const v = ${yexpr};\nif (v > acc || v !== v) { acc = v; }`;
    body = `${first}let acc = ${expr};\nfor (let i = 1; i < ${C}; i++) {\n${ragged ? `if (${start} + i < ${D}) {\n${upd}\n}` : upd}\n}\n`;
  }
  // row inputs named y too when used inside the max loop
  const rowY =
    kind === 'max' ? rowLoads.replace(/const x(\d+) = (.*);\n/g, 'const x$1 = $2;\nconst y$1 = x$1;\n') : rowLoads;
  const ret = J === 1 && post ? `return ${post};` : 'return acc;';
  return { source: `function(${argList}) {\n${code}${rowY}${body}${ret}\n}`, n: rows * J, loopMax: C };
}

/** out[row, c] = expr over `full` inputs at (row, c) and `row` inputs at row. Output [rows, D]. */
export function rowMapKernel(rows: number, D: number, args: ArgKind[], expr: string): KernelSource {
  const { code, vars } = indexVars([rows, D]);
  const [vr, vc] = vars;
  const argList = args.map((_, i) => `a${i}`).join(', ');
  const ld = args
    .map((k, i) =>
      k === 'row'
        ? `const x${i} = a${i}[${vr ?? '0'}];\n`
        : k === 'col'
          ? `const x${i} = a${i}[${vc ?? '0'}];\n`
          : `const x${i} = a${i}[${linear([
              [vr, D],
              [vc, 1],
            ])}];\n`,
    )
    .join('');
  return { source: `function(${argList}) {\n${code}${ld}return ${expr};\n}`, n: rows * D, loopMax: 0 };
}

/** A map over a flat [n] buffer: `expr` in x0 (finishing a chunked row reduction). */
export function mapKernel(n: number, expr: string): KernelSource {
  return { source: `function(a0) {\nconst x0 = a0[this.thread.x];\nreturn ${expr};\n}`, n, loopMax: 0 };
}
