/**
 * What users would pick instead: the engine's kernels (native backend, and gpu.js modes that
 * run here) against plain JS, tfjs-backend-wasm (XNNPACK SIMD) and — when Debian's
 * python3-torch is installed — PyTorch CPU, on the same shapes, in one run.
 *
 *   npx tsx bench/compare.bench.ts            (or: npx matpac bench)
 *
 * Engine figures go through `bind` (shape checks, buffer allocation: what a model pays).
 * tfjs is used the way its docs use it: an op, `dataSync()`, `dispose()` (no tf.tidy in the
 * timed loop — see ../shared/baselines.md on why that matters). PyTorch runs in a subprocess
 * (bench/torch_kernels.py) with 1 thread and with all cores. No figure here is asserted by a test.
 */
import Benchmark from 'benchmark';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import * as mp from '../src/index';
import { matmulF32JS } from '../kernels/native/matmul';

export interface Row {
  task: string;
  impl: string;
  ms: number;
  gflops: number;
}

const rows: Row[] = [];
const only = process.env.BENCH_ONLY?.split(',');

function run(task: string, impl: string, flops: number, fn: () => void): void {
  if (only && !only.some((o) => task.includes(o))) return;
  fn();
  const b = new Benchmark(`${task} | ${impl}`, fn, { minSamples: 5, maxTime: 1.5 });
  b.run();
  const ms = b.stats.mean * 1e3;
  rows.push({ task, impl, ms, gflops: flops / ms / 1e6 });
  console.log(
    `${task.padEnd(32)} ${impl.padEnd(44)} ${ms.toFixed(3).padStart(9)} ms ${(flops / ms / 1e6).toFixed(2).padStart(8)} GFLOP/s`,
  );
}

function randn(n: number, seed: number): Float32Array {
  let t = seed >>> 0;
  return Float32Array.from({ length: n }, () => (t = (Math.imul(t, 1664525) + 1013904223) >>> 0) / 2 ** 31 - 1);
}

async function loadTfWasm() {
  try {
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-wasm');
    await tf.setBackend('wasm');
    await tf.ready();
    return tf;
  } catch (e) {
    console.log(`tfjs-wasm unavailable: ${(e as Error).message}`);
    return null;
  }
}

const engineBackends = mp
  .usableBackends()
  .filter((b) => b === 'native' || b === 'gpujs-webasm' || b === 'gpujs-headlessgl' || b === 'gpujs-cpu');

