/**
 * gpu.js kernels for the layout primitives. Reshape is not a kernel at all: buffers are flat, so
 * a reshape shares its input's buffer (src/backends/gpujs.ts counts references). Transpose,
 * broadcast and slice are one strided-read kernel with different strides/base; pad reads with
 * per-axis bounds checks; concat selects its source by position along the axis.
 */
import { broadcastStrides, type Shape } from '../../src/shape';
import { collapse, contiguous, indexVars, type KernelSource, linear, lit, prod } from './common';

/** Strided read of one input: out[i] = x[base + Σ i_d·inStrides_d]. */
export function stridedKernel(outShape: Shape, inStrides: number[], base: number): KernelSource {
  const { dims, strides } = collapse(outShape, [inStrides]);
  const { code, vars } = indexVars(dims);
  const at = linear(
    vars.map((v, d) => [v, strides[0][d]]),
    base,
  );
  return { source: `function(x) {\n${code}return x[${at}];\n}`, n: prod(outShape), loopMax: 0 };
}

export const transposeKernel = (s: Shape, perm: number[]): KernelSource => {
  const st = contiguous(s);
  return stridedKernel(
    perm.map((a) => s[a]),
    perm.map((a) => st[a]),
    0,
  );
};

export const broadcastKernel = (s: Shape, out: Shape): KernelSource => stridedKernel(out, broadcastStrides(s, out), 0);

export const sliceKernel = (s: Shape, begin: number[], sizes: number[]): KernelSource => {
  const st = contiguous(s);
  return stridedKernel(
    sizes,
    st,
    begin.reduce((acc, b, i) => acc + b * st[i], 0),
  );
};

/** Zero padding: out[i] = x[i − lo] where 0 ≤ i − lo < s on every axis, else 0. */
export function padKernel(s: Shape, lo: number[], out: Shape): KernelSource {
  const st = contiguous(s);
  const { code, vars } = indexVars(out);
  const lines: string[] = [];
  const conds: string[] = [];
  const terms: [string | null, number][] = [];
  out.forEach((_, d) => {
    const v = vars[d];
    if (lo[d] === 0 && out[d] === s[d]) {
      terms.push([v, st[d]]);
      return;
    }
    // a padded axis: the input index j = i − lo, checked against [0, s)
    const j = `j${d}`;
    lines.push(`const ${j} = ${v ?? '0'} - ${lit(lo[d])};`);
    conds.push(`${j} >= 0`, `${j} < ${lit(s[d])}`);
    terms.push([j, st[d]]);
  });
  const body =
    conds.length === 0
      ? `return x[${linear(terms)}];`
      : `let y = 0;\nif (${conds.join(' && ')}) { y = x[${linear(terms)}]; }\nreturn y;`;
  return { source: `function(x) {\n${code}${lines.join('\n')}\n${body}\n}`, n: prod(out), loopMax: 0 };
}

/** Most inputs one concat kernel takes (texture units are limited: 16 on common GL drivers). */
export const CONCAT_MAX_INPUTS = 8;

/** Concatenation of inputs (all non-empty along `axis`, at most CONCAT_MAX_INPUTS) into `out`. */
export function concatKernel(shapes: Shape[], axis: number, out: Shape): KernelSource {
  if (shapes.length > CONCAT_MAX_INPUTS)
    throw new Error(`gpujs concat: at most ${CONCAT_MAX_INPUTS} inputs per kernel`);
  const A = prod(out.slice(0, axis));
  const C = out[axis];
  const B = prod(out.slice(axis + 1));
  const { code, vars } = indexVars([A, C, B]);
  const [va, vc, vb] = vars;
  const args = shapes.map((_, k) => `a${k}`);
  let off = 0;
  const branches = shapes.map((s, k) => {
    const Ck = s[axis];
    const cExpr = off === 0 ? vc : `(${vc ?? '0'} - ${lit(off)})`;
    const read = `y = ${args[k]}[${linear([
      [va, Ck * B],
      [cExpr, B],
      [vb, 1],
    ])}];`;
    off += Ck;
    if (k === shapes.length - 1) return `{ ${read} }`;
    return `if (${vc ?? '0'} < ${lit(off)}) { ${read} }`;
  });
  return {
    source: `function(${args.join(', ')}) {\n${code}let y = 0;\n${branches.join(' else ')}\nreturn y;\n}`,
    n: prod(out),
    loopMax: 0,
  };
}
