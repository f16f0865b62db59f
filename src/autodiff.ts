/**
 * Transforms: `vjp`, `grad`, `valueAndGrad` over parameter trees.
 *
 * `vjp(f, primals)` opens a new level, wraps every leaf of `primals` in a Tracer of that level,
 * runs `f` (every op on a tracer records a node — see src/core.ts), and returns f's value with a
 * function that pulls cotangents back: a reverse topological walk over the recorded nodes,
 * applying each primitive's VJP rule (registered by src/primitives.ts, read with ruleOf). The rules use ordinary ops on values
 * one level down, so an enclosing `grad` records the whole backward pass and can differentiate
 * it again.
 */
import { closeLevel, inVjpRule, levelOf, openLevel, ruleOf, Tensor, Tracer } from './core';
import { add, ones, zerosLike } from './ops';
import { fmt, ShapeError, size } from './shape';
import { flatten } from './tree';

function backprop(level: number, outputs: Tensor[], cotangents: (Tensor | null)[]): Map<number, Tensor> {
  // topological order of the tracers of this level reachable from the outputs
  const order: Tracer[] = [];
  const seen = new Set<number>();
  const stack: [Tracer, boolean][] = [];
  for (const o of outputs) if (o instanceof Tracer && o.level === level) stack.push([o, false]);
  while (stack.length) {
    const [t, expanded] = stack.pop()!;
    if (expanded) {
      order.push(t);
      continue;
    }
    if (seen.has(t.id)) continue;
    seen.add(t.id);
    stack.push([t, true]);
    if (t.node) for (const p of t.node.parents) if (p && !seen.has(p.id)) stack.push([p, false]);
  }
  const cts = new Map<number, Tensor>();
  outputs.forEach((o, i) => {
    const ct = cotangents[i];
    if (ct && o instanceof Tracer && o.level === level) cts.set(o.id, cts.has(o.id) ? add(cts.get(o.id)!, ct) : ct);
  });
  for (let i = order.length - 1; i >= 0; i--) {
    const t = order[i];
    const ct = cts.get(t.id);
    if (!ct || !t.node) continue;
    const { prim, params, primals, parents, out } = t.node;
    const needs = parents.map((p) => p !== null);
    const grads = inVjpRule({ prim, out }, () => ruleOf(prim).vjp(ct, primals, out, params as never, needs));
    parents.forEach((p, j) => {
      const g = grads[j];
      if (!p || !g) return;
      if (g.shape.length !== p.shape.length || g.shape.some((d, k) => d !== p.shape[k]))
        throw new Error(
          `internal: VJP of ${prim} returned a cotangent of shape ${fmt(g.shape)} for an input of shape ${fmt(p.shape)}`,
        );
      const prev = cts.get(p.id);
      cts.set(p.id, prev ? add(prev, g) : g);
    });
    cts.delete(t.id); // each interior tracer is visited once; free its cotangent
  }
  return cts;
}

export type VjpFn<P, O> = (cotangent: O) => P;

/**
 * f's value at `primals` and its vector–Jacobian product. With `hasAux`, f returns [out, aux]
 * and aux is returned undifferentiated.
 */
export function vjp<P, O>(f: (p: P) => O, primals: P): [O, VjpFn<P, O>];
export function vjp<P, O, A>(f: (p: P) => [O, A], primals: P, opts: { hasAux: true }): [O, VjpFn<P, O>, A];
export function vjp(f: (p: unknown) => unknown, primals: unknown, opts?: { hasAux?: boolean }): unknown[] {
  const level = openLevel();
  const inFlat = flatten(primals);
  const inTracers = inFlat.leaves.map((t, i) => {
    const tr = new Tracer(level, t, null);
    tr.label = t.label ?? inFlat.paths[i];
    return tr;
  });
  let result: unknown;
  try {
    result = f(inFlat.rebuild(inTracers));
  } finally {
    closeLevel(level);
  }
  const [out, aux] = opts?.hasAux ? (result as [unknown, unknown]) : [result, undefined];
  const outFlat = flatten(out);
  const down = (t: Tensor) => (t instanceof Tracer && t.level === level ? t.primal : t);
  const outPrimals = outFlat.leaves.map(down);
  const pullback = (cotangent: unknown): unknown => {
    const ctFlat = flatten(cotangent);
    if (ctFlat.leaves.length !== outFlat.leaves.length)
      throw new ShapeError(
        `vjp: cotangent has ${ctFlat.leaves.length} leaves, the output has ${outFlat.leaves.length}`,
      );
    ctFlat.leaves.forEach((c, i) => {
      const o = outFlat.leaves[i];
      if (c.shape.length !== o.shape.length || c.shape.some((d, k) => d !== o.shape[k]))
        throw new ShapeError(
          `vjp: cotangent ${fmt(c.shape)} does not match output ${fmt(o.shape)} at ${outFlat.paths[i] || '<root>'}`,
        );
    });
    const cts = backprop(level, outFlat.leaves, ctFlat.leaves);
    return inFlat.rebuild(inTracers.map((t, i) => cts.get(t.id) ?? zerosLike(inFlat.leaves[i])));
  };
  const auxDown = aux === undefined ? undefined : flatten(aux).rebuild(flatten(aux).leaves.map(down));
  return opts?.hasAux ? [outFlat.rebuild(outPrimals), pullback, auxDown] : [outFlat.rebuild(outPrimals), pullback];
}

function checkScalar(name: string, v: Tensor): void {
  if (!(v instanceof Tensor) || size(v.shape) !== 1)
    throw new ShapeError(
      `${name}: the function must return a scalar tensor, got ${v instanceof Tensor ? fmt(v.shape) : typeof v}`,
    );
}

/**
 * valueAndGrad(f)(params, ...rest) = [f(params, ...rest), ∇_params f]. With `hasAux`, f returns
 * [loss, aux] and the result is [[loss, aux], grads].
 */
export function valueAndGrad<P, R extends unknown[]>(
  f: (p: P, ...rest: R) => Tensor,
): (p: P, ...rest: R) => [Tensor, P];
export function valueAndGrad<P, R extends unknown[], A>(
  f: (p: P, ...rest: R) => [Tensor, A],
  opts: { hasAux: true },
): (p: P, ...rest: R) => [[Tensor, A], P];
export function valueAndGrad(f: (p: unknown, ...rest: unknown[]) => unknown, opts?: { hasAux?: boolean }) {
  return (params: unknown, ...rest: unknown[]) => {
    if (opts?.hasAux) {
      const [value, pullback, aux] = vjp((p) => f(p, ...rest) as [Tensor, unknown], params, { hasAux: true });
      checkScalar('valueAndGrad', value);
      return [[value, aux], pullback(ones(value.shape, value))];
    }
    const [value, pullback] = vjp((p) => f(p, ...rest) as Tensor, params);
    checkScalar('valueAndGrad', value);
    return [value, pullback(ones(value.shape, value))];
  };
}

/** grad(f)(params, ...rest) = ∇_params f(params, ...rest) for a scalar-valued f. */
export function grad<P, R extends unknown[]>(f: (p: P, ...rest: R) => Tensor): (p: P, ...rest: R) => P {
  const vg = valueAndGrad(f);
  return (p: P, ...rest: R) => vg(p, ...rest)[1];
}

export { levelOf };
