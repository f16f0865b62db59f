/**
 * gpu.js kernels in every gpu.js mode that works here, against plain JavaScript (and the native
 * backend) in the same run: matmul 256² and 512² (both kernel variants: naive, unroll4), and a
 * transformer-sized layer_norm + softmax over [2048, 192] rows (fused row-wise primitives).
 *
 * Timed through the backend's kernel table on device buffers (upload outside the loop). In GL
 * modes a kernel call only queues work, so each timed call ends with a 1-element download to
 * synchronise; cpu and webasm are synchronous. GFLOP/s are nominal: 2·M·N·K for matmul, the
 * primitives' flop counts (7 + 5 per element) for layer_norm + softmax.
 *
 * Writes the table into bench/RESULTS.md, section "gpu.js modes" (replacing an earlier one).
 *
 *   npx tsx bench/kernels-gpujs.bench.ts          (or: matpac bench kernels-gpujs)
 */
import Benchmark from 'benchmark';
import { execSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GPU } from 'gpu.js';
import { getBackend } from '../src/index';
import type { Backend } from '../src/backend';
import { createGpujsBackend, gpujsModeAvailable, type GpujsBackend, type GpujsMode } from '../src/backends/gpujs';
import type { MatmulVariant } from '../kernels/gpujs/matmul';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const QUICK = process.argv.includes('--quick');
const OPTS = { minSamples: QUICK ? 2 : 5, maxTime: QUICK ? 0.5 : 2, initCount: 1 };

// ------------------------------------------------------------------------------------------------
// plain JavaScript baselines

function matmulJS(a: Float32Array, b: Float32Array, n: number): Float32Array {
  const c = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    const ci = i * n;
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k];
      const bk = k * n;
      for (let j = 0; j < n; j++) c[ci + j] += aik * b[bk + j];
    }
  }
  return c;
}

function layerNormSoftmaxJS(x: Float32Array, rows: number, d: number, eps: number): Float32Array {
  const y = new Float32Array(rows * d);
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    let mu = 0;
    for (let j = 0; j < d; j++) mu += x[o + j];
    mu /= d;
    let v = 0;
    for (let j = 0; j < d; j++) v += (x[o + j] - mu) ** 2;
    const s = 1 / Math.sqrt(v / d + eps);
    let m = -Infinity;
    for (let j = 0; j < d; j++) {
      const t = (x[o + j] - mu) * s;
      y[o + j] = t;
      if (t > m) m = t;
    }
    let z = 0;
    for (let j = 0; j < d; j++) z += Math.exp(y[o + j] - m);
    for (let j = 0; j < d; j++) y[o + j] = Math.exp(y[o + j] - m) / z;
  }
  return y;
}

// ------------------------------------------------------------------------------------------------

const rand = (n: number, seed: number) => {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0), s / 2 ** 32 - 0.5));
};

interface Row {
  task: string;
  impl: string;
  ms: number;
  gflops: number;
  rme: number;
  samples: number;
}
const rows: Row[] = [];

function run(task: string, flops: number, cases: [string, () => void][]): void {
  const suite = new Benchmark.Suite(task);
  for (const [impl, fn] of cases) suite.add(impl, fn, OPTS);
  suite.on('cycle', (ev: Benchmark.Event) => {
    const b = ev.target as Benchmark.Target & { stats: Benchmark.Stats; name: string };
    const ms = b.stats.mean * 1000;
    const row = {
      task,
      impl: b.name,
      ms,
      gflops: flops / b.stats.mean / 1e9,
      rme: b.stats.rme,
      samples: b.stats.sample.length,
    };
    rows.push(row);
    console.log(
      `${task.padEnd(28)} ${row.impl.padEnd(34)} ${ms.toFixed(2).padStart(9)} ms  ${row.gflops.toFixed(3).padStart(7)} GFLOP/s  ±${row.rme.toFixed(1)}%`,
    );
  });
  suite.run();
}

/** Time a backend kernel: inputs uploaded once; the output is freed (and, on GL, read back). */
function kernelCase(be: Backend, f: (bufs: unknown[]) => unknown, inputs: [Float32Array, number[]][]): () => void {
  const bufs = inputs.map(([d, s]) => be.upload(d, s));
  const sync = (be as GpujsBackend).textures === true;
  return () => {
    const out = f(bufs);
    if (sync) be.download(out, [1]);
    be.dispose(out);
  };
}

