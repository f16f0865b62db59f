/**
 * Checkpoints (src/checkpoint/) and the training state (src/train-state.ts): exact round
 * trips, the safetensors layout as read by an independent reader, clear errors for damaged
 * files, crash safety of writes, and resume = uninterrupted.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import * as mp from '../src/index';
import type { Tensor } from '../src/core';
import {
  CheckpointError,
  loadSafetensors,
  loadState,
  readMetadata,
  saveSafetensors,
  saveState,
} from '../src/checkpoint/file';
import { emaStep } from '../src/ema';
import { adamw, chain, clipByGlobalNorm } from '../src/optim';
import { keyFromSeed, normalHost, permutationHost, split, type Key } from '../src/random';
import { linear, warmupCosine } from '../src/schedules';
import {
  applyGradients,
  createTrainState,
  runSteps,
  takeKey,
  type TrainState,
  type TrainStep,
} from '../src/train-state';

const REPO = resolve(__dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'matpac-ckpt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
const fresh = (ext = 'safetensors') => join(dir, `f${fileNo++}.${ext}`);

const randTensor = (key: Key, shape: number[]) =>
  mp.tensor(
    normalHost(
      key,
      shape.reduce((a, b) => a * b, 1),
    ),
    shape,
  );

/** Same structure, same non-tensor leaves, and every tensor bit-for-bit equal with the same shape. */
function expectIdentical(a: unknown, b: unknown, path = ''): void {
  if (a instanceof mp.Tensor || b instanceof mp.Tensor) {
    expect(b, path).toBeInstanceOf(mp.Tensor);
    expect(a, path).toBeInstanceOf(mp.Tensor);
    const [x, y] = [a as Tensor, b as Tensor];
    expect(y.shape, path).toEqual(x.shape);
    const [dx, dy] = [x.toArray(), y.toArray()];
    expect(dy.constructor, path).toBe(dx.constructor);
    expect(
      Buffer.from(dy.buffer, dy.byteOffset, dy.byteLength).equals(Buffer.from(dx.buffer, dx.byteOffset, dx.byteLength)),
      `${path} bits`,
    ).toBe(true);
    return;
  }
  if (Array.isArray(a)) {
    expect(Array.isArray(b), path).toBe(true);
    expect((b as unknown[]).length, path).toBe(a.length);
    a.forEach((x, i) => expectIdentical(x, (b as unknown[])[i], `${path}.${i}`));
    return;
  }
  if (typeof a === 'object' && a !== null) {
    expect(typeof b === 'object' && b !== null && !Array.isArray(b), path).toBe(true);
    expect(Object.keys(b as object).sort(), path).toEqual(Object.keys(a).sort());
    for (const k of Object.keys(a))
      expectIdentical((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
    return;
  }
  expect(Object.is(a, b), `${path}: ${String(a)} vs ${String(b)}`).toBe(true);
}

// ---------------------------------------------------------------------------------------------
// an independent minimal safetensors reader (the spec, nothing from src/checkpoint/)

function minimalRead(file: string): {
  header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  metadata: Record<string, string>;
  data: Record<string, number[]>;
} {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  const metadata = header.__metadata__ ?? {};
  delete header.__metadata__;
  const data: Record<string, number[]> = {};
  for (const [name, info] of Object.entries(header) as [
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] },
  ][]) {
    expect(info.dtype).toBe('F32');
    const [b, e] = info.data_offsets;
    const count = info.shape.reduce((x, y) => x * y, 1);
    expect(e - b).toBe(4 * count);
    data[name] = Array.from({ length: count }, (_, i) => buf.readFloatLE(8 + n + b + 4 * i));
  }
  return { header, metadata, data };
}

