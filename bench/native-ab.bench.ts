/**
 * A/B of one native kernel setting on the jitted tiny training step, in one process: the setting
 * alternates every BENCH_STEPS (8) steps for BENCH_ROUNDS (12) rounds, so that a shared machine's
 * drift hits both sides alike; prints each side's step times, medians and the per-round ratios.
 *
 *   npx tsx bench/native-ab.bench.ts threads   # generated loops on the worker thread too, or not
 *   npx tsx bench/native-ab.bench.ts heap      # buffers in the kernels' memory, or own arrays
 *   npx tsx bench/native-ab.bench.ts rows      # the SIMD row kernels on the worker thread too, or not
 *   npx tsx bench/native-ab.bench.ts chunks    # threaded products cut into 8 chunks, or 4 (the default)
 *   npx tsx bench/native-ab.bench.ts jschunks  # threaded loops cut into 8 chunks, or 4 (the default)
 *   npx tsx bench/native-ab.bench.ts jsmin     # loops threaded from 2^14 elements, or from 2^15 (the default)
 *   npx tsx bench/native-ab.bench.ts wasmloops # elementwise loops as WebAssembly SIMD where they can be, or all JS
 */
import * as mp from '../src/index';
import { resolveConfig } from '../src/cli/model';
import { initTrainState, makeTrainStep } from '../models/matpac';
import { keyFromSeed, normalHost } from '../src/random';
import { setJsChunks, setJsParallelMin } from '../kernels/native/worker';
import { setMatmulConfig } from '../kernels/native/matmul';
import { setHeapBuffers } from '../kernels/native/alloc';
import { setRowsThreads } from '../kernels/native/rows';
import { setWasmLoops } from '../kernels/native/wasm-loop';

const what = process.argv[2] ?? 'threads';
const settings: Record<string, (on: boolean) => void> = {
  threads: (on) => setJsParallelMin(on ? 1 << 15 : Infinity),
  heap: (on) => setHeapBuffers(on),
  rows: (on) => setRowsThreads(on),
  chunks: (on) => setMatmulConfig({ targetChunks: on ? 8 : 4 }),
  jschunks: (on) => setJsChunks(on ? 8 : 4),
  jsmin: (on) => setJsParallelMin(on ? 1 << 14 : 1 << 15),
  wasmloops: (on) => setWasmLoops(on),
};
const set = settings[what];
if (!set) throw new Error(`unknown setting ${what}: one of ${Object.keys(settings).join(', ')}`);
const rounds = Number(process.env.BENCH_ROUNDS ?? 12);
const steps = Number(process.env.BENCH_STEPS ?? 8);
const config = resolveConfig('tiny');
const shape = [config.batchSize, config.nMels, config.cropFrames];
const host = Float32Array.from(
  normalHost(
    keyFromSeed(3),
    shape.reduce((a, b) => a * b, 1),
  ),
);
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];

mp.withBackend('native', () => {
  const trainStep = makeTrainStep(config, { jit: true });
  let state = initTrainState(config);
  const batch = mp.tensor(host, shape);
  const run = () => {
    const next = mp.scope(() => trainStep(state, batch))[0];
    mp.disposeTree(state, next);
    state = next;
  };
  for (let i = 0; i < 14; i++) run(); // V8 tiers the loops up
  const ms: Record<'on' | 'off', number[]> = { on: [], off: [] };
  for (let r = 0; r < rounds; r++)
    for (const side of ['on', 'off'] as const) {
      set(side === 'on');
      run(); // (one untimed step: the pool refills after a change)
      const t0 = performance.now();
      for (let i = 0; i < steps; i++) run();
      ms[side].push((performance.now() - t0) / steps);
    }
  console.log(`${what} on:  ${ms.on.map((x) => x.toFixed(0)).join(' ')}  median ${median(ms.on).toFixed(1)} ms/step`);
  console.log(`${what} off: ${ms.off.map((x) => x.toFixed(0)).join(' ')}  median ${median(ms.off).toFixed(1)} ms/step`);
  const ratios = ms.on.map((x, i) => ms.off[i] / x);
  console.log(`off/on per round: ${ratios.map((x) => x.toFixed(2)).join(' ')}; median ${median(ratios).toFixed(3)}`);
});