export async function main(): Promise<Row[]> {
  console.log(
    `machine: ${cpus()[0]?.model} × ${cpus().length}, Node ${process.version}, load ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  const tf = await loadTfWasm();
  const sizes = [256, 512, 1024];
  for (const n of sizes) {
    const task = `matmul ${n}x${n}x${n}`;
    const flops = 2 * n ** 3;
    const a = randn(n * n, 1);
    const b = randn(n * n, 2);
    if (n <= 512) run(task, 'plain JS (i-k-j loop)', flops, () => matmulF32JS(a, b, 1, n, n, n));
    for (const be of engineBackends) {
      if (be === 'gpujs-cpu' && n > 256) continue; // ~0.6 GFLOP/s: seconds per call
      mp.withBackend(be, () => {
        const A = mp.tensor(a, [n, n]);
        const B = mp.tensor(b, [n, n]);
        run(task, `matpac-ts ${be}`, flops, () => mp.scope(() => void mp.matmul(A, B).toArray()));
      });
    }
    if (tf) {
      const A = tf.tensor2d(a, [n, n]);
      const B = tf.tensor2d(b, [n, n]);
      run(task, 'tfjs-backend-wasm', flops, () => {
        const c = tf.matMul(A, B);
        c.dataSync();
        c.dispose();
      });
    }
  }
  // attention, layer_norm, softmax at the tiny preset's size class
  const [Bt, H, N, dh] = [32, 4, 60, 32];
  const attFlops = 4 * Bt * H * N * N * dh + 5 * Bt * H * N * N;
  const qkv = [randn(Bt * H * N * dh, 3), randn(Bt * H * N * dh, 4), randn(Bt * H * N * dh, 5)];
  const x = randn(2048 * 192, 6);
  for (const be of engineBackends.filter((b) => b !== 'gpujs-cpu')) {
    mp.withBackend(be, () => {
      const [q, k, v] = qkv.map((d) => mp.tensor(d, [Bt, H, N, dh]));
      run(`attention B${Bt} H${H} N${N} d${dh}`, `matpac-ts ${be}`, attFlops, () =>
        mp.scope(
          () => void mp.matmul(mp.softmax(mp.mul(mp.matmul(q, k, { transB: true }), 1 / Math.sqrt(dh))), v).toArray(),
        ),
      );
      const X = mp.tensor(x, [2048, 192]);
      const g = mp.ones([192]);
      const z = mp.zeros([192]);
      run('layer_norm [2048,192]', `matpac-ts ${be}`, 7 * x.length, () =>
        mp.scope(() => void mp.layerNorm(X, g, z).toArray()),
      );
      run('softmax [2048,192]', `matpac-ts ${be}`, 5 * x.length, () => mp.scope(() => void mp.softmax(X).toArray()));
    });
  }
  if (tf) {
    const [q, k, v] = qkv.map((d) => tf.tensor4d(d, [Bt, H, N, dh]));
    run(`attention B${Bt} H${H} N${N} d${dh}`, 'tfjs-backend-wasm', attFlops, () => {
      const r = tf.tidy(() => tf.matMul(tf.softmax(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dh))), v));
      r.dataSync();
      r.dispose();
    });
    const X = tf.tensor2d(x, [2048, 192]);
    run('layer_norm [2048,192]', 'tfjs-backend-wasm', 7 * x.length, () => {
      const r = tf.tidy(() => {
        const { mean, variance } = tf.moments(X, -1, true);
        return tf.mul(tf.sub(X, mean), tf.rsqrt(tf.add(variance, 1e-6)));
      });
      r.dataSync();
      r.dispose();
    });
    run('softmax [2048,192]', 'tfjs-backend-wasm', 5 * x.length, () => {
      const r = tf.softmax(X);
      r.dataSync();
      r.dispose();
    });
  }
  // PyTorch CPU, when installed (Debian: apt-get install python3-torch)
  const py = ['/usr/bin/python3', 'python3'].find((p) => p === 'python3' || existsSync(p))!;
  for (const threads of [1, cpus().length]) {
    // OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are set on these machines for old OpenBLAS builds and
    // slow a current one down: unset both for this subprocess only (see the env notes)
    const env = { ...process.env };
    delete env.OPENBLAS_CORETYPE;
    delete env.OPENBLAS_L2_SIZE;
    const r = spawnSync(py, ['bench/torch_kernels.py', String(threads)], { encoding: 'utf8', env });
    if (r.status !== 0) {
      console.log(`PyTorch unavailable (${(r.stderr || '').trim().split('\n').pop()})`);
      break;
    }
    for (const line of r.stdout.trim().split('\n')) {
      const row = JSON.parse(line) as Row;
      if (only && !only.some((o) => row.task.includes(o))) continue;
      rows.push(row);
      console.log(
        `${row.task.padEnd(32)} ${row.impl.padEnd(44)} ${row.ms.toFixed(3).padStart(9)} ms ${row.gflops.toFixed(2).padStart(8)} GFLOP/s`,
      );
    }
  }
  return rows;
}

export function markdownTable(rs: Row[]): string {
  const out = ['| task | implementation | ms / call | GFLOP/s | vs matpac-ts native |', '|---|---|---:|---:|---:|'];
  for (const r of rs) {
    const base = rs.find((x) => x.task === r.task && x.impl === 'matpac-ts native');
    out.push(
      `| ${r.task} | ${r.impl} | ${r.ms.toFixed(3)} | ${r.gflops.toFixed(2)} | ${base ? (base.ms / r.ms).toFixed(2) + '×' : ''} |`,
    );
  }
  return out.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('compare.bench.ts')) {
  const rs = await main();
  console.log('\n' + markdownTable(rs));
}
