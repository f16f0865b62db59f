/**
 * The `base` preset is the paper's model: its parameter counts equal the official model's, and it
 * builds and runs a forward/backward on one small batch (one 80×64 clip: 20 tokens; the model
 * accepts inputs shorter than its 608-frame crop, with the positional table cut along time).
 *
 * Official counts, from the module definitions (aurianworld/matpac training_matpac/models/*.py,
 * timm Block with qkv bias): ViT-B blocks 12 × 7 087 872 + final norm 1 536 = 85 056 000;
 * patch embedding 768·256 + 768 = 197 376; CLS 768; the inference state dict adds the fixed
 * pos_embed 191·768 = 146 688 → 85 400 832 entries. Predictor 26 008 320; head 6 822 144.
 */
import { describe, expect, it } from 'vitest';
import * as mp from '../src/index';
import { leaves, treeSize } from '../src/tree';
import { keyFromSeed, normalHost } from '../src/random';
import { preset } from '../models/config';
import { initParams, matpacLossAux, parameterCounts } from '../models/matpac';
import { exportStudentEncoder } from '../models/interop';

describe('base preset', () => {
  it('has the official parameter counts', () => {
    const n = parameterCounts(preset('base'));
    expect(n.encoder).toBe(85_056_000);
    expect(n.patchEmbed).toBe(197_376);
    expect(n.clsToken).toBe(768);
    expect(n.predictor).toBe(26_008_320);
    expect(n.head).toBe(6_822_144);
    expect(n.student).toBe(118_084_608);
    expect(n.teacher).toBe(85_056_000 + 6_822_144);
    expect(n.inferenceStateDict).toBe(85_400_832);
  });

  it('builds and runs a forward/backward on one small batch', () => {
    const c = preset('base');
    const { student, teacher, centre } = initParams(c, keyFromSeed(0));
    const n = parameterCounts(c);
    expect(treeSize(student)).toBe(n.student);
    expect(treeSize(teacher)).toBe(n.teacher);
    const named = exportStudentEncoder(student, c);
    expect(named.pos_embed.shape).toEqual([1, 191, 768]);
    expect(Object.values(named).reduce((a, t) => a + t.size, 0)).toBe(85_400_832);
    const batch = mp.tensor(Float32Array.from(normalHost(keyFromSeed(3), 80 * 64)), [1, 80, 64]);
    const [[loss, aux], grads] = mp.valueAndGrad(matpacLossAux, { hasAux: true })(
      student,
      { ...teacher, centre, step: 0 },
      batch,
      keyFromSeed(1),
      c,
    );
    expect(Number.isFinite(loss.item())).toBe(true);
    expect(aux.metrics.lCls.item()).toBeGreaterThan(0);
    const g = leaves(grads);
    expect(g.length).toBe(leaves(student).length);
    expect(g.every((t) => t.toArray().every(Number.isFinite))).toBe(true);
  }, 120_000);
});
