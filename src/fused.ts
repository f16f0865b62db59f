/**
 * Fused elementwise expressions: one kernel for a chain of elementwise arithmetic.
 *
 * An optimizer update such as AdamW's m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²,
 * u = (m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε) is a dozen elementwise primitives, each a pass over
 * every parameter. Written as an `Expr` over its inputs x0, x1, … it is one `fused` primitive,
 * one pass: the backends generate one loop (native, ref64) or one kernel (gpu.js) from the
 * expression's source.
 *
 *   fused(E.add(E.mul(0.9, E.x(1)), E.mul(0.1, E.x(0))), [g, m])    // 0.9·m + 0.1·g
 *
 * Its VJP rule is the VJP of the same expression evaluated with the unfused primitives
 * (`evalExpr`), so gradients (of any order) are those of the composition; property tests check
 * the fused value and gradients against it and against float64 central differences.
 *
 * The operations are the ones whose scalar source means the same in JS and in GLSL: +, −, ×, ÷,
 * negation, square and square root. Numbers are constants, folded into the source.
 */
import type { Tensor } from './core';
import * as op from './ops';

export type FusedOp = 'add' | 'sub' | 'mul' | 'div' | 'neg' | 'square' | 'sqrt';
/** An elementwise expression over the inputs of a `fused` pass (built with `E`). */
export type Expr = number | { readonly x: number } | { readonly op: FusedOp; readonly args: readonly Expr[] };

const node = (o: FusedOp, ...args: Expr[]): Expr => ({ op: o, args });

/** Builders for expressions: E.x(k) is input k; numbers are constants. */
export const E = {
  x: (k: number): Expr => {
    if (!(Number.isInteger(k) && k >= 0)) throw new RangeError(`fused: input index must be a non-negative integer, got ${k}`);
    return { x: k };
  },
  add: (a: Expr, b: Expr) => node('add', a, b),
  sub: (a: Expr, b: Expr) => node('sub', a, b),
  mul: (a: Expr, b: Expr) => node('mul', a, b),
  div: (a: Expr, b: Expr) => node('div', a, b),
  neg: (a: Expr) => node('neg', a),
  square: (a: Expr) => node('square', a),
  sqrt: (a: Expr) => node('sqrt', a),
};

const ARITY: Record<FusedOp, number> = { add: 2, sub: 2, mul: 2, div: 2, neg: 1, square: 1, sqrt: 1 };

/** A number as a source literal that JS and GLSL read as the same float (always with a point or exponent). */
export function literal(v: number): string {
  if (!Number.isFinite(v)) throw new RangeError(`fused: constants must be finite, got ${v}`);
  const s = String(v);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

/**
 * Scalar source of an expression in the variables x0, x1, … (fully parenthesised). Also the
 * canonical key of the expression: two expressions with the same source compute the same thing.
 */
export function exprSource(e: Expr): string {
  if (typeof e === 'number') return `(${literal(e)})`;
  if ('x' in e) return `x${e.x}`;
  if (!(e.op in ARITY) || e.args.length !== ARITY[e.op]) throw new Error(`fused: bad node ${JSON.stringify(e)}`);
  const [a, b] = e.args.map(exprSource);
  switch (e.op) {
    case 'add':
      return `(${a} + ${b})`;
    case 'sub':
      return `(${a} - ${b})`;
    case 'mul':
      return `(${a} * ${b})`;
    case 'div':
      return `(${a} / ${b})`;
    case 'neg':
      return `(-${a})`;
    case 'square':
      return `(${a} * ${a})`;
    case 'sqrt':
      return `Math.sqrt(${a})`;
  }
}

/** Number of inputs the expression reads (1 + the largest input index). */
export function exprArity(e: Expr): number {
  if (typeof e === 'number') return 0;
  if ('x' in e) return e.x + 1;
  return Math.max(0, ...e.args.map(exprArity));
}

/** Number of arithmetic operations per element (for FLOP counts). */
export function exprOps(e: Expr): number {
  if (typeof e === 'number' || 'x' in e) return 0;
  return 1 + e.args.reduce((a: number, x) => a + exprOps(x), 0);
}

/** The expression evaluated with the unfused primitives: the reference `fused` stands for. */
export function evalExpr(e: Expr, xs: readonly Tensor[]): Tensor | number {
  if (typeof e === 'number') return e;
  if ('x' in e) return xs[e.x];
  const [a, b] = e.args.map((x) => evalExpr(x, xs));
  if (typeof a === 'number' && (b === undefined || typeof b === 'number')) return NUMERIC[e.op](a, b as number); // constant subexpression
  switch (e.op) {
    case 'add':
      return op.add(a, b);
    case 'sub':
      return op.sub(a, b);
    case 'mul':
      return op.mul(a, b);
    case 'div':
      return op.div(a, b);
    case 'neg':
      return op.neg(a as Tensor);
    case 'square':
      return op.square(a as Tensor);
    case 'sqrt':
      return op.sqrt(a as Tensor);
  }
}

const NUMERIC: Record<FusedOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  neg: (a) => -a,
  square: (a) => a * a,
  sqrt: (a) => Math.sqrt(a),
};

/** One pass computing `e` over `inputs` (NumPy broadcasting), as the `fused` primitive. */
export function fused(e: Expr, inputs: Tensor[]): Tensor {
  const arity = exprArity(e);
  if (inputs.length === 0 || inputs.length < arity) throw new Error(`fused: the expression ${exprSource(e)} reads ${arity} inputs, got ${inputs.length}`);
  return op.bind('fused', inputs, { expr: e, src: exprSource(e) });
}
