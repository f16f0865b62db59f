/**
 * jit(f)(x) equals f(x): for every primitive and composite spec (specs.ts), for randomly
 * generated programs (random DAGs of primitives with broadcast-compatible shapes, layout ops and
 * reductions), values and gradients, on native, ref64 and gpujs-cpu; grad of grad through jit;
 * the retrace counts.
 *
 * Tolerances (|jit − eager| ≤ atol + rtol·|eager|): ref64 1e-12/1e-10 (the same float64
 * arithmetic in the same order); native and gpujs-cpu 1e-5/1e-4 — a fused group keeps its
 * intermediates in float64 registers where the eager kernels round each one to float32, and
 * the eager native exp/gelu run SIMD approximations.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as mp from '../src/index';
import type { Tensor } from '../src/core';
import { jit } from '../src/jit/jit';
import { formatPlan } from '../src/jit/format';
import { programKey, sameStructure, traceProgram } from '../src/jit/program';
import { drawValues, SPECS, type Case } from './specs';
import { randomLike } from './check';

const TOL: Record<string, { atol: number; rtol: number }> = {
  ref64: { atol: 1e-12, rtol: 1e-10 },
  native: { atol: 1e-5, rtol: 1e-4 },
  'gpujs-cpu': { atol: 1e-5, rtol: 1e-4 },
};
const BACKENDS = Object.keys(TOL);

function expectClose(what: string, got: Tensor[], want: Tensor[], tol: { atol: number; rtol: number }): void {
  expect(got.length).toBe(want.length);
  want.forEach((w, k) => {
    expect(got[k].shape).toEqual(w.shape);
    const a = got[k].toArray();
    const b = w.toArray();
    for (let i = 0; i < b.length; i++) {
      const ok =
        Math.abs(a[i] - b[i]) <= tol.atol + tol.rtol * Math.abs(b[i]) || (Number.isNaN(a[i]) && Number.isNaN(b[i]));
      if (!ok) throw new Error(`${what}: output ${k} element ${i} is ${a[i]} under jit, ${b[i]} eager`);
    }
  });
}

/** The case's value and its gradient along a fixed cotangent, eager and jitted. */
function compareCase(backend: string, name: string, c: Case, seed: number, zeroGrad: boolean): void {
  mp.withBackend(backend, () => {
    const xs = c.inputs.map((inp, i) => mp.tensor(Float32Array.from(drawValues(inp, seed * 7919 + i)), inp.shape));
    const constant = new Set(c.constant ?? []);
    const diffIdx = xs.map((_, i) => i).filter((i) => !constant.has(i));
    const v = randomLike(c.fn(...xs), seed + 1);
    const loss = (ds: Tensor[], all: Tensor[], ct: Tensor) => {
      const ins = all.slice();
      diffIdx.forEach((i, k) => (ins[i] = ds[k]));
      return mp.sum(mp.mul(c.fn(...ins), ct));
    };
    const both = (ds: Tensor[], all: Tensor[], ct: Tensor): Tensor[] => {
      const [value, grads] = mp.valueAndGrad(loss)(ds, all, ct);
      return [c.fn(...all), value, ...(zeroGrad ? [] : grads)];
    };
    const ds = diffIdx.map((i) => xs[i]);
    const eager = both(ds, xs, v);
    const jitted = jit(both)(ds, xs, v);
    expectClose(`${name} on ${backend}`, jitted, eager, TOL[backend]);
  });
}

