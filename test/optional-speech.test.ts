/**
 * espeak-ng is an optional dependency (GPL-3.0): without it, what needs speech says so in one line
 * before any work, and the closing probe table of a training run leaves the spoken-digits set out.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';

vi.mock('../src/data/pool/espeak', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../src/data/pool/espeak')>()),
  speechUnavailable: () => 'speech needs the optional package espeak-ng (test)',
}));
vi.mock('../src/data/render', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../src/data/render')>()),
  ensurePretrainSet: async () => '/bundled-pretraining-set',
}));

const { devSets } = await import('../src/cli/probe-suite');
const { defaultTrainingData, openTrainingData } = await import('../src/cli/train-data');
const { resolveConfig } = await import('../src/cli/model');

const cache = mkdtempSync(join(tmpdir(), 'matpac-nospeech-'));
process.env.MATPAC_DATA_CACHE = cache;
afterAll(() => rmSync(cache, { recursive: true, force: true }));

describe('without espeak-ng', () => {
  it('--data pool is refused in one line naming the package', async () => {
    await expect(openTrainingData('pool', resolveConfig('micro'))).rejects.toThrow(
      /^--data pool: speech needs the optional package espeak-ng/,
    );
  });

  it('a run without --data trains on the bundled pre-training set instead of the pool, and says why', async () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await defaultTrainingData()).toBe('/bundled-pretraining-set');
      expect(stderr.mock.calls.map((c) => String(c[0]))).toEqual([
        'matpac: training on the bundled pre-training set instead of the generated pool: speech needs the optional package espeak-ng (test)\n',
      ]);
    } finally {
      stderr.mockRestore();
    }
  });

  it('the spoken-digits set, asked for by name, is refused; by default it is left out', async () => {
    await expect(devSets(['sound-events', 'spoken-digits'], 1)).rejects.toThrow(
      /^development set spoken-digits: speech needs the optional package espeak-ng/,
    );
    const sets = await devSets(undefined, 1);
    expect(sets.map((s) => s.name)).toEqual(['instrument-family', 'pitch-class', 'sound-events']);
  }, 120_000);
});
