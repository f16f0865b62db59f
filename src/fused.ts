/**
 * Fused elementwise expressions: one kernel for a chain of elementwise arithmetic, and the one
 * scalar definition of every elementwise operation.
 *
 * An optimizer update such as AdamW's m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²,
 * u = (m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε) is a dozen elementwise primitives, each a pass over
 * every parameter. Written as an `Expr` over its inputs x0, x1, … it is one `fused` primitive,
 * one pass: the backends generate one loop (native, ref64) or one kernel (gpu.js) from the
 * expression. jit (src/jit/fuse.ts) builds the same expressions from maximal groups of
 * elementwise primitives.
 *
 *   fused(E.add(E.mul(0.9, E.x(1)), E.mul(0.1, E.x(0))), [g, m])    // 0.9·m + 0.1·g
 *
 * Its VJP rule is the VJP of the same expression evaluated with the unfused primitives
 * (`evalExpr`), so gradients (of any order) are those of the composition; property tests check
 * the fused value and gradients against it and against float64 central differences.
 *
 * `SCALAR_OPS` is the scalar definition of each elementwise operation as JS source over its
 * operands; the native loops (kernels/native/elementwise.ts) and the ref64 fused kernel compile
 * it with the helpers of `scalarHelpers` in scope (erf, gelu, … — float32-accurate ones on
 * native, float64 ones on ref64). gpu.js kernels compose the GLSL-safe bodies of
 * kernels/gpujs/elementwise.ts, which have the same names. Numbers are constants, folded into
 * the source.
 */
import type { Tensor } from './core';
import * as op from './ops';

export type FusedOp =
  | 'add'
  | 'sub'
  | 'mul'
  | 'div'
  | 'pow'
  | 'maximum'
  | 'minimum'
  | 'greater'
  | 'greaterEqual'
  | 'equal'
  | 'neg'
  | 'square'
  | 'sqrt'
  | 'rsqrt'
  | 'exp'
  | 'log'
  | 'tanh'
  | 'erf'
  | 'gelu'
  | 'geluGrad'
  | 'where';
/** An elementwise expression over the inputs of a `fused` pass (built with `E`). */
export type Expr = number | { readonly x: number } | { readonly op: FusedOp; readonly args: readonly Expr[] };

interface ScalarOp {
  arity: number;
  /** JS source of the operation on operand sources (helpers: erf, sq, fmax, fmin, gelu, geluGrad). */
  js: (...a: string[]) => string;
  /** The operation with ops (the unfused primitive). */
  eval: (...a: Tensor[]) => Tensor;
  /** A library function many times dearer than an add (jit does not recompute it per broadcast element). */
  costly?: true;
}

/** Every elementwise operation: arity, scalar JS source, and the primitive it stands for. */
export const SCALAR_OPS: Record<FusedOp, ScalarOp> = {
  add: { arity: 2, js: (a, b) => `(${a} + ${b})`, eval: op.add },
  sub: { arity: 2, js: (a, b) => `(${a} - ${b})`, eval: op.sub },
  mul: { arity: 2, js: (a, b) => `(${a} * ${b})`, eval: op.mul },
  div: { arity: 2, js: (a, b) => `(${a} / ${b})`, eval: op.div },
  pow: { arity: 2, js: (a, b) => `Math.pow(${a}, ${b})`, eval: op.pow, costly: true },
  // NaN propagates from the first operand (as the primitives' kernels)
  maximum: { arity: 2, js: (a, b) => `fmax(${a}, ${b})`, eval: op.maximum },
  minimum: { arity: 2, js: (a, b) => `fmin(${a}, ${b})`, eval: op.minimum },
  greater: { arity: 2, js: (a, b) => `(${a} > ${b} ? 1 : 0)`, eval: op.greater },
  greaterEqual: { arity: 2, js: (a, b) => `(${a} >= ${b} ? 1 : 0)`, eval: op.greaterEqual },
  equal: { arity: 2, js: (a, b) => `(${a} === ${b} ? 1 : 0)`, eval: op.equal },
  neg: { arity: 1, js: (a) => `(-${a})`, eval: op.neg },
  square: { arity: 1, js: (a) => `sq(${a})`, eval: op.square },
  sqrt: { arity: 1, js: (a) => `Math.sqrt(${a})`, eval: op.sqrt },
  rsqrt: { arity: 1, js: (a) => `(1 / Math.sqrt(${a}))`, eval: op.rsqrt },
  exp: { arity: 1, js: (a) => `Math.exp(${a})`, eval: op.exp, costly: true },
  log: { arity: 1, js: (a) => `Math.log(${a})`, eval: op.log, costly: true },
  tanh: { arity: 1, js: (a) => `Math.tanh(${a})`, eval: op.tanh, costly: true },
  erf: { arity: 1, js: (a) => `erf(${a})`, eval: op.erf, costly: true },
  gelu: { arity: 1, js: (a) => `gelu(${a})`, eval: op.gelu, costly: true },
  geluGrad: { arity: 1, js: (a) => `geluGrad(${a})`, eval: (x) => op.bind('geluGrad', [x], {}), costly: true },
  where: { arity: 3, js: (c, a, b) => `(${c} !== 0 ? ${a} : ${b})`, eval: (c, a, b) => op.where(c, a, b) },
};

