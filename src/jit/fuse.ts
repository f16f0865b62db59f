/**
 * Program rewrites that change launches, not values:
 *
 *   - dead equations removed (outputs not reaching the result);
 *   - transposes of a matmul operand's last two axes folded into its transA/transB flags; other
 *     transposes read by a matmul or linear read through where the backend can (no copy);
 *   - maximal groups of elementwise primitives become one `fused` equation whose expression
 *     (src/fused.ts) is built from the primitives' scalar definitions. A primitive joins its
 *     consumer's group when the consumer is its only reader (nothing else needs the
 *     intermediate in memory); broadcasts and leading-axis reshapes that feed a group are read
 *     through (the expression reads their input with broadcasting), so they need no copy.
 *
 * Every rewrite is checked by the jit properties (property-tests/jit.test.ts): the rewritten
 * program gives the eager values on every backend.
 */
import { E, exprCostly, exprOps, exprSource, SCALAR_OPS, type Expr, type FusedOp } from '../fused';
import {
  eqnOuts,
  type Eqn,
  type FusedMultiParams,
  type FusedReduceParams,
  type MatmulViewParams,
  type Program,
} from './program';
import { batchHorizontal } from './batch';
import { size, type Shape } from '../shape';

/** Most inputs one fused kernel reads (gpu.js binds each as a texture unit). */
export const MAX_FUSED_INPUTS = 12;

/** Drop equations whose outputs the result does not need. */
export function eliminateDead(p: Program): Program {
  const needed = new Set(p.outs);
  const keep: Eqn[] = [];
  for (let i = p.eqns.length - 1; i >= 0; i--) {
    const e = p.eqns[i];
    if (!eqnOuts(e).some((v) => needed.has(v))) continue;
    keep.push(e);
    for (const v of e.ins) needed.add(v);
  }
  return { ...p, eqns: keep.reverse() };
}

const producers = (p: Program): Map<number, Eqn> => new Map(p.eqns.map((e) => [e.out, e]));

/** A permutation that swaps the last two axes and keeps the others. */
function swapsLastTwo(perm: number[]): boolean {
  const r = perm.length;
  return r >= 2 && perm[r - 2] === r - 1 && perm[r - 1] === r - 2 && perm.slice(0, -2).every((a, i) => a === i);
}

/** matmul(transpose(a), b) → matmul(a, b) with transA flipped (likewise b). */
export function foldMatmulTransposes(p: Program): Program {
  const prod = producers(p);
  const eqns = p.eqns.map((e) => {
    if (e.prim !== 'matmul') return e;
    const params = { ...(e.params as { transA: boolean; transB: boolean }) };
    const ins = [...e.ins];
    ['transA', 'transB'].forEach((flag, k) => {
      const t = prod.get(ins[k]);
      if (t && t.prim === 'transpose' && swapsLastTwo((t.params as { perm: number[] }).perm)) {
        ins[k] = t.ins[0];
        params[flag as 'transA' | 'transB'] = !params[flag as 'transA' | 'transB'];
      }
    });
    return { ...e, ins, params };
  });
  return eliminateDead({ ...p, eqns });
}

/**
 * Transposes (possibly reshaped after) read only as matmul/linear operands: the backend reads
 * the transpose's input through the permutation (`Backend.matmulOfViews`, native:
 * gathered straight into the matmul kernel's memory), and the transposed copy is never made —
 * e.g. attention's heads, [B, T, H, D] → [B, H, T, D], and their merge back.
 */
export function readTransposesInMatmul(p: Program): Program {
  if (!p.backend.matmulOfViews) return p;
  const prod = producers(p);
  const uses = new Map<number, { e: Eqn; k: number }[]>();
  for (const e of p.eqns) e.ins.forEach((v, k) => uses.set(v, [...(uses.get(v) ?? []), { e, k }]));
  const outs = new Set(p.outs);
  // a transpose whose every reader (through reshapes) is a matmul/linear operand can be read through
  const readsThrough = (v: number): boolean =>
    !outs.has(v) &&
    (uses.get(v) ?? []).every(({ e, k }) =>
      e.prim === 'reshape' ? readsThrough(e.out) : e.prim === 'matmul' || (e.prim === 'linear' && k === 0),
    );
  const viewable = new Set(p.eqns.filter((e) => e.prim === 'transpose' && readsThrough(e.out)));
  const eqns = p.eqns.map((e): Eqn => {
    if (e.prim !== 'matmul' && e.prim !== 'linear') return e;
    const ins = [...e.ins];
    const views: MatmulViewParams['views'] = e.ins.map(() => null);
    for (const k of e.prim === 'linear' ? [0] : [0, 1]) {
      let t = prod.get(e.ins[k]);
      while (t?.prim === 'reshape') t = prod.get(t.ins[0]);
      if (!t || !viewable.has(t)) continue;
      ins[k] = t.ins[0];
      views[k] = { perm: [...(t.params as { perm: number[] }).perm] };
    }
    if (views.every((x) => x === null)) return e;
    const params: MatmulViewParams = {
      prim: e.prim,
      params: e.params,
      views,
      shapes: e.ins.map((v) => [...p.shapes[v]]),
    };
    return { prim: 'matmulView', params, ins, out: e.out };
  });
  return eliminateDead({ ...p, eqns });
}

