/**
 * The training step of a preset (default tiny) in the web page, in headless Chromium, on each of
 * the page's backends, with Node's native backend timed in the same run as the reference.
 *
 *   npx tsx bench/web-step.ts [preset] [--steps N] [--only ROW,…] [--budget SEC]
 *   (ROW: webgl2-llvmpipe, webgl2-swiftshader, wasm-threaded, wasm-1-thread)
 *
 * Rows (what really runs is printed from the page: the WebGL renderer, the kernel classes):
 *   webgl2 llvmpipe    gpu.js WebGL2 on Mesa llvmpipe through ANGLE — a software rasteriser (the CPU)
 *   webgl2 swiftshader gpu.js WebGL2 on ANGLE → Vulkan → SwiftShader — also the CPU
 *   wasm threaded      native SIMD-wasm kernels, page cross-origin isolated (matmul on 2 threads)
 *   wasm 1 thread      the same without isolation (no SharedArrayBuffer)
 * Each row trains N steps (default 3); the first includes compiling kernels and is reported
 * apart; the step time is the median of the others. A row stops at --budget seconds (default 600).
 * Not a .bench.ts (not part of `matpac bench`): it needs Chromium and minutes per software-GL step.
 */
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { chromium } from 'playwright-core';
import { preset } from '../models/config';
import { initTrainState, trainStep } from '../models/matpac';
import { trainingBatch, fitMels } from '../models/run';
import { startWebServer } from '../src/cli/web';
import { loadLogMelDataset } from '../src/data/dataset';
import { ensurePretrainSet } from '../src/data/render';
import { disposeTree, scope, setBackend, tensor } from '../src/index';
import type { MatpacStatus } from '../web/src/main';

const args = process.argv.slice(2);
const opt = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const name = args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--')) ?? 'tiny';
const steps = Number(opt('--steps') ?? 3);
const budget = Number(opt('--budget') ?? 600) * 1000;
const only = opt('--only')?.split(',');
const CHROMIUM = [process.env.MATPAC_CHROMIUM, '/usr/lib/chromium/chromium', '/usr/bin/chromium'].find(
  (p): p is string => !!p && existsSync(p),
);
if (!CHROMIUM) throw new Error('no Chromium: apt-get install chromium');
const BASE = [
  '--no-sandbox',
  '--disable-dev-shm-usage',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-extensions',
];
const LLVMPIPE = ['--use-gl=angle', '--use-angle=gl-egl', '--ignore-gpu-blocklist'];

const ROWS = [
  { row: 'webgl2 llvmpipe', backend: 'webgl2', flags: LLVMPIPE, isolation: true },
  { row: 'webgl2 swiftshader', backend: 'webgl2', flags: [], isolation: true },
  { row: 'wasm threaded', backend: 'wasm', flags: [], isolation: true },
  { row: 'wasm 1 thread', backend: 'wasm', flags: [], isolation: false },
].filter((r) => !only || only.includes(r.row.replace(/ /g, '-')));

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const config = preset(name);
const data = await ensurePretrainSet({ clips: 16, durationSec: 4, quiet: true });

// Node native, same config and clips
const ds = await loadLogMelDataset(data, { minFrames: config.cropFrames });
const items = ds.items.map((it) => ({ logmel: fitMels(it.logmel, config.nMels) }));
setBackend('native');
let state = initTrainState(config);
const nodeMs: number[] = [];
for (let t = 0; t < steps; t++) {
  const b = trainingBatch(items, config, t);
  const x = tensor(b.data, b.shape);
  const t0 = performance.now();
  const [next] = scope(() => trainStep(state, x, config));
  nodeMs.push(performance.now() - t0);
  disposeTree([x, state], next);
  state = next;
}
console.log(
  `machine: ${cpus()[0]?.model} ×${cpus().length}, load ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}; preset ${name}, ${steps} steps per row`,
);
console.log(
  `node native             first ${nodeMs[0].toFixed(0)} ms, then median ${median(nodeMs.slice(1)).toFixed(0)} ms/step`,
);

for (const r of ROWS) {
  const server = await startWebServer({ port: 0, data, quiet: true, isolation: r.isolation });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...BASE, ...r.flags] });
  try {
    const page = await browser.newPage();
    await page.goto(`${server.url}?preset=${name}&steps=${steps}&backend=${r.backend}&autostart=1`);
    const t0 = Date.now();
    let s: MatpacStatus;
    for (;;) {
      s = await page.evaluate(() => (window as unknown as { matpacStatus: MatpacStatus }).matpacStatus);
      if (s.done || s.error || Date.now() - t0 > budget) break;
      await new Promise((res) => setTimeout(res, 500));
    }
    const runs = await page.textContent('#runs');
    const ms = s.stepMs;
    const rest = ms.slice(1);
    const line = s.error
      ? `error: ${s.error}`
      : ms.length === 0
        ? `no step finished within ${budget / 1000} s`
        : `first ${(ms[0] / 1000).toFixed(1)} s, then ${rest.length ? `median ${rest.length ? (median(rest) / 1000).toFixed(2) : '-'} s/step over ${rest.length}` : 'no further step'}${s.done ? '' : ` (stopped at the ${budget / 1000}-s budget)`}`;
    console.log(`${r.row.padEnd(22)}  ${line}\n${''.padEnd(24)}runs: ${runs}`);
  } finally {
    await browser.close();
    await server.close();
  }
}
