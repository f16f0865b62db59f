/**
 * Gradient transformations, schedules and EMA (src/optim.ts, src/schedules.ts, src/ema.ts):
 * formulas against float64 host references, algebraic laws, and convergence to known optima.
 */
import fc from 'fast-check';
import { concatAll } from 'fp-ts/Monoid';
import { describe, expect, it } from 'vitest';
import * as mp from '../src/index';
import type { Tensor } from '../src/core';
import { emaStep, emaUpdate } from '../src/ema';
import {
  adam,
  adamw,
  addDecayedWeights,
  applyUpdates,
  chain,
  clipByGlobalNorm,
  excludeBiasAndOneDim,
  globalNorm,
  identity,
  monoidTransformation,
  scale,
  scaleByAdam,
  sgd,
  type GradientTransformation,
} from '../src/optim';
import { keyFromSeed, normalHost, split } from '../src/random';
import { constant, linear, matpacSchedules, warmupCosine, type Schedule } from '../src/schedules';

// ---------------------------------------------------------------------------------------------
// random trees

type ShapeTree = { shape: number[] } | ShapeTree[] | { [k: string]: ShapeTree };
const leafArb: fc.Arbitrary<ShapeTree> = fc
  .array(fc.integer({ min: 1, max: 3 }), { maxLength: 3 })
  .map((shape) => ({ shape }));
const keyArb = fc.constantFrom('w', 'bias', 'blocks', 'norm', 'a', 'b');
const treeArb = (depth: number): fc.Arbitrary<ShapeTree> =>
  depth === 0
    ? leafArb
    : fc.oneof(
        leafArb,
        fc.array(treeArb(depth - 1), { minLength: 1, maxLength: 3 }),
        fc.dictionary(keyArb, treeArb(depth - 1), { minKeys: 1, maxKeys: 3 }).filter((o) => !('shape' in o)),
      );

const isLeaf = (s: ShapeTree): s is { shape: number[] } =>
  !Array.isArray(s) && Array.isArray((s as { shape?: unknown }).shape);

/** A tensor tree of shape `s` with N(0, σ²) values, rounded to float32 so both backends see the same inputs. */
function materialise(s: ShapeTree, seed: number, sigma = 1): unknown {
  let k = keyFromSeed(seed);
  const build = (n: ShapeTree): unknown => {
    if (isLeaf(n)) {
      const [a, b] = split(k);
      k = a;
      const size = n.shape.reduce((x, y) => x * y, 1);
      return mp.tensor(
        Float64Array.from(normalHost(b, size), (v) => Math.fround(v * sigma)),
        n.shape,
      );
    }
    if (Array.isArray(n)) return n.map(build);
    return Object.fromEntries(
      Object.keys(n)
        .sort()
        .map((key) => [key, build((n as Record<string, ShapeTree>)[key])]),
    );
  };
  return build(s);
}

const host = (tree: unknown): Float64Array[] => mp.leaves(tree).map((t) => Float64Array.from(t.toArray()));
const paths = (tree: unknown): string[] => mp.flatten(tree).paths;

const bitsEqual = (a: unknown, b: unknown): boolean => {
  const x = host(a);
  const y = host(b);
  return (
    x.length === y.length && x.every((v, i) => v.length === y[i].length && v.every((e, j) => Object.is(e, y[i][j])))
  );
};

// ---------------------------------------------------------------------------------------------
// AdamW vs its formula

interface Hyper {
  lr: number;
  b1: number;
  b2: number;
  eps: number;
  wd: number;
}
const hyperArb: fc.Arbitrary<Hyper> = fc.record({
  lr: fc.double({ min: 1e-5, max: 0.1, noNaN: true }),
  b1: fc.double({ min: 0, max: 0.999, noNaN: true }),
  b2: fc.double({ min: 0, max: 0.9999, noNaN: true }),
  eps: fc.double({ min: 1e-8, max: 1e-2, noNaN: true }),
  wd: fc.double({ min: 0, max: 0.2, noNaN: true }),
});

