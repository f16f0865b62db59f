/**
 * A run folder under faults that need no child process (issue 16, items 2, 3, 5, 8): one owner
 * (run.lock, stale locks taken over), resume refusing a folder that mixes runs or an edited
 * config, torn metrics.jsonl repaired, a diverged update never saved as the last good state,
 * embed/probe refusing non-finite models, paths checked before the first step, temporary files of
 * killed writes cleaned. Every resumed run is compared with one uninterrupted reference run.
 */
import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { NonFiniteError, train, type TrainOptions } from '../src/cli/train';
import { lockRunFolder } from '../src/cli/run-folder';
import { loadCheckpointModel, loadTrainState } from '../src/cli/model';
import { ensurePretrainSet } from '../src/data/render';
import { saveState, readMetadata } from '../src/checkpoint/file';
import { allFinite } from '../src/finite';
import * as mp from '../src/index';

let tmp = '';
let data = '';
let ref = '';
const LATEST = 'checkpoint-latest.safetensors';
const base = (out: string, extra: Partial<TrainOptions> = {}): TrainOptions => ({
  preset: 'micro',
  steps: 8,
  batch: 2,
  seed: 3,
  checkpointEvery: 2,
  data,
  out,
  backend: 'native',
  probe: false,
  ...extra,
});
const resume = (out: string, extra: Partial<TrainOptions> = {}): TrainOptions => ({
  resume: true,
  out,
  backend: 'native',
  probe: false,
  ...extra,
});
const metricRows = (dir: string) =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const { time: _, ...r } = JSON.parse(l);
      return r;
    });
function expectSameAsReference(dir: string): void {
  expect(readFileSync(join(dir, LATEST)).equals(readFileSync(join(ref, LATEST))), 'final checkpoint bytes').toBe(true);
  expect(metricRows(dir)).toEqual(metricRows(ref));
}
/** A pid no process has now (a child that has exited). */
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;

let stderr: string[] = [];
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'matpac-runfolder-'));
  data = await ensurePretrainSet({ clips: 4, durationSec: 1, cacheRoot: join(tmp, 'cache'), quiet: true });
  ref = join(tmp, 'ref');
  await train(base(ref));
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});
const spyStderr = () => {
  stderr = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (stderr.push(String(s)), true));
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
};
afterEach(() => vi.restoreAllMocks());

let n = 0;
/** A copy of a run stopped at `step` (from a fresh run with --stop-at). */
async function stoppedAt(step: number): Promise<string> {
  const dir = join(tmp, `run${n++}`);
  await train(base(dir, { stopAt: step }));
  return dir;
}

describe('one process per run folder', () => {
  it('a second run into a folder another live process owns refuses in one line', async () => {
    const dir = await stoppedAt(2);
    const lock = lockRunFolder(dir); // this (live) process owns it now
    try {
      await expect(train(resume(dir))).rejects.toThrow(
        /^\S+ is in use by another matpac run \(pid \d+, since [^)]+\); wait for it to end or choose another --out/,
      );
      await expect(train(base(join(dir, 'x')))).resolves.toBeDefined(); // other folders are free
    } finally {
      lock.release();
    }
    spyStderr();
    await train(resume(dir));
    expectSameAsReference(dir);
    expect(existsSync(join(dir, 'run.lock'))).toBe(false); // released at the end
  });

  it('a stale lock (its process is gone) is taken over with a message', async () => {
    const dir = await stoppedAt(4);
    writeFileSync(
      join(dir, 'run.lock'),
      JSON.stringify({ pid: deadPid(), host: (await import('node:os')).hostname(), startedAt: '2026-01-01T00:00:00Z' }),
    );
    spyStderr();
    await train(resume(dir));
    expect(stderr.join('')).toMatch(
      /taking over the lock of pid \d+ \(since 2026-01-01T00:00:00Z\), which is no longer running/,
    );
    expectSameAsReference(dir);
  });

  it('temporary files of killed writes are removed on start, those of live processes kept', async () => {
    const dir = await stoppedAt(4);
    const dead = `${LATEST}.tmp-${deadPid()}-0a1b2c3d`;
    const live = `${LATEST}.tmp-${process.pid}-0a1b2c3d`;
    writeFileSync(join(dir, dead), 'torn');
    writeFileSync(join(dir, live), 'in progress');
    spyStderr();
    await train(resume(dir));
    expect(stderr.join('')).toMatch(/removed 1 unfinished temporary file of killed writes/);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([live]);
    expectSameAsReference(dir);
  });
});

