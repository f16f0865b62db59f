/**
 * Hostile inputs (issue 16): random bytes and mutated headers for WAV and FLAC, random config JSON,
 * and folder trees with random symbolic links (loops, escapes, FIFOs, dangling). Each case must end
 * within a time limit, in a result or in the module's one-line error — never another exception (a
 * stack trace for the user), and never more output than the input can hold (the allocation bound).
 * A folder walk lists each real file once and nothing outside the folder.
 */
import { execFileSync } from 'node:child_process';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import fc from 'fast-check';
import wavefile from 'wavefile';
import { afterAll, describe, expect, it } from 'vitest';
import { AudioError, decodeAudio } from '../src/audio/decode';
import { readAudio } from '../src/audio/read';
import { MAX_AUDIO_FRAMES } from '../src/audio/limits';
import { CliError } from '../src/cli/common';
import { resolveConfig } from '../src/cli/model';
import { listAudioFiles, type SkippedFile } from '../src/data/dataset';

const tmp = mkdtempSync(join(tmpdir(), 'matpac-hostile-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Each case's time limit. */
const CASE_MS = 2000;

async function withinLimit<T>(what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: still running after ${CASE_MS} ms`)), CASE_MS)),
  );
  try {
    return await Promise.race([work, limit]);
  } finally {
    clearTimeout(timer);
  }
}

// ── audio ────────────────────────────────────────────────────────────────────────────────────────

function wav(bits: string, channels: number, n: number): Uint8Array {
  const w = new wavefile.WaveFile();
  const ch = Array.from({ length: channels }, (_, c) =>
    Array.from({ length: n }, (_, i) => ((i * 37 + c * 11) % 200) - 100),
  );
  w.fromScratch(channels, 16000, bits, channels === 1 ? ch[0] : ch);
  return w.toBuffer();
}

/** A FLAC of VERBATIM 16-bit frames (STREAMINFO, then frames with their CRC-8 and CRC-16), small enough to mutate. */
function flac(n: number, blockSize = 256): Uint8Array {
  const crc8 = (b: number[]) =>
    b.reduce((c, x) => {
      c ^= x;
      for (let k = 0; k < 8; k++) c = c & 0x80 ? ((c << 1) ^ 0x07) & 0xff : (c << 1) & 0xff;
      return c;
    }, 0);
  const crc16 = (b: number[]) =>
    b.reduce((c, x) => {
      c ^= x << 8;
      for (let k = 0; k < 8; k++) c = c & 0x8000 ? ((c << 1) ^ 0x8005) & 0xffff : (c << 1) & 0xffff;
      return c;
    }, 0);
  const out = [0x66, 0x4c, 0x61, 0x43, 0x80, 0, 0, 34];
  const info = new Uint8Array(34);
  const v = new DataView(info.buffer);
  v.setUint16(0, blockSize);
  v.setUint16(2, blockSize);
  info[10] = (16000 >> 12) & 0xff;
  info[11] = (16000 >> 4) & 0xff;
  info[12] = ((16000 & 0x0f) << 4) | (15 >> 4);
  info[13] = (15 & 0x0f) << 4;
  v.setUint32(14, n);
  out.push(...info);
  for (let start = 0, frame = 0; start < n; start += blockSize, frame++) {
    const m = Math.min(blockSize, n - start);
    const header = [0xff, 0xf8, 0x7d, 0x08, frame, (m - 1) >> 8, (m - 1) & 0xff, 16000 >> 8, 16000 & 0xff];
    header.push(crc8(header));
    const body = [...header, 0x02];
    for (let i = 0; i < m; i++) {
      const s = (((start + i) * 97) % 6000) - 3000;
      body.push((s >> 8) & 0xff, s & 0xff);
    }
    const c = crc16(body);
    out.push(...body, c >> 8, c & 0xff);
  }
  return Uint8Array.from(out);
}

const mutations = (base: Uint8Array) =>
  fc.oneof(
    // flip up to 8 bytes, mostly in the header
    fc
      .array(fc.tuple(fc.nat({ max: Math.min(base.length - 1, 96) }), fc.nat({ max: 255 })), {
        minLength: 1,
        maxLength: 8,
      })
      .map((edits) => {
        const b = base.slice();
        for (const [i, x] of edits) b[i] = x;
        return b;
      }),
    // anywhere
    fc
      .array(fc.tuple(fc.nat({ max: base.length - 1 }), fc.nat({ max: 255 })), { minLength: 1, maxLength: 8 })
      .map((edits) => {
        const b = base.slice();
        for (const [i, x] of edits) b[i] = x;
        return b;
      }),
    // cut short
    fc.nat({ max: base.length }).map((n) => base.slice(0, n)),
    // a header field set to an extreme 32-bit value
    fc
      .tuple(fc.nat({ max: Math.min(base.length - 4, 60) }), fc.constantFrom(0, 1, 0x7fffffff, 0x80000000, 0xffffffff))
      .map(([at, x]) => {
        const b = base.slice();
        new DataView(b.buffer).setUint32(at, x, true);
        return b;
      }),
  );

/** Decode in memory and from a file; each either gives sound audio within the bound or one AudioError line. */
async function survives(bytes: Uint8Array, name: string): Promise<void> {
  const path = join(tmp, name);
  writeFileSync(path, bytes);
  for (const attempt of [
    () => decodeAudio(bytes, name),
    () => readAudio(path).then((r) => ({ channels: [r.samples], sampleRate: r.sampleRate })),
  ]) {
    try {
      const audio = await withinLimit(name, attempt());
      const frames = audio.channels[0].length;
      expect(audio.channels.every((c) => c.length === frames)).toBe(true);
      expect(frames).toBeGreaterThan(0);
      expect(frames).toBeLessThanOrEqual(MAX_AUDIO_FRAMES);
      for (const c of audio.channels)
        for (const x of c) if (!Number.isFinite(x)) throw new Error('non-finite sample passed');
    } catch (e) {
      if (!(e instanceof AudioError)) throw e;
      expect(e.message).not.toMatch(/\n/);
      expect(e.message.startsWith(`${e.file}: `)).toBe(true);
    }
  }
}

describe('audio decoding never throws anything but a one-line AudioError, never hangs', () => {
  it('random bytes, and random bytes behind a WAV or FLAC signature', async () => {
    const prefix = fc.constantFrom('', 'RIFF', 'RIFX', 'RF64', 'fLaC', 'ID3');
    await fc.assert(
      fc.asyncProperty(prefix, fc.uint8Array({ maxLength: 600 }), async (p, rest) => {
        const bytes = new Uint8Array([
          ...new TextEncoder().encode(p),
          ...(p.startsWith('R') ? [rest[0] ?? 0, 0, 0, 0, 0x57, 0x41, 0x56, 0x45] : []),
          ...rest,
        ]);
        await survives(bytes, 'random.wav');
      }),
      { numRuns: 150 },
    );
  });

  it('mutated WAV files (8/16/24/32-bit, float, A-law, µ-law; mono and stereo)', async () => {
    const bases = [wav('16', 1, 300), wav('24', 2, 200), wav('8', 1, 100), wav('32f', 2, 64)];
    const alaw = new wavefile.WaveFile(wav('16', 1, 200));
    alaw.toALaw();
    bases.push(alaw.toBuffer());
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...bases.keys()).chain((i) => mutations(bases[i])),
        (bytes) => survives(bytes, 'mutated.wav'),
      ),
      { numRuns: 200 },
    );
  });

  it('mutated FLAC files', async () => {
    const base = flac(1000);
    await survives(base, 'base.flac');
    await fc.assert(
      fc.asyncProperty(mutations(base), (bytes) => survives(bytes, 'mutated.flac')),
      { numRuns: 150 },
    );
  });
});

// ── config JSON ──────────────────────────────────────────────────────────────────────────────────

describe('config files (--preset FILE.json) give a config or one line per problem', () => {
  const key = fc.constantFrom(
    'extends',
    'name',
    'nMels',
    'width',
    'depth',
    'optim',
    'lr',
    'totalSteps',
    'batchSize',
    'cls',
    'ema',
    'loss',
    '__proto__',
    'constructor',
    'toString',
    'hasOwnProperty',
    '',
  );
  const value = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.constantFrom('micro', 'tiny', 'base', 1e308, -1, 0, 0.5, 1e9, 2 ** 31, Number.MAX_SAFE_INTEGER + 2),
  );
  const doc = fc.oneof(
    fc.dictionary(key, value, { maxKeys: 6 }).map((o) => JSON.stringify(o)),
    fc
      .dictionary(key, fc.dictionary(key, value, { maxKeys: 3 }), { maxKeys: 3 })
      .map((o) => JSON.stringify({ extends: 'micro', ...o })),
    fc.jsonValue().map((v) => JSON.stringify(v)),
    fc.string({ maxLength: 80 }),
  );
  it('prototype keys are unknown fields, not paths into Object.prototype', () => {
    const path = join(tmp, 'proto.json');
    for (const [text, problem] of [
      ['{"extends":"micro","__proto__":{"polluted":1}}', '__proto__: unknown field'],
      ['{"extends":"micro","optim":{"__proto__":{"x":1}}}', 'optim.__proto__: unknown field'],
      ['{"constructor":{"a":1}}', 'constructor: unknown field'],
      ['{"toString":1}', 'toString: unknown field'],
    ]) {
      writeFileSync(path, text);
      expect(() => resolveConfig(path)).toThrow(`config ${path}: ${problem} (known here: `);
    }
  });

  it('random and half-valid JSON, including prototype keys', () => {
    const path = join(tmp, 'config.json');
    fc.assert(
      fc.property(doc, (text) => {
        writeFileSync(path, text);
        const before = Object.getOwnPropertyNames(Object.prototype).length;
        try {
          const config = resolveConfig(path);
          expect(typeof config.nMels).toBe('number');
        } catch (e) {
          if (!(e instanceof CliError)) throw e;
          for (const line of e.message.split('\n')) expect(line.length).toBeGreaterThan(0);
        }
        expect(Object.getOwnPropertyNames(Object.prototype).length).toBe(before); // nothing leaked into every object
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });
});

// ── folder trees with random symbolic links ─────────────────────────────────────────────────────

type Node =
  | { kind: 'dir' }
  | { kind: 'file' }
  | { kind: 'fifo' }
  | { kind: 'link'; target: number | 'up' | 'root' | 'outside' | 'missing' | 'self' };

const treeArb = fc.array(
  fc.record({
    parent: fc.nat(),
    node: fc.oneof(
      { weight: 3, arbitrary: fc.constant<Node>({ kind: 'dir' }) },
      { weight: 4, arbitrary: fc.constant<Node>({ kind: 'file' }) },
      { weight: 1, arbitrary: fc.constant<Node>({ kind: 'fifo' }) },
      {
        weight: 4,
        arbitrary: fc
          .oneof(
            fc.nat().map((t) => t),
            fc.constantFrom('up', 'root', 'outside', 'missing', 'self'),
          )
          .map<Node>((target) => ({ kind: 'link', target: target as never })),
      },
    ),
  }),
  { maxLength: 14 },
);

let treeCount = 0;

/** Lay out the tree under a fresh root; returns the root and the real paths of its regular audio files. */
function build(spec: { parent: number; node: Node }[]): { root: string; real: Set<string> } {
  const base = join(tmp, `tree${treeCount++}`);
  const root = join(base, 'data');
  const outside = join(base, 'outside');
  mkdirSync(root, { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, 'o.wav'), 'x');
  writeFileSync(join(base, 'beside.wav'), 'x');
  const dirs = [root];
  const paths: string[] = [];
  spec.forEach(({ parent, node }, i) => {
    const at = dirs[parent % dirs.length];
    const name =
      node.kind === 'dir'
        ? `d${i}`
        : node.kind === 'link' && typeof node.target === 'number' && node.target % 2
          ? `l${i}`
          : `n${i}.wav`;
    const path = join(at, name);
    paths.push(path);
    if (node.kind === 'dir') {
      mkdirSync(path);
      dirs.push(path);
    } else if (node.kind === 'file') writeFileSync(path, 'x');
    else if (node.kind === 'fifo') execFileSync('mkfifo', [path]);
    else {
      const t = node.target;
      const target =
        t === 'up'
          ? '..'
          : t === 'root'
            ? root
            : t === 'outside'
              ? outside
              : t === 'missing'
                ? join(root, 'gone')
                : t === 'self'
                  ? path
                  : paths.length > 1
                    ? paths[t % (paths.length - 1)]
                    : root;
      symlinkSync(target, path);
    }
  });
  const real = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile() && entry.name.endsWith('.wav')) real.add(p);
    }
  };
  walk(root);
  return { root, real };
}

describe('folder walks over random trees of folders, files, FIFOs and symbolic links', () => {
  it('end within the limit; list each real file once, every regular file inside, nothing outside, no FIFO', async () => {
    await fc.assert(
      fc.asyncProperty(treeArb, async (spec) => {
        const { root, real } = build(spec);
        const skipped: SkippedFile[] = [];
        const files = await withinLimit('walk', listAudioFiles(root, { onSkip: (s) => skipped.push(s) }));
        const ids = files.map((f) => {
          const st = statSync(f);
          expect(st.isFile()).toBe(true);
          return `${st.dev}:${st.ino}`;
        });
        expect(new Set(ids).size).toBe(ids.length); // each real file once
        const rootReal = realpathSync(root);
        for (const f of files) expect(relative(rootReal, realpathSync(f)).startsWith('..' + sep)).toBe(false); // nothing outside
        const listedReal = new Set(files.map((f) => realpathSync(f)));
        for (const r of real) expect(listedReal.has(realpathSync(r))).toBe(true); // every regular file inside is found
        for (const s of skipped) expect(s.reason).not.toMatch(/\n/);
        // FIFOs are reported, never listed
        for (const f of files) expect(lstatSync(f).isFIFO()).toBe(false);
      }),
      { numRuns: 40 },
    );
  });
});
