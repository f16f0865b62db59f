/**
 * MATPAC invariants on the micro and tiny presets: masking, positions, stop-gradients, the loss
 * weights, EMA and centre transitions, resumption, interop with the official names and layouts,
 * precise-mode embeddings against a literal transcription of the official PyTorch forward, and the
 * trace of the tiny loss's gradient.
 */
import { describe, expect, it } from 'vitest';
import * as mp from '../src/index';
import type { Tensor } from '../src/index';
import { flatten, leaves, treeMap, treeSize } from '../src/tree';
import { foldIn, keyFromSeed, normalHost, split } from '../src/random';
import { erf } from '../src/math';
import { formatTrace, trace } from '../src/trace';
import { configProblems, preset, validateConfig, type MatpacConfig } from '../models/config';
import { randomMasking } from '../models/masking';
import { sincos2dHost } from '../models/positional';
import { patchify } from '../models/patch';
import {
  initParams,
  initTrainState,
  matpacLoss,
  matpacLossAux,
  parameterCounts,
  schedules,
  trainStep,
  type StudentParams,
  type TrainState,
} from '../models/matpac';
import { embed, embedBatch } from '../models/embed';
import { exportStudentEncoder, importStudentEncoder } from '../models/interop';
import { loadSafetensors, saveSafetensors } from '../src/checkpoint/file';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const randn = (shape: number[], seed: number): Tensor =>
  mp.tensor(
    Float32Array.from(
      normalHost(
        keyFromSeed(seed),
        shape.reduce((a, b) => a * b, 1),
      ),
    ),
    shape,
  );
const maxAbsDiff = (a: Tensor, b: Tensor): number => {
  const x = a.toArray();
  const y = b.toArray();
  expect(x.length).toBe(y.length);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
};
const treeMaxDiff = (a: unknown, b: unknown): number => {
  const la = leaves(a);
  const lb = leaves(b);
  expect(la.length).toBe(lb.length);
  return Math.max(0, ...la.map((t, i) => maxAbsDiff(t, lb[i])));
};
const micro = () => preset('micro');
const microBatch = (c: MatpacConfig, seed = 3, B = c.batchSize) => randn([B, c.nMels, c.cropFrames], seed);

describe('config', () => {
  it('presets validate; problems name their fields, one line each', () => {
    for (const name of ['base', 'small', 'tiny', 'micro']) expect(configProblems(preset(name))).toEqual([]);
    const bad = { ...micro(), encoder: { dim: 10, depth: 1, heads: 3, mlpRatio: 2 }, maskRatio: 1.2, cropFrames: 40 };
    const problems = configProblems(bad);
    expect(problems.some((p) => p.startsWith('encoder.heads:'))).toBe(true);
    expect(problems.some((p) => p.startsWith('encoder.dim:'))).toBe(true);
    expect(problems.some((p) => p.startsWith('maskRatio:'))).toBe(true);
    expect(problems.some((p) => p.startsWith('cropFrames:'))).toBe(true);
    expect(() => validateConfig(bad)).toThrow(/encoder\.heads: dim 10 is not divisible by 3 heads/);
  });
});

describe('masking', () => {
  it('is a per-sample partition of the tokens, with restore the inverse of shuffle', () => {
    const B = 4;
    const N = 190;
    const m = randomMasking(keyFromSeed(1), B, N, 0.7);
    expect([m.nVisible, m.nMasked]).toEqual([57, 133]); // the paper's 80×608 grid
    const vis = m.visibleIdx.toArray();
    const msk = m.maskedIdx.toArray();
    const rows: string[] = [];
    for (let b = 0; b < B; b++) {
      const v = Array.from(vis.subarray(b * 57, (b + 1) * 57));
      const k = Array.from(msk.subarray(b * 133, (b + 1) * 133));
      expect([...v, ...k].sort((x, y) => x - y)).toEqual(Array.from({ length: N }, (_, i) => i));
      for (let n = 0; n < N; n++) {
        expect(m.shuffle[b * N + m.restore[b * N + n]]).toBe(n);
        expect(m.mask[b * N + n]).toBe(k.includes(n) ? 1 : 0);
      }
      expect(v).toEqual(Array.from(m.shuffle.subarray(b * N, b * N + 57)));
      rows.push(v.join(','));
    }
    expect(new Set(rows).size).toBe(B); // per sample
    expect(randomMasking(keyFromSeed(1), B, N, 0.7).shuffle).toEqual(m.shuffle); // a function of the key
    expect(randomMasking(keyFromSeed(2), B, N, 0.7).shuffle).not.toEqual(m.shuffle);
  });

  it('gathers the visible and masked tokens of each sample', () => {
    const x = randn([2, 6, 3], 4);
    const m = randomMasking(keyFromSeed(9), 2, 6, 0.5);
    const xv = mp.gather(x, m.visibleIdx, 1);
    const host = x.toArray();
    const got = xv.toArray();
    for (let b = 0; b < 2; b++)
      for (let j = 0; j < 3; j++) {
        const n = m.visibleIdx.toArray()[b * 3 + j];
        for (let d = 0; d < 3; d++) expect(got[(b * 3 + j) * 3 + d]).toBe(host[(b * 6 + n) * 3 + d]);
      }
  });
});

