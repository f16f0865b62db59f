/**
 * `matpac ablate`: what each part of MATPAC++ buys, measured on this machine.
 *
 * Trains, with the same seeds, data and step budget, three variants of one preset:
 *   (a) L_pred only — M2D-like: classification weight 0, no MCL heads (the heads are still built
 *       but get no gradient; the official code's `alpha = 1` case);
 *   (b) MATPAC      — L = ½L_cls + ½L_pred, one output projection;
 *   (c) MATPAC++    — MATPAC with n MCL prediction heads (the preset's mcl.heads, else 5);
 * over S seeds each (seed s changes the init, the masks and the crops, identically across the
 * variants), probes every trained encoder on the bundled held-out set, adds two baselines — the
 * untrained encoder (per seed) and log-mel mean+std features — and writes, atomically:
 *
 *   OUT/ablation.json   every run: variant, seed, probe accuracy, final losses, run folder
 *   OUT/ablation.md     the table (mean ± std over seeds)
 *   OUT/ablation.svg    the same as a bar chart with ± std error bars
 *   OUT/runs/<variant>-seed<s>/   each training run (a `matpac train` run folder)
 *
 * A run folder that already holds a checkpoint is continued (or reused when complete), so an
 * interrupted ablation picks up where it stopped.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MatpacConfig } from '../../models/config';
import { ensurePretrainSet, ensureProbeSet } from '../data/render';
import { barChartSvg } from '../plot';
import { logMelStatsFeatures } from '../probe';
import { CliError, say, shown, useBackend } from './common';
import { withRunLength } from '../../models/run';
import { checkConfig, embedder, randomInitModel, resolveConfig } from './model';
import { runProbe, type ProbeReport } from './probe';
import { formatDuration, LATEST, train } from './train';

export interface AblateOptions {
  preset?: string;
  steps?: number;
  seeds: number;
  out?: string;
  data?: string;
  probeData?: string;
  folds: number;
  backend: string;
}

export interface Variant {
  id: string;
  label: string;
  config: (c: MatpacConfig) => MatpacConfig;
}

/** The three variants, from one base config. */
export const VARIANTS: readonly Variant[] = [
  {
    id: 'pred-only',
    label: 'L_pred only',
    config: (c) => ({ ...c, loss: { ...c.loss, clsWeight: 0 }, mcl: { ...c.mcl, heads: 0 } }),
  },
  { id: 'matpac', label: 'MATPAC', config: (c) => ({ ...c, mcl: { ...c.mcl, heads: 0 } }) },
  {
    id: 'matpac-pp',
    label: 'MATPAC++',
    config: (c) => ({ ...c, mcl: { ...c.mcl, heads: c.mcl.heads > 0 ? c.mcl.heads : 5 } }),
  },
];

export interface AblationRow {
  variant: string;
  label: string;
  seed: number;
  accuracy: number;
  /** Standard deviation of the accuracy over the probe's folds. */
  foldStd: number;
  /** Mean over the last tenth of the run (trained variants only). */
  finalLoss?: number;
  finalLPred?: number;
  runDir?: string;
}

export interface AblationSummary {
  label: string;
  n: number;
  mean: number;
  /** Sample standard deviation over seeds (n − 1); for one run, its fold std. */
  std: number;
  values: number[];
}

const meanOf = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const stdOf = (xs: number[]) =>
  xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - meanOf(xs)) ** 2, 0) / (xs.length - 1));
const pct = (x: number) => (100 * x).toFixed(1);

/** Rows grouped by label, in order of first appearance: mean ± std over seeds. */
export function summarise(rows: AblationRow[]): AblationSummary[] {
  const labels = [...new Set(rows.map((r) => r.label))];
  return labels.map((label) => {
    const rs = rows.filter((r) => r.label === label);
    const values = rs.map((r) => r.accuracy);
    return { label, n: rs.length, mean: meanOf(values), std: rs.length > 1 ? stdOf(values) : rs[0].foldStd, values };
  });
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** Mean of a metric over the last tenth of a run's metrics.jsonl. */
function finalMean(runDir: string, key: 'loss' | 'lPred'): number {
  const rows = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, number>);
  const tail = rows.slice(-Math.max(1, Math.round(rows.length / 10)));
  return meanOf(tail.map((r) => r[key]));
}

export function formatAblationTable(
  summaries: AblationSummary[],
  rows: AblationRow[],
  o: {
    preset: string;
    steps: number;
    seeds: number[];
    classes: number;
    clips: number;
    chance: number;
    minutes: number;
  },
): string {
  const lines = [
    `# matpac ablate: ${o.preset}, ${o.steps} steps, seeds ${o.seeds.join(', ')}`,
    '',
    `Linear probe on the held-out set (${o.clips} clips, ${o.classes} classes, chance ${pct(o.chance)}%), accuracy in %, mean ± std over seeds`,
    `(log-mel: one deterministic run, ± its fold std). ${rows.filter((r) => r.runDir).length} training runs; this call took ${o.minutes.toFixed(1)} min (runs already complete in OUT/runs are reused).`,
    '',
    '| features | probe accuracy (%) | per seed | final L (last 10%) | final L_pred |',
    '|---|---:|---|---:|---:|',
  ];
  for (const s of summaries) {
    const rs = rows.filter((r) => r.label === s.label);
    const fl = rs.filter((r) => r.finalLoss !== undefined);
    const loss = fl.length ? meanOf(fl.map((r) => r.finalLoss!)).toFixed(4) : '—';
    const lp = fl.length ? meanOf(fl.map((r) => r.finalLPred!)).toFixed(4) : '—';
    lines.push(`| ${s.label} | ${pct(s.mean)} ± ${pct(s.std)} | ${s.values.map(pct).join(', ')} | ${loss} | ${lp} |`);
  }
  return lines.join('\n') + '\n';
}

