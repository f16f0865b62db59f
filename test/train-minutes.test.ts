/** `train --minutes` with a budget too small for one step: one line saying so (it printed "1 steps fit in the -2s left"). */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import wavefile from 'wavefile';
import { afterAll, expect, it } from 'vitest';
import { formatDuration, train } from '../src/cli/train';

const tmp = mkdtempSync(join(tmpdir(), 'matpac-minutes-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

it('formats durations under a second without going negative', () => {
  expect(formatDuration(0.0123)).toBe('0.012s');
  expect(formatDuration(0.5)).toBe('0.5s');
  expect(formatDuration(-2)).toBe('0.000s');
  expect(formatDuration(75)).toBe('1m15s');
});

it('--minutes 0.0001: one line, no run folder written', async () => {
  const data = join(tmp, 'data');
  mkdirSync(data);
  const wav = new wavefile.WaveFile();
  wav.fromScratch(
    1,
    16000,
    '16',
    Array.from({ length: 16000 }, (_, i) => Math.round(8000 * Math.sin(i / 5))),
  );
  for (let i = 0; i < 4; i++) writeFileSync(join(data, `t${i}.wav`), wav.toBuffer());
  const out = join(tmp, 'run');
  const run = train({ preset: 'micro', minutes: 0.0001, data, out, backend: 'native', probe: false });
  await expect(run).rejects.toThrow(
    /^--minutes 0\.0001: no time left to train: reading the data and timing a step took [\d.]+s of the 0\.006s budget \(one step takes [\d.]+ m?s\); give more minutes or use --steps$/,
  );
  expect(existsSync(out)).toBe(false);
});
