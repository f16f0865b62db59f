/**
 * A compiled plan: the optimized program as a schedule of launches, with its memory plan.
 *
 * Memory is planned by liveness: after each step, the intermediates whose last reader has run
 * are disposed (the native backend returns the array to its pool, gpu.js deletes the texture),
 * so later steps reuse them inside the same call. Reshapes are views (no kernel on native and
 * gpu.js: the output shares its input's storage), and the storage of a view lives until its
 * last alias dies. The plan's statistics are what `formatPlan` prints: launches, views, FLOPs,
 * bytes moved by the kernels and the peak bytes of intermediates alive at once.
 */
import { ruleOf } from '../core';
import { size, type Shape } from '../shape';
import { isConstVar, isInputVar, type FusedReduceParams, type PlanOp, type Program } from './program';

export interface Step {
  prim: PlanOp;
  params: unknown;
  ins: number[];
  out: number;
  inShapes: Shape[];
  outShape: Shape;
  /** A reshape: its output shares its input's storage (no data moves). */
  view: boolean;
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
  for (const e of p.eqns) if (e.prim === 'reshape') storage.set(e.out, storageOf(e.ins[0]));
  // last step reading each variable
  const lastUse = new Map<number, number>();
  p.eqns.forEach((e, i) => e.ins.forEach((v) => lastUse.set(v, i)));
  const steps: Step[] = p.eqns.map((e) => {
    const inShapes = e.ins.map((v) => p.shapes[v]);
    const outShape = p.shapes[e.out];
    const view = e.prim === 'reshape';
    const flops =
      e.prim === 'fusedReduce'
        ? ((e.params as FusedReduceParams).ops + 1) * size((e.params as FusedReduceParams).shape)
        : ruleOf(e.prim).flops(inShapes as number[][], outShape as number[], e.params as never);
    const bytes = view ? 0 : bytesPer * (size(outShape) + inShapes.reduce((a, s) => a + size(s), 0));
    return { prim: e.prim, params: e.params, ins: e.ins, out: e.out, inShapes, outShape, view, free: [], flops, bytes };
  });
  // free each intermediate after its last reader (never an output); unread ones right after they are made
  for (const s of steps) {
    if (!outputs.has(s.out) && !lastUse.has(s.out)) s.free.push(s.out);
  }
  for (const [v, i] of lastUse) if (isIntermediate(v) && !outputs.has(v)) steps[i].free.push(v);
  for (const s of steps) s.free = [...new Set(s.free)];
  // peak bytes of live storage
  const aliveVars = new Map<number, number>(); // storage → live variables sharing it
  let live = 0;
  let peak = 0;
  for (const s of steps) {
    const st = storageOf(s.out);
    if (isIntermediate(st)) {
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
    fusedGroups: steps.filter((s) => s.prim === 'fused' || s.prim === 'fusedReduce').length,
    flops: steps.reduce((a, s) => a + s.flops, 0),
    bytesMoved: steps.reduce((a, s) => a + s.bytes, 0),
    peakBytes: peak,
  };
  return { program: p, steps, stats };
}
