/**
 * The official run's update rules (issue 19), in float64 on hand-made gradients:
 *   - MATPAC's default optimizer step equals fairseq's Adam (fairseq/optim/adam.py `Adam.step`,
 *     transcribed below) after the FP16Optimizer's clipping (fairseq/optim/fp16_optimizer.py
 *     `clip_grad_norm` with a loss scaler: g·c/‖g‖ only when ‖g‖ > c), including ‖g‖ just below,
 *     at and just above the threshold;
 *   - the named alternatives equal their own formulas (ε on √v̂; utils.clip_grad_norm_ with +1e-6),
 *     and differ from the default on these gradients (so the comparisons can fail);
 *   - the head EMA takes the encoder's end momentum once annealing is over (model.py l. 775-776);
 *   - configs recorded by earlier runs (without the rule fields) load with the rules they ran.
 */
import { describe, expect, it } from 'vitest';
import * as mp from '../src/index';
import { applyUpdates } from '../src/optim';
import { completeStoredConfig, configProblems, preset, type MatpacConfig } from '../models/config';
import { initTrainState, optimizer, schedules, trainStep } from '../models/matpac';
import { keyFromSeed, normalHost } from '../src/random';
import { storedConfig } from '../src/cli/model';

type Host = Record<string, number[]>;

/** fairseq Adam.step for one parameter, in its own operation order (adam.py l. 212-234), float64. */
function fairseqAdamStep(
  p: number[],
  g: number[],
  st: { step: number; m: number[]; v: number[] },
  lr: number,
  c: MatpacConfig['optim'],
): number[] {
  const [beta1, beta2] = [c.b1, c.b2];
  st.step += 1;
  st.m = st.m.map((m, i) => m * beta1 + g[i] * (1 - beta1)); // exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
  st.v = st.v.map((v, i) => v * beta2 + (1 - beta2) * g[i] * g[i]); // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
  const denom = st.v.map((v) => Math.sqrt(v) + c.eps); // exp_avg_sq.sqrt().add_(eps)
  const bc1 = 1 - beta1 ** st.step;
  const bc2 = 1 - beta2 ** st.step;
  const stepSize = (lr * Math.sqrt(bc2)) / bc1;
  let q = p;
  if (c.weightDecay !== 0) q = q.map((x) => x + x * (-c.weightDecay * lr)); // p.add_(p, alpha=-wd·lr)
  return q.map((x, i) => x + -stepSize * (st.m[i] / denom[i])); // p.addcdiv_(exp_avg, denom, value=-step_size)
}

/** torch.optim.AdamW's step (ε on the bias-corrected √v̂), float64: the 'pytorch' alternative. */
function pytorchAdamWStep(
  p: number[],
  g: number[],
  st: { step: number; m: number[]; v: number[] },
  lr: number,
  c: MatpacConfig['optim'],
): number[] {
  st.step += 1;
  st.m = st.m.map((m, i) => c.b1 * m + (1 - c.b1) * g[i]);
  st.v = st.v.map((v, i) => c.b2 * v + (1 - c.b2) * g[i] * g[i]);
  const bc1 = 1 - c.b1 ** st.step;
  const bc2 = 1 - c.b2 ** st.step;
  return p.map((x, i) => x * (1 - lr * c.weightDecay) - (lr * st.m[i]) / bc1 / (Math.sqrt(st.v[i] / bc2) + c.eps));
}

const norm = (g: Host) => Math.sqrt(Object.values(g).reduce((a, xs) => a + xs.reduce((s, x) => s + x * x, 0), 0));
/** FP16Optimizer.clip_grad_norm with a loss scaler: `if grad_norm > max_norm > 0: factor *= max_norm / grad_norm`. */
const clipFp16 = (g: Host, c: number): Host => {
  const n = norm(g);
  return n > c ? Object.fromEntries(Object.entries(g).map(([k, xs]) => [k, xs.map((x) => x * (c / n))])) : g;
};
/** utils.clip_grad_norm_: `clip_coef = (max_norm / (total_norm + 1e-6)).clamp_(max=1)`. */
const clipFp32 = (g: Host, c: number): Host => {
  const coef = Math.min(1, c / (norm(g) + 1e-6));
  return Object.fromEntries(Object.entries(g).map(([k, xs]) => [k, xs.map((x) => x * coef)]));
};

/**
 * Hand-made gradients whose norm is `target`: one large entry carries the norm, small ones
 * (of the order of ε = 1e-6, where both the ε placement and a 1e-7 change of the clip factor show)
 * ride along.
 */
