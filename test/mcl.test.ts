/**
 * MATPAC++'s multiple-choice prediction heads (models/mcl.ts) and the MATPAC++ training step:
 *   - the MCL loss's gradient against float64 central differences in the soft and the hard phase,
 *     with the assignment weights held (they get no gradient — checked directly too);
 *   - best-head selection on hand-made predictions (ties go to the first head);
 *   - the temperature schedule and its scaling with the run length;
 *   - the whole MATPAC++ loss gradient (micro, 3 heads) against central differences, both phases;
 *   - one micro MATPAC++ step against a hand computation in float64 (loss, head gradients, fairseq
 *     Adam after the FP16 clip);
 *   - bit-exact resume across the soft → hard switch; the trace shows the new nodes;
 *   - MATPAC++ steps agree across the ref64, native and gpujs-webasm backends.
 */
import { describe, expect, it } from 'vitest';
import * as mp from '../src/index';
import type { Tensor } from '../src/index';
import { flatten, leaves, treeSize } from '../src/tree';
import { foldIn, keyFromSeed, normalHost, split } from '../src/random';
import { trace } from '../src/trace';
import { completeStoredConfig, configProblems, preset, type MatpacConfig } from '../models/config';
import {
  assignmentWeights,
  firstArgminOneHot,
  headLosses,
  mclIsSoft,
  mclPredLoss,
  mclTemperature,
} from '../models/mcl';
import {
  initParams,
  initTrainState,
  matpacLossAux,
  matpacLossGivenTeacher,
  parameterCounts,
  teacherOutputs,
  tokens,
  trainStep,
  withCls,
  type StudentParams,
  type TrainState,
} from '../models/matpac';
import { gatherTokens, randomMasking } from '../models/masking';
import { predictorHidden } from '../models/predictor';
import { encoder } from '../models/vit';
import { withRunLength } from '../models/run';

const EPS = 1e-5;
const randn = (shape: readonly number[], seed: number, scale = 1): Tensor =>
  mp.tensor(
    Float64Array.from(
      normalHost(
        keyFromSeed(seed),
        shape.reduce((a, b) => a * b, 1),
      ),
      (z) => z * scale,
    ),
    [...shape],
  );
const dot = (a: Tensor, b: Tensor): number => {
  const [x, y] = [a.toArray(), b.toArray()];
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * y[i];
  return s;
};
const rel = (a: number, b: number) => Math.abs(a - b) / (1e-3 + Math.abs(b));

/** micro as MATPAC++ with 3 heads (temperature 0.1 × 0.745^t: soft until step 23, hard from 24 on). */
const microPp = (o: Partial<MatpacConfig> = {}): MatpacConfig => {
  const c = preset('micro');
  return { ...c, name: 'micro-pp', mcl: { ...c.mcl, heads: 3 }, ...o };
};
const mclOf = (decayRate: number, start = 1): MatpacConfig['mcl'] => ({
  heads: 3,
  temperatureStart: start,
  temperatureEnd: 1e-4,
  decayRate,
});