/** Shapes equal once leading 1s are dropped (a reshape between them is invisible to broadcasting). */
function sameUpToLeadingOnes(a: Shape, b: Shape): boolean {
  const strip = (s: Shape) => s.slice(s.findIndex((d) => d !== 1) === -1 ? s.length : s.findIndex((d) => d !== 1));
  const x = strip(a);
  const y = strip(b);
  return x.length === y.length && x.every((d, i) => d === y[i]);
}

/**
 * How many times one value may be inlined into its group's expressions: a value with several
 * readers inside the group (or that the group also stores) is recomputed at each use, so this
 * bounds the extra arithmetic (chains of such values would otherwise grow the trees exponentially).
 */
const MAX_INLINED = 4;
/** Most outputs of one multi-output group. */
export const MAX_FUSED_OUTPUTS = 4;

/**
 * Group elementwise equations and replace each group by one `fused` equation (one pass over the
 * group's inputs, nothing in between stored).
 *
 * An elementwise equation joins the group of its readers when they all belong to one group. Its
 * expression is inlined at each use. If something outside the group also needs the value — the
 * result, or an equation that runs after the group — and the backend has multi-output fusion
 * (`Backend.fusedMulti`), the group stores it as one more output (`fusedMulti`): e.g. AdamW's new
 * moments, read by the parameter update and returned, come out of the update's one pass instead
 * of two passes of their own.
 */
