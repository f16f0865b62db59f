/**
 * Whole MATPAC training steps on the gpu.js backend, against the native backend on the same
 * state and batch: the GL path (headlessgl: a real GPU, or Mesa's software rasteriser under Xvfb)
 * when the optional `gl` package loads, and gpu.js's webasm mode everywhere.
 *
 * On GL the step stays on the device: the only read-backs are the five scalars the progress line
 * shows, and the number of live textures does not grow from step to step.
 */
import { describe, expect, it } from 'vitest';
import * as mp from '../src/index';
import type { Tensor } from '../src/index';
import { leaves } from '../src/tree';
import { keyFromSeed, normalHost } from '../src/random';
import { preset } from '../models/config';
import { initTrainState, trainStep, type StepMetrics, type TrainState } from '../models/matpac';
import { GpujsBackend, gpujsModeAvailable } from '../src/backends/gpujs';

const config = preset('micro');
const host = Float32Array.from(normalHost(keyFromSeed(3), config.batchSize * config.nMels * config.cropFrames));
const STEPS = 4;

function run(backend: string, onStep?: (i: number) => void): { state: TrainState; metrics: StepMetrics[] } {
  return mp.withBackend(backend, () => {
    let state = initTrainState(config);
    const batch = mp.tensor(host, [config.batchSize, config.nMels, config.cropFrames]);
    const metrics: StepMetrics[] = [];
    for (let i = 0; i < STEPS; i++) {
      const [next, m] = mp.scope(() => trainStep(state, batch, config));
      mp.disposeTree(state, next); // as the trainer does: one state's buffers alive, not one per step
      state = next;
      metrics.push(m);
      onStep?.(i);
    }
    return { state, metrics };
  });
}

const hostLeaves = (s: TrainState): Float32Array[] =>
  leaves({ student: s.student, teacher: s.teacher, centre: s.centre }).map((t) =>
    Float32Array.from((t as Tensor).toArray()),
  );

const reference = run('native');

function agreesWithNative(backend: string): void {
  const stores: number[] = [];
  const compiles: number[] = [];
  const downloads: number[] = [];
  const be = mp.getBackend(backend) as unknown as GpujsBackend;
  let before = be.stats();
  const { state, metrics } = run(backend, () => {
    const now = be.stats();
    stores.push(now.liveStores);
    compiles.push(now.compiles);
    downloads.push(now.downloadedElements - before.downloadedElements);
    before = now;
  });
  for (let i = 0; i < STEPS; i++) {
    for (const k of ['loss', 'lPred', 'lCls', 'gradNorm', 'targetPerplexity'] as const) {
      const a = metrics[i][k];
      const b = reference.metrics[i][k];
      expect(Number.isFinite(a), `${backend} step ${i} ${k}`).toBe(true);
      expect(Math.abs(a - b), `${backend} step ${i} ${k}: ${a} vs native ${b}`).toBeLessThanOrEqual(
        1e-4 + 1e-3 * Math.abs(b),
      );
    }
  }
  const got = hostLeaves(state);
  const want = hostLeaves(reference.state);
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let l = 0; l < got.length; l++)
    for (let i = 0; i < got[l].length; i++) worst = Math.max(worst, Math.abs(got[l][i] - want[l][i]));
  console.log(
    `${backend}: ${STEPS} micro steps, losses ${metrics.map((m) => m.loss.toFixed(5)).join(' ')} (native ${reference.metrics.map((m) => m.loss.toFixed(5)).join(' ')}); worst parameter difference ${worst.toExponential(2)}; live stores after each step ${stores.join(' ')}; kernels compiled ${compiles.join(' ')}; elements read back per step ${downloads.join(' ')}`,
  );
  expect(worst).toBeLessThan(1e-3);
  // no buffer (texture) leaks across steps, and the kernel cache holds a whole step: no recompiles
  // once every kernel has been seen (step 1 skips the EMA arithmetic: momentum 1 returns the teacher)
  expect(stores[STEPS - 1]).toBe(stores[0]);
  expect(compiles[STEPS - 1]).toBe(compiles[1]);
  // on GL nothing but the progress scalars comes back to the host
  if (be.describe().includes('pipeline: textures')) for (const d of downloads) expect(d).toBeLessThanOrEqual(5);
}

describe('a MATPAC training step on the gpu.js backend equals the native one', () => {
  it('gpujs-webasm (CPU, everywhere)', () => agreesWithNative('gpujs-webasm'), 120_000);
  const gl = gpujsModeAvailable('headlessgl');
  it.runIf(gl.ok)(
    'gpujs-headlessgl (GL: textures stay on the device, only the progress scalars are read back)',
    () => agreesWithNative('gpujs-headlessgl'),
    300_000,
  );
});
