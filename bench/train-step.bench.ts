/**
 * Training-step time of a preset (default `tiny`) on each usable backend, against a PyTorch
 * implementation of the same step (bench/torch_matpac_step.py: same shapes and FLOPs), in one run.
 *
 *   npx tsx bench/train-step.bench.ts [preset]      (BENCH_STEPS=8, BENCH_ROUNDS=3 by default)
 *
 * `preset` is a name or a JSON config file, as `matpac train --preset` takes: e.g. bench/tiny-2s.json,
 * tiny at its 2.08-s crop of before session 5 (the step issue #14's figures up to then were measured on).
 *
 * FLOPs per step are counted from the engine's trace of one step (src/trace.ts).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import * as mp from '../src/index';
import { trace } from '../src/trace';
import { formatPlanStats } from '../src/jit/format';
import { resolveConfig } from '../src/cli/model';
import { initTrainState, makeTrainStep } from '../models/matpac';
import { keyFromSeed, normalHost } from '../src/random';

const name = process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 'tiny';
const config = resolveConfig(name);
const QUICK = process.argv.includes('--quick'); // `matpac bench --quick`: a smoke run, 1 round of 2 steps
const steps = Number(process.env.BENCH_STEPS ?? (QUICK ? 2 : 8));
const shape = [config.batchSize, config.nMels, config.cropFrames];
const host = Float32Array.from(
  normalHost(
    keyFromSeed(3),
    shape.reduce((a, b) => a * b, 1),
  ),
);

export interface StepRow {
  impl: string;
  /** Median over rounds of the mean step time in each round. */
  msPerStep: number;
  gflops: number;
  /** Mean step time of each round. */
  rounds: number[];
}

/**
 * The machine is shared and its speed drifts by ±10–20 % over minutes, so the engine and
 * PyTorch are measured in alternating rounds (BENCH_ROUNDS, default 3): each round times
 * ≥ BENCH_STEPS native steps and ≥ 5 s, then PyTorch on one thread for ≥ 5 s. Each row reports
 * the median round, and the ratio to PyTorch is the median of the per-round ratios.
 */
