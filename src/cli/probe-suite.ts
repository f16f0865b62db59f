/**
 * `matpac probe --suite`: the linear probe on every development set (src/data/devsets.ts) — kinds
 * of sound the pre-training pool does not contain — for a trained checkpoint, the same model at its
 * random initialisation, and log-mel statistics, in one table (accuracy mean ± std over the folds).
 * Pre-training has learned something transferable where the trained column beats both others.
 */
import { DEV_SET_NAMES, ensureDevSet, type DevSetName } from '../data/devsets';
import { speechUnavailable } from '../data/pool/espeak';
import { writeFileAtomic } from '../io/atomic-file';
import { logMelStatsFeatures } from '../probe';
import { CliError, requireFile, say, useBackend } from './common';
import type { MatpacConfig } from '../../models/config';
import { checkpointConfig, embedder, loadCheckpointModel, randomInitModel, resolveConfig, type Model } from './model';
import { runProbe, type FeatureSource, type ProbeReport } from './probe';

export interface SuiteCommandOptions {
  checkpoint?: string;
  preset?: string;
  folds: number;
  seed: number;
  backend: string;
  devClips?: number;
  sets?: string;
  json?: string;
}

/** A probe set of the suite: a development set, or any folder-per-class set (the end-of-run probe set). */
export interface SuiteSet {
  name: string;
  dir: string;
  followLinks?: boolean;
}

export interface SuiteResult {
  sets: string[];
  /** Column names, in order: trained (if any), random init, log-mel. */
  sources: string[];
  /** reports[set][source] */
  reports: ProbeReport[][];
}

/** Probe every source on every set. */
export async function runProbeSuite(
  sources: FeatureSource[],
  sets: SuiteSet[],
  folds: number,
  seed: number,
): Promise<SuiteResult> {
  const reports: ProbeReport[][] = [];
  for (const set of sets) {
    const row: ProbeReport[] = [];
    for (const source of sources) {
      say(`probe suite: ${set.name} with ${source.name}…`);
      row.push(await runProbe(source, set.dir, folds, seed, { followLinks: set.followLinks }));
    }
    reports.push(row);
  }
  return { sets: sets.map((s) => s.name), sources: sources.map((s) => s.name), reports };
}

const pct = (x: number) => (100 * x).toFixed(1);

/** The suite's table; the best column of each row is marked with *. */
export function formatSuiteTable(r: SuiteResult): string {
  const head = ['probe set', 'classes', 'clips', ...r.sources.map((s) => `${s} (%)`)];
  const rows = r.sets.map((name, i) => {
    const reps = r.reports[i];
    const best = Math.max(...reps.map((p) => p.result.mean));
    return [
      name,
      String(reps[0].classes.length),
      String(reps[0].clips),
      ...reps.map((p) => `${pct(p.result.mean)} ± ${pct(p.result.std)}${p.result.mean === best ? ' *' : ''}`),
    ];
  });
  const widths = head.map((h, j) => Math.max(h.length, ...rows.map((row) => row[j].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, j) => c.padEnd(widths[j]))
      .join('  ')
      .trimEnd();
  const out = [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
  out.push(
    `(accuracy mean ± std over ${r.reports[0]?.[0]?.folds ?? '?'} folds; chance: ${r.sets.map((n, i) => `${n} ${pct(r.reports[i][0].chance)}`).join(', ')})`,
  );
  return out.join('\n');
}

/** "beats log-mel and random init on 2 of 4 sets (not on: …)" for a suite whose first column is a trained model. */
export function suiteVerdict(r: SuiteResult): string {
  const lost = r.sets.filter((_, i) => r.reports[i].slice(1).some((p) => p.result.mean >= r.reports[i][0].result.mean));
  return `${r.sources[0]} beats ${r.sources.slice(1).join(' and ')} on ${r.sets.length - lost.length} of ${r.sets.length} probe sets${lost.length ? ` (not on: ${lost.join(', ')})` : ''}`;
}

/**
 * The development sets named, rendered on first use. Named explicitly, a set that cannot be rendered
 * here (spoken digits without the optional espeak-ng) is an error; by default (all sets) it is left
 * out with one line, so a finished training run still gets its closing table.
 */
export async function devSets(names?: readonly string[], devClips?: number): Promise<SuiteSet[]> {
  for (const n of names ?? [])
    if (!(DEV_SET_NAMES as readonly string[]).includes(n))
      throw new CliError(`--sets: unknown development set "${n}" (known: ${DEV_SET_NAMES.join(', ')})`);
  let chosen = (names ?? DEV_SET_NAMES) as readonly DevSetName[];
  const noSpeech = chosen.includes('spoken-digits') ? speechUnavailable() : undefined;
  if (noSpeech && names) throw new CliError(`development set spoken-digits: ${noSpeech}`);
  if (noSpeech) {
    say(`matpac: development set spoken-digits left out: ${noSpeech}`);
    chosen = chosen.filter((n) => n !== 'spoken-digits');
  }
  const sets = [];
  for (const name of chosen) {
    const onRender = () => say(`development set ${name}: rendering it (first use; cached afterwards)…`);
    sets.push({ name, dir: await ensureDevSet(name, { ...(devClips ? { clipsPerClass: devClips } : {}), onRender }) });
  }
  return sets;
}

/** Sources for a model (trained, if it has a step), its random init, and log-mel statistics. */
export function suiteSources(config: MatpacConfig, trained?: Model): FeatureSource[] {
  const sources: FeatureSource[] = [];
  if (trained) sources.push({ name: `${config.name} step ${trained.step}`, features: embedder(trained) });
  sources.push({ name: `untrained ${config.name}`, features: embedder(randomInitModel(config)) });
  sources.push({ name: 'log-mel mean+std', features: logMelStatsFeatures });
  return sources;
}

export async function probeSuiteCommand(opts: SuiteCommandOptions): Promise<void> {
  say(`backend: ${useBackend(opts.backend)}`);
  const names = opts.sets?.split(',').map((s) => s.trim());
  const config = opts.checkpoint
    ? checkpointConfig(requireFile(opts.checkpoint, 'checkpoint'))
    : resolveConfig(opts.preset ?? 'tiny');
  const trained = opts.checkpoint ? await loadCheckpointModel(opts.checkpoint) : undefined;
  const result = await runProbeSuite(
    suiteSources(config, trained),
    await devSets(names, opts.devClips),
    opts.folds,
    opts.seed,
  );
  process.stdout.write(formatSuiteTable(result) + '\n' + (trained ? suiteVerdict(result) + '\n' : ''));
  if (opts.json) await writeSuiteJson(opts.json, result);
}

/** The suite as JSON: per set and source, the mean and std over folds and the fold accuracies. */
export async function writeSuiteJson(path: string, r: SuiteResult): Promise<void> {
  const sets = r.sets.map((name, i) => ({
    name,
    classes: r.reports[i][0].classes,
    clips: r.reports[i][0].clips,
    chance: r.reports[i][0].chance,
    results: r.reports[i].map((p) => ({
      features: p.features,
      accuracy: p.result.mean,
      accuracyStd: p.result.std,
      foldAccuracies: p.result.foldAccuracies,
    })),
  }));
  writeFileAtomic(path, JSON.stringify({ sources: r.sources, sets }, null, 2) + '\n');
}
