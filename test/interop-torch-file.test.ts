/**
 * Reading PyTorch files safely: every construct a state dict uses (fixture written by torch.save,
 * scripts/make_interop_fixtures.py), and hostile files — unknown globals, oversized lengths,
 * truncated zips, short storages, negative strides, random damage — each refused with one line,
 * never a crash of another kind, a hang or a huge allocation.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeTorchSave } from '../src/interop/torch-save';
import { parseTorchFile, TorchFileError } from '../src/interop/torch-load';
import { PickleError, unpickle } from '../src/interop/unpickle';
import { readZip, writeZip, ZipError } from '../src/interop/zip';

const DIR = join(__dirname, 'fixtures', 'interop');
const file = (name: string) => new Uint8Array(readFileSync(join(DIR, name)));

/** A .pt whose data.pkl is `pkl` (and whose storages are `storages`). */
const ptWith = (pkl: Uint8Array, storages: Record<string, Uint8Array> = {}) =>
  writeZip([
    { name: 'archive/data.pkl', data: pkl },
    ...Object.entries(storages).map(([k, data]) => ({ name: `archive/data/${k}`, data })),
    { name: 'archive/version', data: new TextEncoder().encode('3\n') },
  ]);

const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0));
const u32 = (v: number) => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];
const str = (s: string) => [0x58, ...u32(s.length), ...ascii(s)];
const int = (v: number) => [0x4a, ...u32(v)];
const pickle = (...ops: number[][]) => Uint8Array.from([0x80, 2, ...ops.flat(), 0x2e]);
const global = (m: string, n: string) => [0x63, ...ascii(`${m}\n${n}\n`)];

/** {'w': tensor} with the given storage numel, shape, stride and offset over a FloatStorage. */
function tensorPickle(numel: number, shape: number[], stride: number[], offset = 0): Uint8Array {
  return pickle(
    [0x7d, 0x28], // EMPTY_DICT MARK
    str('w'),
    global('torch._utils', '_rebuild_tensor_v2'),
    [0x28, 0x28],
    str('storage'),
    global('torch', 'FloatStorage'),
    str('0'),
    str('cpu'),
    int(numel),
    [0x74, 0x51], // TUPLE BINPERSID
    int(offset),
    [0x28, ...shape.flatMap(int), 0x74],
    [0x28, ...stride.flatMap(int), 0x74],
    [0x89, ...global('collections', 'OrderedDict'), 0x29, 0x52, 0x74, 0x52, 0x75],
  );
}

/** The one-line refusal of `bytes`, or undefined if it parsed. Anything but a TorchFileError fails the test. */
function refusal(bytes: Uint8Array): string | undefined {
  try {
    const sd = parseTorchFile(bytes, 'x.pt');
    for (const t of Object.values(sd.tensors)) expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1)); // gathered on use
    return undefined;
  } catch (e) {
    if (!(e instanceof TorchFileError)) throw e;
    expect(e.message).not.toMatch(/\n/);
    expect(e.message.startsWith('x.pt: ')).toBe(true);
    return e.message;
  }
}

