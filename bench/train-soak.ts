/**
 * Soak of the whole trainer (`train()`, as `matpac train` runs it: metrics appends, checkpoints,
 * loss plot, lock): many micro steps, with memory sampled every tenth of the run — RSS, V8 heap,
 * ArrayBuffer bytes, and the native backend's buffers in use (allocations not yet returned to
 * its pool). A leak shows as growth from sample to sample after the first.
 *
 *   nice -n 10 npx tsx bench/train-soak.ts [steps=10000] [checkpointEvery=1000]
 *
 * The trainer keeps every step's metrics row in memory for the loss plot (~10 numbers a step), so
 * the heap grows by about 1 kB a step by design; nothing else should.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allocStats } from '../kernels/native/alloc';
import { train } from '../src/cli/train';
import { ensurePretrainSet } from '../src/data/render';

const steps = Number(process.argv[2] ?? 10_000);
const checkpointEvery = Number(process.argv[3] ?? 1000);
const tmp = mkdtempSync(join(tmpdir(), 'matpac-soak-'));
const MB = (n: number) => (n / 2 ** 20).toFixed(1);

const data = await ensurePretrainSet({ clips: 8, durationSec: 1, cacheRoot: join(tmp, 'cache'), quiet: true });
const every = Math.max(1, Math.floor(steps / 10));
const t0 = performance.now();
const samples: string[] = [];
const sample = (step: number) => {
  const m = process.memoryUsage();
  const a = allocStats();
  const line = `step ${String(step).padStart(6)}  ${((performance.now() - t0) / 1000).toFixed(0).padStart(5)} s  RSS ${MB(m.rss).padStart(6)} MB  heap ${MB(m.heapUsed).padStart(6)} MB  ArrayBuffers ${MB(m.arrayBuffers).padStart(6)} MB  native buffers in use ${a.allocs - a.released - a.dropped}  pooled ${MB(a.pooledBytes)} MB`;
  samples.push(line);
  console.log(line);
};
try {
  // silence the trainer's progress lines; keep ours on stdout
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = (() => true) as typeof process.stderr.write;
  const stdout = process.stdout.write.bind(process.stdout);
  console.log(
    `soak: ${steps} micro steps (batch 2), checkpoint every ${checkpointEvery}, native backend; node ${process.version}`,
  );
  process.stdout.write = ((s: string) =>
    s.startsWith('step ') || s.startsWith('soak') ? stdout(s) : true) as typeof process.stdout.write;
  await train(
    {
      preset: 'micro',
      steps,
      batch: 2,
      seed: 1,
      checkpointEvery,
      data,
      out: join(tmp, 'run'),
      backend: 'native',
      probe: false,
    },
    { batch: (t) => void (t % every === 0 && (global.gc?.(), sample(t))) },
  );
  sample(steps);
  process.stderr.write = write;
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