/** A file as PyTorch's safetensors would write it (no metadata of ours, F16 and I64 entries too). */
function foreignWrite(file: string): void {
  const f32 = Buffer.alloc(12);
  [1.5, -2, 3.25].forEach((v, i) => f32.writeFloatLE(v, 4 * i));
  const f16 = Buffer.from([0x00, 0x3c, 0x00, 0xc0]); // 1.0, −2.0
  const i64 = Buffer.alloc(8);
  i64.writeBigInt64LE(-7n);
  const header = JSON.stringify({
    __metadata__: { format: 'pt' },
    'patch_embed.proj.bias': { dtype: 'F32', shape: [3], data_offsets: [0, 12] },
    half: { dtype: 'F16', shape: [2], data_offsets: [12, 16] },
    'bn.num_batches_tracked': { dtype: 'I64', shape: [], data_offsets: [16, 24] },
  });
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  writeFileSync(file, Buffer.concat([len, Buffer.from(header), f32, f16, i64]));
}

// ---------------------------------------------------------------------------------------------

describe('safetensors files', () => {
  it('a file written here is parsed by an independent minimal reader', () => {
    const k = split(keyFromSeed(1), 3);
    const named = {
      'patch_embed.proj.weight': randTensor(k[0], [4, 1, 2, 2]),
      cls_token: randTensor(k[1], [1, 1, 4]),
      'norm.bias': randTensor(k[2], [4]),
      scalar: mp.scalar(2.5),
    };
    const file = fresh();
    saveSafetensors(file, named, { config: '{"depth":2}' });
    const { header, metadata, data } = minimalRead(file);
    expect(Object.keys(header).sort()).toEqual(Object.keys(named).sort());
    expect(metadata.config).toBe('{"depth":2}');
    for (const [name, t] of Object.entries(named)) {
      expect(header[name].shape).toEqual([...t.shape]);
      expect(data[name]).toEqual(Array.from(t.toArray()));
    }
    // the data starts 8-byte aligned, and the file is exactly header + data
    const n = Number(readFileSync(file).readBigUInt64LE(0));
    expect((8 + n) % 8).toBe(0);
    const last = Math.max(...Object.values(header).map((h) => h.data_offsets[1]));
    expect(statSync(file).size).toBe(8 + n + last);
    // and it loads back exactly
    const back = loadSafetensors(file);
    expectIdentical(named, back.tensors);
    expect(back.metadata.config).toBe('{"depth":2}');
  });

  it('reads files written elsewhere (F16, I64, no checksum)', () => {
    const file = fresh();
    foreignWrite(file);
    const { tensors, metadata } = loadSafetensors(file);
    expect(metadata).toEqual({ format: 'pt' });
    expect(tensors['patch_embed.proj.bias'].toNested()).toEqual([1.5, -2, 3.25]);
    expect(tensors.half.toNested()).toEqual([1, -2]);
    expect(tensors['bn.num_batches_tracked'].item()).toBe(-7);
  });
});

// random state trees with every kind of leaf
type Leaf = { t: number[] } | number | string | boolean | null | undefined;
type Node = Leaf | Node[] | { [k: string]: Node };
const leafArb: fc.Arbitrary<Node> = fc.oneof(
  fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }).map((t) => ({ t })),
  fc.double(),
  fc.integer(),
  fc.constantFrom(NaN, Infinity, -Infinity, -0, 0, 2 ** 32 - 1),
  fc.string(),
  fc.constantFrom('T:x', 'S:', 'N:NaN', 'U:'),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
);
const nodeArb = (depth: number): fc.Arbitrary<Node> =>
  depth === 0
    ? leafArb
    : fc.oneof(
        leafArb,
        fc.array(nodeArb(depth - 1), { maxLength: 3 }),
        fc.dictionary(fc.constantFrom('params', 'mu', 'count', 'w', 'b', 'x y', 'é'), nodeArb(depth - 1), {
          maxKeys: 3,
        }),
      );

function build(node: Node, key: Key): unknown {
  let k = key;
  const go = (n: Node): unknown => {
    if (
      n !== null &&
      typeof n === 'object' &&
      !Array.isArray(n) &&
      Array.isArray((n as { t?: unknown }).t) &&
      Object.keys(n).length === 1
    ) {
      const [a, b] = split(k);
      k = a;
      return randTensor(b, (n as { t: number[] }).t);
    }
    if (Array.isArray(n)) return n.map(go);
    if (n !== null && typeof n === 'object')
      return Object.fromEntries(Object.keys(n).map((x) => [x, go((n as Record<string, Node>)[x])]));
    return n;
  };
  return go(node);
}

