/**
 * The memory estimate (models/memory.ts) against a measured training step on the native backend
 * (the bytes of the two states plus every intermediate the step allocated, counted by the buffer
 * pool), and the refusals built on it (issue 16, item 6): enormous configs fail in one line with
 * the estimate before anything is allocated, for train and for a checkpoint whose stored config
 * claims huge sizes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import * as mp from '../src/index';
import { preset, type MatpacConfig } from '../models/config';
import { initTrainState, trainStep } from '../models/matpac';
import { formatBytes, trainingMemory } from '../models/memory';
import { allocStats, clearPool } from '../kernels/native/alloc';
import { keyFromSeed, normalHost } from '../src/random';
import { saveState } from '../src/checkpoint/file';
import { train } from '../src/cli/train';
import { loadCheckpointModel } from '../src/cli/model';
import { setMemoryLimit } from '../src/cli/memory-check';
import { parseBytes } from '../src/cli/common';

const tmp = mkdtempSync(join(tmpdir(), 'matpac-memory-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => setMemoryLimit(undefined));

function measuredStepBytes(c: MatpacConfig): number {
  return mp.withBackend('native', () => {
    const state = initTrainState(c);
    const stateBytes = mp.leaves(state).reduce((a, t) => a + 4 * t.size, 0);
    const x = mp.tensor(Float32Array.from(normalHost(keyFromSeed(1), c.batchSize * c.nMels * c.cropFrames)), [
      c.batchSize,
      c.nMels,
      c.cropFrames,
    ]);
    clearPool();
    const before = allocStats();
    const [next] = mp.scope(() => trainStep(state, x, c));
    const after = allocStats();
    expect(after.reused - before.reused, 'nothing recycled within the step: the pool holds all of it').toBe(0);
    mp.disposeTree([next, state, x]);
    return 2 * stateBytes + after.pooledBytes;
  });
}

describe('the memory estimate', () => {
  const configs: [string, MatpacConfig][] = [
    ['micro, batch 16', preset('micro', { batchSize: 16 })],
    [
      'a wider micro (2 blocks, width 32, crop 64)',
      {
        ...preset('micro', { batchSize: 4, cropFrames: 64 }),
        encoder: { dim: 32, depth: 2, heads: 4, mlpRatio: 4 },
        predictor: { dim: 16, depth: 2, heads: 2, mlpRatio: 4 },
        head: { hiddenDim: 64, bottleneckDim: 16, numClasses: 64, layers: 3 },
      },
    ],
    [
      'micro, batch 4, K 2048',
      preset('micro', { batchSize: 4, head: { hiddenDim: 12, bottleneckDim: 8, numClasses: 2048, layers: 3 } }),
    ],
  ];
  for (const [what, c] of configs)
    it(`is within a factor of 2 of a measured step: ${what}`, () => {
      const measured = measuredStepBytes(c);
      const est = trainingMemory(c).total;
      expect(est / measured, `estimate ${formatBytes(est)}, measured ${formatBytes(measured)}`).toBeGreaterThan(0.5);
      expect(est / measured, `estimate ${formatBytes(est)}, measured ${formatBytes(measured)}`).toBeLessThan(2);
    });

  it('grows with batch, width and K as the allocations do', () => {
    const t = preset('tiny');
    expect(trainingMemory({ ...t, batchSize: 64 }).activations).toBeCloseTo(
      2 * trainingMemory({ ...t, batchSize: 32 }).activations,
      -3,
    );
    expect(trainingMemory({ ...t, encoder: { ...t.encoder, dim: 100_000 } }).total).toBeGreaterThan(1e12);
    expect(trainingMemory({ ...t, head: { ...t.head, numClasses: 1e8 } }).total).toBeGreaterThan(1e10);
  });
});

describe('refusals', () => {
  const opts = { data: tmp, out: join(tmp, 'never'), backend: 'native', probe: false };
  const oneLine =
    /^config \S+: a training step needs about [\d.]+ [kMGTPE]B \(parameters and optimizer state [\d.]+ \S+, activations for batch \d+ [\d.]+ \S+\), more than /;

  it('batch 1e6 is refused before anything is allocated', async () => {
    const rss = process.memoryUsage().rss;
    await expect(train({ ...opts, preset: 'micro', batch: 1e6 })).rejects.toThrow(oneLine);
    expect(process.memoryUsage().rss - rss).toBeLessThan(200e6);
  });

  it('K = 1e8 and width 100000 are refused', async () => {
    for (const [name, patch] of [
      ['k', { extends: 'micro', head: { numClasses: 1e8 } }],
      ['w', { extends: 'micro', encoder: { dim: 100_000, heads: 2 } }],
    ] as const) {
      const file = join(tmp, `${name}.json`);
      writeFileSync(file, JSON.stringify(patch));
      await expect(train({ ...opts, preset: file })).rejects.toThrow(oneLine);
    }
  });

  it('--max-memory lowers the limit, and names itself', async () => {
    setMemoryLimit(parseBytes('100k'));
    await expect(train({ ...opts, preset: 'micro' })).rejects.toThrow(
      /more than --max-memory 100 kB; lower batchSize or the model's sizes, or raise --max-memory$/,
    );
  });

  it('a checkpoint whose stored config claims huge sizes is refused before loading', async () => {
    const file = join(tmp, 'huge.safetensors');
    const c = preset('micro');
    saveState(file, initTrainState(c), { config: JSON.stringify({ ...c, encoder: { ...c.encoder, dim: 100_000 } }) });
    await expect(loadCheckpointModel(file)).rejects.toThrow(
      /huge\.safetensors: its config \(micro\) needs about [\d.]+ [TPE]B to load and run .*more than this machine's/,
    );
  });

  it('parses sizes', () => {
    expect(parseBytes('8G')).toBe(8e9);
    expect(parseBytes('2GiB')).toBe(2 * 2 ** 30);
    expect(parseBytes('512 MB')).toBe(512e6);
    expect(parseBytes('1000')).toBe(1000);
    expect(() => parseBytes('lots')).toThrow(/must be a size/);
  });
});
