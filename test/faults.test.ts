/**
 * Fault injection on a micro training run (issue 16): crashes at random points (inside checkpoint,
 * metrics and small-file writes), a full disk at byte N, a closed standard output, SIGTERM, and a
 * second run into a folder in use. After each: every checkpoint left loads, no output file is torn
 * (a torn last metrics line is the one thing a crash may leave, and resume repairs it), and the run
 * continued from what was left ends with the final checkpoint and metrics of one uninterrupted
 * reference run, bit for bit.
 *
 * Crashes come two ways (src/fault-injection.ts): real `kill -9` of child processes at byte N of a
 * kind of file (MATPAC_FAULT=kill:…), and — for many points at little cost — in-process snapshots:
 * at byte N the run folder is copied as a kill at that instant would leave it (writes are
 * synchronous, so the copy is exactly the files' state then), with the lock and temporary files
 * renamed to a dead pid. Each snapshot is then resumed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadState } from '../src/checkpoint/file';
import { train, type TrainOptions } from '../src/cli/train';
import { ensurePretrainSet } from '../src/data/render';
import { armWriteFault, bytesWritten, type FileKind } from '../src/fault-injection';
import { MATPAC_ARGS } from './cli-process';

const LATEST = 'checkpoint-latest.safetensors';
const STEPS = 8;

let tmp = '';
let data = '';
let ref = '';
/** Bytes the reference run wrote to each kind of file. */
let written: Record<FileKind | 'any', number>;

const ARGS = [
  '--preset',
  'micro',
  '--steps',
  String(STEPS),
  '--batch',
  '2',
  '--seed',
  '5',
  '--checkpoint-every',
  '2',
  '--no-probe',
];
const fresh = (out: string): TrainOptions => ({
  preset: 'micro',
  steps: STEPS,
  batch: 2,
  seed: 5,
  checkpointEvery: 2,
  data,
  out,
  backend: 'native',
  probe: false,
});
const resume = (out: string): TrainOptions => ({ resume: true, out, backend: 'native', probe: false });

const quiet = () => {
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
};
afterEach(() => {
  vi.restoreAllMocks();
  armWriteFault();
});

const metricLines = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').split('\n');
const withoutTime = (lines: string[]) =>
  lines.filter(Boolean).map((l) => {
    const { time: _, ...r } = JSON.parse(l);
    return r;
  });

/** No file in `dir` is torn: checkpoints load, JSON parses, pictures are complete; only a last metrics line may be cut. */
function expectWhole(dir: string, afterCrash: boolean): void {
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (f.includes('.tmp-')) {
      expect(afterCrash, `${f}: temporary file left by a finished run`).toBe(true);
      continue;
    }
    if (f.endsWith('.safetensors')) expect(() => loadState(p), f).not.toThrow();
    else if (f === 'config.json' || f === 'run.json' || f === 'run.lock')
      expect(() => JSON.parse(readFileSync(p, 'utf8')), f).not.toThrow();
    else if (f === 'loss.svg') expect(readFileSync(p, 'utf8').trimEnd().endsWith('</svg>'), f).toBe(true);
    else if (f === 'input-mask.png') expect(readFileSync(p).subarray(-8, -4).toString('latin1'), f).toBe('IEND');
    else if (f === 'metrics.jsonl') {
      const lines = metricLines(dir);
      const last = lines.pop();
      if (!afterCrash) expect(last, 'metrics.jsonl ends with a newline').toBe('');
      for (const l of lines) expect(() => JSON.parse(l), `metrics line ${l.slice(0, 40)}`).not.toThrow();
    }
  }
}

/** The folder a crashed run left, continued to the end, equals the reference. */
async function continueAndCompare(dir: string): Promise<void> {
  expectWhole(dir, true);
  quiet();
  await train(existsSync(join(dir, LATEST)) ? resume(dir) : fresh(dir));
  vi.restoreAllMocks();
  expectWhole(dir, false);
  expect(
    readdirSync(dir).filter((f) => f.includes('.tmp-') || f === 'run.lock'),
    'temporary files and lock cleaned',
  ).toEqual([]);
  expect(
    readFileSync(join(dir, LATEST)).equals(readFileSync(join(ref, LATEST))),
    `${dir}: final checkpoint differs from the reference`,
  ).toBe(true);
  expect(withoutTime(metricLines(dir))).toEqual(withoutTime(metricLines(ref)));
}

