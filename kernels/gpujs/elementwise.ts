/**
 * gpu.js kernels for the elementwise primitives (unary, binary, comparisons, where) with NumPy
 * broadcasting. The output is collapsed (size-1 axes dropped, axes contiguous for every operand
 * merged) and each operand is read at `Σ index·stride`, with its broadcast strides (0 along
 * broadcast axes) baked into the source as literals.
 *
 * The scalar bodies are written for GLSL as well as JS (gpujs-notes §8):
 * - tanh goes through exp of a non-positive argument (GLSL tanh overflows to NaN for |x| ≳ 10)
 *   and an odd Taylor polynomial below |x| < 0.25 (where 1 − e^(−2|x|) cancels);
 * - erf is x·(2/√π)·Σ (−x²)ⁿ/(n!(2n+1)) (8 terms, relative error < 1e-9) for |x| < 0.5 and
 *   1 − erfc(|x|) beyond, with erfc from the Chebyshev fit of Numerical Recipes (`erfcc`,
 *   relative error < 1.2e-7 for every x ≥ 0 — unlike Abramowitz–Stegun 7.1.26, whose 1.5e-7 is
 *   absolute and becomes a large relative error in the tail that GELU of negative inputs needs);
 * - gelu = x·Φ(x) and geluGrad = Φ(x) + x·φ(x) use the same pieces, with Φ(x) = erfc(−x/√2)/2
 *   taken directly from erfc for x ≤ −√2/2 (no cancellation in 1 + erf);
 * - pow takes |a| to the power and restores the sign for integer exponents (GLSL pow of a
 *   negative base is NaN), with b = 0 → 1 and 0^b handled explicitly.
 */
import { broadcastStrides, type Shape } from '../../src/shape';
import { literal, type Expr, type FusedOp } from '../../src/fused';
import { collapse, indexVars, type KernelSource, linear, lit } from './common';

/** The operations of `fused` expressions (src/fused.ts), and a copy. */
export type ElementwiseOp = FusedOp | 'identity';

export const ARITY: Record<ElementwiseOp, number> = {
  neg: 1,
  exp: 1,
  log: 1,
  sqrt: 1,
  rsqrt: 1,
  square: 1,
  tanh: 1,
  erf: 1,
  gelu: 1,
  geluGrad: 1,
  identity: 1,
  add: 2,
  sub: 2,
  mul: 2,
  div: 2,
  pow: 2,
  maximum: 2,
  minimum: 2,
  greater: 2,
  greaterEqual: 2,
  equal: 2,
  where: 3,
};

/** Horner form c0 + z·(c1 + z·(c2 + ...)) as source. */
function horner(z: string, cs: number[]): string {
  let s = lit(cs[cs.length - 1]);
  for (let i = cs.length - 2; i >= 0; i--) s = `${lit(cs[i])} + ${z} * (${s})`;
  return s;
}

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
// erf(x) = 2/√π · x · Σ_n (−1)ⁿ z^n / (n!(2n+1)),  z = x²
const ERF_SERIES = [1, -1 / 3, 1 / 10, -1 / 42, 1 / 216, -1 / 1320, 1 / 9360, -1 / 75600];
// erfc(z) ≈ t·exp(−z² + P(t)), t = 1/(1 + z/2), z ≥ 0 (Numerical Recipes, erfcc)
const ERFC_P = [
  -1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587, -0.82215223,
  0.17087277,
];
// tanh(x) = x · (1 − z/3 + 2z²/15 − 17z³/315 + 62z⁴/2835 − 1382z⁵/155925 + 21844z⁶/6081075),  z = x²
const TANH_SERIES = [1, -1 / 3, 2 / 15, -17 / 315, 62 / 2835, -1382 / 155925, 21844 / 6081075];

/** Statements setting `cdf` = Φ(x0), the standard normal CDF. */
function cdf(): string {
  return [
    `const z = x0 * ${lit(Math.SQRT1_2)};`,
    'const az = Math.abs(z);',
    'let cdf = 0;',
    'if (az < 0.5) {',
    '  const w = z * z;',
    `  cdf = 0.5 + 0.5 * z * ${lit(TWO_OVER_SQRT_PI)} * (${horner('w', ERF_SERIES)});`,
    '} else {',
    '  const t = 1 / (1 + 0.5 * az);',
    `  const ec = t * Math.exp(-az * az + (${horner('t', ERFC_P)}));`,
    '  if (z < 0) { cdf = 0.5 * ec; } else { cdf = 1 - 0.5 * ec; }',
    '}',
  ].join('\n');
}

