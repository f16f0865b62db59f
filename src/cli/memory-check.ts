/**
 * Refuse, before allocating, what cannot fit in memory: the estimate of models/memory.ts against
 * the machine's memory (os.totalmem) or the user's `--max-memory`, in one line with the figures.
 */
import { totalmem } from 'node:os';
import type { MatpacConfig } from '../../models/config';
import { formatBytes, inferenceMemory, trainingMemory } from '../../models/memory';
import { CliError } from './common';

let limit: number | undefined;

/** The memory limit of this process's commands (the --max-memory option; default: the machine's memory). */
export function setMemoryLimit(bytes: number | undefined): void {
  limit = bytes;
}

function limitNow(): { bytes: number; what: string } {
  return limit !== undefined
    ? { bytes: limit, what: `--max-memory ${formatBytes(limit)}` }
    : { bytes: totalmem(), what: `this machine's ${formatBytes(totalmem())} of memory` };
}

/** Refuse a training run of `config` whose step would not fit. */
export function checkTrainingMemory(config: MatpacConfig, source: string): void {
  const e = trainingMemory(config);
  const l = limitNow();
  if (!(e.total <= l.bytes))
    throw new CliError(
      `config ${source}: a training step needs about ${formatBytes(e.total)} (parameters and optimizer state ${formatBytes(e.state)}, activations for batch ${config.batchSize} ${formatBytes(e.activations)}), more than ${l.what}; lower batchSize or the model's sizes${limit === undefined ? '' : ', or raise --max-memory'}`,
    );
}

/** Refuse loading a model of `config` (from `source`, e.g. a checkpoint's metadata) that would not fit. */
export function checkInferenceMemory(config: MatpacConfig, source: string): void {
  const e = inferenceMemory(config);
  const l = limitNow();
  if (!(e.total <= l.bytes))
    throw new CliError(
      `${source}: its config (${config.name}) needs about ${formatBytes(e.total)} to load and run (parameters and optimizer state ${formatBytes(e.state)}), more than ${l.what}`,
    );
}