/** A pid no process has now. */
const deadPid = () => spawnSync('true').pid!;

function child(
  out: string,
  env: Record<string, string> = {},
  stdio: 'pipe' | 'ignore-stdout' = 'pipe',
): ChildProcess & { done: Promise<{ code: number | null; signal: string | null; stderr: string }> } {
  const c = spawn(process.execPath, [...MATPAC_ARGS, 'train', ...ARGS, '--data', data, '--out', out], {
    env: { ...process.env, MATPAC_DEBUG: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (stdio === 'ignore-stdout')
    c.stdout!.destroy(); // the reader goes away: writes get EPIPE
  else c.stdout!.resume();
  let stderr = '';
  c.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: string | null; stderr: string }>((r) =>
    c.on('close', (code, signal) => r({ code, signal, stderr })),
  );
  return Object.assign(c, { done });
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'matpac-faults-'));
  data = await ensurePretrainSet({ clips: 4, durationSec: 1, cacheRoot: join(tmp, 'cache'), quiet: true });
  ref = join(tmp, 'ref');
  quiet();
  armWriteFault();
  await train(fresh(ref));
  written = { ...bytesWritten() };
  vi.restoreAllMocks();
  expectWhole(ref, false);
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('crashes at random points (in-process snapshots)', () => {
  it('20 crash points inside checkpoint, metrics and small-file writes: each leaves a loadable folder that resumes bit-identically', async () => {
    // deterministic "random" byte positions (a small LCG), spread over the kinds of file
    let seed = 20261201;
    // (below 90% of what the reference wrote: metrics lines carry wall-clock times, whose length varies)
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % Math.floor(0.9 * n));
    const points: { kind: FileKind; atByte: number }[] = [
      ...Array.from({ length: 8 }, () => ({ kind: 'checkpoint' as const, atByte: rand(written.checkpoint) })),
      ...Array.from({ length: 8 }, () => ({ kind: 'metrics' as const, atByte: rand(written.metrics) })),
      ...Array.from({ length: 4 }, () => ({ kind: 'other' as const, atByte: rand(written.other) })),
    ];
    const run = join(tmp, 'snapshotted');
    const snaps: string[] = [];
    const dead = deadPid();
    const snapshot = (i: number) => () => {
      const to = join(tmp, `snap-${String(i).padStart(2, '0')}`);
      cpSync(run, to, { recursive: true });
      // as a kill would leave it: the lock and the temporary files belong to a process that is gone
      for (const f of readdirSync(to))
        if (f.includes(`.tmp-${process.pid}-`))
          renameSync(join(to, f), join(to, f.replace(`.tmp-${process.pid}-`, `.tmp-${dead}-`)));
      if (existsSync(join(to, 'run.lock')))
        writeFileSync(
          join(to, 'run.lock'),
          JSON.stringify({ ...JSON.parse(readFileSync(join(to, 'run.lock'), 'utf8')), pid: dead }),
        );
      snaps.push(to);
    };
    armWriteFault(...points.map((p, i) => ({ ...p, action: snapshot(i) })));
    quiet();
    await train(fresh(run));
    vi.restoreAllMocks();
    expect(
      written.checkpoint * written.metrics * written.other,
      'the reference run wrote each kind of file',
    ).toBeGreaterThan(0);
    expect(snaps).toHaveLength(points.length);
    let tornMetrics = 0;
    let tempFiles = 0;
    for (const s of snaps) {
      if (existsSync(join(s, 'metrics.jsonl')) && metricLines(s).at(-1) !== '') tornMetrics++;
      tempFiles += readdirSync(s).filter((f) => f.includes('.tmp-')).length;
      await continueAndCompare(s);
    }
    expect(tornMetrics, 'crashes inside metrics writes').toBeGreaterThanOrEqual(4);
    expect(tempFiles, 'crashes inside checkpoint and file writes').toBeGreaterThanOrEqual(8);
  });
});