function gradients(target: number, t: number): Host {
  const small = { a: [1e-6, -2e-6, 5e-7], b: [3e-6 * (1 + t), -1e-6, 4e-6, 2e-7 * t] };
  const rest = norm(small) ** 2; // the large entry replaces a[0]
  return { a: [Math.sqrt(target * target - (rest - small.a[0] ** 2)), ...small.a.slice(1)], b: small.b };
}

const PARAMS: Host = { a: [0.5, -0.25, 1.5], b: [0.1, -0.7, 0.3, 2] };

/** Run `steps` steps of optimizer(config) on ref64 (float64) with the gradients of `norms`. */
function ours(config: MatpacConfig, norms: number[]): Host {
  return mp.withBackend('ref64', () => {
    const tx = optimizer(config);
    let params: Record<string, mp.Tensor> = Object.fromEntries(
      Object.entries(PARAMS).map(([k, v]) => [k, mp.tensor(Float64Array.from(v), [v.length])]),
    );
    let state = tx.init(params);
    norms.forEach((n, t) => {
      const g = Object.fromEntries(
        Object.entries(gradients(n, t)).map(([k, v]) => [k, mp.tensor(Float64Array.from(v), [v.length])]),
      );
      const [u, next] = tx.update(g, state, params);
      params = applyUpdates(params, u);
      state = next;
    });
    return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, Array.from(v.toArray())]));
  });
}

/** The same steps by the transcribed reference rules. */
function reference(config: MatpacConfig, norms: number[], adam = fairseqAdamStep, clip = clipFp16): Host {
  const lr = schedules(config).learningRate;
  const st = Object.fromEntries(
    Object.entries(PARAMS).map(([k, v]) => [k, { step: 0, m: v.map(() => 0), v: v.map(() => 0) }]),
  );
  let p = { ...PARAMS };
  norms.forEach((n, t) => {
    const g = clip(gradients(n, t), config.optim.clipNorm);
    p = Object.fromEntries(Object.entries(p).map(([k, x]) => [k, adam(x, g[k], st[k], lr(t), config.optim)]));
  });
  return p;
}

const maxRel = (a: Host, b: Host) =>
  Math.max(...Object.keys(a).flatMap((k) => a[k].map((x, i) => Math.abs(x - b[k][i]) / Math.abs(b[k][i]))));

/** micro's rules with a run long enough for a non-zero learning rate at every tested step. */
const config = (o: Partial<MatpacConfig['optim']> = {}): MatpacConfig => {
  const c = preset('micro');
  return { ...c, optim: { ...c.optim, warmupSteps: 1, ...o } };
};
const C = 3; // micro's clipNorm, as base's
// ‖g‖ just below, at and just above the threshold, far above, and well below
const NORMS = [C * (1 - 1e-9), C, C * (1 + 1e-9), 40, 0.5];

describe("MATPAC's optimizer step: the official run's rules by default", () => {
  it('every preset uses fairseq Adam ε placement and FP16Optimizer clipping', () => {
    for (const name of ['base', 'small', 'tiny', 'micro']) {
      expect(preset(name).optim.adamEps).toBe('fairseq');
      expect(preset(name).optim.clip).toBe('fp16');
    }
  });

  it("the default step equals fairseq's Adam after FP16Optimizer clipping (float64, ‖g‖ below / at / above c)", () => {
    const c = config();
    expect(c.optim.clipNorm).toBe(C);
    expect(maxRel(ours(c, NORMS), reference(c, NORMS))).toBeLessThan(1e-13);
    // one step at each norm alone, so that each clipping case is checked on a fresh state
    for (const n of NORMS) expect(maxRel(ours(c, [1, n]), reference(c, [1, n]))).toBeLessThan(1e-13);
  });

  it('the FP16 rule leaves ‖g‖ ≤ c untouched and scales ‖g‖ > c to c, with nothing added to ‖g‖', () => {
    const g = (n: number) => gradients(n, 0);
    expect(clipFp16(g(C * (1 - 1e-9)), C)).toEqual(g(C * (1 - 1e-9)));
    expect(norm(clipFp16(g(C * (1 + 1e-9)), C))).toBeCloseTo(C, 14);
    // while the fp32 rule shrinks a gradient just below the threshold
    expect(clipFp32(g(C * (1 - 1e-9)), C).a[0]).toBeLessThan(g(C * (1 - 1e-9)).a[0]);
  });

  it('the alternatives are named options equal to their own formulas, and differ from the default', () => {
    const pt = config({ adamEps: 'pytorch' });
    const fp32 = config({ clip: 'fp32' });
    expect(configProblems(pt)).toEqual([]);
    expect(configProblems(fp32)).toEqual([]);
    expect(maxRel(ours(pt, NORMS), reference(pt, NORMS, pytorchAdamWStep))).toBeLessThan(1e-13);
    expect(maxRel(ours(fp32, NORMS), reference(fp32, NORMS, fairseqAdamStep, clipFp32))).toBeLessThan(1e-13);
    const official = ours(config(), NORMS);
    expect(maxRel(ours(pt, NORMS), official)).toBeGreaterThan(1e-9);
    expect(maxRel(ours(fp32, NORMS), official)).toBeGreaterThan(1e-9);
    // just below the threshold only the fp32 rule changes the gradient
    expect(maxRel(ours(fp32, [1, C * (1 - 1e-9)]), ours(config(), [1, C * (1 - 1e-9)]))).toBeGreaterThan(1e-10);
  });

  it('rejects unknown rule names, one line naming the field', () => {
    const bad = {
      ...config(),
      optim: { ...config().optim, adamEps: 'adamax', clip: 'none' },
    } as unknown as MatpacConfig;
    expect(configProblems(bad)).toEqual([
      `optim.adamEps: must be one of 'fairseq', 'pytorch', got "adamax"`,
      `optim.clip: must be one of 'fp16', 'fp32', got "none"`,
    ]);
  });
});

