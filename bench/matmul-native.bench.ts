/**
 * Matmul benchmark: plain JS (i-k-j) vs the native SIMD WebAssembly kernel on 1 thread, 2 threads
 * (forced) and the automatic choice.
 *
 *   npx tsx bench/matmul-native.bench.ts            # 256, 512, 1024 and a model-sized product
 *   BENCH_SIZES=512,model npx tsx bench/matmul-native.bench.ts
 *
 * Each case multiplies fixed random float32 operands into a preallocated `out` (so the
 * figure is the kernel, including copying operands into / the result out of wasm memory,
 * not allocation). GFLOP/s = 2*M*K*N / (mean seconds per product). Each group also prints
 * the load average and how many cores this process could actually get at that moment
 * ("effective cores", measured with a CPU-bound loop on 1 vs 2 threads): other processes on a
 * 2-core box skew the figures, the 2-thread ones most.
 */
import Benchmark from 'benchmark';
import { cpus, loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
import { getMatmulConfig, matmulF32, matmulF32JS, matmulInfo, matmulStats } from '../kernels/native/matmul';

interface Shape {
  label: string;
  batch: number;
  M: number;
  K: number;
  N: number;
}

function randomArray(n: number, seed: number): Float32Array {
  let t = seed >>> 0;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    t = (Math.imul(t, 1664525) + 1013904223) >>> 0;
    a[i] = t / 2 ** 31 - 1;
  }
  return a;
}

// BENCH_SIZES: comma-separated square sizes, and/or `model` for [64x192]x[192x576]
const shapes: Shape[] = (process.env.BENCH_SIZES ?? '256,512,1024,model')
  .split(',')
  .map((t) =>
    t.trim() === 'model'
      ? { label: '[64x192]x[192x576] (model-sized)', batch: 1, M: 64, K: 192, N: 576 }
      : { label: `${t}x${t}x${t}`, batch: 1, M: +t, K: +t, N: +t },
  );

const info = matmulInfo();
console.log(`CPU: ${cpus()[0]?.model ?? '?'} x ${cpus().length}, Node ${process.version}`);
console.log(`matmul impl: ${info.impl}, max threads ${info.threads}; config ${JSON.stringify(getMatmulConfig())}`);

/**
 * How many cores this process can get right now: the same CPU-bound loop alone vs on the main
 * thread and a worker at once (2.0 = two free cores; ~1.0 = other processes hold one).
 */
async function effectiveCores(): Promise<number> {
  const spin = (n: number) => {
    let x = 0;
    for (let i = 0; i < n; i++) x += Math.sqrt(i);
    return x;
  };
  const src = `const { parentPort } = require('node:worker_threads');
    parentPort.on('message', (n) => { let x = 0; for (let i = 0; i < n; i++) x += Math.sqrt(i); parentPort.postMessage(x); });`;
  const w = new Worker(src, { eval: true });
  const run = (n: number) =>
    new Promise<void>((res) => {
      w.once('message', () => res());
      w.postMessage(n);
    });
  const n = 3e7;
  await run(n / 10); // warm both
  spin(n / 10);
  let best = 0;
  for (let r = 0; r < 3; r++) {
    let t = performance.now();
    spin(n);
    const solo = performance.now() - t;
    t = performance.now();
    const done = run(n);
    spin(n);
    await done;
    const both = performance.now() - t;
    best = Math.max(best, (2 * solo) / both);
  }
  await w.terminate();
  return Math.min(2, best);
}

const la = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

for (const s of shapes) {
  const { batch, M, K, N } = s;
  const a = randomArray(batch * M * K, 1);
  const b = randomArray(batch * K * N, 2);
  const out = new Float32Array(batch * M * N);
  const flops = 2 * batch * M * K * N;
  const suite = new Benchmark.Suite(s.label);
  const slowJs = flops > 1e9; // ~1 s per call: keep its sampling short
  suite.add(
    'plain JS i-k-j',
    () => matmulF32JS(a, b, batch, M, K, N, { out }),
    slowJs ? { minSamples: 2, maxTime: 2 } : {},
  );
  suite.add('wasm SIMD, 1 thread', () => matmulF32(a, b, batch, M, K, N, { out, threads: 1 }), { minSamples: 10 });
  if (info.threads > 1) {
    suite.add('wasm SIMD, 2 threads', () => matmulF32(a, b, batch, M, K, N, { out, threads: 2 }), { minSamples: 10 });
    // what the engine gets by default: size threshold + back-off when the worker straggles
    suite.add('wasm SIMD, auto', () => matmulF32(a, b, batch, M, K, N, { out }), { minSamples: 10 });
  }
  console.log(
    `\n${s.label}  (load avg ${la()}; effective cores for this process ${(await effectiveCores()).toFixed(2)})`,
  );
  const before = matmulStats();
  suite.on('cycle', (ev: Benchmark.Event) => {
    const t = ev.target as Benchmark.Target & { stats: Benchmark.Stats; hz: number; name: string };
    const gflops = (flops * (t.hz ?? 0)) / 1e9;
    const ms = (t.stats.mean * 1e3).toFixed(t.stats.mean < 1e-3 ? 3 : 2);
    console.log(
      `  ${String(t.name).padEnd(22)} ${gflops.toFixed(2).padStart(7)} GFLOP/s   ${ms} ms/op ±${t.stats.rme.toFixed(1)}%  (${t.stats.sample.length} samples)`,
    );
  });
  suite.run({ async: false });
  const after = matmulStats();
  if (info.threads > 1) {
    const d = (k: keyof typeof after) => after[k] - before[k];
    console.log(
      `  (threaded calls: worker joined ${d('threadedCalls')}, missed ${d('workerMissed')}; auto chose 1 thread ${d('autoOneThread')}x, 2 threads ${d('autoTwoThreads')}x)`,
    );
  }
}
console.log(`\nload avg at end: ${la()}`);