export function fuseElementwise(p: Program): Program {
  const unfused = new Set<string>(p.backend.unfusedOps ?? []);
  const multi = !!p.backend.fusedMulti;
  const isElementwise = (e: Eqn): boolean => (e.prim in SCALAR_OPS && !unfused.has(e.prim)) || e.prim === 'fused';
  const index = new Map<Eqn, number>(p.eqns.map((e, i) => [e, i]));
  const readersOf = new Map<number, Eqn[]>(); // variable → equations reading it (once per use)
  for (const e of p.eqns) for (const v of e.ins) readersOf.set(v, [...(readersOf.get(v) ?? []), e]);
  const results = new Set(p.outs);
  const sameShape = (a: Shape, b: Shape) => a.length === b.length && a.every((d, i) => d === b[i]);
  // a costly value (exp, log, …) smaller than its group would be recomputed for every element it is
  // broadcast to: it stays its own launch (e.g. a row's log Σexp read by a cross-entropy over K classes)
  const costly = (e: Eqn) =>
    e.prim === 'fused' ? exprCostly((e.params as { expr: Expr }).expr) : !!SCALAR_OPS[e.prim as FusedOp].costly;
  const prod = producers(p);
  // reverse pass: each elementwise equation is a group root or a member of its readers' group
  const groupOf = new Map<Eqn, Eqn>(); // member → root
  const leaves = new Map<Eqn, Set<number>>(); // root → input variables of the group so far
  const stored = new Map<Eqn, Eqn[]>(); // root → members the group also outputs
  const inlined = new Map<Eqn, number>(); // equation → times its expression is instantiated
  for (let i = p.eqns.length - 1; i >= 0; i--) {
    const e = p.eqns[i];
    if (!isElementwise(e)) continue;
    const readers = readersOf.get(e.out) ?? [];
    const rootOf = (r: Eqn) => (isElementwise(r) ? (groupOf.get(r) ?? r) : undefined);
    const root = readers.length ? rootOf(readers[0]) : undefined;
    if (root) {
      const inside = readers.filter((r) => rootOf(r) === root);
      const outside = readers.filter((r) => rootOf(r) !== root);
      // stored by the group when something outside needs it: only after the group has run, and
      // only where the backend can write several outputs of the group's shape
      const store = outside.length > 0 || results.has(e.out);
      const canStore =
        multi &&
        outside.every((r) => index.get(r)! > index.get(root)!) &&
        sameShape(p.shapes[e.out], p.shapes[root.out]) &&
        (stored.get(root)?.length ?? 0) + 1 < MAX_FUSED_OUTPUTS;
      const uses = inside.reduce((a, r) => a + (inlined.get(r) ?? 1), 0) + (store ? 1 : 0);
      const ls = leaves.get(root)!;
      const merged = new Set(ls);
      merged.delete(e.out);
      for (const v of e.ins) merged.add(v);
      const broadcast = size(p.shapes[e.out]) < size(p.shapes[root.out]);
      if (
        (!store || canStore) &&
        (uses === 1 || (multi && uses <= MAX_INLINED)) &&
        !(broadcast && costly(e)) &&
        merged.size <= MAX_FUSED_INPUTS
      ) {
        groupOf.set(e, root);
        leaves.set(root, merged);
        inlined.set(e, uses);
        if (store) stored.set(root, [...(stored.get(root) ?? []), e]);
        continue;
      }
    }
    leaves.set(e, new Set(e.ins));
  }
  const members = new Map<number, Eqn>(); // out var → member equation (any group)
  for (const [m] of groupOf) members.set(m.out, m);
  const hasMembers = new Set(groupOf.values());
  const out: Eqn[] = [];
  for (const e of p.eqns) {
    if (groupOf.has(e)) continue; // emitted inside its root
    if (!leaves.has(e)) {
      out.push(e);
      continue;
    }
    // the root of a group: build its expressions over the group's inputs
    const inputs: number[] = [];
    const leafIndex = new Map<number, number>();
    let readThrough = false;
    const leaf = (v: number): Expr => {
      // read broadcasts and leading-axis reshapes through
      let src = v;
      for (;;) {
        const q = prod.get(src);
        if (!q) break;
        if (
          q.prim === 'broadcast' ||
          (q.prim === 'reshape' &&
            p.shapes[q.ins[0]].length <= p.shapes[q.out].length &&
            sameUpToLeadingOnes(p.shapes[q.ins[0]], p.shapes[q.out]))
        ) {
          src = q.ins[0];
          readThrough = true;
        } else break;
      }
      let k = leafIndex.get(src);
      if (k === undefined) {
        k = inputs.length;
        inputs.push(src);
        leafIndex.set(src, k);
      }
      return E.x(k);
    };
    const build = (q: Eqn): Expr => {
      const args = q.ins.map((v) => {
        const m = members.get(v);
        return m && groupOf.get(m) === e ? build(m) : leaf(v);
      });
      if (q.prim === 'fused') return substitute((q.params as { expr: Expr }).expr, args);
      return E.op(q.prim as FusedOp, ...args);
    };
    const expr = build(e);
    const extra = stored.get(e) ?? [];
    if (extra.length) {
      // in program order, so that the outputs read like the equations they replace
      const outs = [e, ...extra.sort((a, b) => index.get(a)! - index.get(b)!)];
      const exprs = [expr, ...outs.slice(1).map(build)];
      const params: FusedMultiParams = {
        exprs,
        srcs: exprs.map(exprSource),
        shape: [...p.shapes[e.out]],
        outs: outs.map((q) => q.out),
        ops: exprs.reduce<number>((a, x) => a + exprOps(x), 0),
      };
      out.push({ prim: 'fusedMulti', params, ins: inputs, out: e.out });
      continue;
    }
    const single = !hasMembers.has(e);
    if (single && !readThrough && e.prim !== 'fused') {
      out.push(e); // a lone primitive keeps its own (possibly faster) kernel
      continue;
    }
    if (inputs.length === 0) {
      out.push(e);
      continue;
    }
    out.push({
      prim: 'fused',
      params: { expr, src: exprSource(expr), shape: [...p.shapes[e.out]] },
      ins: inputs,
      out: e.out,
    });
  }
  return eliminateDead({ ...p, eqns: out });
}

/**
 * A sum or max that is the only reader of an elementwise group (or of one elementwise
 * primitive) becomes one `fusedReduce` pass on backends that have it (Backend.fusedReduce): the
 * group's values are reduced as they are computed, never stored.
 */
export function fuseReductions(p: Program): Program {
  if (!p.backend.fusedReduce) return p;
  const unfused = new Set<string>(p.backend.unfusedOps ?? []);
  const readers = new Map<number, number>();
  for (const e of p.eqns) for (const v of e.ins) readers.set(v, (readers.get(v) ?? 0) + 1);
  for (const v of p.outs) readers.set(v, (readers.get(v) ?? 0) + 1);
  const prod = producers(p);
  const eqns = p.eqns.map((e) => {
    if (e.prim !== 'sum' && e.prim !== 'max') return e;
    const f = prod.get(e.ins[0]);
    if (!f || readers.get(f.out) !== 1) return e;
    let expr: Expr;
    if (f.prim === 'fused') expr = (f.params as { expr: Expr }).expr;
    else if (f.prim in SCALAR_OPS && !unfused.has(f.prim))
      expr = E.op(f.prim as FusedOp, ...f.ins.map((_, k) => E.x(k)));
    else return e;
    const params: FusedReduceParams = {
      kind: e.prim,
      src: exprSource(expr),
      axes: (e.params as { axes: number[] }).axes,
      shape: [...p.shapes[f.out]],
      ops: exprOps(expr),
    };
    return { prim: 'fusedReduce' as const, params, ins: f.ins, out: e.out };
  });
  return eliminateDead({ ...p, eqns });
}

