/**
 * Folder walks on hostile trees: symbolic-link loops and escapes, FIFOs, dangling links, hard links,
 * unreadable folders. Each real file is listed once, nothing outside the data folder is followed unless
 * asked, nothing blocks, and everything left out is reported with a reason.
 */
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import wavefile from 'wavefile';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { runProbe } from '../src/cli/probe';
import { listAudioFiles, loadLogMelDataset, type SkippedFile } from '../src/data/dataset';
import { logMelStatsFeatures } from '../src/probe';

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  return { ...real, readdir: vi.fn(real.readdir) };
});

const base = mkdtempSync(join(tmpdir(), 'matpac-walk-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

function tone(freq: number): Uint8Array {
  const wav = new wavefile.WaveFile();
  wav.fromScratch(
    1,
    16000,
    '16',
    Array.from({ length: 8000 }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * freq * i) / 16000))),
  );
  return wav.toBuffer();
}

/** A fresh folder `name` under the test folder with two classes of two clips each. */
function classes(name: string): string {
  const root = join(base, name);
  for (const [cls, f] of [
    ['flute', 880],
    ['organ', 220],
  ] as const) {
    mkdirSync(join(root, cls), { recursive: true });
    writeFileSync(join(root, cls, 'a.wav'), tone(f));
    writeFileSync(join(root, cls, 'b.wav'), tone(f * 1.5));
  }
  return root;
}

async function walk(root: string, followLinks = false): Promise<{ files: string[]; skipped: SkippedFile[] }> {
  const skipped: SkippedFile[] = [];
  const files = await listAudioFiles(root, { followLinks, onSkip: (s) => skipped.push(s) });
  return {
    files: files.map((f) => f.slice(root.length + 1)),
    skipped: skipped.map((s) => ({ ...s, file: s.file.slice(root.length + 1) })),
  };
}

const REAL = ['flute/a.wav', 'flute/b.wav', 'organ/a.wav', 'organ/b.wav'];

describe('symbolic links', () => {
  it('two links to the folder itself (x -> .) end, each file once', { timeout: 10_000 }, async () => {
    const root = classes('loops');
    symlinkSync('.', join(root, 'x'));
    symlinkSync('.', join(root, 'flute', 'y'));
    const { files, skipped } = await walk(root);
    expect(files).toEqual(REAL);
    expect(skipped.map((s) => s.file).sort()).toEqual(['flute/y', 'x']);
    for (const s of skipped) expect(s.reason).toMatch(/^symbolic link to a folder already reached as /);
  });

  it(
    'a link up out of the data folder (up -> ..) is not followed: a probe sees the 4 real clips under their own classes',
    { timeout: 20_000 },
    async () => {
      const root = classes('up');
      symlinkSync('..', join(root, 'flute', 'up')); // back to the data folder: a loop
      symlinkSync('..', join(root, 'up')); // out of it, to a folder holding more audio
      const ds = await loadLogMelDataset(root);
      expect(ds.items.map((it) => [it.file.slice(root.length + 1), it.label])).toEqual(
        REAL.map((f) => [f, f.split('/')[0]]),
      );
      expect(ds.skipped.map((s) => [s.file.slice(root.length + 1), s.reason])).toEqual([
        ['flute/up', `symbolic link to a folder already reached as ${root}`],
        [
          'up',
          expect.stringMatching(/^symbolic link leads outside .* not followed \(--follow-links follows such links\)$/),
        ],
      ]);
    },
  );

  it('links out of the folder are followed only when asked, and still each real file once', async () => {
    const outside = classes('outside-target');
    const root = classes('escape');
    symlinkSync(join(outside, 'organ'), join(root, 'flute', 'more'));
    symlinkSync(join(outside, 'organ', 'a.wav'), join(root, 'flute', 'one.wav'));
    expect((await walk(root)).files).toEqual(REAL);
    const followed = await walk(root, true);
    expect(followed.files).toEqual([...REAL.slice(0, 2), 'flute/more/a.wav', 'flute/more/b.wav', ...REAL.slice(2)]);
    expect(followed.skipped.map((s) => [s.file, s.reason])).toEqual([
      ['flute/one.wav', `same file already reached as ${join(root, 'flute/more/a.wav')}`],
    ]);
  });

  it('a link inside the folder to another class does not move files between classes', async () => {
    const root = classes('cross');
    symlinkSync(join(root, 'organ'), join(root, 'flute', 'alias')); // sorts before the real organ/ folder
    symlinkSync(join(root, 'organ', 'a.wav'), join(root, 'flute', 'aa.wav'));
    const { files, skipped } = await walk(root);
    expect(files).toEqual(REAL);
    expect(skipped.map((s) => s.file).sort()).toEqual(['flute/aa.wav', 'flute/alias']);
  });

  it('dangling links and links that loop on themselves are reported, not fatal', async () => {
    const root = classes('dangling');
    symlinkSync(join(root, 'nowhere.wav'), join(root, 'flute', 'gone.wav'));
    symlinkSync('self.wav', join(root, 'organ', 'self.wav'));
    const { files, skipped } = await walk(root);
    expect(files).toEqual(REAL);
    expect(skipped).toEqual([
      { file: 'flute/gone.wav', reason: 'dangling symbolic link (its target does not exist)' },
      { file: 'organ/self.wav', reason: 'symbolic link loop' },
    ]);
  });

  it('a second (hard) link to a file is counted once', async () => {
    const root = classes('hard');
    linkSync(join(root, 'organ', 'a.wav'), join(root, 'organ', 'c.wav'));
    const { files, skipped } = await walk(root);
    expect(files).toEqual(REAL);
    expect(skipped.map((s) => s.file)).toEqual(['organ/c.wav']);
  });
});

