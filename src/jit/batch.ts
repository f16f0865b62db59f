/**
 * Horizontal fusion: the same elementwise pass applied to many independent tensors — AdamW's
 * moment and parameter updates, the EMA teacher update, the clipping scale and Σg² of the global
 * gradient norm, each once per parameter — runs as one launch over all of them (a `batch`
 * equation; `Backend.fusedBatch`), as PyTorch's multi-tensor "foreach" kernels do.
 *
 * Candidates are equations computing an elementwise expression whose inputs are read in order or
 * as one value: a fused group (with one output or several), a lone elementwise primitive, or a
 * full reduction (to one value) of either. Two candidates batch together when they compute the same expression the same way
 * (kind, source, which inputs are single values). The batch runs where its last member was:
 * a member joins an open batch only while no equation has yet read an output of the batch, so
 * members never depend on each other and every reader of a member still runs after the batch.
 * Reshapes of a member's output (views, e.g. each Σg² made a vector for the norm's concat) move
 * with the batch, after it, instead of closing it.
 */
import { exprOps, SCALAR_OPS, type FusedOp, type Expr } from '../fused';
import { size } from '../shape';
import {
  eqnOuts,
  type BatchParams,
  type Eqn,
  type FusedMultiParams,
  type FusedReduceParams,
  type Program,
} from './program';

interface Candidate {
  key: string;
  kind: BatchParams['kind'];
  srcs: string[];
  ops: number;
  /** Elements the member's expression runs over. */
  n: number;
}

function candidate(p: Program, e: Eqn, unfused: Set<string>): Candidate | null {
  let kind: BatchParams['kind'] = 'map';
  let srcs: string[];
  let ops: number;
  let n = size(p.shapes[e.out]);
  if (e.prim === 'fused') {
    const q = e.params as { src: string; expr: Expr };
    srcs = [q.src];
    ops = exprOps(q.expr);
  } else if (e.prim === 'fusedMulti') {
    const q = e.params as FusedMultiParams;
    srcs = q.srcs;
    ops = q.ops;
  } else if (e.prim === 'fusedReduce') {
    const q = e.params as FusedReduceParams;
    if (n !== 1) return null;
    kind = q.kind;
    srcs = [q.src];
    ops = q.ops;
    n = size(q.shape);
  } else if ((e.prim === 'sum' || e.prim === 'max') && n === 1) {
    kind = e.prim;
    srcs = ['x0'];
    ops = 0;
    n = size(p.shapes[e.ins[0]]);
  } else if (e.prim in SCALAR_OPS && !unfused.has(e.prim)) {
    const def = SCALAR_OPS[e.prim as FusedOp];
    srcs = [def.js(...e.ins.map((_, k) => `x${k}`))];
    ops = 1;
  } else return null;
  if (n === 0) return null;
  // every input is read in order (as long as the member: broadcasting to the same size keeps the
  // row-major order) or is one value
  const pattern = e.ins.map((v) => {
    const m = size(p.shapes[v]);
    return m === n && n > 1 ? 'c' : m === 1 ? 'b' : null;
  });
  if (pattern.some((c) => c === null)) return null;
  return { key: `${kind}|${pattern.join('')}|${srcs.join(' ; ')}`, kind, srcs, ops, n };
}

export function batchHorizontal(p: Program): Program {
  if (!p.backend.fusedBatch) return p;
  const unfused = new Set<string>(p.backend.unfusedOps ?? []);
  const openOf = new Map<number, string>(); // member output → its open batch's key
  // reshapes of a member's output (views) move with the batch instead of closing it
  type Open = { c: Candidate; members: Eqn[]; ns: number[]; views: Eqn[] };
  const batches: Open[] = [];
  const byKey = new Map<string, Open>();
  for (const e of p.eqns) {
    const into = e.prim === 'reshape' ? openOf.get(e.ins[0]) : undefined;
    if (into !== undefined) {
      byKey.get(into)!.views.push(e);
      openOf.set(e.out, into);
      continue;
    }
    // reading an output of an open batch closes it
    for (const v of e.ins) {
      const k = openOf.get(v);
      if (k === undefined) continue;
      const b = byKey.get(k)!;
      for (const m of [...b.members, ...b.views]) for (const o of eqnOuts(m)) openOf.delete(o);
      byKey.delete(k);
    }
    const c = candidate(p, e, unfused);
    if (!c) continue;
    let b = byKey.get(c.key);
    if (!b) {
      b = { c, members: [], ns: [], views: [] };
      byKey.set(c.key, b);
      batches.push(b);
    }
    b.members.push(e);
    b.ns.push(c.n);
    for (const o of eqnOuts(e)) openOf.set(o, c.key);
  }
  const batchOf = new Map<Eqn, Open>();
  for (const b of batches) if (b.members.length > 1) for (const m of [...b.members, ...b.views]) batchOf.set(m, b);
  if (batchOf.size === 0) return p;
  const eqns: Eqn[] = [];
  for (const e of p.eqns) {
    const b = batchOf.get(e);
    if (!b) eqns.push(e);
    else if (e === b.members[b.members.length - 1]) {
      const params: BatchParams = {
        kind: b.c.kind,
        srcs: b.c.srcs,
        ops: b.c.ops,
        members: b.members.map((m, k) => ({ ins: m.ins, outs: eqnOuts(m), n: b.ns[k] })),
      };
      eqns.push({ prim: 'batch', params, ins: b.members.flatMap((m) => m.ins), out: e.out }, ...b.views);
    }
  }
  return { ...p, eqns };
}