/** An expression with its inputs x_k replaced by `args[k]`. */
function substitute(e: Expr, args: Expr[]): Expr {
  if (typeof e === 'number') return e;
  if ('x' in e) return args[e.x];
  return { op: e.op, args: e.args.map((a) => substitute(a, args)) };
}

interface Pieces {
  axis: number;
  /** Disjoint pieces along `axis` of a zero tensor of the output shape, sorted by `begin`. */
  pieces: { v: number; begin: number; len: number }[];
}

/**
 * Sums of zero-padded pieces (the VJP of slice, e.g. the gradient of a fused qkv weight from
 * its three slices) become one concat: add(pad(a), pad(b)) with disjoint ranges along one axis
 * is the concat of a and b (padded only if the ranges leave a border), so the pieces are
 * written straight into the result instead of padded, copied and added.
 */
export function padsToConcat(p: Program): Program {
  const readers = new Map<number, number>();
  for (const e of p.eqns) for (const v of e.ins) readers.set(v, (readers.get(v) ?? 0) + 1);
  for (const v of p.outs) readers.set(v, (readers.get(v) ?? 0) + 1);
  const shapes = [...p.shapes];
  const pieces = new Map<number, Pieces>();
  const out: Eqn[] = [];
  for (const e of p.eqns) {
    if (e.prim === 'pad') {
      const { lo, hi } = e.params as { lo: number[]; hi: number[] };
      const axes = lo.map((_, i) => i).filter((i) => lo[i] !== 0 || hi[i] !== 0);
      if (axes.length === 1)
        pieces.set(e.out, {
          axis: axes[0],
          pieces: [{ v: e.ins[0], begin: lo[axes[0]], len: shapes[e.ins[0]][axes[0]] }],
        });
      out.push(e);
      continue;
    }
    const [a, b] = e.ins.map((v) => pieces.get(v));
    const sameShape =
      e.prim === 'add' &&
      e.ins.every(
        (v) => shapes[v].length === shapes[e.out].length && shapes[v].every((d, i) => d === shapes[e.out][i]),
      );
    if (!(sameShape && a && b && a.axis === b.axis && readers.get(e.ins[0]) === 1 && readers.get(e.ins[1]) === 1)) {
      out.push(e);
      continue;
    }
    const merged = [...a.pieces, ...b.pieces].sort((x, y) => x.begin - y.begin);
    if (merged.some((q, i) => i > 0 && merged[i - 1].begin + merged[i - 1].len > q.begin)) {
      out.push(e); // overlapping: a real sum
      continue;
    }
    pieces.set(e.out, { axis: a.axis, pieces: merged });
    // emitted now; dead code elimination drops it if a later add of this sum takes it over
    out.push(...(emitPieces(e.out, { axis: a.axis, pieces: merged }, shapes) ?? [e]));
  }
  return eliminateDead({ ...p, shapes, eqns: out });
}

/** Equations computing `target` from its pieces: a concat, padded at the borders; null if the pieces leave an inner gap. */
function emitPieces(target: number, pc: Pieces, shapes: Shape[]): Eqn[] | null {
  const { axis, pieces: ps } = pc;
  for (let i = 1; i < ps.length; i++) if (ps[i - 1].begin + ps[i - 1].len !== ps[i].begin) return null;
  const shape = shapes[target];
  const lo = ps[0].begin;
  const hi = shape[axis] - (ps[ps.length - 1].begin + ps[ps.length - 1].len);
  if (lo === 0 && hi === 0) return [{ prim: 'concat', params: { axis }, ins: ps.map((q) => q.v), out: target }];
  const mid = shapes.length;
  shapes.push(shape.map((d, i) => (i === axis ? d - lo - hi : d)));
  return [
    { prim: 'concat', params: { axis }, ins: ps.map((q) => q.v), out: mid },
    {
      prim: 'pad',
      params: { lo: shape.map((_, i) => (i === axis ? lo : 0)), hi: shape.map((_, i) => (i === axis ? hi : 0)) },
      ins: [mid],
      out: target,
    },
  ];
}

/** All rewrites, in order. */
export function optimize(p: Program): Program {
  return batchHorizontal(
    fuseReductions(fuseElementwise(padsToConcat(readTransposesInMatmul(foldMatmulTransposes(eliminateDead(p)))))),
  );
}