describe('positions and patches', () => {
  it('the sin-cos table matches the closed form (time first half, frequency second half)', () => {
    const D = 16;
    const Q = D / 4;
    const F = 3;
    const T = 5;
    const P = sincos2dHost(D, F, T);
    for (let f = 0; f < F; f++)
      for (let t = 0; t < T; t++)
        for (let i = 0; i < Q; i++) {
          const w = 1 / 10000 ** (i / Q);
          const row = (f * T + t) * D;
          expect(P[row + i]).toBeCloseTo(Math.sin(t * w), 14);
          expect(P[row + Q + i]).toBeCloseTo(Math.cos(t * w), 14);
          expect(P[row + 2 * Q + i]).toBeCloseTo(Math.sin(f * w), 14);
          expect(P[row + 3 * Q + i]).toBeCloseTo(Math.cos(f * w), 14);
        }
    // a few literal values: token (f=0, t=1), D=16: sin(1), sin(0.1), sin(0.01), sin(0.001), ...
    expect(P[D + 0]).toBeCloseTo(Math.sin(1), 14);
    expect(P[D + 1]).toBeCloseTo(Math.sin(0.1), 14);
    expect(P[D + 3]).toBeCloseTo(Math.sin(0.001), 14);
    expect(P[D + 2 * Q]).toBe(0); // frequency 0
    // a shorter input's table is the longer one cut along time (official model.py l. 389-396)
    const long = sincos2dHost(D, F, 9);
    for (let f = 0; f < F; f++)
      for (let t = 0; t < T; t++)
        for (let d = 0; d < D; d++) expect(long[(f * 9 + t) * D + d]).toBe(P[(f * T + t) * D + d]);
  });

  it('patches are frequency-major 16×16 blocks, flattened (bin, frame)', () => {
    const x = mp.tensor(
      Float32Array.from({ length: 32 * 48 }, (_, i) => i),
      [1, 32, 48],
    );
    const { patches, F, T } = patchify(x, 16);
    expect([F, T]).toEqual([2, 3]);
    const p = patches.toArray();
    for (const [f, t] of [
      [0, 0],
      [1, 2],
      [0, 2],
      [1, 0],
    ])
      for (const [i, j] of [
        [0, 0],
        [3, 7],
        [15, 15],
      ])
        expect(p[(f * T + t) * 256 + i * 16 + j]).toBe((f * 16 + i) * 48 + t * 16 + j);
  });
});