describe('head EMA after annealing (official do_ema_step)', () => {
  it('the head takes the encoder end momentum from annealSteps on', () => {
    const c = preset('micro');
    const s = schedules(c);
    const A = c.ema.annealSteps;
    expect(s.headMomentum(A - 1)).toBeLessThan(1);
    expect(s.headMomentum(A)).toBe(c.ema.encoderEnd);
    expect(s.headMomentum(10 * A)).toBe(c.ema.encoderEnd);
    expect(s.encoderMomentum(A)).toBe(c.ema.encoderEnd);
    // equal start and end: the official code never sets the decay, it stays at the start value
    const flat = schedules({ ...c, ema: { ...c.ema, headStart: 0.99, headEnd: 0.99 } });
    expect(flat.headMomentum(A + 5)).toBe(0.99);
  });

  it('a step past the annealing length moves the teacher head with that momentum', () => {
    const c = preset('micro');
    const batch = mp.tensor(Float32Array.from(normalHost(keyFromSeed(3), c.batchSize * c.nMels * c.cropFrames)), [
      c.batchSize,
      c.nMels,
      c.cropFrames,
    ]);
    const s0 = { ...initTrainState(c, keyFromSeed(5)), step: c.ema.annealSteps + 2 };
    const [s1, m] = trainStep(s0, batch, c);
    const mH = c.ema.encoderEnd;
    expect(m.emaMomentumHead).toBe(mH);
    const want = mp.treeMap(
      (t, s) => mp.add(mp.mul(t, mH), mp.mul(s, 1 - mH)),
      s0.teacher.head,
      s0.student.cls_student_head,
    );
    const got = mp.leaves(s1.teacher.head);
    mp.leaves(want).forEach((w, i) => {
      const [a, b] = [w.toArray(), got[i].toArray()];
      for (let j = 0; j < a.length; j++) expect(Math.abs(a[j] - b[j])).toBeLessThan(1e-6);
    });
    expect(
      mp
        .leaves(s1.teacher.head)
        .some((t, i) => t.toArray().some((x, j) => x !== mp.leaves(s0.teacher.head)[i].toArray()[j])),
    ).toBe(true);
  });
});

describe('configs recorded by earlier runs', () => {
  it('without the rule fields, they load with the rules those runs ran (pytorch ε, fp32 clip)', () => {
    const c = preset('tiny');
    const { adamEps: _a, clip: _c, ...oldOptim } = c.optim;
    const old = JSON.parse(JSON.stringify({ ...c, optim: oldOptim }));
    const loaded = storedConfig(old, 'runs/x/config.json');
    expect(loaded.optim.adamEps).toBe('pytorch');
    expect(loaded.optim.clip).toBe('fp32');
    expect({ ...loaded, optim: oldOptim }).toEqual({ ...c, optim: oldOptim });
    // present fields are kept
    expect(completeStoredConfig(c)).toEqual(c);
    expect(completeStoredConfig({ ...c, optim: { ...c.optim, clip: 'fp32' } }).optim).toEqual({
      ...c.optim,
      clip: 'fp32',
    });
  });
});