/** One AdamW step in float64 on the host: the formula of optax/PyTorch. */
function adamwReference(
  h: Hyper,
  t: number,
  g: Float64Array,
  m: Float64Array,
  v: Float64Array,
  theta: Float64Array,
  decay: boolean,
  epsOnRaw = false,
) {
  const m2 = m.map((mi, i) => h.b1 * mi + (1 - h.b1) * g[i]);
  const v2 = v.map((vi, i) => h.b2 * vi + (1 - h.b2) * g[i] * g[i]);
  const bc1 = 1 - h.b1 ** t;
  const bc2 = 1 - h.b2 ** t;
  const eps = epsOnRaw ? h.eps / Math.sqrt(bc2) : h.eps;
  const adamDir = m2.map((mi, i) => mi / bc1 / (Math.sqrt(v2[i] / bc2) + eps));
  const u = adamDir.map((a, i) => -h.lr * (a + (decay ? h.wd * theta[i] : 0)));
  const scale = adamDir.map((a, i) => h.lr * (1 + Math.abs(a) + h.wd * Math.abs(theta[i])));
  return { m: m2, v: v2, u, scale };
}

describe('AdamW equals its formula', () => {
  it('float64 (ref64): an independent multi-step trajectory on random trees and hyper-parameters', () => {
    mp.withBackend('ref64', () => {
      fc.assert(
        fc.property(
          treeArb(2),
          hyperArb,
          fc.integer({ min: 1, max: 4 }),
          fc.integer({ min: 0, max: 1e6 }),
          fc.boolean(),
          (shape, h, steps, seed, useMask) => {
            const mask = useMask ? excludeBiasAndOneDim : undefined;
            const tx = adamw({ learningRate: h.lr, b1: h.b1, b2: h.b2, eps: h.eps, weightDecay: h.wd, mask });
            let params = materialise(shape, seed);
            let state = tx.init(params);
            const ps = paths(params);
            const decay = mp.leaves(params).map((p, i) => !mask || mask(ps[i], p));
            let theta = host(params);
            let m = theta.map((x) => new Float64Array(x.length));
            let v = theta.map((x) => new Float64Array(x.length));
            for (let t = 1; t <= steps; t++) {
              const grads = materialise(shape, seed + 1000 * t);
              const [updates, next] = tx.update(grads, state, params);
              state = next;
              const g = host(grads);
              const refs = g.map((gi, i) => adamwReference(h, t, gi, m[i], v[i], theta[i], decay[i]));
              const got = host(updates);
              for (let i = 0; i < refs.length; i++)
                for (let j = 0; j < refs[i].u.length; j++)
                  if (!(Math.abs(got[i][j] - refs[i].u[j]) <= 1e-12 * refs[i].scale[j])) return false;
              m = refs.map((r) => r.m);
              v = refs.map((r) => r.v);
              theta = theta.map((x, i) => x.map((xi, j) => xi + refs[i].u[j]));
              params = applyUpdates(params, updates);
            }
            return host(params).every((x, i) =>
              x.every((xi, j) => Math.abs(xi - theta[i][j]) <= 1e-12 * (1 + Math.abs(xi))),
            );
          },
        ),
        { numRuns: 100, seed: 1 },
      );
    });
  });

  it('float32 (native): each step matches the float64 formula from the same state to ~1e-5', () => {
    fc.assert(
      fc.property(treeArb(2), hyperArb, fc.integer({ min: 0, max: 1e6 }), (shape, h, seed) => {
        const full = adamw({ learningRate: h.lr, b1: h.b1, b2: h.b2, eps: h.eps, weightDecay: h.wd });
        let params = materialise(shape, seed);
        let state = full.init(params);
        for (let t = 1; t <= 3; t++) {
          const grads = materialise(shape, seed + 7 * t);
          const adamState = (state as unknown[])[0] as { mu: unknown; nu: unknown; count: number };
          const before = { m: host(adamState.mu), v: host(adamState.nu), theta: host(params) };
          const [updates, next] = full.update(grads, state, params);
          const refs = host(grads).map((g, i) =>
            adamwReference(h, t, g, before.m[i], before.v[i], before.theta[i], true),
          );
          const got = host(updates);
          for (let i = 0; i < refs.length; i++)
            for (let j = 0; j < refs[i].u.length; j++)
              if (!(Math.abs(got[i][j] - refs[i].u[j]) <= 2e-5 * refs[i].scale[j])) return false;
          state = next;
          params = applyUpdates(params, updates);
        }
        return true;
      }),
      { numRuns: 100, seed: 2 },
    );
  });

  it("fairseq's eps placement (epsOnRawMoment) equals m̂/(√v̂ + ε/√(1−b2^t))", () => {
    mp.withBackend('ref64', () => {
      const h: Hyper = { lr: 0.01, b1: 0.9, b2: 0.95, eps: 1e-3, wd: 0.05 };
      const tx = adamw({ learningRate: h.lr, b1: h.b1, b2: h.b2, eps: h.eps, weightDecay: h.wd, epsOnRawMoment: true });
      const params = materialise({ w: { shape: [5] } }, 3);
      const grads = materialise({ w: { shape: [5] } }, 4);
      const [u] = tx.update(grads, tx.init(params), params);
      const z = new Float64Array(5);
      const ref = adamwReference(h, 1, host(grads)[0], z, z, host(params)[0], true, true);
      host(u)[0].forEach((x, j) => expect(x).toBeCloseTo(ref.u[j], 14));
    });
  });

  it('with weight decay 0 it is exactly Adam (bitwise, native)', () => {
    fc.assert(
      fc.property(treeArb(2), hyperArb, fc.integer({ min: 0, max: 1e6 }), (shape, h, seed) => {
        const a = adam({ learningRate: h.lr, b1: h.b1, b2: h.b2, eps: h.eps });
        const w = adamw({ learningRate: h.lr, b1: h.b1, b2: h.b2, eps: h.eps, weightDecay: 0 });
        let pa = materialise(shape, seed);
        let pw = pa;
        let sa = a.init(pa);
        let sw = w.init(pw);
        for (let t = 0; t < 3; t++) {
          const g = materialise(shape, seed + 1 + t);
          const [ua, na] = a.update(g, sa, pa);
          const [uw, nw] = w.update(g, sw, pw);
          if (!bitsEqual(ua, uw)) return false;
          [sa, sw, pa, pw] = [na, nw, applyUpdates(pa, ua), applyUpdates(pw, uw)];
        }
        return bitsEqual(pa, pw);
      }),
      { numRuns: 30, seed: 3 },
    );
  });

  it('the mask selects which leaves decay (M2D: not biases nor 1-D parameters)', () => {
    const params = {
      blocks: [{ attn: { qkv: { weight: mp.ones([2, 2]), bias: mp.ones([2]) } }, norm1: { weight: mp.ones([2]) } }],
    };
    const zeros = mp.treeMap(mp.zerosLike, params);
    const all = addDecayedWeights(0.5);
    const m2d = addDecayedWeights(0.5, excludeBiasAndOneDim);
    const [ua] = all.update(zeros, all.init(params), params);
    const [um] = m2d.update(zeros, m2d.init(params), params);
    expect(mp.toNamed(ua)['blocks.0.attn.qkv.bias'].toNested()).toEqual([0.5, 0.5]);
    expect(mp.toNamed(um)['blocks.0.attn.qkv.bias'].toNested()).toEqual([0, 0]);
    expect(mp.toNamed(um)['blocks.0.norm1.weight'].toNested()).toEqual([0, 0]);
    expect(mp.toNamed(um)['blocks.0.attn.qkv.weight'].toNested()).toEqual([
      [0.5, 0.5],
      [0.5, 0.5],
    ]);
    expect(() => all.update(zeros, all.init(params))).toThrow(/needs params/);
  });
});