describe('MCL loss (models/mcl.ts)', () => {
  const B = 2,
    Nm = 3,
    n = 3,
    D = 4;

  for (const [phase, m, step] of [
    ['soft', mclOf(0.9, 1), 2],
    ['hard', mclOf(0.9, 1), 100],
  ] as const) {
    it(`${phase} phase: the gradient equals central differences of the loss with the weights held`, () => {
      mp.withBackend('ref64', () => {
        expect(mclIsSoft(m, step)).toBe(phase === 'soft');
        const P0 = randn([B, Nm, n, D], 1);
        const z = randn([B, Nm, D], 2);
        const w0 = assignmentWeights(headLosses(P0, z), m, step);
        const held = (P: Tensor) => mp.mean(mp.sum(mp.mul(w0, headLosses(P, z)), -1)).item();
        const [value, g] = mp.valueAndGrad((P: Tensor) => mclPredLoss(P, z, m, step).lPred)(P0);
        expect(Math.abs(value.item() - held(P0))).toBeLessThan(1e-15);
        for (let k = 0; k < 4; k++) {
          const u = randn([B, Nm, n, D], 10 + k);
          const numeric = (held(mp.add(P0, mp.mul(u, EPS))) - held(mp.add(P0, mp.mul(u, -EPS)))) / (2 * EPS);
          expect(rel(dot(g, u), numeric)).toBeLessThan(1e-8);
        }
        // the true function: in the hard phase min_h ℓ_h, whose derivative is the winner's; in the
        // soft phase Σ softmax(−ℓ/T)ℓ moves with its weights too, and the gradient leaves that out
        const full = (P: Tensor) => {
          const l = headLosses(P, z);
          return (
            phase === 'hard'
              ? mp.mean(mp.min(l, -1))
              : mp.mean(mp.sum(mp.mul(mp.softmax(mp.div(mp.neg(l), mclTemperature(m, step)), -1), l), -1))
          ).item();
        };
        const u = randn([B, Nm, n, D], 20);
        const numericFull = (full(mp.add(P0, mp.mul(u, EPS))) - full(mp.add(P0, mp.mul(u, -EPS)))) / (2 * EPS);
        if (phase === 'hard') expect(rel(dot(g, u), numericFull)).toBeLessThan(1e-8);
        else expect(rel(dot(g, u), numericFull)).toBeGreaterThan(1e-4);
      });
    });
  }

  it('the assignment weights get no gradient (soft and hard)', () => {
    mp.withBackend('ref64', () => {
      const P0 = randn([B, Nm, n, D], 3);
      const z = randn([B, Nm, D], 4);
      for (const step of [0, 200]) {
        const g = mp.grad((P: Tensor) =>
          mp.sum(mp.mul(assignmentWeights(headLosses(P, z), mclOf(0.95), step), randn([B, Nm, n], 5))),
        )(P0);
        expect(g.toArray().every((x) => x === 0)).toBe(true);
        const w = Array.from(assignmentWeights(headLosses(P0, z), mclOf(0.95), step).toArray());
        for (let t = 0; t < B * Nm; t++)
          expect(Math.abs(w.slice(t * n, t * n + n).reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-15);
      }
    });
  });

  it('selects the best head per token (argmin ℓ, ties to the first), and only it feeds on', () => {
    mp.withBackend('ref64', () => {
      expect(Array.from(firstArgminOneHot(mp.tensor([3, 1, 1, 2, 0, 5, 0, 0], [2, 4])).toArray())).toEqual([
        0, 1, 0, 0, 1, 0, 0, 0,
      ]);
      const z = mp.tensor([1, 0, 0, 1, 1, 1], [1, 3, 2]);
      // token 0: head 2 points along z; token 1: heads 0 and 1 both do (tie → 0); token 2: head 1 is closest
      const P = mp.tensor([0, 1, 1, 0.1, 2, 0, /**/ 0, 3, 0, 1, 1, 0, /**/ 1, 0, 1, 1.2, -1, -1], [1, 3, 3, 2]);
      const r = mclPredLoss(P, z, mclOf(0.9), 0);
      expect(Array.from(r.best.toArray())).toEqual([2, 0, 0, 3, 1, 1.2]);
      expect(Array.from(r.wins.toArray())).toEqual([1, 1, 1]);
      const g = mp
        .grad((Q: Tensor) => mp.sum(mclPredLoss(Q, z, mclOf(0.9), 0).best))(P)
        .toArray();
      const winner = [2, 0, 1];
      for (let t = 0; t < 3; t++)
        for (let h = 0; h < 3; h++)
          for (let d = 0; d < 2; d++) expect(g[(t * 3 + h) * 2 + d]).toBe(h === winner[t] ? 1 : 0);
    });
  });

  it('temperature: T₀·r^step, hard once ≤ T_end; scaled presets switch at the same fraction of the run', () => {
    const base = preset('base');
    expect(mclTemperature(base.mcl, 0)).toBe(0.1);
    expect(mclTemperature(base.mcl, 1000)).toBeCloseTo(0.1 * 0.99997 ** 1000, 15);
    const firstHard = (c: MatpacConfig) => {
      let t = 0;
      while (mclIsSoft(c.mcl, t)) t++;
      return t;
    };
    const fracBase = firstHard(base) / base.optim.totalSteps;
    expect(fracBase).toBeGreaterThan(0.78);
    expect(fracBase).toBeLessThan(0.782);
    const tiny = preset('tiny-pp');
    expect(Math.abs(firstHard(tiny) / tiny.optim.totalSteps - fracBase)).toBeLessThan(1 / tiny.optim.totalSteps);
    const short = withRunLength(tiny, 300);
    expect(Math.abs(firstHard(short) / 300 - fracBase)).toBeLessThan(1 / 300);
  });
});

describe('MATPAC++ config', () => {
  it('tiny-pp has 5 heads and validates; mcl fields are checked; stored configs without mcl are MATPAC', () => {
    const c = preset('tiny-pp');
    expect(c.mcl).toMatchObject({ heads: 5, temperatureStart: 0.1, temperatureEnd: 1e-4 });
    expect(configProblems(c)).toEqual([]);
    const bad = { ...c, mcl: { heads: -1, temperatureStart: 0, temperatureEnd: 1e-4, decayRate: 1.5 } };
    expect(configProblems(bad)).toEqual([
      'mcl.heads: must be a non-negative integer, got -1',
      'mcl.temperatureStart: must be > 0, got 0',
      'mcl.decayRate: must be in (0, 1], got 1.5',
    ]);
    const { mcl: _, ...old } = preset('tiny');
    expect(completeStoredConfig(old).mcl.heads).toBe(0);
  });

  it('parameters: n heads with the official names replace decoder_pred; counts match init', () => {
    for (const c of [microPp(), preset('tiny-pp')]) {
      const { student } = initParams(c, keyFromSeed(0));
      expect(student.decoder.decoder_pred).toBeUndefined();
      const names = flatten(student).paths.filter((p) => p.startsWith('mcl_heads'));
      expect(names).toEqual(
        Array.from({ length: c.mcl.heads }, (_, h) => [
          `mcl_heads.mcl_heads.${h}.bias`,
          `mcl_heads.mcl_heads.${h}.weight`,
        ])
          .flat()
          .sort(),
      );
      expect(student.mcl_heads!.mcl_heads[0].weight.shape).toEqual([c.encoder.dim, c.predictor.dim]);
      expect(treeSize(student)).toBe(parameterCounts(c).student);
      expect(treeSize(student.mcl_heads)).toBe(parameterCounts(c).mclHeads);
    }
  });
});

/** The setting of test/matpac-grad.test.ts for micro-pp at `step`: leaves moved off their init. */
function gradSetting(step: number) {
  const c = microPp();
  const init = initParams(c, keyFromSeed(7));
  const flat0 = flatten(init.student);
  const student = flat0.rebuild(flat0.leaves.map((l, i) => mp.add(l, randn(l.shape, 1000 + i, 0.05)))) as StudentParams;
  const K = c.head.numClasses;
  const centre = mp.tensor(
    Float64Array.from({ length: K }, (_, k) => 0.02 * (k + 1)),
    [K],
  );
  const ts = { ...init.teacher, centre, step };
  const batch = randn([2, c.nMels, c.cropFrames], 3);
  const key = foldIn(keyFromSeed(5), 1);
  return { c, init, student, ts, batch, key };
}

describe('MATPAC++ loss gradient (micro, 3 heads, float64)', () => {
  for (const [phase, step] of [
    ['soft', 1],
    ['hard', 29],
  ] as const) {
    it(`${phase} phase (step ${step}): matches central differences on every parameter leaf`, () => {
      mp.withBackend('ref64', () => {
        const { c, init, student, ts, batch, key } = gradSetting(step);
        expect(mclIsSoft(c.mcl, step)).toBe(phase === 'soft');
        const [[loss, aux], grads] = mp.valueAndGrad(matpacLossAux, { hasAux: true })(student, ts, batch, key, c);
        const teacher = teacherOutputs(student, init.teacher, batch, key, c);
        const held = { assignment: aux.metrics.mcl!.assignment };
        const f = (p: StudentParams) => matpacLossGivenTeacher(p, teacher, ts, batch, key, c, held).loss.item();
        expect(Math.abs(f(student) - loss.item())).toBeLessThan(1e-12);
        const wins = Array.from(aux.metrics.mcl!.wins.toArray());
        const fp = flatten(student);
        const fg = flatten(grads);
        expect(fg.paths).toEqual(fp.paths);
        let worst = 0;
        fp.leaves.forEach((leaf, i) => {
          const u = randn(leaf.shape, 2000 + i);
          const analytic = dot(fg.leaves[i], u);
          const shifted = (s: number) =>
            f(fp.rebuild(fp.leaves.map((l, j) => (j === i ? mp.add(l, mp.mul(u, s)) : l))) as StudentParams);
          const numeric = (shifted(EPS) - shifted(-EPS)) / (2 * EPS);
          worst = Math.max(worst, rel(analytic, numeric));
          const head = /^mcl_heads\.mcl_heads\.(\d+)\./.exec(fp.paths[i]);
          // in the hard phase a head that wins no token gets no gradient at all
          if (head && phase === 'hard' && wins[Number(head[1])] === 0) expect(analytic).toBe(0);
          else expect(Math.abs(analytic), `${fp.paths[i]} gets no gradient`).toBeGreaterThan(1e-8);
        });
        expect(worst).toBeLessThan(1e-6);
      });
    });
  }
});

describe('a micro MATPAC++ step by hand (float64)', () => {
  it('L_pred, the heads’ gradient and their fairseq-Adam update equal a hand computation', () => {
    mp.withBackend('ref64', () => {
      // L = 0.5·L_pred only (so the heads' gradient is the MCL loss's alone), first update at the peak lr
      const c0 = microPp();
      const c = { ...c0, loss: { clsWeight: 0, predWeight: 0.5 }, optim: { ...c0.optim, warmupSteps: 0 } };
      const s0 = initTrainState(c, keyFromSeed(21));
      const batch = randn([c.batchSize, c.nMels, c.cropFrames], 22);
      const [s1, metrics] = trainStep(s0, batch, c);

      // the step's intermediates, recomputed with the model's own pieces
      const stepKey = split(s0.key)[1];
      const { x, F, T } = tokens(s0.student, batch, c);
      const m = randomMasking(stepKey, c.batchSize, x.shape[1], c.maskRatio);
      const zv = encoder(
        s0.student.student_encoder,
        withCls(s0.student.cls_token, gatherTokens(x, m.visibleIdx)),
        c.encoder.heads,
        c.lnEps,
      );
      const hm = predictorHidden(s0.student.decoder, zv, m, { F, T }, c.predictor.heads, c.lnEps).toArray(); // [B·Nm, Dp]
      const zm = teacherOutputs(s0.student, s0.teacher, batch, stepKey, c).zm.toArray(); // [B·Nm, D]
      const [D, Dp, tokensN] = [c.encoder.dim, c.predictor.dim, c.batchSize * m.nMasked];
      const W = s0.student.mcl_heads!.mcl_heads.map((h) => ({ w: h.weight.toArray(), b: h.bias.toArray() }));

      // forward by hand
      const Tm = 0.1; // temperature at step 0
      let lPred = 0;
      const gW = W.map(() => ({ w: new Float64Array(D * Dp), b: new Float64Array(D) }));
      for (let t = 0; t < tokensN; t++) {
        const zt = Array.from({ length: D }, (_, d) => zm[t * D + d]);
        const zn = Math.hypot(...zt);
        const preds = W.map(({ w, b }) =>
          Array.from(
            { length: D },
            (_, d) =>
              b[d] + Array.from({ length: Dp }, (_, k) => w[d * Dp + k] * hm[t * Dp + k]).reduce((a, v) => a + v, 0),
          ),
        );
        const ells = preds.map((p) => {
          const pn = Math.hypot(...p);
          return 2 - 2 * p.reduce((a, v, d) => a + (v / pn) * (zt[d] / zn), 0);
        });
        const lo = Math.min(...ells);
        const e = ells.map((l) => Math.exp(-(l - lo) / Tm));
        const w = e.map((v) => v / e.reduce((a, b) => a + b, 0));
        lPred += ells.reduce((a, l, h) => a + w[h] * l, 0) / tokensN;
        // ∂(0.5·w_h·ℓ_h/N)/∂ẑ_h = 0.5·w_h/N · (−2)(n − (n·â)â)/‖ẑ_h‖
        preds.forEach((p, h) => {
          const pn = Math.hypot(...p);
          const a = p.map((v) => v / pn);
          const nz = zt.map((v) => v / zn);
          const na = nz.reduce((s, v, d) => s + v * a[d], 0);
          for (let d = 0; d < D; d++) {
            const g = ((0.5 * w[h]) / tokensN) * ((-2 * (nz[d] - na * a[d])) / pn);
            gW[h].b[d] += g;
            for (let k = 0; k < Dp; k++) gW[h].w[d * Dp + k] += g * hm[t * Dp + k];
          }
        });
      }
      expect(Math.abs(metrics.lPred - lPred)).toBeLessThan(1e-13);
      expect(Math.abs(metrics.loss - 0.5 * lPred)).toBeLessThan(1e-13);

      // the update by hand: FP16Optimizer clip with the step's global norm, then fairseq's Adam (t = 1)
      const o = c.optim;
      const clip = metrics.gradNorm > o.clipNorm ? o.clipNorm / metrics.gradNorm : 1;
      const lr = o.peakLr;
      const adam1 = (theta: number, g0: number) => {
        const g = g0 * clip;
        const mm = (1 - o.b1) * g;
        const vv = (1 - o.b2) * g * g;
        const stepSize = (lr * Math.sqrt(1 - o.b2)) / (1 - o.b1);
        return theta + theta * (-o.weightDecay * lr) - stepSize * (mm / (Math.sqrt(vv) + o.eps));
      };
      let worst = 0;
      W.forEach(({ w, b }, h) => {
        const newW = s1.student.mcl_heads!.mcl_heads[h].weight.toArray();
        const newB = s1.student.mcl_heads!.mcl_heads[h].bias.toArray();
        for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(newW[i] - adam1(w[i], gW[h].w[i])));
        for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(newB[i] - adam1(b[i], gW[h].b[i])));
      });
      expect(worst).toBeLessThan(1e-13);
      expect(metrics.headWins!.reduce((a, v) => a + v, 0)).toBe(tokensN);
      expect(metrics.mclTemperature).toBe(0.1);
    });
  });
});

