/**
 * Numerical gradient checking in float64, in the manner of jax.test_util.check_grads: compare
 * the VJP along a random cotangent v and a random direction u,
 *     ⟨Jᵀv, u⟩  (reverse mode)   vs   ⟨v, (f(x+εu) − f(x−εu)) / 2ε⟩  (central differences),
 * at first order, and the same identity for the gradient function itself at second order.
 */
import * as mp from '../src/index';
import type { Tensor } from '../src/core';
import { keyFromSeed, normalHost } from '../src/random';
import { grad, vjp } from '../src/autodiff';
import type { Case } from './specs';
import { materialise } from './specs';

export const EPS = 1e-5;

export function randomLike(t: Tensor, seed: number): Tensor {
  return mp.tensor(normalHost(keyFromSeed(seed), t.size), t.shape);
}

export const dot = (a: Tensor, b: Tensor): number => {
  const x = a.toArray();
  const y = b.toArray();
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * y[i];
  return s;
};

/** Split a case's inputs into the differentiated ones and a function of those alone. */
export function differentiable(c: Case, xs: Tensor[]) {
  const isConst = (i: number) => (c.constant ?? []).includes(i);
  const diffIdx = xs.map((_, i) => i).filter((i) => !isConst(i));
  const f = (ds: Tensor[]) => {
    const all = xs.slice();
    diffIdx.forEach((i, k) => (all[i] = ds[k]));
    return c.fn(...all);
  };
  return { f, diff: diffIdx.map((i) => xs[i]) };
}

export interface GradCheck {
  analytic: number;
  numeric: number;
  scale: number;
}

/** Relative tolerance of the first-order check: central differences with ε = 1e-5 in float64 are accurate to ~1e-9. */
export const FIRST_ORDER_TOL = 1e-6;

/** Whether a first-order check passes: |analytic − numeric| ≤ tol·scale, or both exactly 0 for a function with no gradient. */
export function gradCheckPasses(r: GradCheck, zeroGrad = false, tol = FIRST_ORDER_TOL): boolean {
  if (zeroGrad) return r.analytic === 0 && r.numeric === 0;
  return Math.abs(r.analytic - r.numeric) <= tol * r.scale;
}

/** First-order check of `c` at inputs drawn from its domains (must run under the ref64 backend). */
export function checkFirstOrder(c: Case, seed: number): GradCheck {
  return checkFirstOrderAt(c, materialise(c, seed), seed);
}

/** First-order check of `c` at the given input values (ref64 tensors); `seed` draws the directions. */
export function checkFirstOrderAt(c: Case, xs: Tensor[], seed: number): GradCheck {
  const { f, diff } = differentiable(c, xs);
  const [out, pullback] = vjp(f, diff);
  const v = randomLike(out, seed + 1);
  const g = pullback(v) as Tensor[];
  const u = diff.map((d, k) => randomLike(d, seed + 2 + k));
  const analytic = g.reduce((acc, gi, k) => acc + dot(gi, u[k]), 0);
  const shifted = (s: number) => f(diff.map((d, k) => mp.add(d, mp.mul(u[k], s))));
  const numeric = (dot(v, shifted(EPS)) - dot(v, shifted(-EPS))) / (2 * EPS);
  const scale = 1 + Math.abs(numeric) + Math.abs(dot(v, out));
  return { analytic, numeric, scale };
}

/** Second-order check: h(x) = ⟨∇⟨v, f(x)⟩, r⟩ differentiated by reverse mode vs central differences. */
export function checkSecondOrder(c: Case, seed: number): GradCheck {
  const xs = materialise(c, seed);
  const { f, diff } = differentiable(c, xs);
  const out = f(diff);
  const v = randomLike(out, seed + 1);
  const r = diff.map((d, k) => randomLike(d, seed + 10 + k));
  const h = (ds: Tensor[]) => {
    const g = grad((p: Tensor[]) => mp.sum(mp.mul(f(p), v)))(ds);
    return g.reduce((acc: Tensor, gi, k) => mp.add(acc, mp.sum(mp.mul(gi, r[k]))), mp.scalar(0));
  };
  const gh = grad(h)(diff);
  const u = diff.map((d, k) => randomLike(d, seed + 20 + k));
  const analytic = gh.reduce((acc, gi, k) => acc + dot(gi, u[k]), 0);
  const shifted = (s: number) => h(diff.map((d, k) => mp.add(d, mp.mul(u[k], s)))).item();
  const numeric = (shifted(EPS) - shifted(-EPS)) / (2 * EPS);
  return { analytic, numeric, scale: 1 + Math.abs(numeric) };
}
