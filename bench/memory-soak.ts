/**
 * Memory over many training steps on a backend (default gpujs-headlessgl; run under `xvfb-run -a`
 * on a machine without a display): live buffers/textures, elements held, kernels compiled,
 * read-backs, RSS and heap, every tenth of the run. A leak shows as growth in any column.
 *
 *   xvfb-run -a npx tsx bench/memory-soak.ts [backend] [steps] [preset]
 *
 * The loop is the trainer's: each step runs in an engine scope (its intermediates are freed when
 * it returns) and the previous state and batch are freed with disposeTree.
 */
import * as mp from '../src/index';
import { keyFromSeed, normalHost } from '../src/random';
import { preset } from '../models/config';
import { initTrainState, trainStep } from '../models/matpac';
import type { GpujsBackend } from '../src/backends/gpujs';
import { allocStats } from '../kernels/native/alloc';

const backend = process.argv[2] ?? 'gpujs-headlessgl';
const steps = Number(process.argv[3] ?? 1000);
const config = preset(process.argv[4] ?? 'micro');
if (!mp.usableBackends().includes(backend)) {
  console.log(`backend ${backend} is not usable here (usable: ${mp.usableBackends().join(', ')})`);
  process.exit(1);
}
const be = mp.getBackend(backend);
console.log(`${be.describe()}; preset ${config.name}, ${steps} steps`);
mp.withBackend(backend, () => {
  let state = initTrainState(config);
  const t0 = performance.now();
  for (let i = 1; i <= steps; i++) {
    const batch = mp.tensor(
      Float32Array.from(normalHost(keyFromSeed(i), config.batchSize * config.nMels * config.cropFrames)),
      [config.batchSize, config.nMels, config.cropFrames],
    );
    const [next, m] = mp.scope(() => trainStep(state, batch, config));
    mp.disposeTree([batch, state], next);
    state = next;
    if (i === 1 || i % Math.max(1, Math.floor(steps / 10)) === 0) {
      const mem = process.memoryUsage();
      const s = 'stats' in be ? (be as unknown as GpujsBackend).stats() : null;
      const dev = s
        ? `live stores ${s.liveStores}, elements ${s.liveElements}, kernels ${s.kernels}, compiles ${s.compiles}, finalized ${s.finalized}, read-backs ${s.downloads}`
        : `pooled ${(allocStats().pooledBytes / 2 ** 20).toFixed(0)} MiB, reused ${allocStats().reused}/${allocStats().allocs} allocations`;
      console.log(
        `step ${i}: loss ${m.loss.toFixed(4)}; ${dev}; rss ${(mem.rss / 2 ** 20).toFixed(0)} MiB, heap ${(mem.heapUsed / 2 ** 20).toFixed(0)} MiB; ${((performance.now() - t0) / i).toFixed(0)} ms/step`,
      );
    }
  }
});