export const FUSED_OPS = Object.keys(SCALAR_OPS) as FusedOp[];

/** The functions scalar sources call, built on an erf (float32-accurate on native, float64 on ref64). */
export function scalarHelpers(erf: (x: number) => number) {
  return new Function('erf', HELPERS_SOURCE)(erf) as {
    erf: (x: number) => number;
    sq: (x: number) => number;
    fmax: (a: number, b: number) => number;
    fmin: (a: number, b: number) => number;
    gelu: (x: number) => number;
    geluGrad: (x: number) => number;
  };
}

/**
 * The helpers as JavaScript source, a function body of `erf`: compiled here, and by the native
 * kernels' worker thread from the same text (kernels/native/worker.ts), so both threads run one
 * definition.
 */
export const HELPERS_SOURCE = `
  const sq = (x) => x * x;
  const fmax = (a, b) => (a > b || a !== a ? a : b);
  const fmin = (a, b) => (a < b || a !== a ? a : b);
  // exact GELU x·Φ(x) and its derivative Φ(x) + x·φ(x)
  const gelu = (x) => 0.5 * x * (1 + erf(x * Math.SQRT1_2));
  const geluGrad = (x) => 0.5 * (1 + erf(x * Math.SQRT1_2)) + x * 0.3989422804014327 * Math.exp(-0.5 * x * x);
  return { erf, sq, fmax, fmin, gelu, geluGrad };`;
export type ScalarHelpers = ReturnType<typeof scalarHelpers>;
export const HELPER_NAMES = Object.keys(scalarHelpers(Math.abs)) as (keyof ScalarHelpers)[];

/** A scalar function of x0, x1, … from a source, with the helpers in scope. */
export function compileScalar(src: string, arity: number, helpers: ScalarHelpers): (...x: number[]) => number {
  const xs = Array.from({ length: arity }, (_, k) => `x${k}`);
  return new Function(...HELPER_NAMES, `return function(${xs.join(', ')}) { return ${src}; };`)(
    ...HELPER_NAMES.map((h) => helpers[h]),
  );
}

const node = (o: FusedOp, ...args: Expr[]): Expr => ({ op: o, args });

/** Builders for expressions: E.x(k) is input k; numbers are constants. */
export const E = {
  x: (k: number): Expr => {
    if (!(Number.isInteger(k) && k >= 0))
      throw new RangeError(`fused: input index must be a non-negative integer, got ${k}`);
    return { x: k };
  },
  op: (o: FusedOp, ...args: Expr[]): Expr => {
    if (!(o in SCALAR_OPS) || SCALAR_OPS[o].arity !== args.length)
      throw new Error(`fused: ${o} takes ${SCALAR_OPS[o]?.arity ?? '?'} operands, got ${args.length}`);
    return node(o, ...args);
  },
  add: (a: Expr, b: Expr) => node('add', a, b),
  sub: (a: Expr, b: Expr) => node('sub', a, b),
  mul: (a: Expr, b: Expr) => node('mul', a, b),
  div: (a: Expr, b: Expr) => node('div', a, b),
  neg: (a: Expr) => node('neg', a),
  square: (a: Expr) => node('square', a),
  sqrt: (a: Expr) => node('sqrt', a),
  exp: (a: Expr) => node('exp', a),
  log: (a: Expr) => node('log', a),
  where: (c: Expr, a: Expr, b: Expr) => node('where', c, a, b),
};

