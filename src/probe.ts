/**
 * Linear probing: how much class information a frozen representation holds.
 *
 * Given one feature vector x_i ∈ ℝ^D per clip and its class y_i ∈ {0..C−1}:
 *
 *   standardise   x̃ = (x − μ)/σ, μ and σ per feature, from the training fold only (σ = 1 where a
 *                 feature is constant)
 *   classifier    p(c | x̃) = softmax(W x̃ + b)_c,  W ∈ ℝ^{C×D}, b ∈ ℝ^C
 *   objective     L(W, b) = −(1/N) Σ_i log p(y_i | x̃_i) + (λ/2)·‖W‖²
 *   training      full-batch gradient descent with Nesterov momentum (valueAndGrad of L on the
 *                 engine); the step 1/L_max uses the gradient's Lipschitz bound
 *                 L_max = ½·λ_max(X̃ᵀX̃/N + 1) + λ (softmax cross-entropy's Hessian is ⪯ ½·I per
 *                 sample in the logits; the 1 is for the bias), with λ_max found by power iteration
 *   evaluation    accuracy and a confusion matrix on held-out folds; folds are stratified: each
 *                 class's clips are shuffled (by a random key) and dealt round-robin to the k folds,
 *                 so every fold holds ⌊n_c/k⌋ or ⌈n_c/k⌉ clips of class c and the folds partition
 *                 the set.
 *
 * The reference protocol (M2D's EVAR, used by MATPAC's paper) trains the same linear layer with
 * Adam and early stopping on a validation split; full-batch gradient descent on a strongly convex
 * objective needs neither and gives the same answer every run.
 */
import * as mp from './engine';
import { foldIn, permutationHost, type Key } from './random';

/** Feature rows: N vectors of the same length D. */
export type Features = readonly Float32Array[];

// ---------------------------------------------------------------------------------------------
// standardisation

export interface Standardiser {
  mean: Float64Array;
  std: Float64Array;
}

/** Per-feature mean and standard deviation of `rows` (σ = 1 where a feature is constant). */
export function fitStandardiser(rows: Features): Standardiser {
  if (!rows.length) throw new Error('standardise: no feature rows');
  const d = rows[0].length;
  const mean = new Float64Array(d);
  const std = new Float64Array(d);
  for (const r of rows) {
    if (r.length !== d) throw new Error(`standardise: rows have different lengths (${d} and ${r.length})`);
    for (let j = 0; j < d; j++) mean[j] += r[j];
  }
  for (let j = 0; j < d; j++) mean[j] /= rows.length;
  for (const r of rows) for (let j = 0; j < d; j++) std[j] += (r[j] - mean[j]) ** 2;
  for (let j = 0; j < d; j++) {
    const s = Math.sqrt(std[j] / rows.length);
    std[j] = s > 1e-8 * (1 + Math.abs(mean[j])) ? s : 1;
  }
  return { mean, std };
}

/** (x − μ)/σ for every row. */
export function applyStandardiser(rows: Features, s: Standardiser): Float32Array[] {
  return rows.map((r) => {
    const out = new Float32Array(r.length);
    for (let j = 0; j < r.length; j++) out[j] = (r[j] - s.mean[j]) / s.std[j];
    return out;
  });
}

/** Standardise rows with their own statistics. */
export const standardise = (rows: Features): Float32Array[] => applyStandardiser(rows, fitStandardiser(rows));

// ---------------------------------------------------------------------------------------------
// stratified folds

export interface Fold {
  train: number[];
  test: number[];
}

/**
 * k stratified folds of the indices 0..N−1: each class's indices are permuted with `key` and dealt
 * round-robin, continuing across classes, so fold sizes differ by at most one overall and by at
 * most one per class. The test sets partition 0..N−1; each fold's train set is the rest.
 */
export function stratifiedFolds(labels: ArrayLike<number>, k: number, key: Key): Fold[] {
  const n = labels.length;
  if (!Number.isInteger(k) || k < 2) throw new Error(`folds: need at least 2 folds, got ${k}`);
  if (k > n) throw new Error(`folds: ${k} folds need at least ${k} examples, got ${n}`);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const c = labels[i];
    if (!byClass.has(c)) byClass.set(c, []);
    byClass.get(c)!.push(i);
  }
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  const tests: number[][] = Array.from({ length: k }, () => []);
  let slot = 0;
  for (const c of classes) {
    const members = byClass.get(c)!;
    const perm = permutationHost(foldIn(key, c), members.length);
    for (const p of perm) tests[slot++ % k].push(members[p]);
  }
  return tests.map((test) => {
    const inTest = new Uint8Array(n);
    for (const i of test) inTest[i] = 1;
    test.sort((a, b) => a - b);
    const train: number[] = [];
    for (let i = 0; i < n; i++) if (!inTest[i]) train.push(i);
    return { train, test };
  });
}