describe('kill -9 of a training process', () => {
  for (const [kind, frac] of [
    ['checkpoint', 0.43],
    ['metrics', 0.61],
  ] as const)
    it(`killed inside a ${kind} write: the run continues bit-identically`, async () => {
      const out = join(tmp, `kill-${kind}`);
      const at = Math.floor(frac * written[kind]);
      const r = await child(out, { MATPAC_FAULT: `kill:${kind}:${at}` }).done;
      expect(r.signal, r.stderr).toBe('SIGKILL');
      await continueAndCompare(out);
    });
});

describe('a full disk (ENOSPC at byte N)', () => {
  for (const [kind, frac, message] of [
    ['metrics', 0.5, /^\S*metrics\.jsonl: cannot write step \d+'s metrics \(no space left on device\)$/],
    ['checkpoint', 0.7, /^checkpoint \S+\.safetensors: cannot write: ENOSPC: no space left on device/],
    ['other', 0.5, /^\S+: cannot write: no space left on the device \(disk full\)/],
  ] as const)
    it(`while writing ${kind}: one line naming the file, nothing torn, and the run continues bit-identically`, async () => {
      const out = join(tmp, `enospc-${kind}`);
      armWriteFault({ kind, atByte: Math.floor(frac * written[kind]), action: 'enospc' });
      quiet();
      const err = (await train(fresh(out)).catch((e: Error) => e)) as Error;
      vi.restoreAllMocks();
      armWriteFault();
      expect(err).toBeInstanceOf(Error);
      expect(err.message).toMatch(message);
      expect(err.message).not.toMatch(/\n/);
      expect(
        readdirSync(out).filter((f) => f.includes('.tmp-') || f === 'run.lock'),
        'a failed write cleans up after itself',
      ).toEqual([]);
      expectWhole(out, false);
      await continueAndCompare(out);
    });
});

describe('signals, a closed output and a second run', () => {
  it('SIGTERM saves a checkpoint and exits 143; meanwhile a second run into the folder is refused in one line', async () => {
    const out = join(tmp, 'sigterm');
    const c = child(out);
    // freeze the run once it has saved a checkpoint (SIGSTOP), so the checks below happen mid-run
    const t0 = Date.now();
    while (!existsSync(join(out, LATEST)) && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 10));
    c.kill('SIGSTOP');
    try {
      const second = (await train(resume(out)).catch((e: Error) => e)) as Error;
      expect(second.message).toMatch(new RegExp(`is in use by another matpac run \\(pid ${c.pid}, since [^)]+\\)`));
      await expect(train(fresh(out))).rejects.toThrow(/in use by another matpac run|already holds a run/);
    } finally {
      c.kill('SIGTERM');
      c.kill('SIGCONT');
    }
    const r = await c.done;
    expect(r.code, r.stderr).toBe(143);
    expect(r.stderr).toMatch(/^matpac: stopped \(SIGTERM\) at step \d+; checkpoint saved$/m);
    const stoppedAt = loadState<{ step: number }>(join(out, LATEST)).step;
    expect(stoppedAt).toBeLessThan(STEPS);
    expect(withoutTime(metricLines(out))).toHaveLength(stoppedAt);
    await continueAndCompare(out);
  });

  it('standard output closed early (EPIPE): the run still completes its checkpoint, equal to the reference, and exits quietly', async () => {
    const out = join(tmp, 'epipe');
    const r = await child(out, {}, 'ignore-stdout').done;
    expect(r.stderr).not.toMatch(/Error|at .*\.ts:\d+/);
    expect([0, 141]).toContain(r.code);
    expectWhole(out, false);
    expect(readFileSync(join(out, LATEST)).equals(readFileSync(join(ref, LATEST)))).toBe(true);
  });
});