describe('resume checks that config, checkpoint and metrics belong together', () => {
  it('an edited config.json is refused, naming what changed', async () => {
    const dir = await stoppedAt(4);
    const cfgPath = join(dir, 'config.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
    writeFileSync(cfgPath, JSON.stringify({ ...cfg, optim: { ...cfg.optim, peakLr: 0.5, totalSteps: 20 } }));
    await expect(train(resume(dir))).rejects.toThrow(
      /config\.json differs from the config in checkpoint-latest\.safetensors: optim\.peakLr 0\.001 → 0\.5; optim\.totalSteps 8 → 20; a resumed run continues exactly/,
    );
  });

  it('a checkpoint from another run is refused', async () => {
    const a = await stoppedAt(4);
    const other = join(tmp, 'other');
    await train(base(other, { seed: 4, stopAt: 4 }));
    cpSync(join(other, LATEST), join(a, LATEST));
    await expect(train(resume(a))).rejects.toThrow(
      /checkpoint-latest\.safetensors belongs to another run \(run id [0-9a-f]{16}; \S+run\.json says [0-9a-f]{16}\)|differs from the config/,
    );
  });

  it('metrics lines from another run are refused, naming the line', async () => {
    const dir = await stoppedAt(4);
    const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').split('\n');
    lines[1] = lines[1].replace(/"run":"[0-9a-f]+"/, '"run":"0123456789abcdef"');
    writeFileSync(join(dir, 'metrics.jsonl'), lines.join('\n'));
    await expect(train(resume(dir))).rejects.toThrow(
      /metrics\.jsonl: line 2 belongs to another run \(run 0123456789abcdef/,
    );
  });
});

describe('torn metrics.jsonl', () => {
  it('resume drops a torn last line with a message and ends bit-identical', async () => {
    const dir = await stoppedAt(4);
    appendFileSync(join(dir, 'metrics.jsonl'), '{"step":4,"loss":1.23,"lPr');
    spyStderr();
    await train(resume(dir));
    expect(stderr.join('')).toMatch(/metrics\.jsonl: dropped a torn last line \(\d+ bytes, no newline/);
    expectSameAsReference(dir);
  });

  it('a damaged line in the middle stops the resume with one line naming the file and line', async () => {
    const dir = await stoppedAt(4);
    const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').split('\n');
    lines[2] = lines[2].slice(0, 20);
    writeFileSync(join(dir, 'metrics.jsonl'), lines.join('\n'));
    const err = (await train(resume(dir)).catch((e: Error) => e)) as Error;
    expect(err.message).toMatch(/^\S*metrics\.jsonl: line 3 is not a metrics row: not JSON/);
    expect(err.message).not.toMatch(/\n/);
  });

  it('a fresh run into a folder with a torn metrics.jsonl and no checkpoint starts over, saying so', async () => {
    const dir = join(tmp, 'fresh-torn');
    cpSync(ref, dir, { recursive: true });
    for (const f of readdirSync(dir)) if (f.endsWith('.safetensors')) rmSync(join(dir, f));
    appendFileSync(join(dir, 'metrics.jsonl'), '{"step":8,"lo');
    spyStderr();
    await train(base(dir));
    expect(stderr.join('')).toMatch(/an earlier run there saved no checkpoint; starting over/);
    expectSameAsReference(dir);
  });
});

describe('non-finite states', () => {
  it('an update that makes the state non-finite stops at that step; the last good state saved is finite', async () => {
    const cfg = join(tmp, 'huge-lr.json');
    writeFileSync(cfg, JSON.stringify({ extends: 'micro', optim: { peakLr: 1e39 } }));
    const dir = join(tmp, 'huge-lr');
    const run = train(base(dir, { preset: cfg, steps: 6 }));
    await expect(run).rejects.toThrow(NonFiniteError);
    // the first update (learning rate 1e39 from step 0: the short run has no warm-up) overflows
    await expect(run).rejects.toThrow(
      /^training stopped at step 0: first non-finite tensor: the updated \S+ \(\d+ values?; \d+ in the whole state\): the update diverged/,
    );
    const state = loadTrainState(join(dir, LATEST));
    expect(state.step).toBe(0);
    expect(allFinite(state)).toBe(true);
  });

  it('embed and probe refuse a checkpoint holding NaN', async () => {
    const state = loadTrainState(join(ref, LATEST));
    const poisoned = {
      ...state,
      student: { ...state.student, cls_token: mp.full(state.student.cls_token.shape, NaN) },
    };
    const file = join(tmp, 'nan.safetensors');
    saveState(file, poisoned, { config: readMetadata(join(ref, LATEST)).config });
    await expect(loadCheckpointModel(file)).rejects.toThrow(
      /nan\.safetensors: holds \d+ non-finite values \(first: student\.cls_token\): not a usable model/,
    );
  });
});

describe('paths are checked before the first step', () => {
  it('a missing --probe-data fails before anything is trained or written', async () => {
    const dir = join(tmp, 'bad-probe');
    await expect(train({ ...base(dir), probe: true, probeData: join(tmp, 'nowhere') })).rejects.toThrow(
      /nowhere: no such folder \(--probe-data\)/,
    );
    expect(existsSync(dir)).toBe(false);
  });

  it('--out naming a file is refused', async () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, '');
    await expect(train(base(file))).rejects.toThrow(/a-file: --out must be a folder, this is a file/);
  });
});
