/**
 * The gradient of the whole MATPAC loss (micro config) against float64 central differences, leaf
 * by leaf, in the manner of property-tests/check.ts: for each parameter leaf θ_i and a random
 * direction u, ⟨∂L/∂θ_i, u⟩ from reverse mode vs (L(θ + εu) − L(θ − εu))/2ε on the ref64 backend.
 *
 * The teacher's inputs are the student's patch embedding and CLS token under stop-gradient, so a
 * finite difference of matpacLoss itself would also move the teacher's targets. The differences
 * are therefore taken of matpacLossGivenTeacher, with the teacher's outputs computed once at θ —
 * the function whose gradient matpacLoss's must equal (and whose value at θ it must equal).
 */
import { describe, expect, it } from 'vitest';
import * as mp from '../src/index';
import type { Tensor } from '../src/index';
import { flatten } from '../src/tree';
import { keyFromSeed, normalHost, foldIn } from '../src/random';
import { preset } from '../models/config';
import {
  initParams,
  matpacLossAux,
  matpacLossGivenTeacher,
  teacherOutputs,
  type StudentParams,
} from '../models/matpac';

const EPS = 1e-5;

const randomLike = (t: Tensor, seed: number, scale = 1): Tensor =>
  mp.tensor(
    Float64Array.from(normalHost(keyFromSeed(seed), t.size), (z) => z * scale),
    t.shape,
  );
const dot = (a: Tensor, b: Tensor): number => {
  const x = a.toArray();
  const y = b.toArray();
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * y[i];
  return s;
};

describe('MATPAC loss gradient (micro, float64)', () => {
  it('matches central differences on every parameter leaf', () => {
    mp.withBackend('ref64', () => {
      const c = preset('micro');
      const init = initParams(c, keyFromSeed(7));
      // move every leaf off its structured init (zero biases, unit LayerNorm gains) so that no
      // term of the gradient vanishes by symmetry
      const flat0 = flatten(init.student);
      const student = flat0.rebuild(
        flat0.leaves.map((l, i) => mp.add(l, randomLike(l, 1000 + i, 0.05))),
      ) as StudentParams;
      const K = c.head.numClasses;
      const centre = mp.tensor(
        Float64Array.from({ length: K }, (_, k) => 0.02 * (k + 1)),
        [K],
      );
      const ts = { ...init.teacher, centre, step: 1 };
      const batch = mp.tensor(normalHost(keyFromSeed(3), 2 * c.nMels * c.cropFrames), [2, c.nMels, c.cropFrames]);
      const key = foldIn(keyFromSeed(5), 1);

      const [[loss, aux], grads] = mp.valueAndGrad(matpacLossAux, { hasAux: true })(student, ts, batch, key, c);
      expect(Number.isFinite(loss.item())).toBe(true);
      expect(aux.metrics.lCls.item()).toBeGreaterThan(0);

      const teacher = teacherOutputs(student, init.teacher, batch, key, c);
      const f = (p: StudentParams) => matpacLossGivenTeacher(p, teacher, ts, batch, key, c).loss.item();
      expect(Math.abs(f(student) - loss.item())).toBeLessThan(1e-12);

      const fp = flatten(student);
      const fg = flatten(grads);
      expect(fg.paths).toEqual(fp.paths);
      const report: string[] = [];
      let worst = 0;
      fp.leaves.forEach((leaf, i) => {
        const u = randomLike(leaf, 2000 + i);
        const analytic = dot(fg.leaves[i], u);
        const shifted = (s: number) =>
          f(fp.rebuild(fp.leaves.map((l, j) => (j === i ? mp.add(l, mp.mul(u, s)) : l))) as StudentParams);
        const numeric = (shifted(EPS) - shifted(-EPS)) / (2 * EPS);
        const err = Math.abs(analytic - numeric) / (1e-3 + Math.abs(numeric));
        worst = Math.max(worst, err);
        report.push(
          `${fp.paths[i].padEnd(44)} analytic ${analytic.toExponential(6).padStart(14)} numeric ${numeric.toExponential(6).padStart(14)} rel.err ${err.toExponential(1)}`,
        );
        expect(Math.abs(analytic), `${fp.paths[i]} gets no gradient`).toBeGreaterThan(1e-8);
      });
      if (worst > 1e-6 || process.env.MATPAC_GRAD_REPORT) console.log(report.join('\n'));
      expect(worst).toBeLessThan(1e-6);
      expect(fp.leaves.length).toBe(44);
    });
  });
});