describe('MATPAC++ training state', () => {
  it('a resumed run equals an uninterrupted one bit for bit, across the soft → hard switch', () => {
    // T = 0.1·0.1^t: 0.1, 0.01, 1e-3, then 0.1·0.1³ = 1.0000000000000002e-4 in doubles — still above 1e-4,
    // as in Python, so soft (the official `temperature > temperature_end`) — then hard from step 4
    const c = microPp();
    const cfg = { ...c, mcl: { ...c.mcl, decayRate: 0.1 } };
    const batches = [1, 2, 3, 4, 5, 6].map((i) => randn([cfg.batchSize, cfg.nMels, cfg.cropFrames], 300 + i));
    const f32 = (b: Tensor) => mp.tensor(Float32Array.from(b.toArray()), b.shape);
    let a = initTrainState(cfg, keyFromSeed(9));
    const ma: unknown[] = [];
    for (const b of batches) {
      const [next, m] = trainStep(a, f32(b), cfg);
      [a] = [next];
      ma.push(m);
    }
    expect(ma.map((m) => (m as { mclTemperature: number }).mclTemperature > cfg.mcl.temperatureEnd)).toEqual([
      true,
      true,
      true,
      true,
      false,
      false,
    ]);
    let r = initTrainState(cfg, keyFromSeed(9));
    const mr: unknown[] = [];
    for (const b of batches.slice(0, 3)) {
      const [next, m] = trainStep(r, f32(b), cfg);
      [r] = [next];
      mr.push(m);
    }
    const copy = (s: TrainState): TrainState => {
      const f = flatten(s);
      return {
        ...(f.rebuild(f.leaves.map((t) => mp.tensor(Float32Array.from(t.toArray()), t.shape))) as TrainState),
        key: [s.key[0], s.key[1]],
      };
    };
    r = copy(r);
    for (const b of batches.slice(3)) {
      const [next, m] = trainStep(r, f32(b), cfg);
      [r] = [next];
      mr.push(m);
    }
    expect(mr).toEqual(ma);
    const [la, lr] = [leaves(a), leaves(r)];
    expect(lr.length).toBe(la.length);
    la.forEach((t, i) => expect(Array.from(lr[i].toArray())).toEqual(Array.from(t.toArray())));
    expect(r.key).toEqual(a.key);
  });

  it('the trace of the MATPAC++ loss and gradient shows the heads, the assignment and the best-head selection', () => {
    const c = microPp();
    const s = initTrainState(c);
    const batch = randn([c.batchSize, c.nMels, c.cropFrames], 5);
    const t = trace(
      (a: { student: StudentParams }) =>
        mp.valueAndGrad(matpacLossAux, { hasAux: true })(
          a.student,
          { ...s.teacher, centre: s.centre, step: 0 },
          mp.tensor(Float32Array.from(batch.toArray()), batch.shape),
          split(s.key)[1],
          c,
        ),
      { student: s.student },
    ).trace;
    const names = t.inputs.map((i) => i.name);
    expect(names).toContain('student.mcl_heads.mcl_heads.2.weight');
    expect(names.some((x) => x.includes('decoder_pred'))).toBe(false);
    const n = c.mcl.heads;
    expect(t.equations.some((e) => e.prim === 'softmax' && e.outShape[e.outShape.length - 1] === n)).toBe(true);
    expect(t.equations.some((e) => e.prim === 'equal' && e.outShape[e.outShape.length - 1] === n)).toBe(true);
    expect(
      t.equations.some((e) => e.prim === 'linear' && e.outShape[e.outShape.length - 1] === n * c.encoder.dim),
    ).toBe(true);
  });
});

