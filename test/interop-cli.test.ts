/**
 * Weights both ways through the command line: `matpac export` (.safetensors, .pt, --full) and
 * import back bit for bit, `embed` on official-layout files, the embedding output formats
 * (.jsonl/.npz/.npy, --frames, --layers) — and, when python3 with torch/numpy is present, PyTorch
 * loading the export (scripts/check_export.py) and NumPy reading the outputs.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as mp from '../src/index';
import { preset } from '../models/config';
import { embedBatch } from '../models/embed';
import { exportStudentEncoder } from '../models/interop';
import { initTrainState } from '../models/matpac';
import { decodeNpy } from '../src/audio/npy';
import { loadSafetensors, saveState } from '../src/checkpoint/file';
import { main } from '../src/cli/main';
import { loadModel } from '../src/cli/model';
import { readTorchFile } from '../src/interop/torch-load';
import { readZip } from '../src/interop/zip';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin', 'matpac.mjs');
const FIX = join(ROOT, 'test', 'fixtures', 'interop');

let tmp = '';
let cwd = '';
/** The installed command in a child process (for what the user sees exactly: status, one-line errors). */
const spawnCli = (...args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args], {
    cwd: tmp,
    encoding: 'utf8',
    env: { ...process.env, MATPAC_DEBUG: '' },
    timeout: 120_000,
  });
/** The same command line run in this process (fast: no start-up), with stdout and stderr captured. */
async function cli(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const { write: ow } = process.stdout;
  const { write: ew } = process.stderr;
  process.stdout.write = ((s: string) => out.push(String(s)) > 0) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => err.push(String(s)) > 0) as typeof process.stderr.write;
  try {
    const status = await main(args);
    return { status, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
  }
}

/** A python3 that can import `mods`, or undefined (the tests that need it are skipped). */
function python(mods: string): string | undefined {
  for (const py of [process.env.PYTHON, 'python3', '/usr/bin/python3']) {
    if (py && spawnSync(py, ['-c', `import ${mods}`], { encoding: 'utf8' }).status === 0) return py;
  }
  return undefined;
}
const PY_TORCH = python('torch, numpy');
const PY_NUMPY = python('numpy');

/** A 16-bit PCM mono WAV of a few tones. */
function writeWav(path: string, seconds: number, seed: number): void {
  const sr = 16000;
  const n = Math.round(seconds * sr);
  const buf = Buffer.alloc(44 + 2 * n);
  buf.write('RIFF', 0);
  buf.writeUInt32LE(36 + 2 * n, 4);
  buf.write('WAVEfmt ', 8);
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20);
  buf.writeUInt16LE(1, 22);
  buf.writeUInt32LE(sr, 24);
  buf.writeUInt32LE(2 * sr, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36);
  buf.writeUInt32LE(2 * n, 40);
  for (let i = 0; i < n; i++) {
    const t = i / sr;
    const v = 0.3 * Math.sin(2 * Math.PI * (220 + 110 * seed) * t) + 0.2 * Math.sin(2 * Math.PI * 1375 * t * (1 + t));
    buf.writeInt16LE(Math.round(v * 32767), 44 + 2 * i);
  }
  writeFileSync(path, buf);
}

