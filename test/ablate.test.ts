/**
 * `train --mcl N` and `matpac ablate`, end to end on the micro preset (a few steps, small rendered
 * data sets): MATPAC++ checkpoints carry the official head names, metrics.jsonl the per-head wins
 * and the temperature, the loss plot their curves; the ablation trains the three variants with the
 * same seeds, probes them beside the two baselines and writes its table, JSON and bar chart.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensurePretrainSet, ensureProbeSet } from '../src/data/render';
import { readMetadata } from '../src/checkpoint/file';
import { train, LATEST } from '../src/cli/train';
import { ablate, summarise } from '../src/cli/ablate';
import { loadTrainState } from '../src/cli/model';

let tmp = '';
let data = '';
let probeData = '';

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'matpac-ablate-'));
  const cache = join(tmp, 'cache');
  const pool = await ensurePretrainSet({ clips: 8, durationSec: 1, cacheRoot: cache, quiet: true });
  data = join(tmp, 'data');
  cpSync(pool, data, { recursive: true });
  probeData = await ensureProbeSet({
    clipsPerClass: 6,
    durationSec: 1,
    families: ['keyboard', 'bass', 'flute'],
    cacheRoot: cache,
    quiet: true,
  });
}, 120_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('train --mcl', () => {
  it('trains MATPAC++ with the official head names, and records the heads in metrics and the plot', async () => {
    const out = join(tmp, 'pp');
    const r = await train({ preset: 'micro', mcl: 2, steps: 4, batch: 2, data, out, backend: 'native', probe: false });
    expect(r.completed).toBe(true);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config.mcl.heads).toBe(2);
    const meta = readMetadata(join(out, LATEST));
    expect(JSON.parse(meta.config).mcl.heads).toBe(2);
    const names = Object.keys(JSON.parse(meta.tree).student.mcl_heads.mcl_heads[0]);
    expect(names.sort()).toEqual(['bias', 'weight']);
    const state = loadTrainState(join(out, LATEST));
    expect(state.student.mcl_heads!.mcl_heads).toHaveLength(2);
    const rows = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows).toHaveLength(4);
    for (const row of rows) {
      expect(row.headWins).toHaveLength(2);
      expect(row.headWins[0] + row.headWins[1]).toBe(2 * 3); // batch 2 × 3 masked tokens
      expect(row.mclTemperature).toBeGreaterThan(0);
      expect(row.targetPerplexity).toBeGreaterThan(0);
    }
    const svg = readFileSync(join(out, 'loss.svg'), 'utf8');
    expect(svg).toContain('head 1: share of tokens won');
    expect(svg).toContain('MCL temperature');
    expect(svg).toContain('teacher target perplexity');
  }, 120_000);
});

describe('matpac ablate', () => {
  it('runs the three variants × 3 seeds on micro, probes them with the baselines, and writes table, JSON and chart', async () => {
    const out = join(tmp, 'ablation');
    const r = await ablate({ preset: 'micro', steps: 3, seeds: 3, out, data, probeData, folds: 3, backend: 'native' });
    const labels = r.summaries.map((s) => s.label);
    expect(labels).toEqual(['L_pred only', 'MATPAC', 'MATPAC++', 'random init', 'log-mel mean+std']);
    expect(r.summaries.map((s) => s.n)).toEqual([3, 3, 3, 3, 1]);
    for (const s of r.summaries) {
      expect(s.mean).toBeGreaterThanOrEqual(0);
      expect(s.mean).toBeLessThanOrEqual(1);
    }
    // same seeds across the variants; each run is a complete train run folder
    const trained = r.rows.filter((x) => x.runDir);
    expect(trained).toHaveLength(9);
    for (const v of ['pred-only', 'matpac', 'matpac-pp'])
      expect(trained.filter((x) => x.variant === v).map((x) => x.seed)).toEqual([1337, 1338, 1339]);
    const cfg = (v: string, s: number) =>
      JSON.parse(readFileSync(join(out, 'runs', `${v}-seed${s}`, 'config.json'), 'utf8'));
    expect(cfg('pred-only', 1338)).toMatchObject({
      seed: 1338,
      loss: { clsWeight: 0 },
      mcl: { heads: 0 },
      optim: { totalSteps: 3 },
    });
    expect(cfg('matpac', 1338)).toMatchObject({ seed: 1338, loss: { clsWeight: 0.5 }, mcl: { heads: 0 } });
    expect(cfg('matpac-pp', 1338)).toMatchObject({ seed: 1338, loss: { clsWeight: 0.5 }, mcl: { heads: 5 } });
    const table = readFileSync(join(out, 'ablation.md'), 'utf8');
    expect(table).toMatch(/\| MATPAC\+\+ \| \d+\.\d ± \d+\.\d \|/);
    expect(table).toContain('| log-mel mean+std |');
    const json = JSON.parse(readFileSync(join(out, 'ablation.json'), 'utf8'));
    expect(json.rows).toHaveLength(9 + 3 + 1);
    expect(json.summaries).toEqual(summarise(r.rows));
    const svg = readFileSync(join(out, 'ablation.svg'), 'utf8');
    expect(svg.match(/<rect x=/g)!.length).toBeGreaterThanOrEqual(5);
    expect(existsSync(join(out, 'runs', 'matpac-pp-seed1339', LATEST))).toBe(true);

    // a second call continues from the run folders: nothing is retrained, the table is the same
    const again = await ablate({
      preset: 'micro',
      steps: 3,
      seeds: 3,
      out,
      data,
      probeData,
      folds: 3,
      backend: 'native',
    });
    expect(again.summaries).toEqual(r.summaries);
  }, 300_000);
});