describe('loss', () => {
  it('the teacher and the centre receive no gradient', () => {
    const c = micro();
    const { student, teacher, centre } = initParams(c, keyFromSeed(1));
    const batch = microBatch(c);
    const f = (p: { student: StudentParams; teacher: typeof teacher; centre: Tensor }) =>
      matpacLoss(p.student, { ...p.teacher, centre: p.centre, step: 2 }, batch, keyFromSeed(4), c).loss;
    const [, g] = mp.valueAndGrad(f)({ student, teacher, centre });
    for (const t of [...leaves(g.teacher), g.centre]) expect(Math.max(...Array.from(t.toArray(), Math.abs))).toBe(0);
    expect(leaves(g.student).some((t) => t.toArray().some((v) => v !== 0))).toBe(true);
  });

  it('with the classification weight 0 the loss is L_pred alone, and the heads get no gradient', () => {
    const c0 = micro();
    const c = { ...c0, loss: { clsWeight: 0, predWeight: 1 } };
    const { student, teacher, centre } = initParams(c, keyFromSeed(1));
    const ts = { ...teacher, centre, step: 0 };
    const batch = microBatch(c);
    const [[loss, aux], g] = mp.valueAndGrad(matpacLossAux, { hasAux: true })(student, ts, batch, keyFromSeed(4), c);
    expect(loss.item()).toBe(aux.metrics.lPred.item());
    const full = matpacLoss(student, ts, batch, keyFromSeed(4), c0);
    expect(full.metrics.lPred.item()).toBe(aux.metrics.lPred.item());
    expect(full.loss.item()).toBeCloseTo(0.5 * full.metrics.lPred.item() + 0.5 * full.metrics.lCls.item(), 6);
    for (const t of leaves(g.cls_student_head)) expect(t.toArray().every((v) => v === 0)).toBe(true);
    // 2 − 2cos ∈ [0, 4]
    expect(aux.metrics.lPred.item()).toBeGreaterThanOrEqual(0);
    expect(aux.metrics.lPred.item()).toBeLessThanOrEqual(4);
  });
});