export function measure(): { flops: number; rows: StepRow[]; ratios: number[]; ratioOf: string } {
  console.log(
    `machine: ${cpus()[0]?.model} × ${cpus().length}, Node ${process.version}, load ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  const rounds = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 3));
  const byImpl = new Map<string, number[]>();
  const add = (impl: string, ms: number) => byImpl.set(impl, [...(byImpl.get(impl) ?? []), ms]);
  let flops = 0;
  // `<backend>-jit`: the same backend running the step compiled by jit (src/jit); the CLI's default
  const backends = (
    process.env.BENCH_BACKENDS?.split(',') ?? ['native', 'native-jit', 'gpujs-webasm', 'gpujs-headlessgl']
  ).filter((b) => mp.usableBackends().includes(b.replace(/-jit$/, '')));
  const stepFns = new Map<string, ReturnType<typeof makeTrainStep>>();
  const stepOf = (be: string) => {
    let f = stepFns.get(be);
    if (!f) stepFns.set(be, (f = makeTrainStep(config, { jit: be.endsWith('-jit') })));
    return f;
  };
  const states = new Map<string, ReturnType<typeof initTrainState>>();
  const py = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const torch = (threads: number[], blasThreads?: number): { impl: string; ms_per_step: number }[] | string => {
    const e = blasThreads ? { ...env, OPENBLAS_NUM_THREADS: String(blasThreads) } : env;
    const r = spawnSync(py, ['bench/torch_matpac_step.py', ...threads.map(String)], {
      input: JSON.stringify(config),
      encoding: 'utf8',
      env: e,
    });
    if (r.status !== 0) return (r.stderr || r.error?.message || '').trim().split('\n').pop() ?? 'failed';
    return r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { impl: string; ms_per_step: number });
  };
  const ratios: number[] = [];
  let torchMissing = '';
  // the native backend alternates with PyTorch for `rounds` rounds; the slow backends run once,
  // after them (their allocations would otherwise perturb the native rounds)
  const native = backends.filter((b) => b.startsWith('native'));
  const slow = backends.filter((b) => !b.startsWith('native'));
  for (let round = 0; round <= rounds; round++) {
    const last = round === rounds;
    let nativeMs = NaN;
    for (const be of last ? slow : native) {
      mp.withBackend(be.replace(/-jit$/, ''), () => {
        const trainStep = stepOf(be);
        let state = states.get(be);
        const batch = mp.tensor(host, shape);
        if (!state) {
          state = initTrainState(config);
          const t = trace(() => mp.scope(() => trainStep(state!, batch)), null);
          if (t.trace.flops) flops = t.trace.flops; // (a jitted step launches through its plan, which the tracer does not see)
          mp.disposeTree(state, t.result[0]);
          state = t.result[0];
          // untimed steps more: V8 tiers the hot JS and WebAssembly up in the background (a jitted
          // plan's fused loops are each called once per step: V8 optimises them after ~10 calls)
          for (let i = 0; i < (be.endsWith('-jit') ? 12 : 4); i++) {
            const next = mp.scope(() => trainStep(state!, batch))[0];
            mp.disposeTree(state, next);
            state = next;
          }
        }
        // native: at least BENCH_STEPS steps and 5 s, as the PyTorch script measures ≥ 5 s
        const n = be.startsWith('native') ? steps : Math.max(1, Math.floor(steps / 3));
        const minMs = be.startsWith('native') && !QUICK ? 5000 : 0;
        const t0 = performance.now();
        let done = 0;
        while (done < n || performance.now() - t0 < minMs) {
          const next = mp.scope(() => trainStep(state!, batch))[0];
          mp.disposeTree(state, next);
          state = next;
          done++;
        }
        const ms = (performance.now() - t0) / done;
        states.set(be, state);
        mp.disposeTree(batch);
        const plan = trainStep.lastPlan?.();
        if (plan && !flops) flops = plan.stats.flops; // only native-jit asked for: the plan counts them
        const jitNote = plan ? `, jit: ${formatPlanStats(plan.stats)}` : '';
        const impl = `matpac-ts ${be} (${mp.getBackend(be.replace(/-jit$/, '')).describe()}${jitNote})`;
        add(impl, ms);
        // the per-round ratio is the default training step's: jitted when that was measured
        if (be === 'native-jit' || (be === 'native' && !native.includes('native-jit'))) nativeMs = ms;
        console.log(
          `${last ? 'after the rounds' : `round ${round + 1}`}: ${impl}: ${ms.toFixed(0)} ms/step, ${(flops / ms / 1e6).toFixed(2)} GFLOP/s`,
        );
      });
    }
    if (torchMissing || last) continue;
    const threads = round === rounds - 1 && cpus().length > 1 ? [1, cpus().length] : [1];
    const t = torch(threads);
    if (typeof t === 'string') {
      torchMissing = t;
      console.log(`PyTorch unavailable: ${t}`);
      continue;
    }
    // PyTorch on one thread twice each round: OpenBLAS's pool left at its default (all cores), and
    // held to one thread (faster on some machines: small products pay for the pool's wake-ups); the
    // round's ratio is against the faster of the two
    const one = torch([1], 1);
    for (const o of [...t, ...(typeof one === 'string' ? [] : one)]) {
      add(o.impl, o.ms_per_step);
      console.log(`round ${round + 1}: ${o.impl}: ${o.ms_per_step.toFixed(0)} ms/step`);
    }
    const best = Math.min(t[0].ms_per_step, typeof one === 'string' ? Infinity : one[0].ms_per_step);
    if (Number.isFinite(nativeMs)) ratios.push(nativeMs / best);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
  const rows = [...byImpl.entries()].map(([impl, rs]) => ({
    impl,
    msPerStep: median(rs),
    gflops: flops / median(rs) / 1e6,
    rounds: rs,
  }));
  return { flops, rows, ratios, ratioOf: native.includes('native-jit') ? 'native-jit' : 'native' };
}

const { flops, rows, ratios, ratioOf } = measure();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
console.log(
  `\npreset ${name}: batch ${config.batchSize}, crop ${config.cropFrames} frames, ${(flops / 1e9).toFixed(2)} GFLOP per step (engine trace)\n`,
);
console.log(
  '| implementation | ms / step (median round) | rounds (ms) | steps/s | GFLOP/s | vs PyTorch (1 thread, the faster OpenBLAS setting) |',
);
console.log('|---|---:|---|---:|---:|---:|');
const torch1 = rows
  .filter((r) => r.impl.startsWith('PyTorch') && r.impl.includes(' 1 thread(s) ('))
  .sort((a, b) => a.msPerStep - b.msPerStep)[0];
for (const r of rows)
  console.log(
    `| ${r.impl} | ${r.msPerStep.toFixed(0)} | ${r.rounds.map((x) => x.toFixed(0)).join(', ')} | ${(1000 / r.msPerStep).toFixed(2)} | ${r.gflops.toFixed(2)} | ${torch1 ? (r.msPerStep / torch1.msPerStep).toFixed(2) + '×' : ''} |`,
  );
if (ratios.length)
  console.log(
    `\n${ratioOf} / PyTorch (1 thread; the faster OpenBLAS setting of the round), per round: ${ratios.map((x) => x.toFixed(2) + '×').join(', ')}; median ${median(ratios).toFixed(2)}×`,
  );