describe('files that are not regular files', () => {
  it('a FIFO named .wav, and a link to it, are skipped without being opened', { timeout: 10_000 }, async () => {
    const root = classes('fifo');
    execFileSync('mkfifo', [join(root, 'flute', 'pipe.wav')]);
    symlinkSync(join(root, 'flute', 'pipe.wav'), join(root, 'organ', 'pipe.wav'));
    const ds = await loadLogMelDataset(root);
    expect(ds.items).toHaveLength(4);
    expect(ds.skipped.map((s) => [s.file.slice(root.length + 1), s.reason])).toEqual([
      ['flute/pipe.wav', 'a FIFO, not a regular file: not opened'],
      ['organ/pipe.wav', 'a FIFO, not a regular file: not opened'],
    ]);
  });
});

describe('unreadable folders', () => {
  it('a class folder that cannot be read is skipped with a message; the rest loads', async () => {
    const root = classes('locked');
    const readdir = vi.mocked(fsp.readdir);
    const original = readdir.getMockImplementation()!;
    // as root (CI) chmod cannot make a folder unreadable: fail its readdir the way a user's EACCES does
    readdir.mockImplementation(((path: string, ...rest: unknown[]) =>
      String(path).endsWith('organ')
        ? Promise.reject(Object.assign(new Error(`EACCES: permission denied, scandir '${path}'`), { code: 'EACCES' }))
        : (original as (...a: unknown[]) => unknown)(path, ...rest)) as typeof original);
    try {
      const ds = await loadLogMelDataset(root);
      expect(ds.items.map((it) => it.file.slice(root.length + 1))).toEqual(REAL.slice(0, 2));
      expect(ds.skipped).toEqual([
        { file: join(root, 'organ'), reason: 'cannot read folder (EACCES): skipped with everything in it' },
      ]);
    } finally {
      readdir.mockImplementation(original);
    }
  });
});

describe('file names', () => {
  it('a file whose name is not valid UTF-8 is reported as such (not as a missing file)', async () => {
    const root = classes('latin1');
    writeFileSync(
      Buffer.concat([Buffer.from(join(root, 'flute', 'caf')), Buffer.from([0xe9]), Buffer.from('.wav')]),
      tone(440),
    );
    const { files, skipped } = await walk(root);
    expect(files).toEqual(REAL);
    expect(skipped).toEqual([
      {
        file: 'flute/caf\uFFFD.wav',
        reason: 'the name is not valid UTF-8, so it cannot be opened by name (rename it)',
      },
    ]);
  });
});

describe('probe folders', () => {
  it('loose audio at the top and an unreadable class folder are reported, and the probe runs on the rest', async () => {
    const root = classes('probe');
    mkdirSync(join(root, 'bass'));
    writeFileSync(join(root, 'bass', 'a.wav'), tone(110));
    writeFileSync(join(root, 'bass', 'b.wav'), tone(165));
    writeFileSync(join(root, 'loose.wav'), tone(300));
    const readdir = vi.mocked(fsp.readdir);
    const original = readdir.getMockImplementation()!;
    readdir.mockImplementation(((path: string, ...rest: unknown[]) =>
      String(path).endsWith('bass')
        ? Promise.reject(Object.assign(new Error('EACCES'), { code: 'EACCES' }))
        : (original as (...a: unknown[]) => unknown)(path, ...rest)) as typeof original);
    const said: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s) => (said.push(String(s)), true));
    try {
      const report = await runProbe({ name: 'log-mel stats', features: logMelStatsFeatures }, root, 2, 0);
      expect(report.classes).toEqual(['flute', 'organ']);
      expect(report.clips).toBe(4);
    } finally {
      spy.mockRestore();
      readdir.mockImplementation(original);
    }
    const lines = said.join('').trim().split('\n');
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^matpac: skipped 1 of 6 files: .*bass \(cannot read folder \(EACCES\): skipped with everything in it\)$/,
      ),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^matpac: .*probe: 1 audio file at the top of the folder not used \(a probe reads one sub-folder per class\): .*loose\.wav$/,
      ),
    );
  });
});