describe('training step', () => {
  it('EMA (skipped at step 0, student before the update) and the centre (of probabilities) follow the spec', () => {
    const c = micro();
    const batch = microBatch(c);
    const sch = schedules(c);
    const s0 = initTrainState(c, keyFromSeed(11));
    const [s1, m0] = trainStep(s0, batch, c);
    expect(m0.lr).toBe(0);
    expect(m0.emaMomentum).toBe(1);
    expect(treeMaxDiff(s1.teacher, s0.teacher)).toBe(0); // no EMA at step 0
    expect(treeMaxDiff(s1.student, s0.student)).toBe(0); // lr 0 at the first update (fairseq warm-up from 0)
    const [s2] = trainStep(s1, batch, c);
    expect(treeMaxDiff(s2.student, s1.student)).toBeGreaterThan(0);
    const mE = sch.encoderMomentum(1);
    const mH = sch.headMomentum(1);
    const wantEnc = treeMap(
      (t, s) => mp.add(mp.mul(t, mE), mp.mul(s, 1 - mE)),
      s1.teacher.encoder,
      s1.student.student_encoder,
    );
    const wantHead = treeMap(
      (t, s) => mp.add(mp.mul(t, mH), mp.mul(s, 1 - mH)),
      s1.teacher.head,
      s1.student.cls_student_head,
    );
    expect(treeMaxDiff(s2.teacher.encoder, wantEnc)).toBeLessThan(1e-7);
    expect(treeMaxDiff(s2.teacher.head, wantHead)).toBeLessThan(1e-7);
    // the centre: c_{t+1} = 0.9 c_t + 0.1·mean(p_t), so (probabilities) Σ_k c_t,k = 1 − 0.9^t
    const [s3] = trainStep(s2, batch, c);
    const sums = [s0, s1, s2, s3].map((s) => Array.from(s.centre.toArray()).reduce((a, b) => a + b, 0));
    sums.forEach((v, t) => expect(v).toBeCloseTo(1 - 0.9 ** t, 5));
    // and the transition is the loss's newCentre, with the step's key
    const [, k1] = split(s1.key);
    const out = matpacLoss(s1.student, { ...s1.teacher, centre: s1.centre, step: 1 }, batch, k1, c);
    expect(maxAbsDiff(out.newCentre, s2.centre)).toBe(0);
    expect(s3.step).toBe(3);
  });

  it('a resumed run equals an uninterrupted one (the key and every state live in the state)', () => {
    const c = micro();
    const batches = [1, 2, 3, 4].map((i) => microBatch(c, 100 + i));
    let a = initTrainState(c, keyFromSeed(5));
    for (const b of batches) [a] = trainStep(a, b, c);
    let r = initTrainState(c, keyFromSeed(5));
    for (const b of batches.slice(0, 2)) [r] = trainStep(r, b, c);
    // through host memory, as a checkpoint would
    const copy = (s: TrainState): TrainState => {
      const f = flatten(s);
      return {
        ...(f.rebuild(f.leaves.map((t) => mp.tensor(Float32Array.from(t.toArray()), t.shape))) as TrainState),
        key: [s.key[0], s.key[1]],
      };
    };
    r = copy(r);
    for (const b of batches.slice(2)) [r] = trainStep(r, b, c);
    expect(r.step).toBe(a.step);
    expect(r.key).toEqual(a.key);
    expect(treeMaxDiff(r, a)).toBe(0);
  });

  it('parameter counts: the formula equals what init builds', () => {
    for (const name of ['micro', 'tiny']) {
      const c = preset(name);
      const { student, teacher } = initParams(c, keyFromSeed(0));
      const n = parameterCounts(c);
      expect(treeSize(student)).toBe(n.student);
      expect(treeSize(teacher)).toBe(n.teacher);
      expect(treeSize(student.student_encoder)).toBe(n.encoder);
      const exported = exportStudentEncoder(student, c);
      expect(Object.values(exported).reduce((a, t) => a + t.size, 0)).toBe(n.inferenceStateDict);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// interop and embeddings: a literal float64 transcription of the official PyTorch inference
// forward (inference_matpac/matpac/model.py forward_precise / extract_features, utils.py PatchEmbed,
// timm Block) on the exported state dict.

type Named = Record<string, Float64Array>;

function officialEmbedding(
  sd: Named,
  shapes: Record<string, number[]>,
  x: Float64Array,
  M: number,
  Tin: number,
  c: MatpacConfig,
): Float64Array {
  const D = c.encoder.dim;
  const H = c.encoder.heads;
  const hd = D / H;
  const p = c.patchSize;
  const F = M / p;
  const unit = c.cropFrames;
  const pad = (p - (Tin % p)) % p;
  const Tp = Tin + pad;
  const X = (m: number, t: number) => (t < Tin ? x[m * Tin + t] : 0); // F.pad with zeros
  const nChunk = Math.ceil(Tin / unit);
  const ln = (v: Float64Array, w: Float64Array, b: Float64Array) => {
    const mu = v.reduce((a, z) => a + z, 0) / v.length;
    const va = v.reduce((a, z) => a + (z - mu) ** 2, 0) / v.length;
    return v.map((z, i) => ((z - mu) / Math.sqrt(va + 1e-6)) * w[i] + b[i]);
  };
  const lin = (v: Float64Array, name: string) => {
    const [o, i] = shapes[`${name}.weight`];
    const W = sd[`${name}.weight`];
    const B = sd[`${name}.bias`];
    return Float64Array.from({ length: o }, (_, r) => {
      let s = B[r];
      for (let k = 0; k < i; k++) s += W[r * i + k] * v[k];
      return s;
    });
  };
  const rowsOut: Float64Array[] = [];
  for (let ci = 0; ci < nChunk; ci++) {
    const t0 = ci * unit;
    const L = Math.min(unit, Tp - t0);
    const T = L / p;
    // Conv2d(1, D, p, stride p) → flatten(2).transpose(1, 2): token n = f·T + t
    let seq: Float64Array[] = [];
    const pos = sd.pos_embed;
    const Tfull = (shapes.pos_embed[1] - 1) / F;
    seq.push(Float64Array.from({ length: D }, (_, d) => sd.cls_token[d] + pos[d]));
    for (let f = 0; f < F; f++)
      for (let t = 0; t < T; t++)
        seq.push(
          Float64Array.from({ length: D }, (_, d) => {
            let s = sd['patch_embed.proj.bias'][d];
            for (let i = 0; i < p; i++)
              for (let j = 0; j < p; j++)
                s += sd['patch_embed.proj.weight'][((d * 1 + 0) * p + i) * p + j] * X(f * p + i, t0 + t * p + j);
            // pos_embed[:, 1:] reshaped [F, Tfull, D] and cut to T columns
            return s + pos[(1 + f * Tfull + t) * D + d];
          }),
        );
    for (let n = 0; n < c.encoder.depth; n++) {
      const pre = `student_encoder.blocks.${n}`;
      const h = seq.map((v) => ln(v, sd[`${pre}.norm1.weight`], sd[`${pre}.norm1.bias`]));
      const qkv = h.map((v) => lin(v, `${pre}.attn.qkv`)); // reshape(B, N, 3, H, hd): [which][head][dim]
      const Ntok = seq.length;
      const att = seq.map(() => new Float64Array(D));
      for (let hh = 0; hh < H; hh++)
        for (let a = 0; a < Ntok; a++) {
          const sc = Float64Array.from({ length: Ntok }, (_, b) => {
            let s = 0;
            for (let d = 0; d < hd; d++) s += qkv[a][0 * D + hh * hd + d] * hd ** -0.5 * qkv[b][1 * D + hh * hd + d];
            return s;
          });
          const mx = Math.max(...sc);
          const e = sc.map((z) => Math.exp(z - mx));
          const z = e.reduce((u, v) => u + v, 0);
          for (let b = 0; b < Ntok; b++)
            for (let d = 0; d < hd; d++) att[a][hh * hd + d] += (e[b] / z) * qkv[b][2 * D + hh * hd + d]; // (attn@v).transpose(1,2).reshape
        }
      seq = seq.map((v, a) => {
        const y = lin(att[a], `${pre}.attn.proj`).map((z, i) => z + v[i]);
        const m = lin(
          lin(ln(y, sd[`${pre}.norm2.weight`], sd[`${pre}.norm2.bias`]), `${pre}.mlp.fc1`).map(
            (u) => 0.5 * u * (1 + erf(u / Math.SQRT2)),
          ),
          `${pre}.mlp.fc2`,
        );
        return y.map((u, i) => u + m[i]);
      });
    }
    seq = seq.map((v) => ln(v, sd['student_encoder.norm.weight'], sd['student_encoder.norm.bias']));
    // drop CLS, 'b n (f t) d -> b n t (f d)'
    for (let t = 0; t < T; t++) {
      const r = new Float64Array(F * D);
      for (let f = 0; f < F; f++) r.set(seq[1 + f * T + t], f * D);
      rowsOut.push(r);
    }
  }
  const e = new Float64Array(F * D);
  for (const r of rowsOut) r.forEach((v, i) => (e[i] += v / rowsOut.length));
  return e;
}

describe('interop and embeddings', () => {
  it('exports the official names and layouts, and imports them back', () => {
    const c = micro();
    const { student } = initParams(c, keyFromSeed(2));
    const named = exportStudentEncoder(student, c);
    const D = c.encoder.dim;
    const expected: Record<string, number[]> = {
      'patch_embed.proj.weight': [D, 1, 16, 16],
      'patch_embed.proj.bias': [D],
      cls_token: [1, 1, D],
      pos_embed: [1, 1 + 4, D],
      'student_encoder.norm.weight': [D],
      'student_encoder.norm.bias': [D],
    };
    for (const leaf of ['norm1', 'attn.qkv', 'attn.proj', 'norm2', 'mlp.fc1', 'mlp.fc2'])
      for (const wb of ['weight', 'bias']) expected[`student_encoder.blocks.0.${leaf}.${wb}`] = [];
    expect(Object.keys(named).sort()).toEqual(Object.keys(expected).sort());
    for (const [k, s] of Object.entries(expected)) if (s.length) expect(named[k].shape).toEqual(s);
    expect(named['student_encoder.blocks.0.attn.qkv.weight'].shape).toEqual([3 * D, D]);
    expect(named['student_encoder.blocks.0.mlp.fc1.weight'].shape).toEqual([D * c.encoder.mlpRatio, D]); // [out, in]
    const { pos_embed, ...back } = importStudentEncoder(named, c);
    expect(
      treeMaxDiff(back, {
        patch_embed: student.patch_embed,
        cls_token: student.cls_token,
        student_encoder: student.student_encoder,
      }),
    ).toBe(0);
    expect(maxAbsDiff(pos_embed, named.pos_embed)).toBe(0);
    const { cls_token: _, ...missing } = named;
    const bad = { ...missing, pos_embed: mp.mul(named.pos_embed, 2) };
    expect(() => importStudentEncoder(bad, c)).toThrow(/cls_token: missing[\s\S]*pos_embed: differs/);
  });

  it('an exported encoder survives a safetensors file and embeds the same', () => {
    const c = micro();
    const { student } = initParams(c, keyFromSeed(3));
    const dir = mkdtempSync(join(tmpdir(), 'matpac-interop-'));
    try {
      const path = join(dir, 'encoder.safetensors');
      saveSafetensors(path, exportStudentEncoder(student, c));
      const loaded = importStudentEncoder(loadSafetensors(path).tensors, c);
      const x = { data: Float32Array.from(normalHost(keyFromSeed(4), c.nMels * 50)), nMels: c.nMels, nFrames: 50 };
      expect(Array.from(embed(loaded, x, c))).toEqual(Array.from(embed(student, x, c)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('precise-mode embedding equals the official forward on the exported state dict (float64)', () => {
    mp.withBackend('ref64', () => {
      const base = micro();
      const c: MatpacConfig = { ...base, encoder: { ...base.encoder, dim: 8, heads: 2, depth: 2 } };
      const flat = flatten(initParams(c, keyFromSeed(6)).student);
      // perturb away from the init's zero biases / unit gains
      const student = flat.rebuild(
        flat.leaves.map((l, i) => mp.add(l, randn(l.shape as number[], 50 + i))),
      ) as StudentParams;
      const named = exportStudentEncoder(student, c);
      const sd: Named = {};
      const shapes: Record<string, number[]> = {};
      for (const [k, t] of Object.entries(named)) {
        sd[k] = Float64Array.from(t.toArray());
        shapes[k] = [...t.shape];
      }
      const Tin = 75; // → padded to 80: chunks of 32, 32, 16 frames
      const x = Float64Array.from(normalHost(keyFromSeed(8), c.nMels * Tin));
      const want = officialEmbedding(sd, shapes, x, c.nMels, Tin, c);
      const got = embed(
        importStudentEncoder(named, c),
        { data: Float32Array.from(x), nMels: c.nMels, nFrames: Tin },
        c,
      );
      // the engine's input is float32 (as the front end's output); compare at float32 precision
      let worst = 0;
      want.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - got[i]))));
      expect(got.length).toBe(2 * 8);
      expect(worst).toBeLessThan(1e-5);
    });
  });

  it('embedBatch chunks clips and keeps per-time features on request', () => {
    const c = micro();
    const { student } = initParams(c, keyFromSeed(2));
    const x = randn([3, c.nMels, 70], 12); // pad to 80 → 32 + 32 + 16 frames → 2 + 2 + 1 time steps
    const e = embedBatch(student, x, c, { keepTime: true, maxChunksPerCall: 2 });
    expect(e.shape).toEqual([3, 5, 2 * c.encoder.dim]);
    const m = embedBatch(student, x, c);
    expect(maxAbsDiff(m, mp.mean(e, 1))).toBeLessThan(1e-6);
    // one clip alone gives the same as within the batch
    const one = embed(student, mp.sliceAxis(x, 0, 1, 2), c);
    expect(maxAbsDiff(mp.tensor(one, [one.length]), mp.reshape(mp.sliceAxis(m, 0, 1, 2), [one.length]))).toBeLessThan(
      1e-5,
    );
  });
});

describe('trace', () => {
  it('prints the tiny loss and its gradient, and lists the kernels they need', () => {
    const c = preset('tiny');
    const { student, teacher, centre } = initParams(c, keyFromSeed(1));
    const batch = randn([2, c.nMels, c.cropFrames], 2);
    const ts = { ...teacher, centre, step: 0 };
    const { trace: t } = trace(
      (p: StudentParams) =>
        mp.valueAndGrad(matpacLossAux, { hasAux: true })(p, ts, batch, foldIn(keyFromSeed(3), 0), c),
      student,
    );
    const text = formatTrace(t, { maxLines: 40 });
    console.log(text);
    console.log(
      [...t.kernels.keys()].length,
      'distinct kernels, e.g.\n  ' + [...t.kernels.keys()].slice(0, 12).join('\n  '),
    );
    const prims = new Set(t.equations.map((e) => e.prim));
    for (const p of ['matmul', 'gather', 'scatterAdd', 'transpose', 'concat', 'slice', 'pad'])
      expect(prims.has(p as never), p).toBe(true);
    expect(t.inputs.length).toBe(leaves(student).length);
    expect(t.flops).toBeGreaterThan(1e8);
    expect(text).toMatch(/kernels: \d+ launches/);
  });
});