describe('saveState / loadState', () => {
  it('round-trip is exact for random trees (tensors, NaN, ±∞, −0, strings, booleans, null, undefined), on native and ref64', () => {
    for (const backend of ['native', 'ref64']) {
      mp.withBackend(backend, () => {
        fc.assert(
          fc.property(nodeArb(3), fc.integer({ min: 0, max: 1e6 }), (node, seed) => {
            const state = build(node, keyFromSeed(seed));
            const file = fresh();
            saveState(file, state, { note: 'x' });
            const back = loadState(file, { backend });
            expectIdentical(state, back);
            // tensors are stored under their tree paths
            const names = Object.keys(loadSafetensors(file).tensors).sort();
            expect(names).toEqual(Object.keys(mp.toNamed(state)).sort());
            rmSync(file);
          }),
          { numRuns: 60, seed: 12 },
        );
      });
    }
  });

  it('names tensors by tree path; writes step, RNG key, versions and the caller metadata into __metadata__', () => {
    const state = {
      step: 3,
      key: [1, 2] as const,
      params: { blocks: [{ w: mp.ones([2, 2]) }] },
      optState: [{ count: 3, mu: { blocks: [{ w: mp.zeros([2, 2]) }] } }],
    };
    const file = fresh();
    saveState(file, state, { config: JSON.stringify({ depth: 1 }) });
    const { header, metadata } = minimalRead(file);
    expect(Object.keys(header).sort()).toEqual(['optState.0.mu.blocks.0.w', 'params.blocks.0.w']);
    expect(metadata.step).toBe('3');
    expect(metadata.rng_key).toBe('[1,2]');
    expect(JSON.parse(metadata.config)).toEqual({ depth: 1 });
    expect(metadata.format).toBe('matpac-ts.tree');
    expect(metadata.engine).toMatch(/^matpac-ts /);
    expect(JSON.parse(metadata.tree)).toEqual({
      key: [1, 2],
      optState: [{ count: 3, mu: { blocks: [{ w: 'T:optState.0.mu.blocks.0.w' }] } }],
      params: { blocks: [{ w: 'T:params.blocks.0.w' }] },
      step: 3,
    });
    expect(readMetadata(file)).toEqual(metadata);
    expect(loadState(file, { like: state })).toBeDefined();
  });

  it('refuses what it cannot store or restore faithfully', () => {
    const file = fresh();
    expect(() => saveState(file, { f: () => 1 })).toThrow(/cannot store the function at 'f'/);
    expect(() => saveState(file, { m: new Map() })).toThrow(/cannot store the Map at 'm'/);
    expect(() => saveState(file, { a: { b: mp.ones([1]) }, 'a.b': mp.ones([1]) })).toThrow(
      /two tensors are named 'a.b'/,
    );
    expect(() => saveState(file, {}, { tree: 'x' })).toThrow(/reserved/);
    expect(existsSync(file)).toBe(false);
    saveState(file, { w: mp.ones([2]) });
    expect(() => loadState(file, { like: { w: mp.ones([3]) } })).toThrow(/'w' has shape \[2\], expected \[3\]/);
    expect(() => loadState(file, { like: { v: mp.ones([2]) } })).toThrow(/tensor 'v' is missing/);
    const plain = fresh();
    saveSafetensors(plain, { w: mp.ones([2]) });
    expect(() => loadState(plain)).toThrow(/not a matpac-ts state checkpoint/);
  });
});

// ---------------------------------------------------------------------------------------------
// damaged files

