/**
 * Output files: written to a temporary file and renamed on success (src/io/atomic-file.ts), so an
 * existing file is never emptied by a failed run; a missing folder, a folder in the way, a full disk
 * and standard output closed early each give one line naming the file (EPIPE: nothing), never a stack.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import wavefile from 'wavefile';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PRESETS } from '../models/config';
import { initTrainState } from '../models/matpac';
import { saveState } from '../src/checkpoint/file';
import { main } from '../src/cli/main';
import { createAtomicFile, OutputError, writeFileAtomic } from '../src/io/atomic-file';
import { RUN, TSX } from './cli-process';

const tmp = mkdtempSync(join(tmpdir(), 'matpac-out-'));
let ckpt = '';
let audio = '';
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

beforeAll(() => {
  ckpt = join(tmp, 'micro.safetensors');
  saveState(ckpt, initTrainState(PRESETS.micro), { config: JSON.stringify(PRESETS.micro) });
  audio = join(tmp, 'audio');
  mkdirSync(audio);
  const wav = new wavefile.WaveFile();
  wav.fromScratch(
    1,
    16000,
    '16',
    Array.from({ length: 4000 }, (_, i) => Math.round(9000 * Math.sin(i / 7))),
  );
  for (let i = 0; i < 60; i++) writeFileSync(join(audio, `clip${String(i).padStart(2, '0')}.wav`), wav.toBuffer());
});

/** Run a shell line in which `matpac` is the command; stdout, stderr and status. */
function sh(line: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('bash', ['-c', `matpac() { "$NODE" --import "$TSX" "$RUN" "$@"; }; ${line}`], {
    cwd: tmp,
    encoding: 'utf8',
    env: { ...process.env, NODE: process.execPath, TSX, RUN, MATPAC_DEBUG: '' },
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Run the CLI in this process (no start-up cost); its exit status and what it wrote. */
async function matpac(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
  try {
    return { status: await main(args), stdout: out.join(''), stderr: err.join('') };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

const noStack = (stderr: string) => expect(stderr).not.toMatch(/^\s+at |node:internal|Error:/m);
const leftovers = (dir: string) => readdirSync(dir).filter((n) => n.includes('.tmp-'));

describe('writeFileAtomic / createAtomicFile', () => {
  it('replaces an existing file only on commit, and leaves no temporary file', () => {
    const path = join(tmp, 'a.txt');
    writeFileSync(path, 'old');
    const f = createAtomicFile(path);
    f.write('new ');
    f.write(new TextEncoder().encode('content'));
    expect(readFileSync(path, 'utf8')).toBe('old');
    f.commit();
    expect(readFileSync(path, 'utf8')).toBe('new content');
    const g = createAtomicFile(path);
    g.write('half');
    g.abort();
    g.abort();
    expect(readFileSync(path, 'utf8')).toBe('new content');
    expect(leftovers(tmp)).toEqual([]);
  });

  it('one line for a missing folder or a folder in the way, before anything is written', () => {
    const missing = join(tmp, 'no', 'such', 'dir', 'x.jsonl');
    expect(() => createAtomicFile(missing)).toThrow(OutputError);
    expect(() => createAtomicFile(missing)).toThrow(
      `${missing}: cannot write: the folder ${join(tmp, 'no', 'such', 'dir')} does not exist`,
    );
    expect(() => writeFileAtomic(tmp, 'x')).toThrow(`${tmp}: cannot write: it is a folder (give a file name)`);
  });

  it('writes through a symbolic link to the file it names, and straight into devices such as /dev/null', () => {
    const real = join(tmp, 'real.txt');
    const link = join(tmp, 'link.txt');
    writeFileSync(real, 'old');
    symlinkSync(real, link);
    writeFileAtomic(link, 'new');
    expect(readFileSync(real, 'utf8')).toBe('new');
    expect(readFileSync(link, 'utf8')).toBe('new');
    writeFileAtomic('/dev/null', 'discarded');
    expect(existsSync('/dev/null')).toBe(true);
  });
});

describe('matpac embed --out', () => {
  it('a run that embeds nothing leaves an existing file as it was (not emptied)', async () => {
    const out = join(tmp, 'keep.jsonl');
    writeFileSync(out, '{"file":"x","embedding":[1]}\n');
    writeFileSync(join(tmp, 'bad.wav'), 'not audio');
    const r = await matpac('embed', '--checkpoint', ckpt, '--out', out, join(tmp, 'bad.wav'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^matpac: no file could be embedded \(1 skipped\); .*keep\.jsonl was not written$/m);
    expect(readFileSync(out, 'utf8')).toBe('{"file":"x","embedding":[1]}\n');
    expect(leftovers(tmp)).toEqual([]);
  });

  it('writes the whole file on success', async () => {
    const r = await matpac(
      'embed',
      '--checkpoint',
      ckpt,
      '--out',
      join(tmp, 'ok.jsonl'),
      join(audio, 'clip00.wav'),
      join(audio, 'clip01.wav'),
    );
    expect(r.status).toBe(0);
    expect(readFileSync(join(tmp, 'ok.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
  });

  it.each([
    [
      'in a missing folder',
      'nowhere/e.jsonl',
      `nowhere/e.jsonl: cannot write: the folder ${join(tmp, 'nowhere')} does not exist`,
    ],
    ['that is a folder', 'audio', 'audio: cannot write: it is a folder (give a file name)'],
  ])('--out %s: one line naming the file', async (_, out, message) => {
    const r = await matpac('embed', '--checkpoint', ckpt, '--out', join(tmp, out), join(audio, 'clip00.wav'));
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toBe(`matpac: ${join(tmp, message)}`);
    noStack(r.stderr);
  });

  it('standard output closed early (| head): quiet, status 141', () => {
    const r = sh(
      `set -o pipefail; matpac embed --checkpoint micro.safetensors audio 2>err.txt | head -c 100 >/dev/null; echo "status $?"`,
    );
    expect(r.stdout.trim()).toBe('status 141');
    const err = readFileSync(join(tmp, 'err.txt'), 'utf8');
    expect(err).not.toMatch(/EPIPE/);
    noStack(err);
  });

  it('standard output on a full disk (> /dev/full): one line', () => {
    const r = sh(`matpac embed --checkpoint micro.safetensors audio/clip00.wav > /dev/full`);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^matpac: standard output: cannot write: no space left on the device \(disk full\)/m);
    noStack(r.stderr);
  });

  // a real full disk needs a small file system: a tmpfs, where this machine lets us mount one
  const full = join(tmp, 'full');
  mkdirSync(full);
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8k', 'tmpfs', full]).status === 0;
  afterAll(() => void (mounted && spawnSync('umount', [full])));
  it.skipIf(!mounted)('--out on a full disk: one line, the existing file kept, no temporary file left', () => {
    writeFileSync(join(full, 'e.jsonl'), 'previous\n');
    const r = sh(`matpac embed --checkpoint micro.safetensors --out full/e.jsonl audio`);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toBe(
      'matpac: full/e.jsonl: cannot write: no space left on the device (disk full); an existing file was left as it was',
    );
    noStack(r.stderr);
    expect(readFileSync(join(full, 'e.jsonl'), 'utf8')).toBe('previous\n');
    expect(leftovers(full)).toEqual([]);
  });
});

describe('matpac logmel --out', () => {
  it('a missing folder: one line', async () => {
    const r = await matpac('logmel', join(audio, 'clip00.wav'), '--out', join(tmp, 'nowhere/x.npy'));
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(
      `matpac: ${join(tmp, 'nowhere/x.npy')}: cannot write: the folder ${join(tmp, 'nowhere')} does not exist`,
    );
  });
});
