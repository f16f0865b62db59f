/**
 * Layer norm and softmax rows [2048, 192] (the tiny preset's size class): the native backend
 * against tfjs-backend-wasm (XNNPACK), in alternating rounds of one process, so that the ratios
 * hold on a shared machine whose speed drifts.
 *
 *   npx tsx bench/rows.bench.ts            (BENCH_ROUNDS=7, BENCH_MS=300 per row and round)
 *
 * Each round times every row for ≥ BENCH_MS (after a warm-up call) and records its mean call time;
 * a row reports the median of its rounds, and the ratio to tfjs is the median of the per-round
 * ratios. Each task runs twice: with reading the result back (`toArray()` / `dataSync()`), as a
 * model pays it, and without (the result stays on the backend and is disposed), which isolates
 * the kernels: each read-back allocates a fresh 1.5 MB array on both sides, and its page faults
 * and garbage collection make the first kind of row drift by up to 2× between rounds. Layer norm is measured as the engine's `layerNorm(x, γ, β)` against tfjs's moments
 * recipe with and without the affine part (tfjs has no fused layer norm op), and as the bare
 * normalisation (the `layerNormalize` primitive) against tfjs's without the affine part.
 */
import { cpus, loadavg } from 'node:os';
import * as mp from '../src/index';

const ROWS = 2048;
const D = 192;
const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
const budgetMs = Number(process.env.BENCH_MS ?? 300);

function randn(n: number, seed: number): Float32Array {
  let t = seed >>> 0;
  return Float32Array.from({ length: n }, () => (t = (Math.imul(t, 1664525) + 1013904223) >>> 0) / 2 ** 31 - 1);
}

/** Mean ms per call of `fn` over at least `budgetMs`. */
function timeIt(fn: () => void): number {
  fn();
  let calls = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < budgetMs) {
    fn();
    calls++;
    t = performance.now();
  }
  return (t - t0) / calls;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  console.log(
    `machine: ${cpus()[0]?.model} × ${cpus().length}, Node ${process.version}, load ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}, rows impl: ${mp.rowsInfo().impl}`,
  );
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend('wasm');
  await tf.ready();

  const x = randn(ROWS * D, 6);
  const gamma = Float32Array.from(randn(D, 7), (v) => 1 + 0.5 * v);
  const beta = randn(D, 8);
  const X = mp.withBackend('native', () => mp.tensor(x, [ROWS, D]));
  const G = mp.withBackend('native', () => mp.tensor(gamma, [D]));
  const B = mp.withBackend('native', () => mp.tensor(beta, [D]));
  const tX = tf.tensor2d(x, [ROWS, D]);
  const tG = tf.tensor1d(gamma);
  const tB = tf.tensor1d(beta);
  const native = (f: () => mp.Tensor, read: boolean) => () =>
    mp.withBackend('native', () =>
      mp.scope(() => {
        const r = f();
        if (read) r.toArray();
      }),
    );
  const tfjs = (f: () => ReturnType<typeof tf.add>, read: boolean) => () => {
    const r = tf.tidy(f);
    if (read) r.dataSync();
    r.dispose();
  };
  const normalised = () => {
    const { mean, variance } = tf.moments(tX, -1, true);
    return tf.mul(tf.sub(tX, mean), tf.rsqrt(tf.add(variance, 1e-6)));
  };
  const tasks: [string, () => mp.Tensor, () => ReturnType<typeof tf.add>][] = [
    ['layer_norm (x̂·γ + β)', () => mp.layerNorm(X, G, B), () => tf.add(tf.mul(normalised(), tG), tB)],
    ['layer_norm (x̂ only)', () => mp.bind('layerNormalize', [X], { eps: 1e-6 }), normalised],
    ['softmax', () => mp.softmax(X), () => tf.softmax(tX)],
  ];
  const cases: [string, string, () => void][] = [true, false].flatMap((read) =>
    tasks.flatMap(([name, n, t]): [string, string, () => void][] => {
      const task = read ? name : `${name}, no read-back`;
      return [
        [task, 'native', native(n, read)],
        [task, 'tfjs-wasm', tfjs(t, read)],
      ];
    }),
  );
  const times = new Map<string, number[]>();
  for (let r = 0; r < rounds; r++) {
    for (const [task, impl, fn] of cases) {
      const key = `${task}|${impl}`;
      times.set(key, [...(times.get(key) ?? []), timeIt(fn)]);
    }
  }
  console.log(`[${ROWS},${D}], ${rounds} alternating rounds, ≥ ${budgetMs} ms per row and round`);
  console.log(`${'task'.padEnd(36)} ${'impl'.padEnd(10)} ${'median ms'.padStart(10)}  rounds (ms)   native/tfjs`);
  for (const [task, impl] of cases) {
    const ms = times.get(`${task}|${impl}`)!;
    const tfMs = times.get(`${task}|tfjs-wasm`)!;
    const ratio = impl === 'native' ? median(ms.map((m, i) => m / tfMs[i])).toFixed(2) + '×' : '';
    console.log(
      `${task.padEnd(36)} ${impl.padEnd(10)} ${median(ms).toFixed(3).padStart(10)}  ${ms.map((m) => m.toFixed(2)).join(' ')}   ${ratio}`,
    );
  }
}

await main();
