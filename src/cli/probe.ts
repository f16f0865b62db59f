/**
 * `matpac probe`: linear probe on a folder-per-class data set (DIR/<class>/…/*.wav).
 *
 * Features per clip come from one of: a trained checkpoint (`--checkpoint`), the same architecture
 * untrained (`--random-init`), or the log-mel itself (`--baseline logmel`: per-band mean and std).
 * Comparing the three shows what pre-training bought. The probe itself is src/probe.ts:
 * standardised features, a softmax classifier trained on the engine, stratified k-fold accuracy.
 */
import type { LogMel } from '../../models/frontend';
import { describeSkipped, loadLogMelDataset, type WalkOptions } from '../data/dataset';
import { ensureProbeSet } from '../data/render';
import { writeFileAtomic } from '../io/atomic-file';
import { crossValidate, formatConfusion, logMelStatsFeatures, type CrossValidation } from '../probe';
import { keyFromSeed } from '../random';
import { CliError, progressBar, progressCallback, requireFile, say, shown, useBackend } from './common';
import { embedder, loadModel, modelConfig, randomInitModel, resolveConfig } from './model';

export interface ProbeCommandOptions {
  checkpoint?: string;
  data?: string;
  folds: number;
  randomInit?: boolean;
  baseline?: 'logmel';
  preset?: string;
  seed: number;
  backend: string;
  heads?: number;
  json?: boolean;
  followLinks?: boolean;
}

/** Turns one clip's log-mel into a feature vector, with a name for reports. */
export interface FeatureSource {
  name: string;
  features: (lm: LogMel) => Float32Array;
}

export interface ProbeReport {
  features: string;
  data: string;
  clips: number;
  skipped: number;
  classes: string[];
  /** Accuracy of always answering the most frequent class. */
  chance: number;
  folds: number;
  result: CrossValidation;
}

/** Probe `source` on the folder-per-class set in `dataDir`. Bad audio files are skipped with a message. */
export async function runProbe(
  source: FeatureSource,
  dataDir: string,
  folds: number,
  seed: number,
  walk: WalkOptions = {},
): Promise<ProbeReport> {
  const ds = await loadLogMelDataset(dataDir, { ...walk, onProgress: progressCallback('reading audio', 'files') });
  if (ds.skipped.length) say(`matpac: ${describeSkipped(ds.skipped, ds.items.length + ds.skipped.length)}`);
  const labelled = ds.items.filter((it) => it.label !== undefined);
  const loose = ds.items.filter((it) => it.label === undefined).map((it) => shown(it.file));
  if (loose.length) {
    const listed = loose.slice(0, 3).join(', ') + (loose.length > 3 ? `, and ${loose.length - 3} more` : '');
    say(
      `matpac: ${shown(dataDir)}: ${loose.length} audio file${loose.length > 1 ? 's' : ''} at the top of the folder not used (a probe reads one sub-folder per class): ${listed}`,
    );
  }
  if (ds.labels.length < 2)
    throw new CliError(
      `${dataDir}: a probe needs one sub-folder of audio files per class, and at least 2 classes (found ${ds.labels.length})`,
    );
  const classIndex = new Map(ds.labels.map((c, i) => [c, i]));
  const labels = labelled.map((it) => classIndex.get(it.label!)!);
  const counts = ds.labels.map((_, c) => labels.filter((l) => l === c).length);
  const minCount = Math.min(...counts);
  if (labelled.length < folds)
    throw new CliError(`${dataDir}: ${labelled.length} clips are too few for ${folds} folds`);
  if (minCount < folds) say(`matpac: warning: the smallest class has ${minCount} clips, fewer than the ${folds} folds`);

  const emb = progressBar(`features (${source.name})`, labelled.length, 'clips');
  const rows = labelled.map((it) => {
    const f = source.features(it.logmel);
    emb.tick();
    return f;
  });
  emb.stop();
  const result = crossValidate(rows, labels, ds.labels.length, folds, keyFromSeed(seed));
  const chance = Math.max(...counts) / labelled.length;
  return {
    features: source.name,
    data: dataDir,
    clips: labelled.length,
    skipped: ds.skipped.length,
    classes: ds.labels,
    chance,
    folds,
    result,
  };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** The headline: "accuracy 83.4% ± 2.1% over 5 folds (chance 9.1%)". */
export function accuracyLine(r: ProbeReport): string {
  return `accuracy ${pct(r.result.mean)} ± ${pct(r.result.std)} over ${r.folds} folds (chance ${pct(r.chance)})`;
}

export function formatProbeReport(r: ProbeReport): string {
  return [
    `linear probe on ${r.features} features: ${r.clips} clips, ${r.classes.length} classes, ${shown(r.data)}`,
    accuracyLine(r),
    `per fold: ${r.result.foldAccuracies.map(pct).join(', ')}`,
    '',
    'confusion matrix (summed over the held-out folds):',
    formatConfusion(r.result.confusion, r.classes),
  ].join('\n');
}

/** The probe report as JSON text (`probe --json`, and beside a run's checkpoints). */
export function probeJson(r: ProbeReport): string {
  const { result, ...rest } = r;
  return JSON.stringify({ ...rest, accuracy: result.mean, accuracyStd: result.std, ...result }, null, 2) + '\n';
}

/** The probe report as JSON (written beside a run's checkpoints). */
export async function writeProbeJson(path: string, r: ProbeReport): Promise<void> {
  writeFileAtomic(path, probeJson(r));
}

export async function probeCommand(opts: ProbeCommandOptions): Promise<void> {
  if (opts.baseline && (opts.checkpoint || opts.randomInit))
    throw new CliError('--baseline probes log-mel features: give it without --checkpoint or --random-init');
  if (!opts.baseline && !opts.checkpoint && !opts.randomInit)
    throw new CliError('say what to probe: --checkpoint FILE, --random-init, or --baseline logmel');
  say(`backend: ${useBackend(opts.backend)}`);

  let source: FeatureSource;
  if (opts.baseline === 'logmel') source = { name: 'log-mel mean+std', features: logMelStatsFeatures };
  else if (opts.randomInit) {
    // the initialisation the checkpoint's run started from (its config's seed)
    const config = opts.checkpoint
      ? await modelConfig(requireFile(opts.checkpoint, 'checkpoint'), { heads: opts.heads })
      : resolveConfig(opts.preset ?? 'tiny');
    source = { name: `untrained ${config.name}`, features: embedder(randomInitModel(config)) };
  } else {
    const model = await loadModel(requireFile(opts.checkpoint!, 'checkpoint'), { heads: opts.heads });
    source = { name: model.label ?? `${model.config.name} checkpoint (step ${model.step})`, features: embedder(model) };
  }
  const data = opts.data ?? (await ensureProbeSet());
  const report = await runProbe(source, data, opts.folds, opts.seed, { followLinks: opts.followLinks });
  process.stdout.write(opts.json ? probeJson(report) : formatProbeReport(report) + '\n');
}
