/**
 * A compiled plan: the optimized program as a schedule of launches, with its memory plan.
 *
 * Memory is planned by liveness: after each step, the intermediates whose last reader has run
 * are disposed (the native backend returns the array to its pool, gpu.js deletes the texture),
 * so later steps reuse them inside the same call. Reshapes are views (no kernel on native and
 * gpu.js: the output shares its input's storage), and the storage of a view lives until its
 * last alias dies. The plan's statistics are what `formatPlan` prints: launches, views, FLOPs,
 * bytes moved by the kernels and the peak bytes of intermediates alive at once. A backend may say
 * that more steps are views (`Backend.isView`: native slices that are one contiguous range).
 */
import { ruleOf } from '../core';
import { size, type Shape } from '../shape';
import {
  eqnOuts,
  isConstVar,
  isInputVar,
  type BatchParams,
  type FusedMultiParams,
  type FusedReduceParams,
  type MatmulViewParams,
  type PlanOp,
  type Program,
} from './program';

export interface Step {
  prim: PlanOp;
  params: unknown;
  ins: number[];
  out: number;
  inShapes: Shape[];
  outShape: Shape;
  /** A view (a reshape, or what `Backend.isView` says): its output shares its input's storage (no data moves). */
  view: boolean;
  /** Every variable the step defines: `out`, or all members' outputs of a batch. */
  outs: number[];
  /** Intermediate variables whose last reader is this step: disposed after it. */
  free: number[];
  flops: number;
  bytes: number;
}

export interface PlanStats {
  /** Primitives in the traced program (what eager execution would launch). */
  tracedEqns: number;
  launches: number;
  views: number;
  fusedGroups: number;
  /** Horizontal batches (one launch each) and the equations they run. */
  batches: number;
  batchedMembers: number;
  flops: number;
  /** Bytes read and written by the kernels (inputs + output of each launch). */
  bytesMoved: number;
  /** Most bytes of intermediates alive at once (arguments and constants not counted). */
  peakBytes: number;
}

export interface Plan {
  program: Program;
  steps: Step[];
  stats: PlanStats;
}

export function planProgram(p: Program, tracedEqns: number): Plan {
  const bytesPer = p.backend.precision === 'float64' ? 8 : 4;
  const isIntermediate = (v: number) => !isInputVar(p, v) && !isConstVar(p, v);
  const outputs = new Set(p.outs);
  // storage: a reshape's output shares its input's storage
  const storage = new Map<number, number>();
  const storageOf = (v: number) => storage.get(v) ?? v;
  const isView = (e: Program['eqns'][number]) =>
    e.prim !== 'fusedReduce' &&
    e.prim !== 'batch' &&
    e.prim !== 'fusedMulti' &&
    e.prim !== 'matmulView' &&
    (p.backend.isView
      ? p.backend.isView(
          e.prim,
          e.ins.map((v) => p.shapes[v]),
          e.params,
        )
      : e.prim === 'reshape');
  for (const e of p.eqns) if (isView(e)) storage.set(e.out, storageOf(e.ins[0]));
  // last step reading each variable
  const lastUse = new Map<number, number>();
  p.eqns.forEach((e, i) => e.ins.forEach((v) => lastUse.set(v, i)));
  const steps: Step[] = p.eqns.map((e) => {
    const inShapes = e.ins.map((v) => p.shapes[v]);
    const outShape = p.shapes[e.out];
    const view = isView(e);
    const outs = eqnOuts(e);
    let flops: number;
    if (e.prim === 'fusedReduce') {
      const q = e.params as FusedReduceParams;
      flops = (q.ops + 1) * size(q.shape);
    } else if (e.prim === 'batch') {
      // per member: ops per element over its elements (+1 for a reduction)
      const q = e.params as BatchParams;
      flops = q.members.reduce((a, m) => a + (q.ops + (q.kind === 'map' ? 0 : 1)) * m.n, 0);
    } else if (e.prim === 'fusedMulti') {
      const q = e.params as FusedMultiParams;
      flops = q.ops * size(q.shape);
    } else if (e.prim === 'matmulView') {
      const q = e.params as MatmulViewParams;
      flops = ruleOf(q.prim).flops(q.shapes, outShape as number[], q.params as never);
    } else flops = ruleOf(e.prim).flops(inShapes as number[][], outShape as number[], e.params as never);
    const written = outs.reduce((a, v) => a + size(p.shapes[v]), 0);
    const bytes = view ? 0 : bytesPer * (written + inShapes.reduce((a, s) => a + size(s), 0));
    return {
      prim: e.prim,
      params: e.params,
      ins: e.ins,
      out: e.out,
      outs,
      inShapes,
      outShape,
      view,
      free: [],
      flops,
      bytes,
    };
  });
  // free each intermediate after its last reader (never an output); unread ones right after they are made
  for (const s of steps) for (const v of s.outs) if (!outputs.has(v) && !lastUse.has(v)) s.free.push(v);
  for (const [v, i] of lastUse) if (isIntermediate(v) && !outputs.has(v)) steps[i].free.push(v);
  for (const s of steps) s.free = [...new Set(s.free)];
  // peak bytes of live storage
  const aliveVars = new Map<number, number>(); // storage → live variables sharing it
  let live = 0;
  let peak = 0;
  for (const s of steps) {
    for (const v of s.outs) {
      const st = storageOf(v);
      if (!isIntermediate(st)) continue;
      if (!aliveVars.has(st)) {
        aliveVars.set(st, 0);
        live += bytesPer * size(p.shapes[st]);
      }
      aliveVars.set(st, aliveVars.get(st)! + 1);
    }
    peak = Math.max(peak, live);
    for (const v of s.free) {
      const sv = storageOf(v);
      if (!aliveVars.has(sv)) continue;
      const n = aliveVars.get(sv)! - 1;
      if (n > 0) aliveVars.set(sv, n);
      else {
        aliveVars.delete(sv);
        live -= bytesPer * size(p.shapes[sv]);
      }
    }
  }
  const stats: PlanStats = {
    tracedEqns,
    launches: steps.filter((s) => !s.view).length,
    views: steps.filter((s) => s.view).length,
    fusedGroups: steps.filter((s) => s.prim === 'fused' || s.prim === 'fusedReduce' || s.prim === 'fusedMulti').length,
    batches: steps.filter((s) => s.prim === 'batch').length,
    batchedMembers: steps.reduce((a, s) => a + (s.prim === 'batch' ? (s.params as BatchParams).members.length : 0), 0),
    flops: steps.reduce((a, s) => a + s.flops, 0),
    bytesMoved: steps.reduce((a, s) => a + s.bytes, 0),
    peakBytes: peak,
  };
  return { program: p, steps, stats };
}