// ---------------------------------------------------------------------------------------------
// SGD, chain, clipping

describe('SGD', () => {
  it('decreases a convex quadratic for a small learning rate', () => {
    mp.withBackend('ref64', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 5 }),
          fc.integer({ min: 0, max: 1e6 }),
          fc.double({ min: 0.01, max: 1, noNaN: true }),
          (n, seed, frac) => {
            // f(x) = ½ xᵀAx − bᵀx, A = MᵀM + I; η ≤ 1/trace(A) ≤ 1/λ_max guarantees descent
            const [k1, k2, k3] = split(keyFromSeed(seed), 3);
            const M = mp.tensor(normalHost(k1, n * n), [n, n]);
            const A = mp.add(
              mp.matmul(M, M, { transA: true }),
              mp.tensor(
                Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0)),
                [n, n],
              ),
            );
            const b = mp.tensor(normalHost(k2, n), [n, 1]);
            const f = (p: { x: Tensor }) =>
              mp.sub(mp.mul(mp.sum(mp.mul(p.x, mp.matmul(A, p.x))), 0.5), mp.sum(mp.mul(b, p.x)));
            const params = { x: mp.tensor(normalHost(k3, n), [n, 1]) };
            const trace = Array.from({ length: n }, (_, i) => A.toArray()[i * n + i]).reduce((x, y) => x + y, 0);
            const tx = sgd({ learningRate: frac / trace });
            const [l0, g] = mp.valueAndGrad(f)(params);
            const [u] = tx.update(g, tx.init(params), params);
            const l1 = f(applyUpdates(params, u));
            const gn = globalNorm(g).item();
            return gn === 0 ? l1.item() === l0.item() : l1.item() < l0.item();
          },
        ),
        { numRuns: 40, seed: 4 },
      );
    });
  });

  it('momentum follows τ ← g + μτ, u = −ητ (and Nesterov u = −η(g + μτ))', () => {
    mp.withBackend('ref64', () => {
      const p = { x: mp.tensor([1, 2]) };
      const g1 = { x: mp.tensor([1, -1]) };
      const g2 = { x: mp.tensor([2, 0.5]) };
      for (const nesterov of [false, true]) {
        const tx = sgd({ learningRate: 0.1, momentum: 0.9, nesterov });
        const [u1, s1] = tx.update(g1, tx.init(p), p);
        const [u2] = tx.update(g2, s1, p);
        const tau1 = [1, -1];
        const tau2 = [2 + 0.9 * 1, 0.5 - 0.9];
        const exp1 = nesterov ? tau1.map((t, i) => -0.1 * ([1, -1][i] + 0.9 * t)) : tau1.map((t) => -0.1 * t);
        const exp2 = nesterov ? tau2.map((t, i) => -0.1 * ([2, 0.5][i] + 0.9 * t)) : tau2.map((t) => -0.1 * t);
        (u1.x.toNested() as number[]).forEach((v, i) => expect(v).toBeCloseTo(exp1[i], 14));
        (u2.x.toNested() as number[]).forEach((v, i) => expect(v).toBeCloseTo(exp2[i], 14));
      }
    });
  });
});

