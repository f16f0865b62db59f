import { describe, expect, it } from 'vitest';
import {
  accuracy,
  applyStandardiser,
  confusionMatrix,
  crossValidate,
  fitStandardiser,
  formatConfusion,
  logMelStatsFeatures,
  predict,
  standardise,
  stratifiedFolds,
  trainLinearProbe,
} from '../src/probe';
import { keyFromSeed, normalHost, uniformHost } from '../src/random';

/** Labels with uneven class sizes: 0 ×13, 1 ×7, 2 ×22, 3 ×3 (interleaved). */
function unevenLabels(): number[] {
  const counts = [13, 7, 22, 3];
  const labels: number[] = [];
  counts.forEach((n, c) => {
    for (let i = 0; i < n; i++) labels.push(c);
  });
  // a fixed shuffle so classes are not contiguous
  const u = uniformHost(keyFromSeed(9), labels.length);
  return labels
    .map((l, i) => [l, u[i]] as const)
    .sort((a, b) => a[1] - b[1])
    .map(([l]) => l);
}

/** Gaussian blobs around well-separated class centres: linearly separable with a wide margin. */
function blobs(
  nPerClass: number,
  classes: number,
  dim: number,
  seed: number,
): { rows: Float32Array[]; labels: number[] } {
  const centres = normalHost(keyFromSeed(seed), classes * dim);
  const noise = normalHost(keyFromSeed(seed + 1), nPerClass * classes * dim);
  const rows: Float32Array[] = [];
  const labels: number[] = [];
  for (let c = 0; c < classes; c++) {
    for (let i = 0; i < nPerClass; i++) {
      const r = new Float32Array(dim);
      const off = (c * nPerClass + i) * dim;
      // centres spread by 6, noise of std 0.3, plus a large offset/scale on each feature so that
      // standardisation matters
      for (let j = 0; j < dim; j++) r[j] = (6 * centres[c * dim + j] + 0.3 * noise[off + j]) * (1 + j) + 100 * j;
      rows.push(r);
      labels.push(c);
    }
  }
  return { rows, labels };
}

describe('stratifiedFolds', () => {
  const labels = unevenLabels();
  const folds = stratifiedFolds(labels, 5, keyFromSeed(0));

  it('test sets are disjoint and cover every index once', () => {
    const seen = new Array<number>(labels.length).fill(0);
    for (const f of folds) for (const i of f.test) seen[i]++;
    expect(seen.every((n) => n === 1)).toBe(true);
  });

  it('each train set is the complement of its test set', () => {
    for (const f of folds) {
      const test = new Set(f.test);
      expect(f.train.some((i) => test.has(i))).toBe(false);
      expect(f.train.length + f.test.length).toBe(labels.length);
    }
  });

  it('is stratified: every class is split within one clip across the folds, and fold sizes within one', () => {
    for (let c = 0; c < 4; c++) {
      const perFold = folds.map((f) => f.test.filter((i) => labels[i] === c).length);
      expect(Math.max(...perFold) - Math.min(...perFold)).toBeLessThanOrEqual(1);
    }
    const sizes = folds.map((f) => f.test.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });

  it('depends only on the key', () => {
    expect(stratifiedFolds(labels, 5, keyFromSeed(0))).toEqual(folds);
    expect(stratifiedFolds(labels, 5, keyFromSeed(1))).not.toEqual(folds);
  });

  it('rejects impossible fold counts', () => {
    expect(() => stratifiedFolds(labels, 1, keyFromSeed(0))).toThrow(/at least 2 folds/);
    expect(() => stratifiedFolds([0, 1, 0], 4, keyFromSeed(0))).toThrow(/at least 4 examples/);
  });
});

describe('standardise', () => {
  it('gives zero mean and unit variance per feature, and leaves constant features finite', () => {
    const rows = [new Float32Array([1, 5, 7]), new Float32Array([3, 5, -1]), new Float32Array([5, 5, 3])];
    const z = standardise(rows);
    for (let j = 0; j < 3; j++) {
      const col = z.map((r) => r[j]);
      const mean = col.reduce((a, b) => a + b, 0) / col.length;
      const variance = col.reduce((a, b) => a + (b - mean) ** 2, 0) / col.length;
      expect(mean).toBeCloseTo(0, 6);
      expect(variance).toBeCloseTo(j === 1 ? 0 : 1, 5);
    }
  });

  it('applies training statistics to other rows', () => {
    const s = fitStandardiser([new Float32Array([0]), new Float32Array([2])]);
    expect(Array.from(applyStandardiser([new Float32Array([3])], s)[0])).toEqual([2]);
  });
});

describe('linear probe', () => {
  it('reaches 100% training accuracy on linearly separable data', () => {
    const { rows, labels } = blobs(20, 4, 6, 3);
    const z = standardise(rows);
    const probe = trainLinearProbe(z, labels, 4, { steps: 200 });
    expect(accuracy(labels, predict(probe, z))).toBe(1);
  });

  it('the loss decreases monotonically (step 1/L on a convex objective)', () => {
    const { rows, labels } = blobs(10, 3, 5, 4);
    const losses: number[] = [];
    trainLinearProbe(standardise(rows), labels, 3, { steps: 40, onStep: (_, l) => losses.push(l) });
    expect(losses[0]).toBeCloseTo(Math.log(3), 5);
    expect(losses.at(-1)!).toBeLessThan(0.1 * losses[0]);
  });

  it('cross-validates to ~100% on held-out folds of separable data', () => {
    const { rows, labels } = blobs(15, 3, 8, 5);
    const cv = crossValidate(rows, labels, 3, 5, keyFromSeed(0));
    expect(cv.foldAccuracies).toHaveLength(5);
    expect(cv.mean).toBeGreaterThanOrEqual(0.97);
    // the summed confusion matrix counts every example once
    expect(cv.confusion.flat().reduce((a, b) => a + b, 0)).toBe(rows.length);
  });

  it('is at chance on random labels (no information leaks between folds)', () => {
    const n = 90;
    const x = normalHost(keyFromSeed(11), n * 4);
    const rows = Array.from({ length: n }, (_, i) => Float32Array.from(x.subarray(i * 4, i * 4 + 4)));
    const labels = Array.from(uniformHost(keyFromSeed(12), n), (u) => Math.floor(u * 3));
    const cv = crossValidate(rows, labels, 3, 5, keyFromSeed(0));
    expect(cv.mean).toBeLessThan(0.6);
  });
});

describe('confusion matrix and features', () => {
  it('counts true × predicted', () => {
    const m = confusionMatrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], 3);
    expect(m).toEqual([
      [1, 1, 0],
      [0, 1, 0],
      [1, 0, 2],
    ]);
    const text = formatConfusion(m, ['a', 'b', 'c']);
    expect(text.split('\n')).toHaveLength(4);
  });

  it('log-mel baseline features are per-band mean and std', () => {
    const lm = { data: new Float32Array([1, 3, 1, 3, 5, 5, 5, 5]), nMels: 2, nFrames: 4 };
    expect(Array.from(logMelStatsFeatures(lm))).toEqual([2, 5, 1, 0]);
  });
});