describe('damaged files give one clear line naming the file', () => {
  const original = fresh();
  saveState(
    original,
    { step: 5, key: [3, 4], params: { w: mp.tensor([1, 2, 3, 4, 5, 6], [2, 3]), b: mp.tensor([0.5]) } },
    { config: '{}' },
  );
  const bytes = readFileSync(original);

  const expectClear = (file: string, re?: RegExp) => {
    let err: unknown;
    try {
      loadState(file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CheckpointError);
    const msg = (err as Error).message;
    expect(msg).toContain(file);
    expect(msg).not.toContain('\n');
    if (re) expect(msg).toMatch(re);
  };

  it('missing, empty, or cut anywhere', () => {
    expectClear(join(dir, 'does-not-exist.safetensors'), /cannot open/);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: bytes.length - 1 }), (cut) => {
        const file = fresh();
        writeFileSync(file, bytes.subarray(0, cut));
        expectClear(file, /truncated|not a safetensors|corrupted/);
      }),
      { numRuns: 60, seed: 13 },
    );
    const file = fresh();
    writeFileSync(file, bytes);
    truncateSync(file, bytes.length - 4);
    expectClear(file, /truncated: the tensors need 28 bytes of data, the file has 24/);
  });

  it('any single corrupted byte (header, metadata, padding or data) is caught', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), (pos, x) => {
        const file = fresh();
        const copy = Buffer.from(bytes);
        copy[pos] ^= x;
        writeFileSync(file, copy);
        expectClear(file);
      }),
      { numRuns: 150, seed: 14 },
    );
  });

  it('trailing garbage', () => {
    const file = fresh();
    writeFileSync(file, Buffer.concat([bytes, Buffer.from([1, 2, 3])]));
    expectClear(file, /3 unexpected bytes after the tensor data/);
  });
});

// ---------------------------------------------------------------------------------------------
// crash safety