/** Run a transformation for `steps` updates on fixed random grads; return the updates of each step. */
function trajectory(tx: GradientTransformation<any>, shape: ShapeTree, seed: number, steps = 3): unknown[] {
  let params = materialise(shape, seed);
  let state = tx.init(params);
  const out: unknown[] = [];
  for (let t = 0; t < steps; t++) {
    const [u, s] = tx.update(materialise(shape, seed + 100 + t, 3), state, params);
    out.push(u);
    state = s;
    params = applyUpdates(params, u);
  }
  return out;
}
const sameTrajectory = (a: unknown[], b: unknown[]) => a.length === b.length && a.every((u, i) => bitsEqual(u, b[i]));

describe('chain order laws', () => {
  const pieces = (h: Hyper): GradientTransformation<any>[] => [
    clipByGlobalNorm(1 + 10 * h.wd),
    scaleByAdam({ b1: h.b1, b2: h.b2, eps: h.eps }),
    addDecayedWeights(h.wd),
    scale(-h.lr),
    sgd({ learningRate: h.lr, momentum: h.b1 }),
  ];

  it('associativity: chain(chain(a, b), c) = chain(a, chain(b, c)) = chain(a, b, c)', () => {
    fc.assert(
      fc.property(
        treeArb(1),
        hyperArb,
        fc.integer({ min: 0, max: 1e6 }),
        fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 3, maxLength: 3 }),
        (shape, h, seed, idx) => {
          const ps = pieces(h);
          const [a, b, c] = idx.map((i) => ps[i]);
          const flat = trajectory(chain(a, b, c), shape, seed);
          return (
            sameTrajectory(trajectory(chain(chain(a, b), c), shape, seed), flat) &&
            sameTrajectory(trajectory(chain(a, chain(b, c)), shape, seed), flat)
          );
        },
      ),
      { numRuns: 25, seed: 5 },
    );
  });

  it('identity is a unit on both sides, and fp-ts concatAll folds a list like chain', () => {
    fc.assert(
      fc.property(
        treeArb(1),
        hyperArb,
        fc.integer({ min: 0, max: 1e6 }),
        fc.integer({ min: 0, max: 4 }),
        (shape, h, seed, i) => {
          const a = pieces(h)[i];
          const ref = trajectory(a, shape, seed);
          const folded = concatAll(monoidTransformation)(pieces(h));
          return (
            sameTrajectory(trajectory(chain(identity(), a), shape, seed), ref) &&
            sameTrajectory(trajectory(chain(a, identity()), shape, seed), ref) &&
            sameTrajectory(trajectory(folded, shape, seed), trajectory(chain(...pieces(h)), shape, seed))
          );
        },
      ),
      { numRuns: 25, seed: 6 },
    );
  });

  it('order matters: clip then scale bounds the norm by s·c, scale then clip by c', () => {
    const g = { w: mp.tensor([3, 4]) }; // ‖g‖ = 5
    const clipThenScale = chain(clipByGlobalNorm(1), scale(10));
    const scaleThenClip = chain(scale(10), clipByGlobalNorm(1));
    expect(globalNorm(clipThenScale.update(g, clipThenScale.init(g))[0]).item()).toBeCloseTo(10, 5);
    expect(globalNorm(scaleThenClip.update(g, scaleThenClip.init(g))[0]).item()).toBeCloseTo(1, 5);
    // scalings commute with each other
    const ab = chain(scale(2), scale(3));
    const ba = chain(scale(3), scale(2));
    expect(ab.update(g, ab.init(g))[0].w.toNested()).toEqual(ba.update(g, ba.init(g))[0].w.toNested());
  });

  it('a state that is not from this chain is refused', () => {
    const tx = chain(scale(1), scale(2));
    expect(() => tx.update({ w: mp.ones([1]) }, [{}], undefined)).toThrow(/state has 1 entries, the chain has 2/);
  });
});

