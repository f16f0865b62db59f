/**
 * jit(f): trace once, run a compiled plan.
 *
 *   const step = jit((params, x) => valueAndGrad(loss)(params, x));
 *   const [value, grads] = step(params, x);      // first call: trace + compile; later: run the plan
 *
 * Two caches:
 *   1. by the call's signature (src/jit/signature.ts: tree structure, shapes, backends, and the
 *      values of non-tensor leaves): a hit runs the cached plan without tracing (`traces` counts
 *      the misses — JAX's retraces). Constants the function captured or uploaded while tracing
 *      are part of the entry.
 *   2. by the traced program's structure (src/jit/program.ts, `programKey`): a trace that gives
 *      the same computation (e.g. an optimizer step whose schedule values, uploaded as scalar
 *      constants, change every step but whose shapes do not) reuses the compiled plan
 *      (`compiles` counts the misses); on gpu.js that also means no new kernels.
 *
 * The function must be pure: its tensor results may depend only on its arguments (tensor values,
 * and non-tensor leaves, which are static) and on values that do not change between calls.
 * Inside the traced function, tensor values cannot be read (item(), toArray()). Calling a jitted
 * function inside another one's trace inlines it; calling it under vjp/grad (its arguments are
 * tracers) runs it eagerly (`eager` counts those).
 */
import { Concrete, getBackend, isStaging, Tensor } from '../core';
import { flatten } from '../tree';
import { optimize } from './fuse';
import { planProgram, type Plan } from './plan';
import { programKey, sameStructure, traceProgram, type Program } from './program';
import { runPlan } from './run';
import { signature } from './signature';

export interface JitStats {
  calls: number;
  /** Calls that traced the function (a new signature). */
  traces: number;
  /** Traces whose program was new (fusion and memory planning ran). */
  compiles: number;
  /** Calls run eagerly (under differentiation). */
  eager: number;
}

export interface JitOptions {
  /** Most signatures kept (least recently used dropped, with the constants they own). */
  cacheSize?: number;
  /** Run the traced program as traced (no fusion or transpose folding): for comparisons. */
  optimize?: boolean;
}

interface Entry {
  program: Program;
  plan: Plan;
  result: unknown;
}

export type Jitted<F extends (...args: never[]) => unknown> = F & {
  readonly stats: JitStats;
  /** The plan of the most recent call (what `formatPlan` prints). */
  lastPlan(): Plan | undefined;
};

export function jit<F extends (...args: never[]) => unknown>(f: F, opts: JitOptions = {}): Jitted<F> {
  const cacheSize = opts.cacheSize ?? 8;
  const entries = new Map<string, Entry>();
  const plans = new Map<string, Plan>();
  const stats: JitStats = { calls: 0, traces: 0, compiles: 0, eager: 0 };
  let last: Plan | undefined;
  /** The last trace and its plan: a new trace of the same structure reuses the plan without keying. */
  let lastTrace: { program: Program; plan: Plan } | undefined;
  const g = (...args: unknown[]): unknown => {
    stats.calls++;
    if (isStaging()) return f(...(args as never[])); // inside an enclosing trace: inline
    const flat = flatten(args);
    if (!flat.leaves.every((t) => t instanceof Concrete)) {
      stats.eager++;
      return f(...(args as never[]));
    }
    const sig = signature(args);
    let entry = entries.get(sig);
    if (entry) {
      entries.delete(sig); // LRU order
      entries.set(sig, entry);
    } else {
      stats.traces++;
      const backend = flat.leaves.length ? (flat.leaves[0] as Concrete).backend : getBackend();
      const traced = traceProgram(f as unknown as (...a: unknown[]) => unknown, args, backend);
      // keyed by the traced program: the rewrites keep inputs and constants, so a plan serves every
      // trace of the same structure with that trace's constants
      const same = lastTrace && sameStructure(lastTrace.program, traced.program) ? lastTrace.plan : undefined;
      const key = same ? '' : programKey(traced.program);
      let plan = same ?? plans.get(key);
      if (!plan) {
        stats.compiles++;
        const optimized = opts.optimize === false ? traced.program : optimize(traced.program);
        plan = planProgram(optimized, traced.program.eqns.length);
        if (plans.size >= 4 * cacheSize) plans.delete(plans.keys().next().value as string);
        plans.set(key, plan);
      }
      entry = { program: traced.program, plan, result: traced.result };
      lastTrace = { program: traced.program, plan };
      if (entries.size >= cacheSize) {
        const [oldKey, old] = entries.entries().next().value as [string, Entry];
        entries.delete(oldKey);
        for (const c of old.program.owned) c.dispose();
      }
      entries.set(sig, entry);
    }
    last = entry.plan;
    const outs = runPlan(entry.plan, flat.leaves as Concrete[], entry.program.consts);
    return flatten(entry.result).rebuild<Tensor>(outs);
  };
  Object.defineProperty(g, 'stats', { get: () => ({ ...stats }) });
  Object.defineProperty(g, 'lastPlan', { value: () => last });
  return g as unknown as Jitted<F>;
}