// ---------------------------------------------------------------------------------------------
// the linear classifier

export interface LinearProbe {
  /** [C, D], PyTorch Linear layout. */
  weight: mp.Tensor;
  /** [C] */
  bias: mp.Tensor;
}

export interface ProbeOptions {
  /** L2 penalty λ on the weights. Default 1e-2. */
  l2?: number;
  /** Gradient steps. Default 300. */
  steps?: number;
  /** Called after each step with its loss (before the step's update). */
  onStep?: (step: number, loss: number) => void;
}

const toMatrix = (rows: Features): mp.Tensor => {
  const d = rows[0].length;
  const flat = new Float32Array(rows.length * d);
  rows.forEach((r, i) => flat.set(r, i * d));
  return mp.tensor(flat, [rows.length, d]);
};

/** Largest eigenvalue of XᵀX/N (power iteration on the host; X is N×D). */
function topEigenvalue(rows: Features, iterations = 30): number {
  const d = rows[0].length;
  let v = new Float64Array(d).fill(1 / Math.sqrt(d));
  let lambda = 0;
  for (let it = 0; it < iterations; it++) {
    const w = new Float64Array(d);
    for (const r of rows) {
      let dot = 0;
      for (let j = 0; j < d; j++) dot += r[j] * v[j];
      for (let j = 0; j < d; j++) w[j] += dot * r[j];
    }
    let norm = 0;
    for (let j = 0; j < d; j++) norm += w[j] * w[j];
    norm = Math.sqrt(norm);
    if (norm === 0) return 0;
    lambda = norm / rows.length;
    for (let j = 0; j < d; j++) w[j] /= norm;
    v = w;
  }
  return lambda;
}

/** Mean softmax cross-entropy of the probe plus (λ/2)‖W‖². */
export function probeLoss(p: LinearProbe, x: mp.Tensor, targets: mp.Tensor, l2: number): mp.Tensor {
  const ce = mp.softmaxCrossEntropy(mp.linear(x, p.weight, p.bias), targets);
  return l2 > 0 ? mp.add(ce, mp.mul(mp.sum(mp.square(p.weight)), l2 / 2)) : ce;
}

/** Train a softmax classifier on (already standardised) rows by full-batch Nesterov gradient descent. */
export function trainLinearProbe(
  rows: Features,
  labels: ArrayLike<number>,
  nClasses: number,
  opts: ProbeOptions = {},
): LinearProbe {
  if (rows.length !== labels.length) throw new Error(`probe: ${rows.length} feature rows but ${labels.length} labels`);
  if (!rows.length) throw new Error('probe: no training examples');
  const l2 = opts.l2 ?? 1e-2;
  const steps = opts.steps ?? 300;
  const d = rows[0].length;
  const x = toMatrix(rows);
  const targets = mp.oneHot(labels, nClasses);
  const lr = 1 / (0.5 * (topEigenvalue(rows) + 1) + l2);
  const lossAndGrad = mp.valueAndGrad((p: LinearProbe) => probeLoss(p, x, targets, l2));

  let params: LinearProbe = { weight: mp.zeros([nClasses, d]), bias: mp.zeros([nClasses]) };
  let prev = params;
  for (let t = 0; t < steps; t++) {
    // Nesterov: evaluate the gradient at the look-ahead point y = θ_t + (t−1)/(t+2)·(θ_t − θ_{t−1}).
    const beta = t === 0 ? 0 : (t - 1) / (t + 2);
    const look = mp.treeMap((a, b) => mp.add(a, mp.mul(mp.sub(a, b), beta)), params, prev);
    const [loss, g] = lossAndGrad(look);
    opts.onStep?.(t, loss.item());
    prev = params;
    params = mp.treeMap((y, gy) => mp.sub(y, mp.mul(gy, lr)), look, g);
  }
  return params;
}

/** Class scores W x + b, one row per example, as host arrays. */
export function probeLogits(p: LinearProbe, rows: Features): Float32Array[] {
  const logits = mp.linear(toMatrix(rows), p.weight, p.bias).toArray();
  const c = p.bias.size;
  return rows.map((_, i) => Float32Array.from(logits.subarray(i * c, (i + 1) * c)));
}

const argmax = (v: ArrayLike<number>): number => {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
};

