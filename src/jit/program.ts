/**
 * A traced program (JAX's jaxpr): the primitives a function applies, in order, on numbered
 * variables — the function's tensor arguments first, then the constants it captured or uploaded,
 * then one variable per equation output.
 *
 *   traceProgram(f, args)  runs f once on `Staged` stand-ins (shapes, no data): core's `bind`
 *                          hands every level-0 primitive to the stager (src/core.ts), so the
 *                          differentiation levels above (vjp, grad of grad) run as usual and
 *                          their backward passes are recorded too.
 *
 * A staged value has no data: reading it (item(), toArray()) inside the traced function throws.
 */
import { Concrete, Tensor, withStager, type Stager } from '../core';
import type { Backend } from '../backend';
import type { Expr } from '../fused';
import type { PrimName } from '../primitives';
import { fmt, type Shape } from '../shape';
import { flatten } from '../tree';

/** A value of a program being traced: a variable of the program, with its shape. */
export class Staged extends Tensor {
  constructor(
    readonly shape: Shape,
    readonly backend: Backend,
    readonly v: number,
    readonly owner: object,
  ) {
    super();
  }
  concrete(): Concrete {
    throw new Error(
      `jit: the values of ${this.label ?? `a traced ${fmt(this.shape)} tensor`} are not known while tracing — a jitted function cannot read tensor values (item(), toArray(), data-dependent control flow); return the tensor and read it outside`,
    );
  }
}

/**
 * What an equation applies: a primitive, or (after the rewrites only) `fusedReduce` — a sum or
 * max of a fused expression in one pass, on backends that have `Backend.fusedReduce` — or
 * `batch` — one expression over several independent members in one launch (horizontal fusion,
 * src/jit/batch.ts, on backends that have `Backend.fusedBatch`) — or `matmulView` — a matmul or
 * linear reading transposed operands without the transposed copy (`Backend.matmulOfViews`) — or
 * `fusedMulti` — a fused group that also stores values computed inside it which others read
 * (multi-output fusion, `Backend.fusedMulti`).
 */
export type PlanOp = PrimName | 'fusedReduce' | 'batch' | 'matmulView' | 'fusedMulti';

/**
 * A matmul or linear reading operands through transposes (`Backend.matmulOfViews`): operand k
 * is the equation's input k transposed by `views[k].perm` and read as `shapes[k]`.
 */
export interface MatmulViewParams {
  prim: 'matmul' | 'linear';
  params: unknown;
  views: ({ perm: number[] } | null)[];
  shapes: number[][];
}
export interface FusedReduceParams {
  kind: 'sum' | 'max';
  src: string;
  axes: number[];
  /** The shape the expression is evaluated over (before the reduction). */
  shape: number[];
  ops: number;
}

/**
 * A fused group with several outputs: `exprs[j]` (source `srcs[j]`) over the inputs, broadcast to
 * `shape`, is variable `outs[j]`; `outs[0]` is the equation's `out` (the group's root).
 */
export interface FusedMultiParams {
  exprs: Expr[];
  srcs: string[];
  shape: number[];
  outs: number[];
  ops: number;
}

/**
 * A horizontal batch: `srcs` over each member — its inputs, its outputs (one per source), the n
 * elements it runs over — in one launch; `ins` of the equation lists every member's inputs.
 * Reductions (`sum`, `max`) have one source.
 */
export interface BatchParams {
  kind: 'map' | 'sum' | 'max';
  srcs: string[];
  ops: number;
  members: { ins: number[]; outs: number[]; n: number }[];
}

export interface Eqn {
  prim: PlanOp;
  params: unknown;
  ins: number[];
  out: number;
}

export interface Program {
  backend: Backend;
  /** Shape of every variable. */
  shapes: Shape[];
  /** Variables 0 … nInputs−1 are the tensor leaves of the arguments, in tree order. */
  nInputs: number;
  /** Variables nInputs … nInputs+consts.length−1: tensors captured or uploaded by the function. */
  consts: Concrete[];
  /** Constants uploaded while tracing (the program owns them). */
  owned: Set<Concrete>;
  eqns: Eqn[];
  /** The variable of each tensor leaf of the result, in tree order. */
  outs: number[];
}

/** The variables an equation defines: its output, every output of a multi-output group, or every member's outputs of a batch. */
export const eqnOuts = (e: Eqn): number[] =>
  e.prim === 'batch'
    ? (e.params as BatchParams).members.flatMap((m) => m.outs)
    : e.prim === 'fusedMulti'
      ? (e.params as FusedMultiParams).outs
      : [e.out];

export const isConstVar = (p: Program, v: number): boolean => v >= p.nInputs && v < p.nInputs + p.consts.length;
export const isInputVar = (p: Program, v: number): boolean => v < p.nInputs;

/**
 * Trace `f(...args)`: the program and the result tree (with Staged leaves). The tensor leaves
 * of `args` must be concrete tensors on one backend.
 */
