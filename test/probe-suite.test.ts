/**
 * End to end on micro: a short run on the generated pool (`--data pool`), then the development-set
 * probe suite with the trained checkpoint, its random init and log-mel statistics in one table.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { embedder, loadCheckpointModel, randomInitModel, resolveConfig } from '../src/cli/model';
import { formatSuiteTable, runProbeSuite, suiteVerdict, writeSuiteJson, type SuiteSet } from '../src/cli/probe-suite';
import { train } from '../src/cli/train';
import { DEV_SET_NAMES, devSetClasses, ensureDevSet } from '../src/data/devsets';
import { ensureProbeSet } from '../src/data/render';
import { logMelStatsFeatures } from '../src/probe';

const tmp = mkdtempSync(join(tmpdir(), 'matpac-suite-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('probe suite on micro', () => {
  it('trains on the pool, then probes every development set with trained / random init / log-mel', async () => {
    const out = join(tmp, 'run');
    const sets: SuiteSet[] = [];
    for (const name of DEV_SET_NAMES)
      sets.push({
        name,
        dir: await ensureDevSet(name, { clipsPerClass: 2, durationSec: 1, cacheRoot: join(tmp, 'cache') }),
      });
    const probeData = await ensureProbeSet({
      clipsPerClass: 5,
      durationSec: 1,
      families: ['keyboard', 'flute'],
      cacheRoot: join(tmp, 'cache'),
      quiet: true,
    });
    // the run ends with one table: its probe set, then the development sets (trained / init / log-mel)
    const r = await train(
      { preset: 'micro', data: 'pool', steps: 4, batch: 4, out, backend: 'native', probe: true, probeData },
      { devSets: () => Promise.resolve(sets) },
      { pool: { shardClips: 8, clipSec: 1, clipsPerSession: 4 }, reuse: 2, inline: true },
    );
    expect(r.completed).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')).data).toBe('pool');
    const closing = JSON.parse(readFileSync(join(out, 'probe-suite.json'), 'utf8'));
    expect(closing.sets.map((s: { name: string }) => s.name)).toEqual([basename(probeData), ...DEV_SET_NAMES]);
    for (const s of closing.sets)
      expect(s.results.map((x: { features: string }) => x.features)).toEqual([
        'micro step 4',
        'untrained micro',
        'log-mel mean+std',
      ]);
    expect(JSON.parse(readFileSync(join(out, 'probe.json'), 'utf8')).accuracy).toBe(
      closing.sets[0].results[0].accuracy,
    );
    const model = await loadCheckpointModel(join(out, 'checkpoint-latest.safetensors'));
    const sources = [
      { name: 'micro step 4', features: embedder(model) },
      { name: 'untrained micro', features: embedder(randomInitModel(resolveConfig('micro'))) },
      { name: 'log-mel mean+std', features: logMelStatsFeatures },
    ];
    const suite = await runProbeSuite(sources, sets, 2, 0);
    expect(suite.sets).toEqual([...DEV_SET_NAMES]);
    suite.reports.forEach((row, i) => {
      expect(row.map((p) => p.features)).toEqual(sources.map((s) => s.name));
      expect(row[0].classes.length).toBe(devSetClasses(DEV_SET_NAMES[i]).length);
      expect(row[0].clips).toBe(2 * devSetClasses(DEV_SET_NAMES[i]).length);
      for (const p of row) expect(p.result.mean).toBeGreaterThanOrEqual(0);
    });
    const table = formatSuiteTable(suite);
    for (const name of DEV_SET_NAMES)
      expect(table).toMatch(new RegExp(`^${name}\\s+\\d+\\s+\\d+\\s+\\d+\\.\\d ± \\d+\\.\\d`, 'm'));
    expect(table.split('\n')[0]).toMatch(/micro step 4 \(%\)\s+untrained micro \(%\)\s+log-mel mean\+std \(%\)/);
    expect(suiteVerdict(suite)).toMatch(
      /^micro step 4 beats untrained micro and log-mel mean\+std on \d of 4 probe sets/,
    );
    await writeSuiteJson(join(tmp, 'suite.json'), suite);
    const json = JSON.parse(readFileSync(join(tmp, 'suite.json'), 'utf8'));
    expect(json.sets.map((s: { name: string }) => s.name)).toEqual([...DEV_SET_NAMES]);
    expect(json.sets[0].results[0].foldAccuracies.length).toBe(2);
  }, 240_000);

  it('renders a development set deterministically, a folder per class', async () => {
    const renders: string[] = [];
    const onRender = () => renders.push('rendered');
    const a = await ensureDevSet('sound-events', {
      clipsPerClass: 2,
      durationSec: 1,
      cacheRoot: join(tmp, 'a'),
      onRender,
    });
    // a second call finds it in the cache: nothing rendered, nothing said
    expect(
      await ensureDevSet('sound-events', { clipsPerClass: 2, durationSec: 1, cacheRoot: join(tmp, 'a'), onRender }),
    ).toBe(a);
    expect(renders).toEqual(['rendered']);
    const b = await ensureDevSet('sound-events', { clipsPerClass: 2, durationSec: 1, cacheRoot: join(tmp, 'b') });
    const labels = (d: string) => readFileSync(join(d, 'labels.jsonl'), 'utf8');
    expect(labels(a)).toBe(labels(b));
    const file = 'siren/sound-events_siren_0001.wav';
    expect(readFileSync(join(a, file)).equals(readFileSync(join(b, file)))).toBe(true);
  }, 60_000);
});