const micro = preset('micro');
let ckpt = '';

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'matpac-interop-'));
  cwd = process.cwd();
  process.chdir(tmp);
  ckpt = join(tmp, 'run.safetensors');
  const state = initTrainState(micro);
  // perturb the zero biases / unit gains of the init so that every tensor matters
  const student = mp.treeMap(
    (t) => mp.add(t, mp.mul(mp.normal(mp.random.keyFromSeed(t.size), t.shape as number[]), 0.1)),
    state.student,
  );
  saveState(ckpt, { ...state, student }, { config: JSON.stringify(micro) });
  writeWav(join(tmp, 'a.wav'), 1.3, 0);
  writeWav(join(tmp, 'b.wav'), 0.7, 1);
});
afterAll(() => {
  if (cwd) process.chdir(cwd);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const bits = (t: mp.Tensor | { data: ArrayLike<number> }) =>
  Array.from(new Uint32Array(Float32Array.from(t instanceof mp.Tensor ? t.toArray() : t.data).buffer));

describe('matpac export', () => {
  it('writes the official inference state dict (.safetensors and .pt) that imports back bit for bit', async () => {
    for (const out of ['enc.safetensors', 'enc.pt']) {
      const r = await cli('export', '--checkpoint', ckpt, '--out', out);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/exported 18 tensors/);
    }
    const model = await loadModel(ckpt);
    const want = exportStudentEncoder(model.student, micro);
    const fromPt = readTorchFile(join(tmp, 'enc.pt'));
    const fromSt = loadSafetensors(join(tmp, 'enc.safetensors'));
    expect(Object.keys(fromPt.tensors).sort()).toEqual(Object.keys(want).sort());
    expect(JSON.parse(fromPt.extra['config.json'])).toEqual(micro);
    expect(JSON.parse(fromSt.metadata.config)).toEqual(micro);
    for (const [k, t] of Object.entries(want)) {
      expect(bits(fromPt.tensors[k]), k).toEqual(bits(t));
      expect(bits(fromSt.tensors[k]), k).toEqual(bits(t));
    }
    // the same embeddings from the training checkpoint and from both exports (text-identical JSON lines)
    const lines: { status: number; stdout: string; stderr: string }[] = [];
    for (const c of ['run.safetensors', 'enc.safetensors', 'enc.pt'])
      lines.push(await cli('embed', '--checkpoint', c, 'a.wav'));
    for (const r of lines) expect(r.status, r.stderr).toBe(0);
    expect(lines[1].stdout).toBe(lines[0].stdout);
    expect(lines[2].stdout).toBe(lines[0].stdout);
    // and an export of the export is the same file content
    expect((await cli('export', '--checkpoint', 'enc.pt', '--out', 'enc2.pt')).status).toBe(0);
    expect(readFileSync(join(tmp, 'enc2.pt')).equals(readFileSync(join(tmp, 'enc.pt')))).toBe(true);
  });

  it('--full writes the training state under the official trainer names, teacher nested under _ema', async () => {
    const r = await cli('export', '--checkpoint', ckpt, '--out', 'full.pt', '--full');
    expect(r.status, r.stderr).toBe(0);
    const sd = readTorchFile(join(tmp, 'full.pt'));
    const names = Object.keys(sd.tensors);
    for (const k of [
      'pos_embed',
      'decoder.decoder_pos_embed',
      'decoder.mask_token',
      'cls_student_head.last_layer.weight_g',
      '_ema.blocks.0.attn.qkv.weight',
      '_ema.norm.weight',
      '_cls_head_ema.mlp.0.weight',
    ])
      expect(names, k).toContain(k);
    expect(sd.tensors['cls_head_loss.center'].shape).toEqual([1, 1, micro.head.numClasses]);
    expect(sd.tensors.pos_embed.data.some((v) => v !== 0)).toBe(true); // positions are exported, not zeros
    // MATPAC++: the MCL heads under their official names, in place of decoder_pred
    const pp = { ...micro, mcl: { ...micro.mcl, heads: 3 } };
    saveState(join(tmp, 'pp.safetensors'), initTrainState(pp), { config: JSON.stringify(pp) });
    expect((await cli('export', '--checkpoint', 'pp.safetensors', '--out', 'pp.pt', '--full')).status).toBe(0);
    const ppNames = Object.keys(readTorchFile(join(tmp, 'pp.pt')).tensors);
    expect(ppNames).toContain('mcl_heads.mcl_heads.2.weight');
    expect(ppNames.some((k) => k.startsWith('decoder.decoder_pred'))).toBe(false);
    const e = spawnCli(
      'export',
      '--checkpoint',
      FIX + '/official-w32-d2.pt',
      '--heads',
      '4',
      '--out',
      'x.pt',
      '--full',
    );
    expect(e.status).toBe(1);
    expect(e.stderr).toMatch(/^matpac: .*--full exports a training checkpoint/);
    expect((await cli('export', '--checkpoint', ckpt, '--out', 'x.bin')).stderr).toMatch(
      /^matpac: x\.bin: unknown output format '\.bin'; use \.safetensors or \.pt\n$/,
    );
  });

  it.skipIf(!PY_TORCH)(
    'PyTorch loads the .pt export (weights_only, strict) and computes the same embeddings',
    async () => {
      const c = { ...micro, encoder: { ...micro.encoder } };
      const lmPath = join(tmp, 'lm.npy');
      const T = 75;
      const x = mp.mul(mp.normal(mp.random.keyFromSeed(5), [1, c.nMels, T]), 1.5);
      const { encodeNpy } = await import('../src/audio/npy');
      writeFileSync(lmPath, encodeNpy(Float32Array.from(x.toArray()), [c.nMels, T]));
      const r = spawnSync(PY_TORCH!, [join(ROOT, 'scripts', 'check_export.py'), join(tmp, 'enc.pt'), lmPath], {
        encoding: 'utf8',
      });
      expect(r.status, r.stderr).toBe(0);
      const py = JSON.parse(r.stdout) as { precise: number[]; fast: number[]; precise_layers: number[][] };
      const model = await loadModel(join(tmp, 'enc.pt'));
      const rel = (got: ArrayLike<number>, want: number[]) => {
        let d = 0;
        let m = 0;
        want.forEach((w, i) => ((d = Math.max(d, Math.abs(got[i] - w))), (m = Math.max(m, Math.abs(w)))));
        return d / m;
      };
      expect(rel(embedBatch(model.student, x, model.config).toArray(), py.precise)).toBeLessThan(1e-4);
      expect(rel(embedBatch(model.student, x, model.config, { mode: 'fast' }).toArray(), py.fast)).toBeLessThan(1e-4);
      expect(
        rel(embedBatch(model.student, x, model.config, { layers: true }).toArray(), py.precise_layers.flat()),
      ).toBeLessThan(1e-4);
    },
  );
});

describe('matpac embed: official files and output formats', () => {
  it('an official-layout .pt: needs --heads for an unusual width, lists the unused keys once', async () => {
    const bad = spawnCli('embed', '--checkpoint', join(FIX, 'official-w32-d2.pt'), 'a.wav');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/\nmatpac: \S*official-w32-d2\.pt: the number of attention heads .* give --heads\n$/);
    const r = await cli('embed', '--checkpoint', join(FIX, 'official-w32-d2.pt'), '--heads', '4', 'a.wav', 'b.wav');
    expect(r.status, r.stderr).toBe(0);
    expect(
      r.stderr.match(/ignored 4 tensors the encoder does not use: decoder\.\*, cls_head_loss\.\*, _ema\.\* \(2\)/g),
    ).toHaveLength(1);
    const rows = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { file: string; embedding: number[] });
    expect(rows.map((x) => x.file)).toEqual(['a.wav', 'b.wav']);
    expect(rows[0].embedding).toHaveLength(5 * 32);
  });

  it('.npz / .npy / .jsonl by extension, --frames with HEAR timestamps, --layers; unknown extensions refused', async () => {
    const pt = join(FIX, 'enconly-w32-d3.pt');
    const run = async (...a: string[]) => {
      const r = await cli('embed', '--checkpoint', pt, '--heads', '2', 'a.wav', 'b.wav', ...a);
      expect(r.status, r.stderr).toBe(0);
      return r;
    };
    await run('--out', 'e.npz');
    const z = readZip(new Uint8Array(readFileSync(join(tmp, 'e.npz'))));
    const emb = decodeNpy(z.get('embeddings.npy')!.data);
    expect(emb.shape).toEqual([2, 160]);
    await run('--out', 'e.npy');
    expect(decodeNpy(new Uint8Array(readFileSync(join(tmp, 'e.npy')))).data).toEqual(emb.data);
    expect(readFileSync(join(tmp, 'e.files.txt'), 'utf8')).toBe('a.wav\nb.wav\n');
    await run('--out', 'e.jsonl');
    const jl = readFileSync(join(tmp, 'e.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).embedding as number[]);
    expect(Float32Array.from(jl.flat())).toEqual(emb.data); // shortest float32 decimals read back exactly

    // 1.3 s → 128 frames → 8 columns; 0.7 s → 68 frames → 5 columns
    await run('--out', 'f.npz', '--frames', '--layers');
    const f = readZip(new Uint8Array(readFileSync(join(tmp, 'f.npz'))));
    expect(decodeNpy(f.get('embeddings.npy')!.data).shape).toEqual([13, 3, 160]);
    await run('--out', 'f.npy', '--frames');
    expect(decodeNpy(new Uint8Array(readFileSync(join(tmp, 'f.npy')))).shape).toEqual([13, 160]);
    const side = readFileSync(join(tmp, 'f.files.txt'), 'utf8').trim().split('\n');
    expect(side.slice(0, 3)).toEqual(['a.wav\t80', 'a.wav\t240', 'a.wav\t400']);
    expect(side[8]).toBe('b.wav\t80');
    const fj = JSON.parse((await run('--frames')).stdout.split('\n')[0]) as {
      timestamps: number[];
      embeddings: number[][];
    };
    expect(fj.timestamps).toEqual([80, 240, 400, 560, 720, 880, 1040, 1200]);
    expect(fj.embeddings).toHaveLength(8);

    const bad = await cli('embed', '--checkpoint', pt, '--heads', '2', 'a.wav', '--out', 'e.csv');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe("matpac: e.csv: unknown output format '.csv'; use .jsonl, .npy or .npz\n");
  });

  it.skipIf(!PY_NUMPY)('NumPy reads the .npz and .npy (allow_pickle=False)', () => {
    const code = [
      'import numpy as np, json, sys',
      'd = np.load(sys.argv[1], allow_pickle=False); e = np.load(sys.argv[2], allow_pickle=False); f = np.load(sys.argv[3], allow_pickle=False)',
      "print(json.dumps({'shape': list(d['embeddings'].shape), 'dtype': str(d['embeddings'].dtype), 'files': d['files'].tolist(), 'same': bool((d['embeddings'] == e).all()), 'ts': f['timestamps'][:3].tolist(), 'ff': f['frame_file'].tolist()}))",
    ].join('\n');
    const r = spawnSync(PY_NUMPY!, ['-c', code, join(tmp, 'e.npz'), join(tmp, 'e.npy'), join(tmp, 'f.npz')], {
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      shape: [2, 160],
      dtype: 'float32',
      files: ['a.wav', 'b.wav'],
      same: true,
      ts: [80, 240, 400],
      ff: [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1],
    });
  });
});

describe('--json for scripts', () => {
  it('probe --json and trace --json print parseable results', async () => {
    const { mkdirSync } = await import('node:fs');
    for (const [cls, seed] of [
      ['low', 0],
      ['high', 3],
    ] as const) {
      mkdirSync(join(tmp, 'classes', cls), { recursive: true });
      for (let i = 0; i < 4; i++) writeWav(join(tmp, 'classes', cls, `${i}.wav`), 0.4 + 0.05 * i, seed + 0.1 * i);
    }
    const p = await cli('probe', '--baseline', 'logmel', '--data', 'classes', '--folds', '2', '--json');
    expect(p.status, p.stderr).toBe(0);
    const report = JSON.parse(p.stdout) as { classes: string[]; clips: number; accuracy: number; folds: number };
    expect(report).toMatchObject({ classes: ['high', 'low'], clips: 8, folds: 2 });
    expect(report.accuracy).toBeGreaterThanOrEqual(0);
    const t = await cli('trace', '--preset', 'micro', '--json');
    expect(t.status, t.stderr).toBe(0);
    const tr = JSON.parse(t.stdout) as {
      forward: { launches: number; flops: number };
      forwardBackward: { launches: number; flops: number };
    };
    expect(tr.forwardBackward.launches).toBeGreaterThan(tr.forward.launches);
    expect(tr.forwardBackward.flops).toBeGreaterThan(tr.forward.flops);
  });
});