describe('a crash while writing leaves the previous checkpoint loadable', () => {
  it('in process: an interruption between the temp write and the rename', () => {
    const file = fresh();
    saveState(file, { v: 1, w: mp.full([4], 1) });
    expect(() =>
      saveState(
        file,
        { v: 2, w: mp.full([4], 2) },
        {},
        {
          beforeRename: (tmp) => {
            expect(existsSync(tmp)).toBe(true);
            throw new Error('simulated crash');
          },
        },
      ),
    ).toThrow('simulated crash');
    const back = loadState<{ v: number; w: Tensor }>(file);
    expect(back.v).toBe(1);
    expect(back.w.toNested()).toEqual([1, 1, 1, 1]);
    expect(readdirSync(dir).filter((f) => f.startsWith(`${file.split('/').pop()}.tmp-`))).toEqual([]);
  });

  const childCode = (file: string, body: string) => `
    import * as mp from '${join(REPO, 'src/index.ts')}';
    import { saveState } from '${join(REPO, 'src/checkpoint/file.ts')}';
    const file = ${JSON.stringify(file)};
    ${body}
  `;
  const runChild = (code: string) =>
    spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });

  it('a child process SIGKILLed after its temp file is written and before the rename', () => {
    const file = fresh();
    saveState(file, { v: 1, w: mp.full([1000], 1) });
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        childCode(
          file,
          `saveState(file, { v: 2, w: mp.full([1000], 2) }, {}, { beforeRename: () => process.kill(process.pid, 'SIGKILL') });`,
        ),
      ],
      { cwd: REPO, encoding: 'utf8' },
    );
    expect(r.signal, r.stderr).toBe('SIGKILL');
    const back = loadState<{ v: number; w: Tensor }>(file);
    expect(back.v).toBe(1);
    expect(back.w.toArray().every((x) => x === 1)).toBe(true);
    // the orphaned temp file holds the complete new state; it is never read by loadState
    expect(readdirSync(dir).some((f) => f.startsWith(`${file.split('/').pop()}.tmp-`))).toBe(true);
  });

  it('a child process SIGKILLed at a random moment while saving repeatedly', async () => {
    const file = fresh();
    const child = runChild(
      childCode(
        file,
        `for (let v = 0; ; v++) { saveState(file, { v, w: mp.full([1 << 19], v) }); process.stdout.write(v + '\\n'); }`,
      ),
    );
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    await new Promise<void>((res, rej) => {
      child.stdout.on('data', (d) => {
        out += d;
        if (out.split('\n').length > 3) res();
      });
      child.on('exit', () => rej(new Error(`child exited early: ${err}`)));
    });
    await new Promise((r) => setTimeout(r, 20 + Math.random() * 200));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    const done = out.trim().split('\n').map(Number);
    const back = loadState<{ v: number; w: Tensor }>(file);
    // the last completed save, or the one in flight if its rename happened before the kill
    expect([done[done.length - 1], done[done.length - 1] + 1]).toContain(back.v);
    expect(back.w.toArray().every((x) => x === back.v)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// resume = uninterrupted

interface Mlp {
  l1: { weight: Tensor; bias: Tensor };
  l2: { weight: Tensor; bias: Tensor };
}
type State = TrainState<Mlp, Mlp, { center: Tensor }>;

describe('resume equals uninterrupted', () => {
  const [kData, kInit, kTeacher, kRun] = split(keyFromSeed(1337), 4);
  const N = 64;
  const X = randTensor(kData, [N, 4]);
  const Y = mp.tanh(mp.matmul(X, mp.tensor([1, -1, 0.5, 2, 0, 1, -0.5, 0.25], [4, 2])));
  const init = (k: Key): Mlp => {
    const [a, b, c, d] = split(k, 4);
    return {
      l1: { weight: mp.mul(randTensor(a, [8, 4]), 0.5), bias: mp.mul(randTensor(b, [8]), 0.1) },
      l2: { weight: mp.mul(randTensor(c, [2, 8]), 0.5), bias: mp.mul(randTensor(d, [2]), 0.1) },
    };
  };
  const forward = (p: Mlp, x: Tensor) =>
    mp.linear(mp.gelu(mp.linear(x, p.l1.weight, p.l1.bias)), p.l2.weight, p.l2.bias);
  const tx = chain(
    clipByGlobalNorm(1.0),
    adamw({
      learningRate: warmupCosine({ peakValue: 0.05, warmupSteps: 2, decaySteps: 6 }),
      b1: 0.9,
      b2: 0.95,
      eps: 1e-6,
      weightDecay: 0.05,
    }),
  );
  const momentum = linear(0.9, 0.99, 6);

  /** A MATPAC-shaped step: random minibatch from the state's key, EMA before the update, a centre, AdamW. */
  const trainStep: TrainStep<State, null> = (state) => {
    const [k, s1] = takeKey(state);
    const idx = Array.from(permutationHost(k, N).subarray(0, 16));
    const x = mp.gather(X, mp.tensor(idx, [16]), 0);
    const y = mp.gather(Y, mp.tensor(idx, [16]), 0);
    const teacher = emaStep(s1.teacher, s1.student, s1.step, momentum);
    const [loss, grads] = mp.valueAndGrad((p: Mlp) => mp.mean(mp.square(mp.sub(forward(p, x), y))))(s1.student);
    const center = mp.add(mp.mul(s1.center, 0.9), mp.mul(mp.mean(forward(teacher, x), 0), 0.1));
    const next = applyGradients({ ...s1, teacher, center }, grads, tx);
    return [next, { loss: loss.item() }];
  };
  const start = (): State =>
    createTrainState({
      student: init(kInit),
      teacher: init(kTeacher),
      tx,
      key: kRun,
      extra: { center: mp.zeros([2]) },
    });
  const batches = (n: number) => Array<null>(n).fill(null);

  it('6 steps straight = 3 steps, save, load, 3 steps (bit for bit, every leaf)', () => {
    const [straight, lossesA] = runSteps(trainStep, start(), batches(6));
    const [half, lossesB1] = runSteps(trainStep, start(), batches(3));
    const file = fresh();
    saveState(file, half, { config: '{"model":"mlp"}' });
    const resumed = loadState<State>(file, { like: start() });
    expectIdentical(half, resumed);
    const [end, lossesB2] = runSteps(trainStep, resumed, batches(3));
    expectIdentical(straight, end);
    expect([...lossesB1, ...lossesB2]).toEqual(lossesA);
    expect(end.step).toBe(6);
    expect(lossesA[5].loss).toBeLessThan(lossesA[0].loss);
  });
});
