/**
 * Training-step time of a preset (default `tiny`) on each usable backend, against a PyTorch
 * implementation of the same step (bench/torch_matpac_step.py: same shapes and FLOPs), in one run.
 *
 *   npx tsx bench/train-step.bench.ts [preset]      (BENCH_STEPS=5 by default)
 *
 * FLOPs per step are counted from the engine's trace of one step (src/trace.ts).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import * as mp from '../src/index';
import { trace } from '../src/trace';
import { preset } from '../models/config';
import { initTrainState, trainStep } from '../models/matpac';
import { keyFromSeed, normalHost } from '../src/random';

const name = process.argv[2] ?? 'tiny';
const config = preset(name);
const steps = Number(process.env.BENCH_STEPS ?? 5);
const shape = [config.batchSize, config.nMels, config.cropFrames];
const host = Float32Array.from(normalHost(keyFromSeed(3), shape.reduce((a, b) => a * b, 1)));

export interface StepRow {
  impl: string;
  msPerStep: number;
  gflops: number;
}

export function measure(): { flops: number; rows: StepRow[] } {
  console.log(`machine: ${cpus()[0]?.model} × ${cpus().length}, Node ${process.version}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const rows: StepRow[] = [];
  let flops = 0;
  const backends = (process.env.BENCH_BACKENDS?.split(',') ?? ['native', 'gpujs-webasm', 'gpujs-headlessgl']).filter((b) => mp.usableBackends().includes(b));
  for (const be of backends) {
    mp.withBackend(be, () => {
      let state = initTrainState(config);
      const batch = mp.tensor(host, shape);
      const t = trace(() => mp.scope(() => trainStep(state, batch, config)), null);
      flops = t.trace.flops;
      state = t.result[0];
      const n = be === 'native' ? steps : Math.max(1, Math.floor(steps / 3));
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        const next = mp.scope(() => trainStep(state, batch, config))[0];
        mp.disposeTree(state, next);
        state = next;
      }
      const ms = (performance.now() - t0) / n;
      rows.push({ impl: `matpac-ts ${be} (${mp.getBackend(be).describe()})`, msPerStep: ms, gflops: flops / ms / 1e6 });
      console.log(`${rows.at(-1)!.impl}: ${ms.toFixed(0)} ms/step, ${(flops / ms / 1e6).toFixed(2)} GFLOP/s`);
    });
  }
  const py = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const r = spawnSync(py, ['bench/torch_matpac_step.py', '1', String(cpus().length)], { input: JSON.stringify(config), encoding: 'utf8', env });
  if (r.status === 0) {
    for (const line of r.stdout.trim().split('\n')) {
      const o = JSON.parse(line) as { impl: string; ms_per_step: number };
      rows.push({ impl: o.impl, msPerStep: o.ms_per_step, gflops: flops / o.ms_per_step / 1e6 });
      console.log(`${o.impl}: ${o.ms_per_step.toFixed(0)} ms/step`);
    }
  } else console.log(`PyTorch unavailable: ${(r.stderr || '').trim().split('\n').pop()}`);
  return { flops, rows };
}

const { flops, rows } = measure();
console.log(`\npreset ${name}: batch ${config.batchSize}, crop ${config.cropFrames} frames, ${(flops / 1e9).toFixed(2)} GFLOP per step (engine trace)\n`);
console.log('| implementation | ms / step | steps/s | GFLOP/s | vs fastest PyTorch |');
console.log('|---|---:|---:|---:|---:|');
const torchBest = Math.min(...rows.filter((r) => r.impl.startsWith('PyTorch')).map((r) => r.msPerStep));
for (const r of rows) console.log(`| ${r.impl} | ${r.msPerStep.toFixed(0)} | ${(1000 / r.msPerStep).toFixed(2)} | ${r.gflops.toFixed(2)} | ${Number.isFinite(torchBest) ? (r.msPerStep / torchBest).toFixed(2) + '×' : ''} |`);