function checkSame(what: string, a: ArrayLike<number>, b: ArrayLike<number>, tol: number): void {
  // relative to the largest magnitude: plain JS accumulates in float32, so near-zero entries differ
  let w = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    w = Math.max(w, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  if (!(w <= tol * scale) || a.length !== b.length)
    throw new Error(`${what}: result differs from plain JS (worst ${w}, scale ${scale})`);
}

const modes: GpujsMode[] = ['cpu', 'webasm', 'gpu', 'headlessgl'];
const backends: { label: string; be: GpujsBackend }[] = [];
const notes: string[] = [];
const seen = new Set<string>();
for (const m of modes) {
  if (!gpujsModeAvailable(m).ok) {
    console.log(`gpujs-${m}: unavailable (${gpujsModeAvailable(m).why})`);
    notes.push(`gpujs-${m} unavailable`);
    continue;
  }
  const be = createGpujsBackend(m);
  be.upload([1], [1]);
  const real = be.kernelClasses().join('+');
  if (seen.has(real)) {
    console.log(`gpujs-${m}: runs as ${real}, already measured (${be.describe()})`);
    notes.push(`gpujs-${m} silently runs as ${real} (not measured twice)`);
    continue;
  }
  seen.add(real);
  backends.push({ label: m, be });
  console.log(`gpujs-${m}: ${be.describe()}`);
}
const native = getBackend('native');

for (const n of [256, 512]) {
  const a = rand(n * n, 1);
  const b = rand(n * n, 2);
  const ref = matmulJS(a, b, n);
  const cases: [string, () => void][] = [['plain JS (ikj loop)', () => matmulJS(a, b, n)]];
  const mm = (be: Backend) => (bufs: unknown[]) =>
    be.kernels.matmul(
      bufs,
      [
        [n, n],
        [n, n],
      ],
      [n, n],
      { transA: false, transB: false },
    );
  for (const { label, be } of backends) {
    for (const v of ['naive', 'unroll4'] as MatmulVariant[]) {
      be.matmulVariant = v;
      const buf = mm(be)([be.upload(a, [n, n]), be.upload(b, [n, n])]);
      checkSame(`gpujs-${label} ${v} matmul ${n}`, be.download(buf, [n, n]), ref, 1e-3);
      const bound = kernelCase(be, mm(be), [
        [a, [n, n]],
        [b, [n, n]],
      ]);
      cases.push([`gpujs-${label} (${v})`, () => ((be.matmulVariant = v), bound())]);
    }
  }
  cases.push([
    'native backend (wasm SIMD)',
    kernelCase(native, mm(native), [
      [a, [n, n]],
      [b, [n, n]],
    ]),
  ]);
  run(`matmul ${n}x${n}x${n}`, 2 * n * n * n, cases);
}

{
  const R = 2048;
  const D = 192;
  const eps = 1e-6;
  const x = rand(R * D, 3);
  const ref = layerNormSoftmaxJS(x, R, D, eps);
  const lnsm =
    (be: Backend) =>
    ([xb]: unknown[]) => {
      const h = be.kernels.layerNormalize([xb], [[R, D]], [R, D], { eps });
      const y = be.kernels.softmax([h], [[R, D]], [R, D], {});
      be.dispose(h);
      return y;
    };
  const cases: [string, () => void][] = [['plain JS (row loops)', () => layerNormSoftmaxJS(x, R, D, eps)]];
  for (const { label, be } of [...backends, { label: 'native', be: native as GpujsBackend }]) {
    const out = lnsm(be)([be.upload(x, [R, D])]);
    checkSame(`${label} layer_norm+softmax`, be.download(out, [R, D]), ref, 1e-3);
    cases.push([label === 'native' ? 'native backend' : `gpujs-${label}`, kernelCase(be, lnsm(be), [[x, [R, D]]])]);
  }
  run(`layer_norm+softmax [${R},${D}]`, 12 * R * D, cases);
}

// ------------------------------------------------------------------------------------------------
// bench/RESULTS.md, section "gpu.js modes"

function cpuModel(): string {
  try {
    const m = /Model name:\s*(.+)/.exec(execSync('lscpu', { encoding: 'utf8' }));
    if (m) return m[1].trim();
  } catch {
    // no lscpu
  }
  return cpus()[0]?.model ?? 'unknown CPU';
}

const date = new Date().toISOString().slice(0, 10);
const load = loadavg()[0].toFixed(2);
const lines = [
  '## gpu.js modes',
  '',
  `Machine: ${cpuModel()} (lscpu), ${cpus().length} cores, Node ${process.version}, gpu.js 2.24.1; ${date}; load average ${load} at the end (a shared machine: expect ±10% run to run).`,
  `Modes measured: ${backends.map(({ label, be }) => `gpujs-${label} = ${be.kernelClasses().join('+')}`).join(', ')}; ${notes.join('; ')}${GPU.isHeadlessGLSupported ? '' : ' (headlessgl needs the optional `gl` package)'}.`,
  'matmul variants: naive (one multiply-add per loop trip), unroll4 (K unrolled by 4, four accumulators); the backend defaults to unroll4 in cpu/GL modes and naive in webasm.',
  'Produced by `npx tsx bench/kernels-gpujs.bench.ts` (benchmark.js; mean time per call, device buffers, output freed each call).',
  '',
  '| task | implementation | ms / call | GFLOP/s | ±% | samples |',
  '|---|---|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.task} | ${r.impl} | ${r.ms.toFixed(2)} | ${r.gflops.toFixed(3)} | ${r.rme.toFixed(1)} | ${r.samples} |`,
  ),
  '',
];
const file = join(ROOT, 'bench', 'RESULTS.md');
let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n\n';
const start = text.indexOf('## gpu.js modes');
if (start >= 0) {
  const next = text.indexOf('\n## ', start + 1);
  text = text.slice(0, start) + lines.join('\n') + (next >= 0 ? text.slice(next + 1) : '');
} else {
  text = text.replace(/\n*$/, '\n\n') + lines.join('\n');
}
if (!QUICK) writeFileSync(file, text);
console.log(QUICK ? '(--quick: bench/RESULTS.md not written)' : `wrote ${file} (section "gpu.js modes")`);
