/**
 * Where `matpac train` gets its batches: a folder of audio files (read once into log-mels, random
 * crops), or the generated pool (`--data pool`: shards rendered ahead in a worker thread, src/data/pool/).
 * Batch t is a function of (config, t) either way, so resumed runs repeat uninterrupted ones.
 */
import type { MatpacConfig } from '../../models/config';
import { describeSkipped, loadLogMelDataset, type LogMelItem } from '../data/dataset';
import { ensurePretrainSet } from '../data/render';
import type { Batch } from '../data/loader';
import { resolvePoolConfig, type PoolConfig } from '../data/pool/pool';
import { PoolBatches, ShardProducer } from '../data/pool/stream';
import { speechUnavailable } from '../data/pool/espeak';
import { CliError, progressCallback, say, shown } from './common';
import { dataKey, fitMels, trainingBatch } from '../../models/run';

/** The `--data` value that selects the generated pool. */
export const POOL_DATA = 'pool';

export interface TrainingData {
  /** What the run trains on, for its first line. */
  description: string;
  batch(step: number): Promise<Batch & { files: string[] }>;
  /** A closing line (the pool's rendering figures), if any. */
  summary(stepsDone: number, elapsedSec: number): string | undefined;
  close(): void;
}

async function folderData(dir: string, config: MatpacConfig, followLinks: boolean): Promise<TrainingData> {
  const ds = await loadLogMelDataset(dir, {
    minFrames: config.cropFrames,
    followLinks,
    onProgress: progressCallback('reading audio', 'files'),
  });
  const total = ds.items.length + ds.skipped.length;
  if (ds.skipped.length) say(`matpac: ${describeSkipped(ds.skipped, total)}`);
  if (!ds.items.length)
    throw new CliError(
      `${dir}: no usable audio (${total} files; clips need at least ${config.cropFrames} log-mel frames = ${(config.cropFrames / 100).toFixed(2)} s)`,
    );
  const items: LogMelItem[] = ds.items.map((it) => ({ ...it, logmel: fitMels(it.logmel, config.nMels) }));
  return {
    description: `${items.length} clips from ${shown(dir)}`,
    batch: async (step) => {
      const b = trainingBatch(items, config, step);
      return { ...b, files: b.sources.map((s) => items[s.item].file) };
    },
    summary: () => undefined,
    close: () => {},
  };
}

export interface PoolDataOptions {
  /** Folder data: follow symbolic links out of the data folder (--follow-links). */
  followLinks?: boolean;
  pool?: Partial<PoolConfig>;
  reuse?: number;
  /** Render in the training thread (tests). */
  inline?: boolean;
}

function poolData(config: MatpacConfig, opts: PoolDataOptions): TrainingData {
  const cfg = resolvePoolConfig(opts.pool);
  const noSpeech = cfg.proportions.speech > 0 ? speechUnavailable() : undefined;
  if (noSpeech) throw new CliError(`--data pool: ${noSpeech}`);
  const producer = new ShardProducer(cfg, { inline: opts.inline, onError: (line) => say(`matpac: skipped ${line}`) });
  const batches = new PoolBatches(producer, dataKey(config), {
    batchSize: config.batchSize,
    cropFrames: config.cropFrames,
    reuse: opts.reuse,
    mapLogMel: (lm) => fitMels(lm, config.nMels),
  });
  const total = config.optim.totalSteps;
  return {
    description: `the generated pool (seed ${cfg.seed}: ${batches.clipsFor(total)} clips of ${cfg.clipSec} s in shards of ${cfg.shardClips}, about ${batches.reuse} crops per clip)`,
    batch: (step) => batches.batch(step),
    summary: (stepsDone, elapsedSec) =>
      `data:       ${producer.rendered} pool shards rendered in ${producer.renderSec.toFixed(0)} s of renderer time ` +
      `(${((producer.rendered * cfg.shardClips) / Math.max(1e-9, producer.renderSec)).toFixed(1)} clips/s; training used ` +
      `${((stepsDone * config.batchSize) / batches.reuse / Math.max(1e-9, elapsedSec)).toFixed(1)} clips/s); waited ${batches.waitedSec.toFixed(0)} s for it`,
    close: () => producer.close(),
  };
}

/**
 * The data of a run without --data: the generated pool (docs/matpac.md, "Transfer"), or, where its
 * speech cannot be rendered (the optional espeak-ng did not install), the bundled pre-training set,
 * said in one line.
 */
export async function defaultTrainingData(): Promise<string> {
  const noSpeech = speechUnavailable();
  if (!noSpeech) return POOL_DATA;
  say(`matpac: training on the bundled pre-training set instead of the generated pool: ${noSpeech}`);
  return ensurePretrainSet();
}

/** Open `data` (a folder, or `pool`) for a run of `config`. */
export async function openTrainingData(
  data: string,
  config: MatpacConfig,
  opts: PoolDataOptions = {},
): Promise<TrainingData> {
  return data === POOL_DATA ? poolData(config, opts) : folderData(data, config, opts.followLinks === true);
}