/** Predicted class of every row. */
export const predict = (p: LinearProbe, rows: Features): number[] => probeLogits(p, rows).map(argmax);

/** confusion[true][predicted] = count. */
export function confusionMatrix(truth: ArrayLike<number>, predicted: ArrayLike<number>, nClasses: number): number[][] {
  const m = Array.from({ length: nClasses }, () => new Array<number>(nClasses).fill(0));
  for (let i = 0; i < truth.length; i++) m[truth[i]][predicted[i]]++;
  return m;
}

export function accuracy(truth: ArrayLike<number>, predicted: ArrayLike<number>): number {
  if (!truth.length) return NaN;
  let ok = 0;
  for (let i = 0; i < truth.length; i++) if (truth[i] === predicted[i]) ok++;
  return ok / truth.length;
}

export interface Evaluation {
  accuracy: number;
  predictions: number[];
  confusion: number[][];
}

/** Accuracy, predictions and confusion matrix of a trained probe on (standardised) rows. */
export function evaluate(p: LinearProbe, rows: Features, labels: ArrayLike<number>): Evaluation {
  const predictions = predict(p, rows);
  return {
    accuracy: accuracy(labels, predictions),
    predictions,
    confusion: confusionMatrix(labels, predictions, p.bias.size),
  };
}

// ---------------------------------------------------------------------------------------------
// k-fold cross-validation

export interface CrossValidation {
  foldAccuracies: number[];
  mean: number;
  /** Population standard deviation of the fold accuracies. */
  std: number;
  /** Summed over the folds' test sets (every example appears once). */
  confusion: number[][];
}

/** Stratified k-fold linear probe: standardise on each train fold, train, test on the held-out fold. */
export function crossValidate(
  rows: Features,
  labels: ArrayLike<number>,
  nClasses: number,
  k: number,
  key: Key,
  opts: ProbeOptions = {},
): CrossValidation {
  const folds = stratifiedFolds(labels, k, key);
  const confusion = Array.from({ length: nClasses }, () => new Array<number>(nClasses).fill(0));
  const foldAccuracies = folds.map(({ train, test }) => {
    const trainRows = train.map((i) => rows[i]);
    const s = fitStandardiser(trainRows);
    const probe = trainLinearProbe(
      applyStandardiser(trainRows, s),
      train.map((i) => labels[i]),
      nClasses,
      opts,
    );
    const testLabels = test.map((i) => labels[i]);
    const ev = evaluate(
      probe,
      applyStandardiser(
        test.map((i) => rows[i]),
        s,
      ),
      testLabels,
    );
    ev.confusion.forEach((row, a) => row.forEach((n, b) => (confusion[a][b] += n)));
    return ev.accuracy;
  });
  const mean = foldAccuracies.reduce((a, b) => a + b, 0) / k;
  const std = Math.sqrt(foldAccuracies.reduce((a, b) => a + (b - mean) ** 2, 0) / k);
  return { foldAccuracies, mean, std, confusion };
}

/** A confusion matrix as an aligned text table, rows = true class, columns = predicted. */
export function formatConfusion(m: number[][], classNames: readonly string[]): string {
  const abbrev = classNames.map((n, i) => (n.length > 8 ? n.slice(0, 7) + '…' : n) || String(i));
  const w = Math.max(5, ...abbrev.map((a) => a.length), ...m.flat().map((n) => String(n).length)) + 1;
  const header = 'true \\ predicted';
  const nameW = Math.max(header.length, ...classNames.map((n) => n.length)) + 1;
  const lines = [`${header.padEnd(nameW)}${abbrev.map((a) => a.padStart(w)).join('')}`];
  m.forEach((row, i) => lines.push(`${classNames[i].padEnd(nameW)}${row.map((n) => String(n).padStart(w)).join('')}`));
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// the log-mel baseline

/** Baseline features of a log-mel [nMels, nFrames]: per-band mean over time then per-band std (2·nMels values). */
export function logMelStatsFeatures(lm: { data: Float32Array; nMels: number; nFrames: number }): Float32Array {
  const { data, nMels, nFrames } = lm;
  const out = new Float32Array(2 * nMels);
  for (let m = 0; m < nMels; m++) {
    let s = 0;
    for (let t = 0; t < nFrames; t++) s += data[m * nFrames + t];
    const mu = s / Math.max(1, nFrames);
    let v = 0;
    for (let t = 0; t < nFrames; t++) v += (data[m * nFrames + t] - mu) ** 2;
    out[m] = mu;
    out[nMels + m] = Math.sqrt(v / Math.max(1, nFrames));
  }
  return out;
}