export function traceProgram(
  f: (...args: unknown[]) => unknown,
  args: unknown[],
  backend: Backend,
): { program: Program; result: unknown } {
  const flat = flatten(args);
  const owner = {};
  const shapes: Shape[] = flat.leaves.map((t) => [...t.shape]);
  const constVar = new Map<Concrete, number>();
  const consts: Concrete[] = [];
  const owned = new Set<Concrete>();
  const eqns: Eqn[] = [];
  // constants get their variable numbers after the inputs; equations are renumbered at the end
  const pendingConsts: Concrete[] = [];
  const varOf = (t: Tensor): number => {
    if (t instanceof Staged) {
      if (t.owner !== owner)
        throw new Error(
          'jit: a traced tensor from another trace leaked into this one (a jitted function stored a traced value outside and used it later)',
        );
      return t.v;
    }
    if (t instanceof Concrete) {
      if (t.backend !== backend)
        throw new Error(`jit: a constant on ${t.backend.name} is used by a function traced on ${backend.name}`);
      let v = constVar.get(t);
      if (v === undefined) {
        v = -1 - pendingConsts.length; // provisional: negative ids are constants
        pendingConsts.push(t);
        constVar.set(t, v);
      }
      return v;
    }
    throw new Error(
      'jit: a tensor of an enclosing differentiation level reached the traced function (jit inside grad runs eagerly; was a tracer captured by a closure?)',
    );
  };
  let next = flat.leaves.length;
  const tmpShapes = new Map<number, Shape>();
  const stager: Stager = {
    stage(prim, inputs, outShape, params) {
      const ins = inputs.map(varOf);
      const out = next++;
      tmpShapes.set(out, [...outShape]);
      eqns.push({ prim, params, ins, out });
      return new Staged([...outShape], backend, out, owner);
    },
    constant(c) {
      owned.add(c);
    },
  };
  const inputs = flat.leaves.map((t, i) => {
    const s = new Staged([...t.shape], backend, i, owner);
    s.label = t.label ?? flat.paths[i];
    return s;
  });
  const result = withStager(stager, () => f(...(flat.rebuild(inputs) as unknown[])));
  const outs = flatten(result).leaves.map(varOf);
  // final numbering: inputs, constants, equation outputs
  const nIn = flat.leaves.length;
  const nConst = pendingConsts.length;
  const renum = (v: number) => (v < 0 ? nIn + (-1 - v) : v < nIn ? v : v + nConst);
  for (const c of pendingConsts) {
    consts.push(c);
    shapes.push([...c.shape]);
  }
  for (const e of eqns) {
    e.ins = e.ins.map(renum);
    e.out = renum(e.out);
    shapes[e.out] = tmpShapes.get(e.out - nConst)!;
  }
  // constants uploaded but never used are not the program's: free them now
  for (const c of owned) if (!constVar.has(c)) c.dispose();
  for (const c of [...owned]) if (!constVar.has(c)) owned.delete(c);
  return { program: { backend, shapes, nInputs: nIn, consts, owned, eqns, outs: outs.map(renum) }, result };
}

/** Canonical text of a program's structure: equal keys mean the same computation for any input and constant values. */
export function programKey(p: Program): string {
  const parts: string[] = [
    p.backend.name,
    `in:${p.shapes.slice(0, p.nInputs).map(fmt).join('')}`,
    `c:${p.consts.map((c) => fmt(c.shape)).join('')}`,
  ];
  for (const e of p.eqns)
    parts.push(`${e.out}=${e.prim}${paramsKey(e.params)}(${e.ins.join(',')})${fmt(p.shapes[e.out])}`);
  parts.push(`out:${p.outs.join(',')}`);
  return parts.join(';');
}

/**
 * Whether two programs have the same structure: what `programKey` compares (equal keys exactly
 * when this is true), without building the text — a jitted function that traces every call (host
 * values in its arguments) checks the new trace against the last one this way first.
 */
export function sameStructure(a: Program, b: Program): boolean {
  if (a === b) return true;
  if (a.backend.name !== b.backend.name || a.nInputs !== b.nInputs || a.consts.length !== b.consts.length) return false;
  if (a.eqns.length !== b.eqns.length || !sameList(a.outs, b.outs)) return false;
  for (let v = 0; v < a.nInputs + a.consts.length; v++) if (!sameList(a.shapes[v], b.shapes[v])) return false;
  for (let i = 0; i < a.eqns.length; i++) {
    const [e, f] = [a.eqns[i], b.eqns[i]];
    if (e.prim !== f.prim || e.out !== f.out || !sameList(e.ins, f.ins)) return false;
    if (!sameList(a.shapes[e.out], b.shapes[f.out]) || !sameParams(e.params, f.params)) return false;
  }
  return true;
}

const sameList = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** Equal as paramsKey's text is: plain data compared deeply, fused expressions (`expr`, `exprs`) by nothing. */
function sameParams(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return paramsKey(a) === paramsKey(b);
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).filter(
    (k) => k !== 'expr' && k !== 'exprs' && (a as Record<string, unknown>)[k] !== undefined,
  );
  const kb = Object.keys(b).filter(
    (k) => k !== 'expr' && k !== 'exprs' && (b as Record<string, unknown>)[k] !== undefined,
  );
  if (!sameKeys(ka, kb)) return false;
  return ka.every((k) => sameParams((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

const sameKeys = (a: string[], b: string[]): boolean => a.length === b.length && a.every((k, i) => k === b[i]);

/** Parameters as text (a fused expression by its source). */
export function paramsKey(params: unknown): string {
  return JSON.stringify(params, (k, v) => (k === 'expr' || k === 'exprs' ? undefined : v)) ?? '';
}
