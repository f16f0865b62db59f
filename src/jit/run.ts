/**
 * Execute a plan on its backend: each step is the backend's kernel for the step's primitive (a
 * fused group is the backend's `fused` kernel), intermediates are disposed as the plan says,
 * and the outputs become tensors of the innermost scope (as eager kernels' outputs do).
 */
import { adopt, Concrete } from '../core';
import type { Kernel } from '../backend';
import type { PrimName } from '../primitives';
import {
  isConstVar,
  isInputVar,
  type BatchParams,
  type FusedMultiParams,
  type FusedReduceParams,
  type MatmulViewParams,
} from './program';
import type { Plan } from './plan';

export function runPlan(plan: Plan, inputs: Concrete[], consts: Concrete[]): Concrete[] {
  const p = plan.program;
  const backend = p.backend;
  const bufs: unknown[] = new Array(p.shapes.length);
  inputs.forEach((c, i) => (bufs[i] = c.buffer));
  consts.forEach((c, i) => (bufs[p.nInputs + i] = c.buffer));
  const made: number[] = [];
  const freed = new Set<number>();
  try {
    for (const s of plan.steps) {
      const ins = s.ins.map((v) => bufs[v]);
      if (s.prim === 'batch') {
        const q = s.params as BatchParams;
        const outs = backend.fusedBatch!(
          q.kind,
          q.srcs,
          q.members.map((m) => ({ inputs: m.ins.map((v) => bufs[v]), n: m.n })),
        );
        q.members.forEach((m, k) => m.outs.forEach((v, j) => (bufs[v] = outs[k][j])));
        made.push(...s.outs);
      } else if (s.prim === 'fusedMulti') {
        const q = s.params as FusedMultiParams;
        const outs = backend.fusedMulti!(q.srcs, ins, s.inShapes, q.shape);
        q.outs.forEach((v, j) => (bufs[v] = outs[j]));
        made.push(...s.outs);
      } else if (s.prim === 'matmulView') {
        const q = s.params as MatmulViewParams;
        bufs[s.out] = backend.matmulOfViews!(q.prim, ins, s.inShapes, q.shapes, q.params, q.views);
      } else if (s.prim === 'fusedReduce') {
        const q = s.params as FusedReduceParams;
        bufs[s.out] = backend.fusedReduce!(q.kind, q.src, ins, s.inShapes, q.shape, q.axes);
      } else
        bufs[s.out] = (backend.kernels[s.prim] as Kernel<PrimName>)(ins, s.inShapes, s.outShape, s.params as never);
      if (s.prim !== 'batch' && s.prim !== 'fusedMulti') made.push(s.out);
      for (const v of s.free) {
        backend.dispose(bufs[v]);
        freed.add(v);
        bufs[v] = undefined;
      }
    }
  } catch (e) {
    for (const v of made) if (!freed.has(v)) backend.dispose(bufs[v]);
    throw e;
  }
  const made1 = new Map<number, Concrete>();
  return p.outs.map((v) => {
    if (isInputVar(p, v)) return inputs[v];
    if (isConstVar(p, v)) {
      // a constant returned as a result is a fresh copy: the caller may dispose it, the program keeps its own
      const c = consts[v - p.nInputs];
      return adopt(new Concrete(backend, backend.upload(c.data(), c.shape), c.shape));
    }
    let c = made1.get(v);
    if (!c) made1.set(v, (c = adopt(new Concrete(backend, bufs[v], p.shapes[v]))));
    return c;
  });
}
