/**
 * One specification per primitive and per composite: how to draw valid inputs (shapes with
 * broadcasting and size-1 edges, values inside the function's smooth domain) and which function
 * to apply. The gradient properties (gradients.test.ts), the second-order properties
 * (grad2.test.ts) and the backend-agreement properties (backends.test.ts) all read this table,
 * and coverage.test.ts fails when a primitive has no entry.
 */
import fc from 'fast-check';
import * as mp from '../src/index';
import type { PrimName } from '../src/primitives';
import { keyFromSeed, permutationHost, randintHost, uniformHost, split } from '../src/random';
import type { Tensor } from '../src/core';
import { E, type Expr } from '../src/fused';

export type Domain = 'any' | 'positive' | 'small' | 'distinct' | 'index';

export interface InputSpec {
  shape: number[];
  domain: Domain;
  /** For 'index' inputs: the exclusive upper bound of the indices. */
  bound?: number;
}

export interface Case {
  inputs: InputSpec[];
  fn: (...xs: Tensor[]) => Tensor;
  /** Inputs that get no gradient (indices, conditions). */
  constant?: number[];
}

export interface OpSpec {
  name: string;
  /** The primitives this spec exercises directly (for the coverage check). */
  covers: PrimName[];
  composite?: boolean;
  /** Not differentiable (comparisons): the property checks that the VJP is zero instead. */
  zeroGrad?: boolean;
  gen: fc.Arbitrary<Case>;
}

// ---------------------------------------------------------------------------------------------
// shape arbitraries

const dim = fc.integer({ min: 1, max: 4 });
export const shapeArb = (minRank = 0, maxRank = 3) => fc.array(dim, { minLength: minRank, maxLength: maxRank });

/** An output shape and input shapes that broadcast to it (dims dropped or set to 1 at random). */
export const broadcastPair = (n: number) =>
  fc
    .tuple(
      shapeArb(0, 3),
      fc.array(fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 3, maxLength: 3 }), {
        minLength: n,
        maxLength: n,
      }),
      fc.array(fc.integer({ min: 0, max: 3 }), { minLength: n, maxLength: n }),
    )
    .map(([out, modes, drops]) =>
      modes.map((m, k) => {
        const s = out.map((d, i) => (m[i] === 0 ? 1 : d));
        return s.slice(Math.min(drops[k], s.length));
      }),
    );

/** Expressions of x0 and x1 (depth ≤ 3) over the fused operations. */
export const fusedExprArb: fc.Arbitrary<Expr> = fc.letrec<{ e: Expr }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small', maxDepth: 3 },
    fc.constantFrom<Expr>(E.x(0), E.x(1), 0.5, -1.25, 2),
    fc.tuple(tie('e'), tie('e')).map(([a, b]) => E.add(a, b)),
    fc.tuple(tie('e'), tie('e')).map(([a, b]) => E.sub(a, b)),
    fc.tuple(tie('e'), tie('e')).map(([a, b]) => E.mul(a, b)),
    fc.tuple(tie('e'), tie('e')).map(([a, b]) => E.div(a, E.add(E.square(b), 1))),
    tie('e').map((a) => E.neg(a)),
    tie('e').map((a) => E.square(a)),
    tie('e').map((a) => E.sqrt(E.add(E.square(a), 0.5))),
  ),
})).e;

// ---------------------------------------------------------------------------------------------
// values

/** Draw the values of an input inside its domain (float64), from a seed. */
export function drawValues(spec: InputSpec, seed: number): Float64Array {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const key = keyFromSeed(seed);
  const u = uniformHost(key, n);
  switch (spec.domain) {
    case 'any':
      return u.map((v) => 4 * v - 2);
    case 'positive':
      return u.map((v) => 0.5 + 2.5 * v);
    case 'small':
      return u.map((v) => 2 * v - 1);
    case 'distinct': {
      // a random permutation of a grid with gaps of 0.05: no ties, no near-ties
      const perm = permutationHost(split(key)[1], n);
      return Float64Array.from(perm, (p, i) => -2.0123 + 0.05 * p + 0.01 * u[i]);
    }
    case 'index':
      return Float64Array.from(randintHost(key, n, 0, spec.bound ?? 1));
  }
}

export function materialise(c: Case, seed: number): Tensor[] {
  return c.inputs.map((inp, i) => mp.tensor(drawValues(inp, seed * 7919 + i), inp.shape));
}

