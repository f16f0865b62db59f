/**
 * End to end through the command as a process (src/cli/run.ts from the sources, with tsx; the
 * installed bin, which runs the same file compiled, is test/package.test.ts's), on the `micro` preset and a handful
 * of rendered clips: train, checkpoint, resume, embed, probe, logmel, trace, and the error paths.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MATPAC_ARGS } from './cli-process';
import { NonFiniteError, train } from '../src/cli/train';
import { ensurePretrainSet, ensureProbeSet } from '../src/data/render';

let tmp = '';
let data = '';
let probeData = '';
let run = '';

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Result {
  const r = spawnSync(process.execPath, [...MATPAC_ARGS, ...args], {
    cwd: tmp,
    encoding: 'utf8',
    env: { ...process.env, MATPAC_DATA_CACHE: join(tmp, 'cache'), MATPAC_DEBUG: '' },
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const lines = (s: string) => s.split('\n').filter((l) => l.trim());
const metrics = (dir: string) =>
  lines(readFileSync(join(dir, 'metrics.jsonl'), 'utf8')).map((l) => JSON.parse(l) as Record<string, number>);
const withoutTime = (rows: Record<string, number>[]) => rows.map(({ time: _, ...r }) => r);

/** A short micro run: 30 steps of 8 crops, numbered checkpoints every 10. */
const TRAIN = [
  'train',
  '--preset',
  'micro',
  '--steps',
  '30',
  '--batch',
  '8',
  '--seed',
  '1',
  '--checkpoint-every',
  '10',
];

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'matpac-cli-'));
  const cache = join(tmp, 'cache');
  const pool = await ensurePretrainSet({ clips: 8, durationSec: 1, cacheRoot: cache, quiet: true });
  data = join(tmp, 'data');
  cpSync(pool, data, { recursive: true });
  // a file that claims to be a WAV but is not one
  writeFileSync(
    join(data, 'corrupt.wav'),
    Buffer.concat([Buffer.from('RIFF\x24\x00\x00\x00WAVEfmt '), Buffer.alloc(7, 0xff)]),
  );
  probeData = await ensureProbeSet({
    clipsPerClass: 6,
    durationSec: 1,
    families: ['keyboard', 'bass', 'flute'],
    cacheRoot: cache,
    quiet: true,
  });
  run = join(tmp, 'run');
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('matpac train', () => {
  let result: Result;
  beforeAll(() => {
    result = cli(...TRAIN, '--data', data, '--out', run, '--probe-data', probeData, '--no-probe-suite');
  });

  it('exits 0 and ends by saying where the checkpoint, plots and probe result are', () => {
    expect(result.stderr).not.toMatch(/at .*\.ts:\d+/); // no stack trace
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^checkpoint: .*checkpoint-latest\.safetensors$/m);
    expect(result.stdout).toMatch(/^plots: .*loss\.svg.*input-mask\.png/m);
    expect(result.stdout).toMatch(/^probe: +accuracy \d+\.\d% ± \d+\.\d% over 5 folds/m);
    // the closing table: the probe set with the trained encoder, its initialisation and log-mel statistics
    expect(result.stdout).toMatch(
      /^probe set +classes +clips +micro step 30 \(%\) +untrained micro \(%\) +log-mel mean\+std \(%\)$/m,
    );
    expect(result.stdout).toMatch(
      new RegExp(`^${basename(probeData)} +3 +18 +(\\d+\\.\\d ± \\d+\\.\\d \\*? *){3}$`, 'm'),
    );
    expect(result.stdout).toMatch(
      /^micro step 30 beats untrained micro and log-mel mean\+std on [01] of 1 probe sets/m,
    );
  });

  it('skips the corrupt audio file with a message', () => {
    expect(result.stderr).toMatch(/skipped 1 of 9 files: .*corrupt\.wav/);
  });

  it('writes the run folder: config, checkpoints, metrics, plot, picture, probe', () => {
    for (const f of [
      'config.json',
      'run.json',
      'checkpoint-latest.safetensors',
      'checkpoint-000010.safetensors',
      'checkpoint-000020.safetensors',
      'checkpoint-000030.safetensors',
      'probe.json',
    ])
      expect(existsSync(join(run, f)), f).toBe(true);
    const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ name: 'micro', batchSize: 8, seed: 1, optim: { totalSteps: 30 } });
    const svg = readFileSync(join(run, 'loss.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<polyline/g)?.length).toBe(4); // L, L_pred, L_cls; and below them the teacher target perplexity
    expect(readFileSync(join(run, 'input-mask.png')).subarray(1, 4).toString()).toBe('PNG');
    const probe = JSON.parse(readFileSync(join(run, 'probe.json'), 'utf8'));
    expect(probe.classes).toEqual(['bass', 'flute', 'keyboard']);
    expect(probe.accuracy).toBeGreaterThanOrEqual(0);
    expect(probe.accuracy).toBeLessThanOrEqual(1);
  });

  it('logs every step with finite values, and the loss decreases', () => {
    const rows = metrics(run);
    expect(rows.map((r) => r.step)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    for (const r of rows)
      for (const k of ['loss', 'lPred', 'lCls', 'lr', 'emaMomentum', 'teacherTemp', 'gradNorm'])
        expect(Number.isFinite(r[k]), `${k} at step ${r.step}`).toBe(true);
    const mean = (rs: typeof rows) => rs.reduce((a, r) => a + r.loss, 0) / rs.length;
    expect(mean(rows.slice(-8))).toBeLessThan(0.8 * mean(rows.slice(0, 8)));
  });

  it('resumes bit-identically: stopped at step 13 and resumed equals uninterrupted', () => {
    const split = join(tmp, 'run-split');
    const first = cli(...TRAIN, '--data', data, '--out', split, '--no-probe', '--stop-at', '13');
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(
      /stopped as asked \(--stop-at\) at step 13 of 30; continue with: matpac train --resume/,
    );
    const second = cli('train', '--resume', '--out', split, '--no-probe');
    expect(second.stderr).toMatch(/resuming .* at step 13/);
    expect(second.status).toBe(0);
    expect(
      readFileSync(join(split, 'checkpoint-latest.safetensors')).equals(
        readFileSync(join(run, 'checkpoint-latest.safetensors')),
      ),
    ).toBe(true);
    expect(withoutTime(metrics(split))).toEqual(withoutTime(metrics(run)));
  });

  it('refuses to overwrite a run, and to change a run on --resume', () => {
    const again = cli(...TRAIN, '--data', data, '--out', run);
    expect(again.status).toBe(1);
    expect(lines(again.stderr)).toEqual([
      expect.stringMatching(/^matpac: .*already holds a run: continue it with --resume/),
    ]);
    const changed = cli('train', '--resume', '--out', run, '--batch', '4');
    expect(changed.status).toBe(1);
    expect(lines(changed.stderr)).toEqual([
      expect.stringMatching(/^matpac: --resume continues a run exactly as it was configured; drop --batch/),
    ]);
  });
});

