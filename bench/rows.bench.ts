/**
 * Layer norm, softmax and gelu over [2048, 192] (the tiny preset's size class): the native backend
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
 *
 * gelu and geluGrad: tfjs has no gelu op, so `mp.gelu` (no read-back) is timed against tfjs's
 * erf recipe x·(1 + erf(x/√2))/2 (four kernels), and the kernels alone (kernels/native/rows.wasm's
 * `gelu` / `gelu_grad` on the same floats already in a module's memory, no copies) against an
 * older build of rows.wasm when one is given:
 *
 *   git show <commit>:kernels/native/rows.wasm > /tmp/rows-before.wasm
 *   BENCH_ROWS_BASELINE=/tmp/rows-before.wasm npx tsx bench/rows.bench.ts
 */
import { readFileSync } from 'node:fs';
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

/** `gelu` / `gelu_grad` of the rows.wasm at `wasm` over `x`, placed once in its memory: the kernels alone, no copies. */
function geluKernels(wasm: string | URL, x: Float32Array): Record<'gelu' | 'geluGrad', () => void> {
  const memory = new WebAssembly.Memory({ initial: Math.ceil((8 * x.length) / 65536), maximum: 65536 });
  const e = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(readFileSync(wasm))), { env: { memory } })
    .exports as Record<'gelu' | 'gelu_grad', (src: number, dst: number, nvec: number) => void>;
  new Float32Array(memory.buffer).set(x); // x.length is a multiple of 16, as the kernels need
  const nvec = x.length / 4;
  return { gelu: () => e.gelu(0, 4 * x.length, nvec), geluGrad: () => e.gelu_grad(0, 4 * x.length, nvec) };
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
  type Case = [task: string, impl: string, fn: () => void];
  // [the engine's row, its reference]: the ratio is the first's time over the second's, per round
  const pairs: [Case, Case][] = [true, false].flatMap((read) =>
    tasks.map(([name, n, t]): [Case, Case] => {
      const task = read ? name : `${name}, no read-back`;
      return [
        [task, 'native', native(n, read)],
        [task, 'tfjs-wasm', tfjs(t, read)],
      ];
    }),
  );
  const phi = () => tf.mul(0.5, tf.add(1, tf.erf(tf.mul(tX, Math.SQRT1_2))));
  const pdfTerm = () => tf.mul(tf.mul(tX, 1 / Math.sqrt(2 * Math.PI)), tf.exp(tf.mul(tf.square(tX), -0.5)));
  const geluTasks: [string, () => mp.Tensor, () => ReturnType<typeof tf.add>][] = [
    ['gelu, no read-back', () => mp.gelu(X), () => tf.mul(tX, phi())],
    ['geluGrad, no read-back', () => mp.bind('geluGrad', [X], {}), () => tf.add(phi(), pdfTerm())],
  ];
  for (const [task, n, t] of geluTasks)
    pairs.push([
      [task, 'native', native(n, false)],
      [task, 'tfjs-wasm', tfjs(t, false)],
    ]);
  const baseline = process.env.BENCH_ROWS_BASELINE;
  if (baseline) {
    const now = geluKernels(new URL('../kernels/native/rows.wasm', import.meta.url), x);
    const before = geluKernels(baseline, x);
    for (const k of ['gelu', 'geluGrad'] as const)
      pairs.push([
        [`${k} kernel alone`, 'native', now[k]],
        [`${k} kernel alone`, 'baseline', before[k]],
      ]);
  }
  const times = new Map<string, number[]>();
  for (let r = 0; r < rounds; r++) {
    for (const [task, impl, fn] of pairs.flat()) {
      const key = `${task}|${impl}`;
      times.set(key, [...(times.get(key) ?? []), timeIt(fn)]);
    }
  }
  console.log(`[${ROWS},${D}], ${rounds} alternating rounds, ≥ ${budgetMs} ms per row and round`);
  if (baseline) console.log(`baseline: ${baseline}`);
  console.log(`${'task'.padEnd(36)} ${'impl'.padEnd(10)} ${'median ms'.padStart(10)}  rounds (ms)   native/reference`);
  for (const [[task, impl], [, ref]] of pairs) {
    const ms = times.get(`${task}|${impl}`)!;
    const refMs = times.get(`${task}|${ref}`)!;
    const ratio = median(ms.map((m, i) => m / refMs[i])).toFixed(2) + '×';
    for (const [name, t, note] of [
      [impl, ms, ratio],
      [ref, refMs, ''],
    ] as const)
      console.log(
        `${task.padEnd(36)} ${name.padEnd(10)} ${median(t).toFixed(3).padStart(10)}  ${t.map((m) => m.toFixed(2)).join(' ')}   ${note}`,
      );
  }
}

await main();