describe('clipByGlobalNorm', () => {
  const globalNormHost = (tree: unknown) =>
    Math.sqrt(host(tree).reduce((acc, x) => acc + x.reduce((s, v) => s + v * v, 0), 0));

  it('globalNorm is √Σg² over every leaf', () => {
    fc.assert(
      fc.property(treeArb(2), fc.integer({ min: 0, max: 1e6 }), (shape, seed) => {
        const g = materialise(shape, seed);
        return Math.abs(globalNorm(g).item() - globalNormHost(g)) <= 1e-6 * (1 + globalNormHost(g));
      }),
      { numRuns: 30, seed: 7 },
    );
  });

  it('never yields a norm above the bound, and leaves gradients within it bit-for-bit untouched', () => {
    for (const backend of ['ref64', 'native']) {
      // float32 rounding of g·c/‖g‖ may land a few ulps above c; float64 within 1e-15
      const slack = backend === 'ref64' ? 1e-14 : 1e-6;
      mp.withBackend(backend, () => {
        fc.assert(
          fc.property(
            treeArb(2),
            fc.integer({ min: 0, max: 1e6 }),
            fc.double({ min: 0.01, max: 100, noNaN: true }),
            fc.double({ min: 0.001, max: 30, noNaN: true }),
            fc.constantFrom(0, 1e-6),
            (shape, seed, maxNorm, sigma, eps) => {
              const g = materialise(shape, seed, sigma);
              const tx = clipByGlobalNorm(maxNorm, { eps });
              const [c] = tx.update(g, tx.init(g));
              const n = globalNormHost(g);
              if (n + eps <= maxNorm && !bitsEqual(c, g)) return false;
              return globalNormHost(c) <= maxNorm * (1 + slack);
            },
          ),
          { numRuns: 100, seed: 8 },
        );
      });
    }
  });

  it('a NaN gradient is not hidden', () => {
    const tx = clipByGlobalNorm(1);
    const [c] = tx.update({ w: mp.tensor([NaN, 1]) }, tx.init({}));
    expect(Number.isNaN((c.w.toNested() as number[])[1])).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// schedules

/** fairseq's CosineLRSchedule.step_update (t_mult = 1), transcribed, for the steps before max_update. */
function fairseqCosine(s: number, init: number, peak: number, warmup: number, maxUpdate: number, minLr = 0): number {
  if (s < warmup) return init + s * ((peak - init) / warmup);
  const period = maxUpdate - warmup;
  const cur = s - warmup;
  const i = Math.floor(cur / period);
  const tCurr = cur - period * i;
  const shrink = 0.1 ** i;
  return minLr * shrink + 0.5 * (peak * shrink - minLr * shrink) * (1 + Math.cos((Math.PI * tCurr) / period));
}
/** MATPAC's get_annealed_rate (training_matpac/models/utils.py), transcribed. */
function annealed(start: number, end: number, cur: number, total: number): number {
  if (cur >= total) return end;
  return end - (end - start) * (1 - cur / total);
}

const monotone = (f: Schedule, from: number, to: number, dir: 1 | -1, samples: number[]) => {
  const xs = [from, ...samples.map((u) => from + u * (to - from)), to].sort((a, b) => a - b);
  return xs.every((x, i) => i === 0 || dir * (f(x) - f(xs[i - 1])) >= 0);
};

describe('schedules', () => {
  const sched = matpacSchedules();

  it("MATPAC's schedules hit their endpoints exactly", () => {
    expect(sched.learningRate(0)).toBe(0);
    expect(sched.learningRate(19654)).toBe(3e-4);
    expect(sched.learningRate(294816)).toBe(0);
    expect(sched.learningRate(10 ** 7)).toBe(0);
    expect(sched.encoderMomentum(0)).toBe(0.99995);
    expect(sched.encoderMomentum(294816)).toBe(0.99999);
    expect(sched.headMomentum(0)).toBe(0.998);
    expect(sched.headMomentum(294815)).toBe(annealed(0.998, 1, 294815, 294816));
    expect(sched.headMomentum(294816)).toBe(0.99999); // do_ema_step: the encoder's end decay from then on
    expect(sched.teacherTemperature(0)).toBe(0.04);
    expect(sched.teacherTemperature(9827)).toBe(0.07);
    expect(sched.teacherTemperature(200000)).toBe(0.07);
    expect(constant(0.1)(12345)).toBe(0.1);
  });

  it('agree with the official formulas (fairseq cosine, get_annealed_rate) at every step tried', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 294815 }), (s) => {
        return (
          sched.learningRate(s) === fairseqCosine(s, 0, 3e-4, 19654, 294816) &&
          (s === 0 || sched.encoderMomentum(s) === annealed(0.99995, 0.99999, s, 294816)) &&
          (s === 0 || sched.headMomentum(s) === annealed(0.998, 1, s, 294816)) &&
          (s === 0 || sched.teacherTemperature(s) === annealed(0.04, 0.07, s, 9827))
        );
      }),
      { numRuns: 300, seed: 9 },
    );
  });

  it('are monotone where they should be', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -1, max: 1, noNaN: true }),
        fc.double({ min: -1, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 10000 }),
        fc.integer({ min: 1, max: 10000 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 5, maxLength: 20 }),
        (a, b, floorFrac, w, d, samples) => {
          const lin = linear(a, b, d, w);
          const peak = Math.abs(a) + 1;
          const end = floorFrac * peak;
          const wc = warmupCosine({ initValue: 0, peakValue: peak, warmupSteps: w, decaySteps: w + d, endValue: end });
          return (
            lin(w) === a &&
            lin(w + d) === b &&
            lin(0) === a &&
            lin(w + 2 * d) === b &&
            monotone(lin, 0, w + 2 * d, b >= a ? 1 : -1, samples) &&
            wc(0) === 0 &&
            wc(w) === peak &&
            wc(w + d) === end &&
            monotone(wc, 0, w, 1, samples) &&
            monotone(wc, w, w + 2 * d, -1, samples) &&
            monotone(sched.learningRate, 0, 19654, 1, samples) &&
            monotone(sched.learningRate, 19654, 400000, -1, samples) &&
            monotone(sched.encoderMomentum, 0, 400000, 1, samples) &&
            monotone(sched.headMomentum, 0, 294815, 1, samples) &&
            monotone(sched.teacherTemperature, 0, 400000, 1, samples)
          );
        },
      ),
      { numRuns: 200, seed: 10 },
    );
  });

  it('the learning rate of update t is schedule(t), starting at 0 (as fairseq)', () => {
    mp.withBackend('ref64', () => {
      const lr = (s: number) => 0.5 + s;
      const tx = sgd({ learningRate: lr });
      const p = { x: mp.tensor([0]) };
      const g = { x: mp.tensor([1]) };
      let state = tx.init(p);
      for (let t = 0; t < 3; t++) {
        const [u, s] = tx.update(g, state, p);
        expect(u.x.item()).toBe(-lr(t));
        state = s;
      }
    });
  });

  it('refuse nonsense', () => {
    expect(() => linear(0, 1, 0)).toThrow(RangeError);
    expect(() => warmupCosine({ peakValue: 1, warmupSteps: 10, decaySteps: 10 })).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------------------------------------
// EMA

describe('EMA', () => {
  it('m = 0 copies the student, m = 1 keeps the teacher, otherwise m·θ_t + (1−m)·θ_s', () => {
    fc.assert(
      fc.property(
        treeArb(2),
        fc.integer({ min: 0, max: 1e6 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (shape, seed, m) => {
          const teacher = materialise(shape, seed);
          const student = materialise(shape, seed + 1);
          if (!bitsEqual(emaUpdate(teacher, student, 0), student)) return false;
          if (!bitsEqual(emaUpdate(teacher, student, 1), teacher)) return false;
          const got = host(emaUpdate(teacher, student, m));
          const t = host(teacher);
          const s = host(student);
          return got.every((x, i) =>
            x.every(
              (v, j) =>
                Math.abs(v - (m * t[i][j] + (1 - m) * s[i][j])) <= 1e-6 * (1 + Math.abs(t[i][j]) + Math.abs(s[i][j])),
            ),
          );
        },
      ),
      { numRuns: 40, seed: 11 },
    );
  });

  it('emaStep skips step 0 and momenta ≥ 1, as do_ema_step', () => {
    const teacher = { w: mp.tensor([1, 1]) };
    const student = { w: mp.tensor([3, 5]) };
    const half = constant(0.5);
    expect(emaStep(teacher, student, 0, half)).toBe(teacher);
    expect(emaStep(teacher, student, 7, constant(1))).toBe(teacher);
    expect(emaStep(teacher, student, 1, half).w.toNested()).toEqual([2, 3]);
  });

  it('refuses trees of different structure and momenta outside [0, 1]', () => {
    expect(() => emaUpdate({ a: mp.ones([1]) }, { b: mp.ones([1]) }, 0.5)).toThrow(/structure/);
    expect(() => emaUpdate({ a: mp.ones([1]) }, { a: mp.ones([1]) }, 1.5)).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------------------------------------
// convergence: L2-regularised logistic regression, optimum by Newton's method in float64

describe('optimizers minimise logistic regression to its known optimum', () => {
  const n = 64;
  const d = 3;
  const lambda = 0.1;
  const [kx, ky] = split(keyFromSeed(2024), 2);
  const X = Float64Array.from(normalHost(kx, n * d));
  const noise = normalHost(ky, n);
  const wTrue = [1.5, -2, 0.5];
  const y = Float64Array.from({ length: n }, (_, i) =>
    wTrue.reduce((s, w, j) => s + w * X[i * d + j], 0.3) + noise[i] > 0 ? 1 : 0,
  );

  // Newton on θ = (w, b): ∇ = Xᵀ(σ(z) − y)/n + λ(w, 0); H = Xᵀ diag(σ(1−σ)) X/n + λ diag(1,..,1,0)
  const optimum = (() => {
    const p = d + 1;
    const theta = new Float64Array(p);
    const row = (i: number) => [...X.subarray(i * d, i * d + d), 1];
    for (let it = 0; it < 50; it++) {
      const gr = new Float64Array(p);
      const H = Array.from({ length: p }, () => new Float64Array(p));
      for (let i = 0; i < n; i++) {
        const r = row(i);
        const z = r.reduce((s, v, j) => s + v * theta[j], 0);
        const sg = 1 / (1 + Math.exp(-z));
        for (let a = 0; a < p; a++) {
          gr[a] += ((sg - y[i]) * r[a]) / n;
          for (let b = 0; b < p; b++) H[a][b] += (sg * (1 - sg) * r[a] * r[b]) / n;
        }
      }
      for (let a = 0; a < d; a++) {
        gr[a] += lambda * theta[a];
        H[a][a] += lambda;
      }
      // solve H δ = gr (Gaussian elimination; H is SPD)
      const A = H.map((r, i) => [...r, gr[i]]);
      for (let c = 0; c < p; c++)
        for (let r = c + 1; r < p; r++) {
          const f = A[r][c] / A[c][c];
          for (let k = c; k <= p; k++) A[r][k] -= f * A[c][k];
        }
      const delta = new Float64Array(p);
      for (let r = p - 1; r >= 0; r--)
        delta[r] = (A[r][p] - A[r].slice(r + 1, p).reduce((s, v, k) => s + v * delta[r + 1 + k], 0)) / A[r][r];
      theta.forEach((_, j) => (theta[j] -= delta[j]));
    }
    return theta;
  })();

  const loss = (p: { w: Tensor; b: Tensor }, Xt: Tensor, yt: Tensor) => {
    const z = mp.add(mp.matmul(Xt, p.w), p.b); // [n, 1]
    const nll = mp.mean(mp.sub(mp.log(mp.add(mp.exp(z), 1)), mp.mul(yt, z)));
    return mp.add(nll, mp.mul(mp.sum(mp.square(p.w)), lambda / 2));
  };

  const cases: [string, () => GradientTransformation<any>, number][] = [
    ['sgd', () => sgd({ learningRate: 1 }), 400],
    ['sgd + momentum', () => sgd({ learningRate: 0.2, momentum: 0.9 }), 300],
    ['sgd + nesterov', () => sgd({ learningRate: 0.2, momentum: 0.9, nesterov: true }), 300],
    [
      'adam + warm-up/cosine',
      () =>
        adam({
          learningRate: warmupCosine({ peakValue: 0.1, warmupSteps: 20, decaySteps: 400, endValue: 1e-4 }),
          b1: 0.9,
          b2: 0.95,
        }),
      400,
    ],
    [
      'clip + adamw (no decayed leaves)',
      () =>
        chain(
          clipByGlobalNorm(3),
          adamw({
            learningRate: warmupCosine({ peakValue: 0.1, warmupSteps: 20, decaySteps: 400 }),
            b1: 0.9,
            b2: 0.95,
            eps: 1e-6,
            weightDecay: 0.05,
            mask: () => false,
          }),
        ),
      400,
    ],
  ];
  for (const [name, make, steps] of cases) {
    it(name, () => {
      mp.withBackend('ref64', () => {
        const Xt = mp.tensor(X, [n, d]);
        const yt = mp.tensor(y, [n, 1]);
        const tx = make();
        let params = { w: mp.zeros([d, 1]), b: mp.zeros([]) };
        let state = tx.init(params);
        const g = mp.grad(loss);
        for (let t = 0; t < steps; t++) {
          const [u, s] = tx.update(g(params, Xt, yt), state, params);
          params = applyUpdates(params, u);
          state = s;
        }
        const got = [...params.w.toArray(), params.b.item()];
        expect(Math.max(...optimum.map(Math.abs))).toBeGreaterThan(0.5); // the optimum is far from the zero start
        got.forEach((v, j) => expect(Math.abs(v - optimum[j])).toBeLessThan(1e-3));
      });
    });
  }
});
