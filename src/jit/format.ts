/**
 * The compiled plan as text (what `matpac trace --jit` prints): one launch a line, jaxpr style,
 * fused groups with their expression, views marked, then the totals.
 *
 *   { x0:f32[4,3] x1:f32[3] }  constants: c0:f32[]
 *     v5:f32[4,3] = fused{((x0 * x1) + Math.exp(x2))} x0 x1 v3
 *     v6:f32[12]  = reshape v5                                  (view)
 *   17 traced primitives → 10 launches (1 fused group) + 2 views; 86 FLOP; 356 B moved; peak 56 B
 */
import { fmt } from '../shape';
import { paramsKey, isConstVar, type BatchParams, type FusedMultiParams, type MatmulViewParams } from './program';
import type { Plan, PlanStats } from './plan';
import { formatFlops } from '../trace';

export function formatBytes(b: number): string {
  const units = ['B', 'kB', 'MB', 'GB'];
  let i = 0;
  while (b >= 1000 && i < units.length - 1) {
    b /= 1000;
    i++;
  }
  return `${i === 0 ? b : b.toFixed(b < 10 ? 2 : 1)} ${units[i]}`;
}

export function formatPlanStats(s: PlanStats): string {
  const batched = s.batches ? `, ${s.batches} batches of ${s.batchedMembers} passes` : '';
  return `${s.tracedEqns} traced primitives → ${s.launches} launches (${s.fusedGroups} fused groups${batched}) + ${s.views} views; ${formatFlops(s.flops)}; ${formatBytes(s.bytesMoved)} moved; peak ${formatBytes(s.peakBytes)} of intermediates`;
}

export function formatPlan(plan: Plan, opts: { maxLines?: number } = {}): string {
  const p = plan.program;
  const dt = p.backend.precision === 'float64' ? 'f64' : 'f32';
  const name = (v: number) => (v < p.nInputs ? `x${v}` : isConstVar(p, v) ? `c${v - p.nInputs}` : `v${v}`);
  const lines: string[] = [];
  const ins = p.shapes.slice(0, p.nInputs).map((s, i) => `x${i}:${dt}${fmt(s)}`);
  const cs = p.consts.map((c, i) => `c${i}:${dt}${fmt(c.shape)}`);
  lines.push(
    `{ ${ins.length > 12 ? `${ins.slice(0, 12).join(' ')} … (${ins.length} inputs)` : ins.join(' ')} }${cs.length ? `  constants: ${cs.length > 12 ? `${cs.slice(0, 12).join(' ')} … (${cs.length})` : cs.join(' ')}` : ''}`,
  );
  const steps = opts.maxLines !== undefined ? plan.steps.slice(0, opts.maxLines) : plan.steps;
  for (const s of steps) {
    if (s.prim === 'batch') {
      // one launch over several members: the sources applied to each member's inputs
      const q = s.params as BatchParams;
      lines.push(`  batch[${q.kind} ×${q.members.length}]{${q.srcs.join(' ; ')}}`);
      for (const m of q.members)
        lines.push(
          `    ${m.outs.map((v) => `${name(v)}:${dt}${fmt(p.shapes[v])}`).join(' ')} ← ${m.ins.map(name).join(' ')}`,
        );
      continue;
    }
    if (s.prim === 'fusedMulti') {
      // one pass, several outputs: output j is source j
      const q = s.params as FusedMultiParams;
      lines.push(
        `  ${q.outs.map((v) => `${name(v)}:${dt}${fmt(p.shapes[v])}`).join(' ')} = fusedMulti{${q.srcs.join(' ; ')}} ${s.ins.map(name).join(' ')}`,
      );
      continue;
    }
    const q = s.params as { src: string; kind?: string; axes?: number[] };
    if (s.prim === 'matmulView') {
      // the operands read through a transpose are marked with its permutation
      const m = s.params as MatmulViewParams;
      const ins = s.ins.map((v, k) => (m.views[k] ? `${name(v)}ᵀ(${m.views[k]!.perm})` : name(v)));
      lines.push(
        `  ${name(s.out)}:${dt}${fmt(s.outShape)} = ${m.prim}${paramsKey(m.params)
          .replace(/^\{\}$/, '')
          .replace(/"/g, '')} ${ins.join(' ')}   (reads views)`,
      );
      continue;
    }
    const params =
      s.prim === 'fused'
        ? `{${q.src}}`
        : s.prim === 'fusedReduce'
          ? `[${q.kind} axes=(${q.axes})]{${q.src}}`
          : paramsKey(s.params)
              .replace(/^\{\}$/, '')
              .replace(/"/g, '');
    lines.push(
      `  ${name(s.out)}:${dt}${fmt(s.outShape)} = ${s.prim}${params} ${s.ins.map(name).join(' ')}${s.view ? '   (view)' : ''}`,
    );
  }
  if (steps.length < plan.steps.length) lines.push(`  … ${plan.steps.length - steps.length} more`);
  lines.push(`  out: ${p.outs.map(name).join(' ')}`);
  lines.push(formatPlanStats(plan.stats));
  return lines.join('\n');
}