/** Statements ending in `return` for each op, in the loaded operands x0, x1, x2. */
const BODY: Record<ElementwiseOp, string> = {
  identity: 'return x0;',
  neg: 'return -x0;',
  exp: 'return Math.exp(x0);',
  log: 'return Math.log(x0);',
  sqrt: 'return Math.sqrt(x0);',
  rsqrt: 'return 1 / Math.sqrt(x0);',
  square: 'return x0 * x0;',
  tanh: [
    'const ax = Math.abs(x0);',
    'let y = 0;',
    `if (ax < 0.25) {`,
    `  const z = x0 * x0;`,
    `  y = x0 * (${horner('z', TANH_SERIES)});`,
    `} else {`,
    `  const e = Math.exp(-2 * ax);`,
    `  const t = (1 - e) / (1 + e);`,
    `  if (x0 < 0) { y = -t; } else { y = t; }`,
    `}`,
    'return y;',
  ].join('\n'),
  erf: [
    'const ax = Math.abs(x0);',
    'let y = 0;',
    'if (ax < 0.5) {',
    '  const z = x0 * x0;',
    `  y = x0 * ${lit(TWO_OVER_SQRT_PI)} * (${horner('z', ERF_SERIES)});`,
    '} else {',
    `  const t = 1 / (1 + 0.5 * ax);`,
    `  const e = 1 - t * Math.exp(-ax * ax + (${horner('t', ERFC_P)}));`,
    '  if (x0 < 0) { y = -e; } else { y = e; }',
    '}',
    'return y;',
  ].join('\n'),
  gelu: `${cdf()}\nreturn x0 * cdf;`,
  geluGrad: `${cdf()}\nreturn cdf + x0 * ${lit(1 / Math.sqrt(2 * Math.PI))} * Math.exp(-0.5 * x0 * x0);`,
  add: 'return x0 + x1;',
  sub: 'return x0 - x1;',
  mul: 'return x0 * x1;',
  div: 'return x0 / x1;',
  pow: [
    'const ax = Math.abs(x0);',
    'let y = 1;',
    'if (x1 !== 0) {',
    '  if (x0 === 0) {',
    '    if (x1 > 0) { y = 0; } else { y = Infinity; }',
    '  } else {',
    '    y = Math.pow(ax, x1);',
    '    if (x0 < 0) {',
    '      if (Math.floor(x1) !== x1) { y = Math.sqrt(-ax); }',
    '      else if (Math.floor(x1 * 0.5) * 2 !== x1) { y = -y; }',
    '    }',
    '  }',
    '}',
    'return y;',
  ].join('\n'),
  maximum: 'let y = x1;\nif (x0 > x1 || x0 !== x0) { y = x0; }\nreturn y;',
  minimum: 'let y = x1;\nif (x0 < x1 || x0 !== x0) { y = x0; }\nreturn y;',
  greater: 'let y = 0;\nif (x0 > x1) { y = 1; }\nreturn y;',
  greaterEqual: 'let y = 0;\nif (x0 >= x1) { y = 1; }\nreturn y;',
  equal: 'let y = 0;\nif (x0 === x1) { y = 1; }\nreturn y;',
  where: 'let y = x2;\nif (x0 !== 0) { y = x1; }\nreturn y;',
};

/** A kernel that loads x0, x1, … from inputs broadcast to `outShape`, then runs `body` (statements ending in `return`). */
function broadcastKernel(body: string, inShapes: Shape[], outShape: Shape): KernelSource {
  const n = outShape.reduce((a, b) => a * b, 1);
  const { dims, strides } = collapse(
    outShape,
    inShapes.map((s) => broadcastStrides(s, outShape)),
  );
  const { code, vars } = indexVars(dims);
  const args = inShapes.map((_, k) => `a${k}`);
  const loads = args.map((a, k) => `const x${k} = ${a}[${linear(vars.map((v, d) => [v, strides[k][d]]))}];`).join('\n');
  return { source: `function(${args.join(', ')}) {\n${code}${loads}\n${body}\n}`, n, loopMax: 0 };
}

/**
 * Statements computing `expr` (src/fused.ts) into `v<root>`: each operation is its BODY above,
 * with its operands substituted, its locals renamed apart and its `return` turned into an
 * assignment — so fused kernels use the same GLSL-safe bodies as the single-op kernels.
 */
export function exprStatements(expr: Expr): { code: string; result: string } {
  const lines: string[] = [];
  let uid = 0;
  const visit = (e: Expr): string => {
    if (typeof e === 'number') return `(${literal(e)})`;
    if ('x' in e) return `x${e.x}`;
    const args = e.args.map(visit);
    const id = uid++;
    const out = `v${id}`;
    let body = BODY[e.op];
    const locals = new Set([...body.matchAll(/\b(?:const|let)\s+([A-Za-z_]\w*)/g)].map((m) => m[1]));
    for (const l of locals) body = body.replace(new RegExp(`\\b${l}\\b`, 'g'), `${l}_${id}`);
    body = body.replace(/\bx([0-2])\b/g, (_, k: string) => args[+k]);
    const ret = /return ([^;]*);\s*$/.exec(body);
    if (!ret) throw new Error(`gpujs fused: the body of ${e.op} does not end in a return`);
    lines.push(`let ${out} = 0;`, body.slice(0, ret.index), `${out} = ${ret[1]};`);
    return out;
  };
  const result = visit(expr);
  return { code: lines.filter((l) => l.trim()).join('\n'), result };
}

/** A fused expression (src/fused.ts) over inputs broadcast to `outShape`: one kernel. */
export function exprKernel(expr: Expr, inShapes: Shape[], outShape: Shape): KernelSource {
  const { code, result } = exprStatements(expr);
  return broadcastKernel(`${code}\nreturn ${result};`, inShapes, outShape);
}

/** Elementwise `op` over inputs of `inShapes` broadcast to `outShape`. */
export function elementwiseKernel(op: ElementwiseOp, inShapes: Shape[], outShape: Shape): KernelSource {
  const arity = ARITY[op];
  if (inShapes.length !== arity) throw new Error(`gpujs ${op}: expects ${arity} inputs, got ${inShapes.length}`);
  return broadcastKernel(BODY[op], inShapes, outShape);
}

/** Every elementwise op with a kernel body. */
export const ELEMENTWISE_OPS = Object.keys(BODY) as ElementwiseOp[];