describe('matpac embed and probe', () => {
  const ckpt = () => join(run, 'checkpoint-latest.safetensors');

  it('embed: one JSON line per readable file, the corrupt one skipped with a message', () => {
    const out = join(tmp, 'emb.jsonl');
    const r = cli('embed', '--checkpoint', ckpt(), '--out', out, data);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/skipped .*corrupt\.wav/);
    const rows = lines(readFileSync(out, 'utf8')).map((l) => JSON.parse(l) as { file: string; embedding: number[] });
    expect(rows).toHaveLength(8);
    const dim = rows[0].embedding.length;
    expect(dim).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row.file).toMatch(/\.wav$/);
      expect(row.embedding).toHaveLength(dim);
      expect(row.embedding.every(Number.isFinite)).toBe(true);
    }
  });

  it('embed to stdout', () => {
    const r = cli('embed', '--checkpoint', ckpt(), join(probeData, 'bass'));
    expect(r.status).toBe(0);
    expect(lines(r.stdout)).toHaveLength(6);
  });

  it('probe: accuracy ± std and a confusion matrix, for the checkpoint, random init and the log-mel baseline', () => {
    for (const extra of [
      ['--checkpoint', ckpt()],
      ['--checkpoint', ckpt(), '--random-init'],
      ['--baseline', 'logmel'],
    ]) {
      const r = cli('probe', ...extra, '--data', probeData, '--folds', '3');
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/accuracy \d+\.\d% ± \d+\.\d% over 3 folds \(chance 33\.3%\)/);
      const table = r.stdout.slice(r.stdout.indexOf('true \\ predicted'));
      expect(lines(table)).toHaveLength(4);
      // the confusion matrix counts every clip once
      const counts = lines(table)
        .slice(1)
        .flatMap((l) => l.trim().split(/\s+/).slice(1).map(Number));
      expect(counts.reduce((a, b) => a + b, 0)).toBe(18);
    }
  });
});

describe('matpac logmel, trace and bench', () => {
  it('bench --list names the benchmark files', () => {
    const r = cli('bench', '--list');
    expect(r.status).toBe(0);
    for (const l of lines(r.stdout)) expect(l).toMatch(/\.bench\.ts$/);
  });

  it('logmel writes a [80, T] .npy and a PNG', () => {
    const wav = join(
      probeData,
      'flute',
      lines(spawnSync('ls', [join(probeData, 'flute')], { encoding: 'utf8' }).stdout)[0],
    );
    const r = cli('logmel', wav, '--out', join(tmp, 'x.npy'), '--png', join(tmp, 'x.png'));
    expect(r.status).toBe(0);
    const npy = readFileSync(join(tmp, 'x.npy'));
    expect(npy.subarray(1, 6).toString()).toBe('NUMPY');
    expect(npy.toString('latin1', 10, 128)).toMatch(/'shape': \(80, 98\)/); // 1 s at 16 kHz: 1 + ⌊(16000 − 400)/160⌋ frames
    expect(readFileSync(join(tmp, 'x.png')).subarray(1, 4).toString()).toBe('PNG');
  });

  it('trace prints the graph of the loss and its gradient with counts', () => {
    const r = cli('trace', '--preset', 'micro', '--lines', '5');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ +\w+:f32\[[\d,]*\] = \w+/m);
    expect(r.stdout).toMatch(/^forward: +\d+ launches, \d+ distinct kernels, [\d.]+ [kMG]?FLOP/m);
    expect(r.stdout).toMatch(/^forward \+ backward: +\d+ launches/m);
  });
});

