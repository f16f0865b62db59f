/**
 * The jitted MATPAC training step equals the eager one: 20 steps of the micro preset from the
 * same state and batches, losses and every state leaf within float32 tolerance (a fused group
 * rounds once where the eager kernels round after each op, so the two drift apart by a few ulps
 * per step, amplified by Adam's division by √v̂ early on). The program is compiled twice (the
 * first step skips the EMA) and traced every step (the step count is a host value).
 */
import { describe, expect, it } from 'vitest';
import * as mp from '../src/index';
import type { Tensor } from '../src/core';
import { leaves } from '../src/tree';
import { keyFromSeed, normalHost } from '../src/random';
import { preset } from '../models/config';
import { initTrainState, makeTrainStep, type TrainState } from '../models/matpac';

const STEPS = 20;

describe('jit of the MATPAC train step', () => {
  for (const backend of ['native', 'ref64']) {
    it(`equals the eager step over ${STEPS} steps on ${backend}`, () => {
      mp.withBackend(backend, () => {
        const c = { ...preset('micro'), optim: { ...preset('micro').optim, warmupSteps: 2, totalSteps: 40 } };
        const batch = (i: number): Tensor => {
          const shape = [c.batchSize, c.nMels, c.cropFrames];
          return mp.tensor(
            Float32Array.from(
              normalHost(
                keyFromSeed(100 + i),
                shape.reduce((a, b) => a * b, 1),
              ),
            ),
            shape,
          );
        };
        const eager = makeTrainStep(c, { jit: false });
        const jitted = makeTrainStep(c, { jit: true });
        let a: TrainState = initTrainState(c, keyFromSeed(7));
        let b: TrainState = initTrainState(c, keyFromSeed(7));
        const tol = backend === 'ref64' ? 1e-9 : 2e-4;
        let worst = 0;
        for (let i = 0; i < STEPS; i++) {
          const x = batch(i);
          const [a2, ma] = mp.scope(() => eager(a, x));
          const [b2, mb] = mp.scope(() => jitted(b, x));
          mp.disposeTree([a], a2);
          mp.disposeTree([b], b2);
          a = a2;
          b = b2;
          expect(Math.abs(mb.loss - ma.loss)).toBeLessThanOrEqual(tol * (1 + Math.abs(ma.loss)));
          expect(Math.abs(mb.gradNorm - ma.gradNorm)).toBeLessThanOrEqual(tol * 10 * (1 + Math.abs(ma.gradNorm)));
        }
        const la = leaves(a);
        const lb = leaves(b);
        expect(lb.length).toBe(la.length);
        la.forEach((t, k) => {
          const p = t.toArray();
          const q = lb[k].toArray();
          for (let i = 0; i < p.length; i++) worst = Math.max(worst, Math.abs(p[i] - q[i]) / (1 + Math.abs(p[i])));
        });
        expect(worst).toBeLessThanOrEqual(tol * 10);
        expect(b.step).toBe(STEPS);
        expect(b.key).toEqual(a.key);
        const stats = jitted.jitStats!();
        expect(stats).toMatchObject({ calls: STEPS, traces: STEPS, compiles: 2, eager: 0 });
      });
    });
  }
});
