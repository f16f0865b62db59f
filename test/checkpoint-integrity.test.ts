/**
 * Checkpoint integrity (issue 16, item 7) and hostile inputs: a file matpac-ts wrote must carry its
 * checksum and F32/F64 tensors; step and key are validated (tree and metadata copies agree); a
 * stored config that disagrees with the tensors is refused. Fast-check properties: random bytes and
 * mutated headers of safetensors files, and random metrics lines, never give anything but a
 * one-line CheckpointError / a reason string — no other exception, no hang, no allocation beyond
 * the file's size.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { preset } from '../models/config';
import { initTrainState } from '../models/matpac';
import { CheckpointError, decodeSafetensors, decodeState } from '../src/checkpoint/codec';
import { loadSafetensors, loadState, saveState } from '../src/checkpoint/file';
import { parseMetricsLine } from '../src/cli/metrics-log';
import { loadTrainState } from '../src/cli/model';
import * as mp from '../src/index';

const dir = mkdtempSync(join(tmpdir(), 'matpac-integrity-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const CHECKSUM = 'matpac_ts_sha256';

type Header = Record<string, unknown> & { __metadata__: Record<string, string> };

/** Split a safetensors file into its header object and data bytes. */
function split(bytes: Buffer): { header: Header; data: Buffer } {
  const n = Number(bytes.readBigUInt64LE(0));
  return { header: JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')), data: bytes.subarray(8 + n) };
}

/** Re-assemble a file from a (changed) header and data, with a correct checksum unless `checksum: false` (then none). */
function join8(header: Header, data: Buffer, opts: { checksum?: boolean } = {}): Buffer {
  const h = structuredClone(header);
  delete h.__metadata__[CHECKSUM];
  const encode = (obj: unknown) => {
    let json = JSON.stringify(obj);
    json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
    return Buffer.concat([len, Buffer.from(json)]);
  };
  if (opts.checksum === false) return Buffer.concat([encode(h), data]);
  // the checksum covers the header with a placeholder in its place, then the data (src/checkpoint/codec.ts)
  const placeholder = { ...h, __metadata__: { ...h.__metadata__, [CHECKSUM]: '0'.repeat(64) } };
  const withPlaceholder = encode(placeholder);
  const digest = createHash('sha256').update(withPlaceholder.subarray(8)).update(data).digest('hex');
  return Buffer.concat([encode({ ...h, __metadata__: { ...h.__metadata__, [CHECKSUM]: digest } }), data]);
}

const config = preset('micro');
const good = join(dir, 'good.safetensors');
saveState(good, initTrainState(config), { config: JSON.stringify(config) });
const goodBytes = readFileSync(good);

function variant(name: string, mutate: (h: Header) => void, opts: { checksum?: boolean } = {}): string {
  const { header, data } = split(goodBytes);
  mutate(header);
  const file = join(dir, `${name}.safetensors`);
  writeFileSync(file, join8(header, data, opts));
  return file;
}

describe('files matpac-ts wrote', () => {
  it('the re-assembling helper is faithful (an unchanged header loads)', () => {
    expect(loadTrainState(variant('same', () => {})).step).toBe(0);
  });

  it('a file without its checksum is refused (a flipped bit would load silently)', () => {
    const file = variant('no-checksum', () => {}, { checksum: false });
    expect(() => loadState(file)).toThrow(
      /no-checksum\.safetensors: corrupted or edited: no matpac_ts_sha256 checksum/,
    );
    const flipped = Buffer.from(readFileSync(file));
    flipped[flipped.length - 3] ^= 4;
    writeFileSync(file, flipped);
    expect(() => loadState(file)).toThrow(CheckpointError);
  });

  it('files written elsewhere need no checksum', () => {
    const t = mp.tensor([1, 2, 3], [3]);
    const pt = Buffer.concat([
      Buffer.alloc(8),
      Buffer.from('{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}'),
      Buffer.from(new Float32Array(t.toArray()).buffer),
    ]);
    pt.writeBigUInt64LE(BigInt(pt.length - 8 - 12));
    const file = join(dir, 'pt.safetensors');
    writeFileSync(file, pt);
    expect(loadSafetensors(file).tensors.w.toNested()).toEqual([1, 2, 3]);
  });

  it('a tensor relabelled I32 is refused, even with a recomputed checksum', () => {
    const file = variant('i32', (h) => {
      (h['student.cls_token'] as { dtype: string }).dtype = 'I32';
    });
    expect(() => loadState(file)).toThrow(
      /i32\.safetensors: corrupted or edited: tensor 'student\.cls_token' is labelled I32, but matpac-ts writes F32 and F64 only/,
    );
  });

  for (const [what, step] of [
    ['NaN', 'NaN'],
    ['a string', 'five'],
    ['negative', '-1'],
    ['fractional', '1.5'],
  ])
    it(`metadata step ${what} is refused`, () => {
      const file = variant(`step-${what}`, (h) => void (h.__metadata__.step = step));
      expect(() => loadState(file)).toThrow(
        /corrupted or edited: __metadata__\.step is .*, not a non-negative integer/,
      );
    });

  it('a tree step that is NaN, a string or disagrees with the metadata copy is refused', () => {
    const tree = (step: string) => (h: Header) =>
      void (h.__metadata__.tree = h.__metadata__.tree.replace(/"step":0/, `"step":${step}`));
    expect(() => loadState(variant('tree-nan', tree('"N:NaN"'), {}))).toThrow(
      /the state's step is NaN|__metadata__\.step/,
    );
    expect(() => loadState(variant('tree-str', tree('"S:7"')))).toThrow(
      /the state's step is "7", not a non-negative integer/,
    );
    expect(() => loadState(variant('tree-7', tree('7')))).toThrow(
      /__metadata__\.step 0 differs from the state's step 7/,
    );
  });

  it('a step beyond the run length is refused', () => {
    const file = variant('beyond', (h) => {
      h.__metadata__.step = '99';
      h.__metadata__.tree = h.__metadata__.tree.replace(/"step":0/, '"step":99');
    });
    expect(() => loadTrainState(file)).toThrow(/holds step 99, beyond its run's 30 steps/);
  });

  it('a stored config edited to disagree with the tensor shapes is refused', () => {
    const file = variant(
      'wide',
      (h) => void (h.__metadata__.config = JSON.stringify({ ...config, encoder: { ...config.encoder, dim: 16 } })),
    );
    expect(() => loadTrainState(file)).toThrow(/does not match the expected structure: '.*' has shape/);
  });

  it('an edited stored config without a matching checksum is refused (nMels shapes no tensor: the checksum guards it)', () => {
    const { header, data } = split(goodBytes);
    header.__metadata__.config = JSON.stringify({ ...config, nMels: 64 });
    // keep the old checksum: the header changed under it
    let json = JSON.stringify(header);
    json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
    const file = join(dir, 'nmels.safetensors');
    writeFileSync(file, Buffer.concat([len, Buffer.from(json), data]));
    expect(() => loadTrainState(file)).toThrow(/corrupted: the contents do not match their checksum/);
  });
});

describe('hostile bytes (fast-check)', () => {
  /** Decoding finishes quickly and either succeeds or throws a one-line CheckpointError. */
  const decodesSafely = (bytes: Uint8Array) => {
    const t0 = performance.now();
    const before = process.memoryUsage().arrayBuffers;
    try {
      decodeState(bytes, { name: 'x.safetensors', backend: 'ref64' });
    } catch (e) {
      if (!(e instanceof CheckpointError)) throw e;
      expect(e.message).not.toMatch(/\n/);
      expect(e.message.length).toBeLessThan(600);
    }
    try {
      decodeSafetensors(bytes, { name: 'x.safetensors', backend: 'ref64' });
    } catch (e) {
      if (!(e instanceof CheckpointError)) throw e;
    }
    expect(performance.now() - t0).toBeLessThan(2000);
    // nothing allocated beyond a few times the input (tensors decode as float64: ≤ 8× the bytes)
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * bytes.length + 4e6);
  };

  it('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), decodesSafely), { numRuns: 300 });
  });

  it('a real checkpoint with random bytes overwritten, or cut short', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(goodBytes.length - 1), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 8,
        }),
        fc.nat(goodBytes.length),
        (edits, cut) => {
          const b = Uint8Array.from(goodBytes);
          for (const [at, v] of edits) b[at] = v;
          decodesSafely(b);
          decodesSafely(goodBytes.subarray(0, cut));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('mutated headers (huge shapes and offsets, wrong types, hostile metadata), with valid checksums', () => {
    const { header, data } = split(goodBytes);
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    const value = fc.oneof(
      fc.constantFrom(
        -1,
        0,
        1,
        2 ** 53,
        1e308,
        Number.NaN,
        null,
        'F32',
        'I64',
        'BOOL',
        [],
        [2 ** 40, 2 ** 40],
        [0, 1e15],
        {},
        '1e9',
      ),
      fc.array(fc.integer({ min: -5, max: 2 ** 31 }), { maxLength: 4 }),
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...names),
        fc.constantFrom('dtype', 'shape', 'data_offsets'),
        value,
        fc.constantFrom('step', 'rng_key', 'tree', 'format_version', 'config'),
        fc.string({ maxLength: 40 }),
        (name, field, v, metaKey, metaValue) => {
          const h = structuredClone(header);
          (h[name] as Record<string, unknown>)[field] = v;
          decodesSafely(join8(h, data));
          const m = structuredClone(header);
          m.__metadata__[metaKey] = metaValue;
          decodesSafely(join8(m, data));
        },
      ),
      { numRuns: 80 },
    );
  });
});

describe('hostile metrics lines (fast-check)', () => {
  it('every string is a row or a short reason, never an exception', () => {
    const line = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.json({ maxDepth: 3 }),
      fc
        .record({
          step: fc.oneof(fc.integer(), fc.double(), fc.string()),
          loss: fc.oneof(fc.double(), fc.string(), fc.constant(null)),
          run: fc.oneof(fc.string(), fc.integer()),
        })
        .map((r) => JSON.stringify(r)),
    );
    fc.assert(
      fc.property(line, (l) => {
        const r = parseMetricsLine(l);
        if (typeof r === 'string') expect(r.length).toBeLessThan(200);
        else {
          expect(Number.isSafeInteger(r.step) && r.step >= 0).toBe(true);
          const isNum = (v: unknown) => v === null || typeof v === 'number';
          for (const [k, v] of Object.entries(r))
            if (k !== 'run') expect(isNum(v) || (Array.isArray(v) && v.every(isNum))).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});