// ---------------------------------------------------------------------------------------------
// the table

const unary = (name: PrimName, domain: Domain, fn: (x: Tensor) => Tensor): OpSpec => ({
  name,
  covers: [name],
  gen: shapeArb().map((s) => ({ inputs: [{ shape: s, domain }], fn })),
});
const binary = (
  name: PrimName,
  da: Domain,
  db: Domain,
  fn: (a: Tensor, b: Tensor) => Tensor,
  zeroGrad = false,
): OpSpec => ({
  name,
  covers: [name],
  zeroGrad,
  gen: broadcastPair(2).map(([a, b]) => ({
    inputs: [
      { shape: a, domain: da },
      { shape: b, domain: db },
    ],
    fn,
  })),
});
const axesArb = (rank: number) => fc.subarray([...Array(rank).keys()], { minLength: 1 });

export const SPECS: OpSpec[] = [
  unary('neg', 'any', mp.neg),
  unary('exp', 'any', mp.exp),
  unary('log', 'positive', mp.log),
  unary('sqrt', 'positive', mp.sqrt),
  unary('rsqrt', 'positive', mp.rsqrt),
  unary('square', 'any', mp.square),
  unary('tanh', 'any', mp.tanh),
  unary('erf', 'any', mp.erf),
  unary('gelu', 'any', mp.gelu),
  unary('geluGrad', 'any', (x) => mp.bind('geluGrad', [x], {})),
  {
    name: 'softmaxPrim',
    covers: ['softmax'],
    gen: shapeArb(1, 3).map((s) => ({
      inputs: [{ shape: s, domain: 'any' as Domain }],
      fn: (x: Tensor) => mp.bind('softmax', [x], {}),
    })),
  },
  {
    name: 'layerNormalize',
    covers: ['layerNormalize'],
    gen: fc.tuple(shapeArb(0, 2), fc.integer({ min: 2, max: 6 })).map(([lead, d]) => ({
      inputs: [{ shape: [...lead, d], domain: 'any' as Domain }],
      fn: (x: Tensor) => mp.bind('layerNormalize', [x], { eps: 1e-6 }),
    })),
  },
  {
    name: 'layerNormalizeVjp',
    covers: ['layerNormalizeVjp'],
    gen: fc.tuple(shapeArb(0, 2), fc.integer({ min: 2, max: 6 })).map(([lead, d]) => ({
      inputs: [
        { shape: [...lead, d], domain: 'any' as Domain },
        { shape: [...lead, d], domain: 'any' as Domain },
      ],
      fn: (x: Tensor, g: Tensor) => mp.bind('layerNormalizeVjp', [x, g], { eps: 1e-6 }),
    })),
  },
  binary('add', 'any', 'any', mp.add),
  binary('sub', 'any', 'any', mp.sub),
  binary('mul', 'any', 'any', mp.mul),
  binary('div', 'any', 'positive', mp.div),
  binary('pow', 'positive', 'small', mp.pow),
  // 'distinct' values on both sides are drawn from the same grid with different seeds; the
  // +0.025 offset keeps a and b apart
  binary('maximum', 'distinct', 'distinct', (a, b) => mp.maximum(a, mp.add(b, 0.025))),
  binary('minimum', 'distinct', 'distinct', (a, b) => mp.minimum(a, mp.add(b, 0.025))),
  binary('greater', 'any', 'any', mp.greater, true),
  binary('greaterEqual', 'any', 'any', mp.greaterEqual, true),
  binary('equal', 'any', 'any', (a, b) => mp.equal(a, mp.mul(b, 0)), true),
  {
    name: 'where',
    covers: ['where'],
    gen: broadcastPair(3).map(([c, a, b]) => ({
      inputs: [
        { shape: c, domain: 'index', bound: 2 },
        { shape: a, domain: 'any' },
        { shape: b, domain: 'any' },
      ],
      constant: [0],
      fn: mp.where,
    })),
  },
  {
    name: 'sum',
    covers: ['sum'],
    gen: shapeArb(1, 4).chain((s) =>
      axesArb(s.length).map((axes) => ({
        inputs: [{ shape: s, domain: 'any' as Domain }],
        fn: (x: Tensor) => mp.sum(x, axes),
      })),
    ),
  },
  {
    name: 'max',
    covers: ['max'],
    gen: shapeArb(1, 4).chain((s) =>
      axesArb(s.length).map((axes) => ({
        inputs: [{ shape: s, domain: 'distinct' as Domain }],
        fn: (x: Tensor) => mp.max(x, axes),
      })),
    ),
  },
  {
    name: 'reshape',
    covers: ['reshape'],
    gen: shapeArb(1, 3).chain((s) =>
      fc.shuffledSubarray(s, { minLength: s.length, maxLength: s.length }).map((t) => ({
        inputs: [{ shape: s, domain: 'any' as Domain }],
        fn: (x: Tensor) => mp.reshape(x, [...t].reverse()),
      })),
    ),
  },
  {
    name: 'transpose',
    covers: ['transpose'],
    gen: shapeArb(2, 4).chain((s) =>
      fc
        .shuffledSubarray([...s.keys()], { minLength: s.length, maxLength: s.length })
        .map((perm) => ({ inputs: [{ shape: s, domain: 'any' as Domain }], fn: (x: Tensor) => mp.transpose(x, perm) })),
    ),
  },
  {
    name: 'broadcast',
    covers: ['broadcast'],
    gen: broadcastPair(1).chain(([s]) =>
      fc.array(dim, { minLength: 0, maxLength: 2 }).map((lead) => ({
        inputs: [{ shape: s, domain: 'any' as Domain }],
        fn: (x: Tensor) => mp.broadcastTo(x, [...lead, ...s.map((d) => (d === 1 ? 3 : d))]),
      })),
    ),
  },
  {
    name: 'slice',
    covers: ['slice'],
    gen: shapeArb(1, 3).chain((s) =>
      fc
        .tuple(
          ...s.map((d) =>
            fc
              .integer({ min: 0, max: d - 1 })
              .chain((b) => fc.integer({ min: 1, max: d - b }).map((n) => [b, n] as const)),
          ),
        )
        .map((bs) => ({
          inputs: [{ shape: s, domain: 'any' as Domain }],
          fn: (x: Tensor) =>
            mp.slice(
              x,
              bs.map((b) => b[0]),
              bs.map((b) => b[1]),
            ),
        })),
    ),
  },
  {
    name: 'pad',
    covers: ['pad'],
    gen: shapeArb(1, 3).chain((s) =>
      fc
        .tuple(
          fc.array(fc.integer({ min: 0, max: 2 }), { minLength: s.length, maxLength: s.length }),
          fc.array(fc.integer({ min: 0, max: 2 }), { minLength: s.length, maxLength: s.length }),
        )
        .map(([lo, hi]) => ({
          inputs: [{ shape: s, domain: 'any' as Domain }],
          fn: (x: Tensor) => mp.bind('pad', [x], { lo, hi }),
        })),
    ),
  },
  {
    name: 'concat',
    covers: ['concat'],
    gen: shapeArb(1, 3).chain((s) =>
      fc
        .tuple(fc.integer({ min: 0, max: s.length - 1 }), fc.array(dim, { minLength: 2, maxLength: 3 }))
        .map(([axis, sizes]) => ({
          inputs: sizes.map((n) => ({ shape: s.map((d, i) => (i === axis ? n : d)), domain: 'any' as Domain })),
          fn: (...xs: Tensor[]) => mp.concat(xs, axis),
        })),
    ),
  },
  {
    name: 'gather',
    covers: ['gather'],
    gen: shapeArb(1, 3).chain((s) =>
      fc.tuple(fc.integer({ min: 0, max: s.length - 1 }), dim).map(([axis, m]) => ({
        inputs: [
          { shape: s, domain: 'any' as Domain },
          { shape: [...s.slice(0, axis), m], domain: 'index' as Domain, bound: s[axis] },
        ],
        constant: [1],
        fn: (x: Tensor, idx: Tensor) => mp.gather(x, idx, axis),
      })),
    ),
  },
  {
    name: 'scatterAdd',
    covers: ['scatterAdd'],
    gen: shapeArb(1, 3).chain((s) =>
      fc.tuple(fc.integer({ min: 0, max: s.length - 1 }), dim).map(([axis, n]) => ({
        inputs: [
          { shape: s, domain: 'any' as Domain },
          { shape: s.slice(0, axis + 1), domain: 'index' as Domain, bound: n },
        ],
        constant: [1],
        fn: (x: Tensor, idx: Tensor) => mp.scatterAdd(x, idx, axis, n),
      })),
    ),
  },
  {
    name: 'matmul',
    covers: ['matmul'],
    gen: fc
      .tuple(
        dim,
        dim,
        dim,
        fc.boolean(),
        fc.boolean(),
        fc.constantFrom([] as number[], [2], [3, 1], [1, 2]),
        fc.constantFrom([] as number[], [2], [1], [3, 2]),
      )
      .filter(([, , , , , ba, bb]) => {
        const r = Math.max(ba.length, bb.length);
        for (let i = 0; i < r; i++) {
          const x = ba[ba.length - r + i] ?? 1;
          const y = bb[bb.length - r + i] ?? 1;
          if (x !== y && x !== 1 && y !== 1) return false;
        }
        return true;
      })
      .map(([M, K, N, ta, tb, ba, bb]) => ({
        inputs: [
          { shape: [...ba, ...(ta ? [K, M] : [M, K])], domain: 'any' as Domain },
          { shape: [...bb, ...(tb ? [N, K] : [K, N])], domain: 'any' as Domain },
        ],
        fn: (a: Tensor, b: Tensor) => mp.matmul(a, b, { transA: ta, transB: tb }),
      })),
  },
  {
    // random expressions over two broadcast inputs; ÷ and √ only of positive subexpressions
    name: 'fused',
    covers: ['fused'],
    gen: fc.tuple(broadcastPair(2), fusedExprArb).map(([[a, b], e]) => ({
      inputs: [
        { shape: a, domain: 'any' as Domain },
        { shape: b, domain: 'any' as Domain },
      ],
      // x0 and x1 always reach the output
      fn: (x: Tensor, y: Tensor) => mp.fused(E.add(E.mul(E.x(0), 0.5), E.mul(E.x(1), e)), [x, y]),
    })),
  },
  {
    name: 'linear',
    covers: ['linear'],
    // x [..., K] (rank 1 to 3) · Wᵀ [N, K] + b [N]
    gen: fc.tuple(dim, dim, dim, fc.constantFrom([] as number[], [2], [2, 1])).map(([R, K, N, lead]) => ({
      inputs: [
        { shape: lead.length === 0 && R === 1 ? [K] : [...lead, R, K], domain: 'any' as Domain },
        { shape: [N, K], domain: 'any' as Domain },
        { shape: [N], domain: 'any' as Domain },
      ],
      fn: (x: Tensor, w: Tensor, b: Tensor) => mp.linear(x, w, b),
    })),
  },
  // ------------------------------------------------------------------ composites
  ...(
    [
      ['softmax', (x: Tensor) => mp.softmax(x, -1)],
      ['softmax axis 0', (x: Tensor) => mp.softmax(x, 0)],
      ['logSoftmax', (x: Tensor) => mp.logSoftmax(x, -1)],
      ['logsumexp', (x: Tensor) => mp.logsumexp(x, -1)],
      ['l2Normalize', (x: Tensor) => mp.l2Normalize(x, -1)],
      ['mean', (x: Tensor) => mp.mean(x, 0)],
      ['relu', mp.relu],
    ] as [string, (x: Tensor) => Tensor][]
  ).map(([name, fn]) => ({
    name,
    covers: [],
    composite: true,
    gen: shapeArb(1, 3).map((s) => ({
      inputs: [{ shape: s, domain: (name === 'relu' ? 'distinct' : 'any') as Domain }],
      fn,
    })),
  })),
  {
    name: 'layerNorm',
    covers: ['layerNorm'],
    composite: true,
    gen: fc.tuple(shapeArb(0, 2), fc.integer({ min: 2, max: 6 })).map(([lead, d]) => ({
      inputs: [
        { shape: [...lead, d], domain: 'any' as Domain },
        { shape: [d], domain: 'any' as Domain },
        { shape: [d], domain: 'any' as Domain },
      ],
      fn: (x: Tensor, g: Tensor, b: Tensor) => mp.layerNorm(x, g, b, 1e-6),
    })),
  },
  {
    name: 'crossEntropy',
    covers: [],
    composite: true,
    gen: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 2, max: 6 })).map(([n, k]) => ({
      inputs: [
        { shape: [n, k], domain: 'any' as Domain },
        { shape: [n, k], domain: 'any' as Domain },
      ],
      fn: (t: Tensor, s: Tensor) => mp.crossEntropy(mp.softmax(t), mp.logSoftmax(s)),
    })),
  },
];

export const COMPOSITES = ['softmax', 'logSoftmax', 'logsumexp', 'layerNorm', 'gelu', 'l2Normalize', 'crossEntropy'];