describe('reading torch.save files', () => {
  it('reads every construct of a state dict: OrderedDict, Parameter, f16/bf16/f64/i64, strides, offsets, shared storages', () => {
    const sd = parseTorchFile(file('constructs.pt'), 'constructs.pt');
    const want = JSON.parse(readFileSync(join(DIR, 'constructs.json'), 'utf8')) as Record<
      string,
      { shape: number[]; values: number[] }
    >;
    expect(Object.keys(sd.tensors).sort()).toEqual(Object.keys(want).sort());
    for (const [k, w] of Object.entries(want)) {
      expect(sd.tensors[k].shape, k).toEqual(w.shape);
      const got = Array.from(sd.tensors[k].data);
      // values compared in the file's own precision (f16/bf16/f32 read exactly into float32)
      expect(
        got.map((v) => Math.fround(v)),
        k,
      ).toEqual(w.values.map((v) => Math.fround(v)));
    }
    expect(sd.tensors.long.dtype).toBe('I64');
    expect(sd.tensors.long.data[1]).toBe(2 ** 40);
    expect(sd.other.sort()).toEqual([
      'other.big',
      'other.flag',
      'other.float',
      'other.int',
      'other.list',
      'other.neg',
      'other.none',
      'other.text',
      'other.tuple',
    ]);
  });

  it('unwraps {"model": state_dict}', () => {
    const sd = parseTorchFile(file('enconly-w32-d3.pt'), 'e.pt');
    expect(sd.nesting).toBe('model');
    expect(sd.tensors.pos_embed.shape).toEqual([1, 191, 32]);
  });

  it('round trip: what encodeTorchSave writes reads back bit for bit', () => {
    fc.assert(
      fc.property(
        fc.array(fc.float({ noNaN: false }), { minLength: 0, maxLength: 24 }),
        fc.integer({ min: 1, max: 4 }),
        (vals, rows) => {
          const n = Math.floor(vals.length / rows) * rows;
          const data = Float32Array.from(vals.slice(0, n));
          const sd = parseTorchFile(
            encodeTorchSave({
              a: { shape: [rows, n / rows], data },
              nest: { b: { shape: [], data: Float32Array.of(1) } },
            }),
            'r.pt',
          );
          expect(new Uint32Array(Float32Array.from(sd.tensors.a.data).buffer)).toEqual(new Uint32Array(data.buffer));
          expect(sd.tensors['nest.b'].shape).toEqual([]);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('a legacy (non-zip) file gets the conversion command', () => {
    expect(refusal(file('legacy.pt'))).toMatch(
      /^x\.pt: a legacy \(pre-1\.6, non-zip\) PyTorch file; convert it once with: python3 -c "import torch; torch\.save\(torch\.load\('x\.pt'.*weights_only=True\), 'x-zip\.pt'\)"$/,
    );
  });
});

describe('hostile files are refused with one line', () => {
  it("unknown globals: os.system, builtins.eval (GLOBAL and STACK_GLOBAL), a class of someone's code", () => {
    const call = (m: string, n: string) => pickle(global(m, n), str('echo pwned'), [0x85, 0x52]);
    expect(refusal(ptWith(call('os', 'system')))).toMatch(
      /^x\.pt: refused: the pickle calls os\.system, which is not part of a state dict/,
    );
    expect(refusal(ptWith(call('builtins', 'eval')))).toMatch(/calls builtins\.eval/);
    expect(refusal(ptWith(pickle(str('posix'), str('system'), [0x93])))).toMatch(/calls posix\.system/);
    expect(refusal(ptWith(pickle(global('__main__', 'Model'), [0x29, 0x81])))).toMatch(/calls __main__\.Model/);
    // a whitelisted constructor's state cannot be set on anything but a dict
    expect(refusal(ptWith(pickle(global('torch', 'FloatStorage'), [0x7d, 0x62])))).toMatch(
      /BUILD sets the state of torch\.FloatStorage/,
    );
  });

  it('oversized lengths and truncated pickles', () => {
    expect(refusal(ptWith(pickle([0x58, 0xff, 0xff, 0xff, 0xff, 0x41])))).toMatch(
      /truncated: a string of 4294967295 bytes/,
    );
    expect(refusal(ptWith(pickle([0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00])))).toMatch(
      /truncated: a string of 9007199254740991 bytes/,
    );
    expect(refusal(ptWith(pickle([0x8b, 0x00, 0x00, 0x00, 0x7f])))).toMatch(/truncated: a long integer/);
    expect(refusal(ptWith(pickle([0x8a, 0x09, 1, 2, 3, 4, 5, 6, 7, 8, 9])))).toMatch(
      /integer of 9 bytes is out of range/,
    );
    expect(refusal(ptWith(Uint8Array.of(0x80, 2, 0x7d)))).toMatch(/without STOP/);
    expect(refusal(ptWith(pickle([0x6a, ...u32(4e9)])))).toMatch(/memo entry 4000000000 is not defined/);
  });

  it('storages shorter than their shapes, negative strides, views past the storage', () => {
    const f32 = (n: number) => new Uint8Array(4 * n);
    expect(refusal(ptWith(tensorPickle(6, [2, 3], [3, 1]), { 0: f32(5) }))).toMatch(
      /tensor 'w': storage '0' holds 20 bytes, its 6 F32 elements need 24$/,
    );
    expect(refusal(ptWith(tensorPickle(6, [2, 3], [3, 1]), {}))).toMatch(
      /tensor 'w': storage record data\/0 is missing/,
    );
    expect(refusal(ptWith(tensorPickle(6, [2, 3], [-3, 1], 3), { 0: f32(6) }))).toMatch(/negative stride \[-3,1\]/);
    expect(refusal(ptWith(tensorPickle(6, [2, 3], [3, 1], 1), { 0: f32(6) }))).toMatch(
      /reaches element 6 of storage '0', which has 6/,
    );
    expect(refusal(ptWith(tensorPickle(1, [2 ** 30, 4], [0, 0]), { 0: f32(1) }))).toMatch(
      /exceeds 1073741824 elements|more elements than its storage/,
    );
    expect(refusal(ptWith(tensorPickle(1, [1000], [0]), { 0: f32(1) }))).toMatch(/more elements than its storage/);
    expect(refusal(ptWith(tensorPickle(6, Array(20).fill(1), Array(20).fill(1)), { 0: f32(6) }))).toMatch(
      /20 dimensions \(at most 16\)/,
    );
  });

  it('truncated zips: every cut of a real checkpoint is refused with one line', () => {
    const whole = file('constructs.pt');
    for (let cut = 0; cut < whole.length; cut += 7)
      expect(refusal(whole.subarray(0, cut)), `cut at ${cut}`).toBeDefined();
  });

  it('random damage to a real checkpoint: parsed or refused with one line, quickly (fast-check)', () => {
    const whole = file('constructs.pt');
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(whole.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        (edits) => {
          const bytes = whole.slice();
          for (const [at, v] of edits) bytes[at] = v;
          const t0 = performance.now();
          refusal(bytes);
          expect(performance.now() - t0).toBeLessThan(500);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('random pickles (opcode soup): parsed or refused with a PickleError, quickly (fast-check)', () => {
    const OPS = [
      0x80, 0x95, 0x2e, 0x28, 0x29, 0x5d, 0x7d, 0x4e, 0x88, 0x89, 0x4b, 0x4d, 0x4a, 0x8a, 0x8b, 0x47, 0x58, 0x8c, 0x8d,
      0x74, 0x85, 0x86, 0x87, 0x6c, 0x61, 0x65, 0x64, 0x73, 0x75, 0x63, 0x93, 0x52, 0x62, 0x51, 0x71, 0x72, 0x94, 0x68,
      0x6a, 0x30,
    ];
    const piece = fc.oneof(
      fc.constantFrom(...OPS).map((o) => [o]),
      fc.constantFrom(
        global('torch._utils', '_rebuild_tensor_v2'),
        global('collections', 'OrderedDict'),
        global('torch', 'FloatStorage'),
        str('storage'),
        str('0'),
        int(4),
      ),
      fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 9 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 60 }), (pieces) => {
        const bytes = Uint8Array.from([0x80, 2, ...pieces.flat()]);
        const t0 = performance.now();
        try {
          unpickle(bytes);
        } catch (e) {
          if (!(e instanceof PickleError)) throw e;
          expect(e.message).not.toMatch(/\n/);
        }
        expect(performance.now() - t0).toBeLessThan(200);
      }),
      { numRuns: 2000 },
    );
  });

  it('zip directories that lie: counts, offsets and sizes beyond the file', () => {
    const ok = ptWith(pickle([0x7d]));
    const dv = new DataView(ok.buffer);
    const eocd = ok.length - 22;
    const lie = (at: number, v: number, size: 2 | 4) => {
      const b = ok.slice();
      const d = new DataView(b.buffer);
      if (size === 2) d.setUint16(at, v, true);
      else d.setUint32(at, v, true);
      return b;
    };
    expect(() => readZip(lie(eocd + 10, 0xfffe, 2))).toThrow(ZipError);
    expect(() => readZip(lie(eocd + 12, 0xfffffff0, 4))).toThrow(/lies beyond the data/);
    expect(() => readZip(lie(eocd + 16, dv.getUint32(eocd + 16, true) + 1, 4))).toThrow(ZipError);
    const cd = dv.getUint32(eocd + 16, true);
    expect(() => readZip(lie(cd + 24, 0x7fffffff, 4))).toThrow(/declares/);
    expect(() => readZip(lie(cd + 10, 8, 2))).toThrow(/compressed \(method 8\)/);
    expect(refusal(Uint8Array.from([0x50, 0x4b, 0x03, 0x04]))).toMatch(/x\.pt: truncated/);
    expect(refusal(new TextEncoder().encode('{"a": 1}'))).toMatch(
      /not a PyTorch zip checkpoint \(first bytes: 7b 22 61/,
    );
  });
});
