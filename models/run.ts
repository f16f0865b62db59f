/**
 * What a training run derives from its config, shared by `matpac train` and the web page so both
 * run the same function of (config, data): the run-length scaling of every schedule, the mel bands
 * a model reads, and the batch of step t.
 *
 * Batch t is cropped with the key foldIn(data key, t), the data key being a function of the
 * config's seed alone, so a resumed run (or the page, given the same clips in the same order)
 * sees exactly the batches of an uninterrupted run.
 */
import { cropBatch, type Batch, type HasLogMel } from '../src/data/loader';
import { foldIn, keyFromSeed, type Key } from '../src/random';
import type { MatpacConfig } from './config';

/**
 * A run length other than the config's: totalSteps becomes `steps` and every schedule length
 * (warm-up, teacher-temperature warm-up, EMA annealing) scales with it, and so does the MCL
 * temperature's decay (decayRate^(old/steps)), so a short run has the same shape as the full one.
 */
export function withRunLength(config: MatpacConfig, steps: number): MatpacConfig {
  const old = config.optim.totalSteps;
  const scale = (n: number) => Math.min(steps, Math.round((n * steps) / old));
  return {
    ...config,
    optim: { ...config.optim, totalSteps: steps, warmupSteps: scale(config.optim.warmupSteps) },
    cls: { ...config.cls, teacherTempWarmupSteps: scale(config.cls.teacherTempWarmupSteps) },
    ema: { ...config.ema, annealSteps: Math.max(1, scale(config.ema.annealSteps)) },
    mcl: { ...config.mcl, decayRate: config.mcl.decayRate ** (old / steps) },
  };
}

/** The lowest `nMels` bands of a log-mel (the `micro` test preset reads fewer bands than the front end's 80). */
export function fitMels<L extends { data: Float32Array; nMels: number; nFrames: number }>(lm: L, nMels: number): L {
  if (lm.nMels === nMels) return lm;
  if (lm.nMels < nMels) throw new Error(`the model expects ${nMels} mel bands, the input has ${lm.nMels}`);
  return { ...lm, nMels, data: lm.data.slice(0, nMels * lm.nFrames) };
}

/** The key batch t is cropped with: a function of the config's seed and t only. */
export const dataKey = (config: MatpacConfig): Key => foldIn(keyFromSeed(config.seed), 0xda7a);

/** The training batch of step `step`: [batchSize, nMels, cropFrames] crops of `items` (already fitted to nMels). */
export function trainingBatch(items: readonly HasLogMel[], config: MatpacConfig, step: number): Batch {
  return cropBatch(items, foldIn(dataKey(config), step), config.batchSize, config.cropFrames);
}
