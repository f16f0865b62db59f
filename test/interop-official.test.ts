/**
 * Official checkpoints as models: small random-weight models in the official key layout, saved by
 * torch.save, and their outputs from PyTorch — scripts/make_interop_fixtures.py made both (and
 * checked its reference model against the official `matpac_wrapper`); this test needs no Python.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as mp from '../src/index';
import { embedBatch } from '../models/embed';
import { decodeNpy } from '../src/audio/npy';
import { loadModel } from '../src/cli/model';
import { readTorchFile } from '../src/interop/torch-load';
import { encodeTorchSave } from '../src/interop/torch-save';

const DIR = join(__dirname, 'fixtures', 'interop');
const input = decodeNpy(new Uint8Array(readFileSync(join(DIR, 'input.npy'))));
const x = mp.tensor(input.data, [1, ...input.shape]);

interface Fixture {
  config: { dim: number; depth: number; heads: number; n_t: number };
  shapes: Record<string, number[]>;
  outputs: Record<'precise' | 'precise_layers' | 'fast' | 'fast_layers' | 'precise_frames', number[]>;
}
const fixture = (name: string): Fixture => JSON.parse(readFileSync(join(DIR, `${name}.json`), 'utf8'));

/** max |got − want| / max |want|. */
function relErr(got: ArrayLike<number>, want: number[]): number {
  expect(got.length).toBe(want.length);
  let d = 0;
  let m = 0;
  for (let i = 0; i < want.length; i++) {
    d = Math.max(d, Math.abs(got[i] - want[i]));
    m = Math.max(m, Math.abs(want[i]));
  }
  return d / m;
}

describe.each(['official-w32-d2', 'enconly-w32-d3'])('official-layout checkpoint %s', (name) => {
  const fx = fixture(name);
  it('infers the architecture and equals PyTorch in precise and fast modes, per layer and per frame', async () => {
    const model = await loadModel(join(DIR, `${name}.pt`), { heads: fx.config.heads });
    expect(model.config.encoder).toMatchObject({
      dim: fx.config.dim,
      depth: fx.config.depth,
      heads: fx.config.heads,
      mlpRatio: 4,
    });
    expect(model.config.cropFrames).toBe(fx.config.n_t);
    const c = model.config;
    const run = (opts: Parameters<typeof embedBatch>[3]) => embedBatch(model.student, x, c, opts).toArray();
    expect(relErr(run({}), fx.outputs.precise)).toBeLessThan(1e-4);
    expect(relErr(run({ layers: true }), fx.outputs.precise_layers)).toBeLessThan(1e-4);
    expect(relErr(run({ mode: 'fast' }), fx.outputs.fast)).toBeLessThan(1e-4);
    expect(relErr(run({ mode: 'fast', layers: true }), fx.outputs.fast_layers)).toBeLessThan(1e-4);
    const frames = embedBatch(model.student, x, c, { keepTime: true });
    expect(frames.shape).toEqual([1, ...fx.shapes.precise_frames]);
    expect(relErr(frames.toArray(), fx.outputs.precise_frames)).toBeLessThan(1e-4);
  });
});

describe('official checkpoints: what is refused', () => {
  it('needs the number of heads for a width no preset has', async () => {
    await expect(loadModel(join(DIR, 'official-w32-d2.pt'))).rejects.toThrow(/heads.*give --heads/);
  });

  it('missing encoder keys and a wrong pos_embed: one line each, naming them', async () => {
    const sd = readTorchFile(join(DIR, 'official-w32-d2.pt'));
    const kept = Object.fromEntries(
      Object.entries(sd.tensors).filter(([k]) => k !== 'cls_token' && !k.startsWith('student_encoder.blocks.1.mlp')),
    );
    const pos = kept.pos_embed;
    kept.pos_embed = { ...pos, data: pos.data.map((v, i) => (i === 40 ? v + 0.01 : v)) };
    const tree = Object.fromEntries(
      Object.entries(kept).map(([k, t]) => [k, { shape: t.shape, data: Float32Array.from(t.data) }]),
    );
    const dir = mkdtempSync(join(tmpdir(), 'matpac-official-'));
    try {
      writeFileSync(join(dir, 'bad.pt'), encodeTorchSave(tree));
      const err = await loadModel(join(dir, 'bad.pt'), { heads: 4 }).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      const lines = (err as Error).message.split('\n');
      expect(lines.every((l) => l.startsWith(join(dir, 'bad.pt') + ': '))).toBe(true);
      expect(lines.map((l) => l.slice(join(dir, 'bad.pt').length + 2))).toEqual([
        'student_encoder.blocks.1.mlp.fc1.weight: missing',
        'student_encoder.blocks.1.mlp.fc1.bias: missing',
        'student_encoder.blocks.1.mlp.fc2.weight: missing',
        'student_encoder.blocks.1.mlp.fc2.bias: missing',
        'cls_token: missing',
        'pos_embed: differs from the 2-D sin-cos table by 1.00e-2 (not a MATPAC/M2D table, or positions in another order)',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