export async function ablate(
  opts: AblateOptions,
): Promise<{ out: string; rows: AblationRow[]; summaries: AblationSummary[] }> {
  const backend = useBackend(opts.backend);
  const started = performance.now();
  if (!(opts.seeds >= 1)) throw new CliError(`--seeds: must be at least 1, got ${opts.seeds}`);
  const presetSpec = opts.preset ?? 'tiny';
  let base = resolveConfig(presetSpec);
  if (opts.steps !== undefined) base = withRunLength(base, opts.steps);
  base = checkConfig(base, presetSpec);
  const steps = base.optim.totalSteps;
  const seeds = Array.from({ length: opts.seeds }, (_, i) => base.seed + i);
  const out = opts.out ?? join('runs', `ablate-${base.name}-${steps}`);
  mkdirSync(join(out, 'runs'), { recursive: true });
  const data = opts.data ?? (await ensurePretrainSet());
  const probeDir = opts.probeData ?? (await ensureProbeSet());
  say(`backend: ${backend}`);
  say(
    `ablation of ${base.name}: ${VARIANTS.length} variants × ${seeds.length} seeds = ${VARIANTS.length * seeds.length} runs of ${steps} steps → ${shown(out)}`,
  );

  const rows: AblationRow[] = [];
  let probeInfo: ProbeReport | undefined;
  const probe = async (name: string, features: Parameters<typeof runProbe>[0]['features']) => {
    const r = await runProbe({ name, features }, probeDir, opts.folds, 0);
    probeInfo = r;
    return r;
  };
  for (const seed of seeds) {
    for (const v of VARIANTS) {
      const config = checkConfig(
        { ...v.config({ ...base, seed }), name: `${base.name}-${v.id}` },
        `${presetSpec} (${v.label})`,
      );
      const runDir = join(out, 'runs', `${v.id}-seed${seed}`);
      const configFile = join(out, 'runs', `${v.id}-seed${seed}.json`);
      writeAtomic(configFile, JSON.stringify({ extends: 'tiny', ...config }, null, 2) + '\n');
      say(`── ${v.label}, seed ${seed}`);
      const resume = existsSync(join(runDir, LATEST));
      const r = await train(
        resume
          ? { resume: true, out: runDir, backend: opts.backend, probe: false }
          : { preset: configFile, data, out: runDir, backend: opts.backend, probe: false },
      );
      if (!r.completed)
        throw new CliError(`ablation stopped at ${v.label}, seed ${seed}; run the same command again to continue`);
      const p = await probe(
        `${v.label} seed ${seed}`,
        embedder({ config: r.config, student: r.state.student, step: r.state.step }),
      );
      rows.push({
        variant: v.id,
        label: v.label,
        seed,
        accuracy: p.result.mean,
        foldStd: p.result.std,
        finalLoss: finalMean(runDir, 'loss'),
        finalLPred: finalMean(runDir, 'lPred'),
        runDir,
      });
    }
    const untrained = checkConfig({ ...VARIANTS[1].config({ ...base, seed }), name: `${base.name}-matpac` });
    const p = await probe(`untrained seed ${seed}`, embedder(randomInitModel(untrained)));
    rows.push({ variant: 'random-init', label: 'random init', seed, accuracy: p.result.mean, foldStd: p.result.std });
  }
  const lm = await probe('log-mel mean+std', logMelStatsFeatures);
  rows.push({
    variant: 'logmel',
    label: 'log-mel mean+std',
    seed: 0,
    accuracy: lm.result.mean,
    foldStd: lm.result.std,
  });

  const summaries = summarise(rows);
  const minutes = (performance.now() - started) / 60000;
  const info = {
    preset: base.name,
    steps,
    seeds,
    classes: probeInfo!.classes.length,
    clips: probeInfo!.clips,
    chance: probeInfo!.chance,
    minutes,
  };
  writeAtomic(
    join(out, 'ablation.json'),
    JSON.stringify({ ...info, backend, folds: opts.folds, summaries, rows }, null, 2) + '\n',
  );
  const table = formatAblationTable(summaries, rows, info);
  writeAtomic(join(out, 'ablation.md'), table);
  writeAtomic(
    join(out, 'ablation.svg'),
    barChartSvg({
      title: `${base.name}, ${steps} steps, ${seeds.length} seeds: linear-probe accuracy (%)`,
      yLabel: 'accuracy (%), mean ± std',
      bars: summaries.map((s) => ({ label: s.label, value: Number(pct(s.mean)), error: Number(pct(s.std)) })),
    }),
  );
  process.stdout.write(table);
  process.stdout.write(
    `written: ${shown(join(out, 'ablation.md'))}, ${shown(join(out, 'ablation.svg'))}, ${shown(join(out, 'ablation.json'))} (${formatDuration(minutes * 60)})\n`,
  );
  return { out, rows, summaries };
}

export async function ablateCommand(opts: AblateOptions): Promise<void> {
  await ablate(opts);
}
