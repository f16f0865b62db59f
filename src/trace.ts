/**
 * Tracing: record every kernel a function launches and print the graph like a jaxpr.
 *
 *   { a:f32[4,3] b:f32[3] }
 *   c:f32[8,3]  = matmul[transB] x a
 *   d:f32[8,3]  = add c b
 *   ...
 *   kernels: 12 launches, 9 distinct (op, shapes, params) signatures, 1.2 kFLOP
 *
 * Because execution is eager, tracing `grad(f)` prints the forward pass followed by the
 * backward pass — every primitive the gradient is made of. The same records give kernel and
 * FLOP counts (used by `matpac trace` and the benchmarks).
 */
import { Concrete, popHook, pushHook, ruleOf, type LaunchRecord } from './core';
import type { PrimName } from './primitives';
import { fmt } from './shape';
import { flatten } from './tree';

/** One primitive application in a trace: its inputs and output (names and shapes), parameters and FLOPs. */
export interface TraceEquation {
  prim: PrimName;
  params: unknown;
  inputs: string[];
  inShapes: number[][];
  output: string;
  outShape: number[];
  flops: number;
  /** For a backward equation: the VJP rule that launched it and the forward output it differentiates. */
  vjpOf?: { prim: PrimName; output: string };
  /** The input tensors themselves (only with `trace(…, { keepInputs: true })`). */
  inputTensors?: Concrete[];
}

/** The primitives a function ran, in order, with its inputs and outputs (see `trace`). */
export interface Trace {
  inputs: { name: string; shape: number[] }[];
  equations: TraceEquation[];
  constants: { name: string; shape: number[] }[];
  /** Distinct kernel signatures (op + shapes + params): what a backend must compile. */
  kernels: Map<string, number>;
  flops: number;
}

function varName(i: number): string {
  let s = '';
  let n = i;
  do {
    s = String.fromCharCode(97 + (n % 26)) + s;
    n = Math.floor(n / 26) - 1;
  } while (n >= 0);
  return s;
}

/** An equation's params as the trace prints them, e.g. `[transB]` or `[axes=(1)]`. */
export function fmtParams(params: unknown): string {
  // (objects such as a fused expression's tree are shown through their other params, e.g. its source)
  const entries = Object.entries((params ?? {}) as Record<string, unknown>).filter(
    ([, v]) => v !== false && !(v && typeof v === 'object' && !Array.isArray(v)),
  );
  if (!entries.length) return '';
  return `[${entries.map(([k, v]) => (v === true ? k : `${k}=${Array.isArray(v) ? `(${v.join(',')})` : v}`)).join(' ')}]`;
}

/**
 * Run `fn(args)` and record the primitives it launched. `args`' leaves are named by their paths.
 * With `keepInputs`, each equation also holds its input tensors (e.g. to check its gradient at
 * those values later).
 */
export function trace<A, R>(
  fn: (args: A) => R,
  args: A,
  opts: { keepInputs?: boolean } = {},
): { result: R; trace: Trace } {
  const names = new Map<number, string>();
  const inputs: Trace['inputs'] = [];
  const flat = flatten(args);
  flat.leaves.forEach((t, i) => {
    const c = t.concrete();
    const name = flat.paths[i] || 'x';
    names.set(c.id, name);
    inputs.push({ name, shape: [...c.shape] });
  });
  const equations: TraceEquation[] = [];
  const constants: Trace['constants'] = [];
  let counter = 0;
  const nameOf = (c: Concrete): string => {
    let n = names.get(c.id);
    if (!n) {
      n = c.size === 1 ? `${c.data()[0]}` : `const${constants.length}`;
      if (c.size !== 1) constants.push({ name: n, shape: [...c.shape] });
      names.set(c.id, n);
    }
    return n;
  };
  const hook = (r: LaunchRecord) => {
    const ins = r.inputs.map(nameOf);
    const out = varName(counter++);
    names.set(r.output.id, out);
    const inShapes = r.inputs.map((t) => [...t.shape]);
    const flops = ruleOf(r.prim).flops(inShapes, [...r.output.shape], r.params as never);
    const eq: TraceEquation = {
      prim: r.prim,
      params: r.params,
      inputs: ins,
      inShapes,
      output: out,
      outShape: [...r.output.shape],
      flops,
    };
    if (r.vjpOf) eq.vjpOf = { prim: r.vjpOf.prim, output: names.get(r.vjpOf.out.concrete().id) ?? '?' };
    if (opts.keepInputs) eq.inputTensors = r.inputs;
    equations.push(eq);
  };
  pushHook(hook);
  let result: R;
  try {
    result = fn(args);
  } finally {
    popHook(hook);
  }
  const kernels = new Map<string, number>();
  for (const e of equations) {
    const sig = `${e.prim}${fmtParams(e.params)} ${e.inShapes.map(fmt).join(' ')}`;
    kernels.set(sig, (kernels.get(sig) ?? 0) + 1);
  }
  return {
    result,
    trace: { inputs, equations, constants, kernels, flops: equations.reduce((a, e) => a + e.flops, 0) },
  };
}

/** A FLOP count in human units (e.g. `1.2 GFLOP`). */
export function formatFlops(f: number): string {
  const units = ['', 'k', 'M', 'G', 'T'];
  let i = 0;
  while (f >= 1000 && i < units.length - 1) {
    f /= 1000;
    i++;
  }
  return `${f.toFixed(f < 10 && i > 0 ? 2 : 0)} ${units[i]}FLOP`;
}

/** The trace as text, one equation a line, jaxpr style. */
export function formatTrace(t: Trace, opts: { maxLines?: number } = {}): string {
  const lines: string[] = [];
  lines.push(`{ ${t.inputs.map((i) => `${i.name}:f32${fmt(i.shape)}`).join('\n  ')} }`);
  const eqs =
    opts.maxLines !== undefined && t.equations.length > opts.maxLines
      ? t.equations.slice(0, opts.maxLines)
      : t.equations;
  for (const e of eqs)
    lines.push(`  ${e.output}:f32${fmt(e.outShape)} = ${e.prim}${fmtParams(e.params)} ${e.inputs.join(' ')}`);
  if (eqs.length < t.equations.length) lines.push(`  ... ${t.equations.length - eqs.length} more`);
  const byOp = new Map<string, number>();
  for (const e of t.equations) byOp.set(e.prim, (byOp.get(e.prim) ?? 0) + 1);
  lines.push(`kernels: ${t.equations.length} launches, ${t.kernels.size} distinct signatures, ${formatFlops(t.flops)}`);
  lines.push(
    `by op: ${[...byOp.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k}×${v}`)
      .join(' ')}`,
  );
  return lines.join('\n');
}
