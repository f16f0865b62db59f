/**
 * What the update-rule options change (docs/optimization.md, "Which code path the official run
 * took"): the first N steps (default 50) of a preset's run (default tiny, on the bundled
 * pre-training set, its own schedules) with the official rules and with each alternative, from
 * the same init, data and masks; reports how far the student parameters and the loss drift apart.
 *
 *   npx tsx bench/optimizer-rules.bench.ts [preset]      (BENCH_STEPS=50; --quick: 5 steps)
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as mp from '../src/index';
import { train } from '../src/cli/train';
import type { TrainState } from '../models/matpac';

const name = process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 'tiny';
const steps = Number(process.env.BENCH_STEPS ?? (process.argv.includes('--quick') ? 5 : 50));
const VARIANTS: [string, Record<string, string>][] = [
  ['official (fairseq ε, fp16 clip)', {}],
  ['ε on √v̂ (pytorch)', { adamEps: 'pytorch' }],
  ['fp32 clip (+1e-6)', { clip: 'fp32' }],
];

const dir = mkdtempSync(join(tmpdir(), 'optim-rules-'));
const say = (s: string) => process.stdout.write(s + '\n');
say(
  `machine: ${cpus()[0]?.model} × ${cpus().length}, Node ${process.version}, load ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
say(`${name}: the first ${steps} steps of its run, per variant`);

const results: { label: string; state: TrainState; losses: number[] }[] = [];
try {
  for (const [label, optim] of VARIANTS) {
    const file = join(dir, `${results.length}.json`);
    writeFileSync(file, JSON.stringify({ extends: name, optim }));
    const out = join(dir, `run-${results.length}`);
    const r = await train({ preset: file, stopAt: steps, out, backend: 'native', probe: false });
    const losses = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { loss: number }).loss);
    results.push({ label, state: r.state, losses });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const flat = (s: TrainState) => Float64Array.from(mp.leaves(s.student).flatMap((t) => Array.from(t.toArray())));
const ref = results[0];
const theta0 = flat(ref.state);
const norm = Math.sqrt(theta0.reduce((a, x) => a + x * x, 0));
say('');
say(
  `| variant | ‖θ − θ_official‖/‖θ_official‖ after ${steps} steps | max |ΔL| over the steps | L at step ${steps - 1} |`,
);
say('|---|---:|---:|---:|');
for (const r of results) {
  const th = flat(r.state);
  const d = Math.sqrt(th.reduce((a, x, i) => a + (x - theta0[i]) ** 2, 0)) / norm;
  const dl = Math.max(...r.losses.map((l, i) => Math.abs(l - ref.losses[i])));
  say(`| ${r.label} | ${d.toExponential(2)} | ${dl.toExponential(2)} | ${r.losses[r.losses.length - 1].toFixed(5)} |`);
}