describe('MATPAC++ on every backend', () => {
  it('three micro MATPAC++ steps agree across ref64, native and gpujs-webasm (same winners, losses within float32)', () => {
    const c = microPp();
    const host = Float32Array.from(normalHost(keyFromSeed(31), c.batchSize * c.nMels * c.cropFrames));
    const run = (backend: string) =>
      mp.withBackend(backend, () => {
        let s = initTrainState(c, keyFromSeed(32));
        const batch = mp.tensor(host, [c.batchSize, c.nMels, c.cropFrames]);
        const ms = [];
        for (let i = 0; i < 3; i++) {
          const [next, m] = trainStep(s, batch, c);
          s = next;
          ms.push(m);
        }
        return ms;
      });
    const ref = run('ref64');
    for (const backend of ['native', 'gpujs-webasm'].filter((b) => mp.usableBackends().includes(b))) {
      run(backend).forEach((m, i) => {
        for (const k of ['loss', 'lPred', 'lCls', 'gradNorm'] as const)
          expect(Math.abs(m[k] - ref[i][k]), `${backend} step ${i} ${k}`).toBeLessThan(
            1e-4 * (1 + Math.abs(ref[i][k])),
          );
        expect(m.headWins, `${backend} step ${i} winners`).toEqual(ref[i].headWins);
        expect(m.mclTemperature).toBe(ref[i].mclTemperature);
      });
    }
  }, 120_000);
});