/** A number as a source literal that JS and GLSL read as the same float (always with a point or exponent). */
export function literal(v: number): string {
  if (!Number.isFinite(v)) throw new RangeError(`fused: constants must be finite, got ${v}`);
  const s = String(v);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

/**
 * Scalar JS source of an expression in the variables x0, x1, … (fully parenthesised). Also the
 * canonical key of the expression: two expressions with the same source compute the same thing.
 */
export function exprSource(e: Expr): string {
  if (typeof e === 'number') return `(${literal(e)})`;
  if ('x' in e) return `x${e.x}`;
  const def = SCALAR_OPS[e.op];
  if (!def || e.args.length !== def.arity) throw new Error(`fused: bad node ${JSON.stringify(e)}`);
  return def.js(...e.args.map(exprSource));
}

/** Each operation's source as literal pieces around its operands (from SCALAR_OPS[o].js, so parsing follows it). */
const TEMPLATES = FUSED_OPS.map((o) => {
  const holes = Array.from({ length: SCALAR_OPS[o].arity }, (_, k) => `⟨${k}⟩`); // (no source has these)
  return { op: o, pieces: SCALAR_OPS[o].js(...holes).split(/⟨\d+⟩/) };
});
const LITERAL = /^\((-?\d+(?:\.\d*)?(?:e[+-]?\d+)?)\)/;
const INPUT = /^x(\d+)/;

/**
 * The expression whose `exprSource` is `src`, or null for text that exprSource does not write.
 * Backends receive sources (the canonical keys); a kernel that lowers the operations itself
 * (kernels/native/wasm-loop.ts) reads the tree back from them. Packrat parsing over SCALAR_OPS'
 * own templates: an operand at a given position is parsed once.
 */
export function parseExprSource(src: string): Expr | null {
  const memo = new Map<number, { e: Expr; end: number } | null>();
  const operand = (pos: number): { e: Expr; end: number } | null => {
    if (memo.has(pos)) return memo.get(pos)!;
    memo.set(pos, null);
    const rest = src.slice(pos);
    let r: { e: Expr; end: number } | null = null;
    const input = INPUT.exec(rest);
    const lit = LITERAL.exec(rest);
    if (input) r = { e: { x: Number(input[1]) }, end: pos + input[0].length };
    else if (lit) r = { e: Number(lit[1]), end: pos + lit[0].length };
    for (const t of TEMPLATES) {
      if (r) break;
      let at = pos;
      const args: Expr[] = [];
      for (let k = 0; k < t.pieces.length && at >= 0; k++) {
        if (!src.startsWith(t.pieces[k], at)) at = -1;
        else if (k < t.pieces.length - 1) {
          const a = operand(at + t.pieces[k].length);
          if (a) args.push(a.e);
          at = a ? a.end : -1;
        } else at += t.pieces[k].length;
      }
      if (at >= 0) r = { e: { op: t.op, args }, end: at };
    }
    memo.set(pos, r);
    return r;
  };
  const r = operand(0);
  return r && r.end === src.length ? r.e : null;
}

/** Number of inputs the expression reads (1 + the largest input index). */
export function exprArity(e: Expr): number {
  if (typeof e === 'number') return 0;
  if ('x' in e) return e.x + 1;
  return Math.max(0, ...e.args.map(exprArity));
}

/** Number of operations per element (for FLOP counts). */
/** Whether the expression calls a costly operation (ScalarOp.costly). */
export function exprCostly(e: Expr): boolean {
  if (typeof e === 'number' || 'x' in e) return false;
  return !!SCALAR_OPS[e.op].costly || e.args.some(exprCostly);
}

export function exprOps(e: Expr): number {
  if (typeof e === 'number' || 'x' in e) return 0;
  return 1 + e.args.reduce((a: number, x) => a + exprOps(x), 0);
}

const numeric = new Map<FusedOp, (...v: number[]) => number>();
const f64Helpers = scalarHelpers((x) => x); // only for folding operations that do not call erf
/** The operation on numbers (constant folding). */
function foldNumbers(o: FusedOp, v: number[]): number | null {
  if (o === 'erf' || o === 'gelu' || o === 'geluGrad') return null; // needs an erf: keep as a tensor op
  let f = numeric.get(o);
  if (!f) numeric.set(o, (f = compileScalar(SCALAR_OPS[o].js(...v.map((_, k) => `x${k}`)), v.length, f64Helpers)));
  return f(...v);
}

/** The expression evaluated with the unfused primitives: the reference `fused` stands for. */
export function evalExpr(e: Expr, xs: readonly Tensor[]): Tensor | number {
  if (typeof e === 'number') return e;
  if ('x' in e) return xs[e.x];
  const args = e.args.map((x) => evalExpr(x, xs));
  if (args.every((a) => typeof a === 'number')) {
    const v = foldNumbers(e.op, args as number[]);
    if (v !== null) return v; // constant subexpression
  }
  const like = args.find((a): a is Tensor => typeof a !== 'number') ?? xs[0];
  return SCALAR_OPS[e.op].eval(...args.map((a) => (typeof a === 'number' ? op.scalar(a, like) : a)));
}

/**
 * One pass computing `e` over `inputs` (NumPy broadcasting), as the `fused` primitive. `shape`
 * (optional) is the output shape when it is larger than the inputs' broadcast (jit folds
 * broadcasts into the expression's reads).
 */
export function fused(e: Expr, inputs: Tensor[], shape?: readonly number[]): Tensor {
  const arity = exprArity(e);
  if (inputs.length === 0 || inputs.length < arity)
    throw new Error(`fused: the expression ${exprSource(e)} reads ${arity} inputs, got ${inputs.length}`);
  return op.bind(
    'fused',
    inputs,
    shape ? { expr: e, src: exprSource(e), shape: [...shape] } : { expr: e, src: exprSource(e) },
  );
}