describe('errors: one line, non-zero exit, no stack trace', () => {
  const cases: [string, string[], RegExp, number][] = [
    ['unknown option', ['train', '--stpes', '3'], /^matpac: unknown option '--stpes' \(Did you mean --steps\?\)$/, 2],
    ['bad number', ['train', '--steps', '0'], /^matpac: option '--steps <n>' argument '0' is invalid/, 2],
    [
      'conflicting options',
      ['train', '--steps', '3', '--minutes', '1'],
      /^matpac: option '--steps <n>' cannot be used with option '--minutes <m>'$/,
      2,
    ],
    ['unknown command', ['frobnicate'], /^matpac: unknown command 'frobnicate'/, 2],
    ['missing required option', ['embed', 'a.wav'], /^matpac: required option '--checkpoint <file>' not specified$/, 2],
    ['unknown preset', ['train', '--preset', 'huge'], /^matpac: unknown preset 'huge'/, 1],
    [
      'unknown backend',
      ['trace', '--backend', 'quantum'],
      /^matpac: unknown backend 'quantum' \(available: native, ref64/,
      1,
    ],
    [
      'missing checkpoint',
      ['embed', '--checkpoint', 'nope.safetensors', 'a.wav'],
      /^matpac: nope\.safetensors: checkpoint not found$/,
      1,
    ],
    ['missing audio file', ['logmel', 'nope.wav', '--out', 'x.npy'], /^matpac: nope\.wav: audio file not found$/, 1],
    [
      'missing data folder',
      ['train', '--preset', 'micro', '--data', 'nowhere', '--out', 'r'],
      /^matpac: nowhere: no such folder$/,
      1,
    ],
    [
      'nothing to probe',
      ['probe', '--data', '.'],
      /^matpac: say what to probe: --checkpoint FILE, --random-init, or --baseline logmel$/,
      1,
    ],
  ];
  for (const [what, args, message, status] of cases) {
    it(what, () => {
      const r = cli(...args);
      expect(r.status).toBe(status);
      expect(lines(r.stderr)).toEqual([expect.stringMatching(message)]);
    });
  }

  it('unreadable audio: logmel names the file and the problem', () => {
    const r = cli('logmel', join(data, 'corrupt.wav'), '--out', join(tmp, 'c.npy'));
    expect(r.status).toBe(1);
    expect(lines(r.stderr)).toEqual([expect.stringMatching(/^matpac: .*corrupt\.wav: /)]);
  });

  it('a config file with problems: one line per problem, each naming its field', () => {
    const file = join(tmp, 'bad.json');
    writeFileSync(
      file,
      JSON.stringify({ extends: 'micro', encoder: { dim: 10, heads: 3 }, maskRatio: 1.5, learningRate: 1 }),
    );
    const r = cli('train', '--preset', file, '--data', data, '--out', join(tmp, 'bad-run'));
    expect(r.status).toBe(1);
    const errs = lines(r.stderr);
    expect(errs.every((l) => l.startsWith(`matpac: config ${file}: `))).toBe(true);
    const text = errs.join('\n');
    expect(text).toMatch(/learningRate: unknown field/);
    expect(text).toMatch(/encoder\.heads: dim 10 is not divisible by 3 heads/);
    expect(text).toMatch(/maskRatio: must be in \(0, 1\], got 1\.5/);
    expect(existsSync(join(tmp, 'bad-run'))).toBe(false);
  });

  it('--help works on every command', () => {
    for (const c of ['', 'train', 'embed', 'probe', 'logmel', 'trace', 'bench']) {
      const r = cli(...(c ? [c] : []), '--help');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^Usage: matpac/);
    }
  });
});

describe('NaN in a batch', () => {
  it('stops training at that step, naming the loss and the input batch', async () => {
    const out = join(tmp, 'run-nan');
    const poisoned = train(
      { preset: 'micro', steps: 10, batch: 4, data, out, backend: 'native', probe: false },
      { batch: (step, x) => step === 3 && (x[5] = NaN) },
    );
    await expect(poisoned).rejects.toThrow(NonFiniteError);
    await expect(poisoned).rejects.toThrow(
      /^training stopped at step 3: first non-finite tensor: loss = NaN .*the input batch holds 1 non-finite value \(clips: .*\.wav/,
    );
    // the last good state is kept
    expect(existsSync(join(out, 'checkpoint-latest.safetensors'))).toBe(true);
    expect(metrics(out)).toHaveLength(3);
  });
});