describe('jit(f) equals f on every primitive and composite spec (value and gradient)', () => {
  for (const backend of BACKENDS) {
    describe(backend, () => {
      for (const spec of SPECS) {
        it(spec.name, () => {
          fc.assert(
            fc.property(spec.gen, fc.integer({ min: 0, max: 1e6 }), (c, seed) =>
              compareCase(backend, spec.name, c, seed, !!spec.zeroGrad),
            ),
            { numRuns: backend === 'ref64' ? 6 : 4, seed: 4242 },
          );
        });
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// random programs

/** One instruction of a random program: an operation and picks of operands/axes (interpreted modulo what is valid). */
type Gene = [number, number, number, number];
const geneArb: fc.Arbitrary<Gene> = fc.tuple(fc.nat(49), fc.nat(50), fc.nat(50), fc.nat(50));

const MAX_ELEMENTS = 200;

/** Interpret genes as a program over `inputs`; returns its last few values. Every op applied is valid by construction. */
export function randomProgram(genes: Gene[], inputs: Tensor[]): Tensor[] {
  const nodes = [...inputs];
  const canBroadcast = (a: readonly number[], b: readonly number[]) => {
    for (let i = 1; i <= Math.min(a.length, b.length); i++) {
      const x = a[a.length - i];
      const y = b[b.length - i];
      if (x !== y && x !== 1 && y !== 1) return false;
    }
    return true;
  };
  for (const [kind, ia, ib, c] of genes) {
    const x = nodes[ia % nodes.length];
    const y = nodes[ib % nodes.length];
    const ax = x.rank ? c % x.rank : 0;
    const pair = (f: (a: Tensor, b: Tensor) => Tensor) => (canBroadcast(x.shape, y.shape) ? f(x, y) : f(x, mp.mean(y)));
    let r: Tensor | null = null;
    switch (kind % 28) {
      case 0:
        r = mp.tanh(x);
        break;
      case 1:
        r = mp.exp(mp.tanh(x));
        break;
      case 2:
        r = mp.sqrt(mp.add(mp.square(x), 1));
        break;
      case 3:
        r = mp.log(mp.add(mp.square(x), 0.5));
        break;
      case 4:
        r = mp.gelu(x);
        break;
      case 5:
        r = mp.neg(mp.erf(x));
        break;
      case 6:
        r = pair(mp.add);
        break;
      case 7:
        r = pair(mp.sub);
        break;
      case 8:
        r = pair(mp.mul);
        break;
      case 9:
        r = pair((a, b) => mp.div(a, mp.add(mp.square(b), 1)));
        break;
      case 10:
        r = pair(mp.maximum);
        break;
      case 11:
        r = pair((a, b) => mp.where(mp.greater(a, b), a, mp.mul(b, 0.5)));
        break;
      case 12:
        r = x.rank ? mp.sum(x, ax, c % 2 === 0) : null;
        break;
      case 13:
        r = x.rank ? mp.max(x, ax, true) : null;
        break;
      case 14:
        r = x.rank >= 2 ? mp.transpose(x) : null;
        break;
      case 15:
        r = mp.reshape(x, [x.size]);
        break;
      case 16:
        r = x.rank && x.shape[ax] > 1 ? mp.sliceAxis(x, ax, c % 2, x.shape[ax] - ((c >> 1) % 2)) : null;
        break;
      case 17:
        r = x.rank
          ? mp.pad(
              x,
              x.shape.map((_, i) => (i === ax ? 1 : 0)),
              x.shape.map((_, i) => (i === ax ? c % 2 : 0)),
            )
          : null;
        break;
      case 18:
        r = mp.broadcastTo(mp.expandDims(x, 0), [2, ...x.shape]);
        break;
      case 19: {
        const m = x.rank >= 2 ? x : mp.reshape(x, [1, x.size]);
        r = c % 2 ? mp.matmul(m, m, { transB: true }) : mp.matmul(mp.mT(m), m);
        break;
      }
      case 20:
        r = x.rank ? (c % 2 ? mp.softmax(x, ax) : mp.concat([x, mp.neg(x)], ax)) : null;
        break;
      case 21:
        r = x.rank === 1 ? mp.mul(mp.expandDims(x, -1), mp.expandDims(mp.tanh(x), 0)) : mp.add(mp.expandDims(x, -1), 1);
        break; // outer product via trailing/leading size-1 axes
      case 22:
        r = x.size % 2 === 0 && x.size > 2 ? mp.add(mp.reshape(x, [2, x.size / 2]), 0.5) : null;
        break; // a splitting reshape feeding elementwise
      case 24: {
        // two slices of one axis used apart: their gradients are zero-padded pieces added together
        // (tiling the axis, leaving borders, or leaving a gap in the middle)
        const d = x.rank ? x.shape[ax] : 0;
        if (d < 2) break;
        const k = 1 + (c % (d - 1));
        const [a0, a1, b0, b1] = [
          [0, k, k, d],
          [0, k - 1, k, d],
          [Math.min(1, k - 1), k, k, d],
        ][c % 3];
        if (a1 <= a0 || b1 <= b0) break;
        r = mp.add(mp.sum(mp.mul(mp.sliceAxis(x, ax, a0, a1), 2)), mp.sum(mp.tanh(mp.sliceAxis(x, ax, b0, b1))));
        break;
      }
      case 23:
        r = x.rank === 3 ? mp.matmul(mp.transpose(x, [1, 0, 2]), mp.transpose(x, [1, 2, 0])) : null;
        break; // batch-axis transposes feeding matmul
      case 25: {
        // the same pass over each of the last few values (an optimizer's update of every
        // parameter): independent groups of one expression, batched into one launch
        const group = nodes.slice(-1 - (c % 4));
        const s = mp.tanh(mp.mean(y));
        for (const n of group) nodes.push(mp.add(mp.mul(n, 0.9), mp.mul(mp.square(n), c % 2 ? 0.1 : s)));
        break;
      }
      case 27: {
        // attention's head merge: a transpose of the leading axes, reshaped to rows, read by a
        // linear layer (the jit reads the transpose through instead of copying it)
        if (x.rank !== 3) break;
        const [a, b, d] = x.shape;
        const rows = mp.reshape(mp.transpose(x, [1, 0, 2]), [b, a * d]);
        const w = mp.tanh(mp.reshape(x, [b, a * d]));
        r = mp.linear(rows, w, mp.sum(w, 1));
        break;
      }
      case 26: {
        // a global norm over several values and each value scaled by it (gradient clipping):
        // batched full reductions, then a batched scaling by one value
        const group = nodes.slice(-1 - (c % 4));
        const norm = mp.sqrt(group.reduce((a: Tensor, n) => mp.add(a, mp.sum(mp.square(n))), mp.scalar(1)));
        for (const n of group) nodes.push(mp.div(n, norm));
        break;
      }
    }
    if (r && r.size <= MAX_ELEMENTS && r.size > 0) nodes.push(r);
  }
  return nodes.slice(Math.max(inputs.length, nodes.length - 4));
}

const programArb = fc.record({
  shapes: fc.array(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 0, maxLength: 3 }), {
    minLength: 1,
    maxLength: 3,
  }),
  genes: fc.array(geneArb, { minLength: 1, maxLength: 14 }),
  seed: fc.nat(1e6),
});

function checkProgram(
  backend: string,
  prog: { shapes: number[][]; genes: Gene[]; seed: number },
  mutate?: (f: typeof randomProgram) => typeof randomProgram,
): void {
  mp.withBackend(backend, () => {
    const xs = prog.shapes.map((s, i) =>
      mp.tensor(Float32Array.from(drawValues({ shape: s, domain: 'any' }, prog.seed + i)), s),
    );
    const run = mutate ? mutate(randomProgram) : randomProgram;
    const outs = randomProgram(prog.genes, xs);
    if (!outs.length) return;
    const cts = outs.map((o, k) => randomLike(o, prog.seed + 100 + k));
    const f = (ins: Tensor[], ct: Tensor[]): Tensor[] => {
      const loss = (p: Tensor[]) =>
        run(prog.genes, p).reduce((acc: Tensor, o, k) => mp.add(acc, mp.sum(mp.mul(o, ct[k]))), mp.scalar(0));
      const [value, grads] = mp.valueAndGrad(loss)(ins);
      return [...run(prog.genes, ins), value, ...grads];
    };
    const eager = f(xs, cts);
    const jitted = jit(f)(xs, cts);
    expectClose(`random program on ${backend}`, jitted, eager, TOL[backend]);
  });
}

describe('jit(f) equals f on random programs (values and gradients)', () => {
  for (const backend of BACKENDS) {
    it(backend, () => {
      fc.assert(
        fc.property(programArb, (prog) => checkProgram(backend, prog)),
        { numRuns: backend === 'gpujs-cpu' ? 25 : 60, seed: 777 },
      );
    });
  }
});

// ---------------------------------------------------------------------------------------------

describe('jit and transforms', () => {
  it('grad of grad through jit equals the eager one', () => {
    for (const backend of BACKENDS) {
      mp.withBackend(backend, () => {
        const x = mp.tensor([0.3, -1.2, 0.7, 2.0, -0.1, 0.9], [2, 3]);
        const w = mp.tensor([0.5, -0.25, 1.5], [3]);
        const f = (t: Tensor) => mp.sum(mp.mul(mp.gelu(mp.mul(t, w)), mp.tanh(t)));
        const h = (t: Tensor) => mp.sum(mp.square(mp.grad(f)(t)));
        const hh = (t: Tensor) => [mp.grad(h)(t)];
        expectClose(`grad of grad on ${backend}`, jit(hh)(x), hh(x), TOL[backend]);
      });
    }
  });

  it('a jitted function under grad runs eagerly and differentiates correctly', () => {
    mp.withBackend('ref64', () => {
      const g = jit((t: Tensor) => mp.sum(mp.exp(t)));
      const x = mp.tensor([0.1, 0.2]);
      const d = mp.grad(g)(x);
      expect(Array.from(d.toArray())).toEqual(Array.from(mp.exp(x).toArray()));
      expect(g.stats.eager).toBe(1);
    });
  });

  it('retraces only for a new signature; a new trace of the same structure reuses the plan', () => {
    mp.withBackend('native', () => {
      const f = jit((p: { w: Tensor }, x: Tensor, scale: number) => mp.mul(mp.matmul(x, p.w), scale));
      const w = mp.tensor([1, 2, 3, 4, 5, 6], [3, 2]);
      const x = mp.tensor([1, 2, 3], [1, 3]);
      f({ w }, x, 2);
      f({ w: mp.add(w, 1) }, mp.mul(x, 2), 2);
      expect(f.stats).toMatchObject({ calls: 2, traces: 1, compiles: 1 });
      f({ w }, mp.tensor([1, 2, 3, 4, 5, 6], [2, 3]), 2); // new shape: one retrace
      expect(f.stats).toMatchObject({ calls: 3, traces: 2, compiles: 2 });
      const y = f({ w }, x, 3); // new static value: traced again, same structure (the scalar is a constant input)
      expect(f.stats).toMatchObject({ traces: 3, compiles: 2 });
      expect(Array.from(y.toArray())).toEqual([66, 84]);
    });
  });

  it('sameStructure says of two traces exactly what comparing their programKey texts says', () => {
    // pairs: the same random program traced twice (equal), and with one gene changed in one of its
    // four numbers (an op, an operand, a parameter: mostly different, sometimes the same program)
    const pairArb = fc.record({
      prog: programArb,
      at: fc.nat(13),
      field: fc.nat(3),
      value: fc.nat(50),
    });
    let equal = 0;
    let different = 0;
    mp.withBackend('native', () => {
      fc.assert(
        fc.property(pairArb, ({ prog, at, field, value }) => {
          const xs = prog.shapes.map((sh) => mp.zeros(sh));
          const trace = (genes: Gene[]) =>
            traceProgram((...ins: unknown[]) => randomProgram(genes, ins as Tensor[]), xs, mp.getBackend('native'))
              .program;
          const changed = prog.genes.map((g) => [...g] as Gene);
          changed[at % changed.length][field] = value;
          const a = trace(prog.genes);
          for (const b of [trace(prog.genes), trace(changed)]) {
            const same = sameStructure(a, b);
            expect(same).toBe(programKey(a) === programKey(b));
            if (same) equal++;
            else different++;
          }
        }),
        { numRuns: 80, seed: 99 },
      );
    });
    expect(equal).toBeGreaterThan(80);
    expect(different).toBeGreaterThan(20);
    // programs that differ only in a primitive's parameters (same ops, operands and shapes)
    mp.withBackend('native', () => {
      const x = mp.zeros([2, 2, 2]);
      const trace = (f: (t: Tensor) => Tensor) => traceProgram((t) => f(t as Tensor), [x], x.backend).program;
      const pairs: [(t: Tensor) => Tensor, (t: Tensor) => Tensor][] = [
        [(t) => mp.sum(t, [0]), (t) => mp.sum(t, [1])],
        [(t) => mp.transpose(t, [1, 0, 2]), (t) => mp.transpose(t, [0, 2, 1])],
        [(t) => mp.bind('layerNormalize', [t], { eps: 1e-5 }), (t) => mp.bind('layerNormalize', [t], { eps: 1e-6 })],
      ];
      for (const [f, g] of pairs) {
        expect(sameStructure(trace(f), trace(f))).toBe(true);
        expect(sameStructure(trace(f), trace(g))).toBe(false);
        expect(programKey(trace(f)) === programKey(trace(g))).toBe(false);
      }
    });
  });

  it('the plan shows fused groups, views and totals, and frees intermediates (peak below the sum)', () => {
    mp.withBackend('native', () => {
      const f = jit((x: Tensor, w: Tensor) => {
        const h = mp.tanh(mp.add(mp.mul(x, 2), w)); // one fused group
        const r = mp.reshape(h, [h.size]); // a view
        return [mp.sum(mp.square(r)), mp.exp(mp.neg(r))];
      });
      f(mp.tensor([1, 2, 3, 4, 5, 6], [2, 3]), mp.tensor([0.5, -0.5, 1]));
      const plan = f.lastPlan()!;
      const text = formatPlan(plan);
      // (the number 2 is a scalar constant, an input of the group: constants never enter kernel sources)
      expect(text).toMatch(/= fused\{Math\.tanh\(\(\(x0 \* x1\) \+ x2\)\)\} x0 c0 x1/);
      expect(text).toMatch(/= reshape.*\(view\)/);
      expect(text).toMatch(/fusedReduce\[sum axes=\(0\)\]\{sq\(x0\)\}/);
      expect(plan.stats).toMatchObject({ tracedEqns: 9, views: 2, launches: 4 });
      expect(plan.stats.launches).toBeLessThan(plan.stats.tracedEqns - plan.stats.views);
      expect(plan.stats.peakBytes).toBeGreaterThan(0);
      expect(plan.stats.peakBytes).toBeLessThan(plan.stats.bytesMoved);
    });
  });

  it('the same pass over several tensors is one batched launch; contiguous slices are views (native)', () => {
    mp.withBackend('native', () => {
      const f = jit((ps: Tensor[], ms: Tensor[], lr: Tensor) => {
        const norm = mp.sqrt(ps.reduce((a: Tensor, p) => mp.add(a, mp.sum(mp.square(p))), mp.scalar(0)));
        const m2 = ms.map((m, k) => mp.add(mp.mul(m, 0.9), mp.mul(mp.div(ps[k], norm), 0.1)));
        const rows = mp.sliceAxis(ps[2], 0, 1, 3); // rows 1..2 of a [3,2]: one contiguous range
        return [...m2.map((m, k) => mp.sub(ps[k], mp.mul(m, lr))), mp.exp(rows), ...m2];
      });
      const ps = [
        mp.tensor([1, -2, 3], [3]),
        mp.tensor([0.5, 0.25, -1, 2], [2, 2]),
        mp.tensor([1, 2, 3, 4, 5, 6], [3, 2]),
      ];
      const ms = ps.map((p) => mp.mul(p, 0.5));
      const lr = mp.scalar(0.1);
      const got = f(ps, ms, lr);
      const plan = f.lastPlan()!;
      // Σp² (3 reductions): one launch; the moment update (3), returned and read by the parameter
      // update (3): one multi-output launch writing both
      expect(plan.stats.batches).toBe(2);
      expect(plan.stats.batchedMembers).toBe(6);
      expect(formatPlan(plan)).toMatch(/batch\[sum ×3\]\{sq\(x0\)\}/);
      expect(formatPlan(plan)).toMatch(/batch\[map ×3\]\{[^;}]+ ; [^;}]+\}/);
      expect(formatPlan(plan)).toMatch(/= slice.*\(view\)/);
      const norm = Math.sqrt(ps.reduce((a, p) => a + Array.from(p.toArray()).reduce((b, v) => b + v * v, 0), 0));
      ps.forEach((p, k) => {
        const want = Array.from(p.toArray(), (v, i) => v - 0.1 * (0.9 * ms[k].toArray()[i] + (0.1 * v) / norm));
        Array.from(got[k].toArray()).forEach((v, i) => expect(v).toBeCloseTo(want[i], 6));
      });
      expect(Array.from(got[3].toArray())).toEqual(Array.from(mp.exp(mp.tensor([3, 4, 5, 6], [2, 2])).toArray()));
    });
  });

  it('a costly value broadcast into a group is computed once per row, not per element (native)', () => {
    mp.withBackend('native', () => {
      // a cross-entropy's Σ p·(z − log Σexp z): the row's log Σexp is read by all K columns
      const f = jit((p: Tensor, z: Tensor) => mp.sum(mp.mul(p, mp.sub(z, mp.log(mp.sum(mp.exp(z), 1, true)))), 1));
      const z = mp.tensor(
        Float32Array.from({ length: 24 }, (_, i) => Math.sin(i)),
        [3, 8],
      );
      const p = mp.softmax(z);
      const got = Array.from(f(p, z).toArray());
      const text = formatPlan(f.lastPlan()!);
      expect(text).toMatch(/:f32\[3,1\] = log /);
      expect(text).not.toMatch(/fusedReduce.*Math\.log/);
      const zs = Array.from(z.toArray());
      const ps = Array.from(p.toArray());
      for (let r = 0; r < 3; r++) {
        const row = zs.slice(8 * r, 8 * r + 8);
        const lse = Math.log(row.reduce((a, v) => a + Math.exp(v), 0));
        expect(got[r]).toBeCloseTo(
          row.reduce((a, v, j) => a + ps[8 * r + j] * (v - lse), 0),
          5,
        );
      }
    });
  });

  it('reading a traced value names the problem', () => {
    const f = jit((x: Tensor) => mp.scalar(x.item()));
    expect(() => f(mp.tensor([1]))).toThrow(/jit: the values of .* are not known while tracing/);
  });
});
