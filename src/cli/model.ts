/**
 * The CLI's view of a MATPAC model: configs from presets or JSON files (validated, one line per
 * problem), checkpoints — written by `matpac train`, or official PyTorch ones (`.pt`/`.pth`, and
 * official-name `.safetensors` such as `matpac export` writes) — and clip embeddings for `embed`
 * and `probe`.
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { completeStoredConfig, configFromJson, configProblems, PRESETS, type MatpacConfig } from '../../models/config';
import { embed, type EmbedOptions, type EncoderPart } from '../../models/embed';
import type { LogMel } from '../../models/frontend';
import { encoderKeys, importStudentEncoder, inferEncoderConfig, InteropError, unusedKeys } from '../../models/interop';
import { initTrainState, type TrainState } from '../../models/matpac';
import { fitMels } from '../../models/run';
import { CheckpointError, loadSafetensors, loadState, readMetadata } from '../checkpoint/file';
import { fromHost, Tensor } from '../engine';
import { allFinite, countNonFinite, firstNonFinite } from '../finite';
import { readTorchFile, TorchFileError, type HostTensor } from '../interop/torch-load';
import { looksLikeZip } from '../interop/zip';
import { CliError, say } from './common';
import { checkInferenceMemory } from './memory-check';

/** Several problems with one config, printed one line each. */
export class ConfigProblems extends CliError {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(problems.map((p) => `config ${source}: ${p}`).join('\n'));
  }
}

const PRESET_NAMES = Object.keys(PRESETS) as (keyof typeof PRESETS)[];
const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/**
 * A config from a preset name (tiny, small, base, micro) or a JSON file. A file may hold a whole
 * config (e.g. a run's config.json) or only the fields that differ from the preset it names in
 * "extends" (default tiny). Every problem is reported at once (`ConfigProblems`).
 */
export function resolveConfig(spec: string): MatpacConfig {
  if ((PRESET_NAMES as string[]).includes(spec)) return structuredClone(PRESETS[spec as keyof typeof PRESETS]);
  let text: string;
  try {
    text = readFileSync(spec, 'utf8');
  } catch {
    throw new CliError(
      `unknown preset '${spec}' (presets: ${PRESET_NAMES.join(', ')}; or the path of a JSON config file)`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new CliError(`${spec}: not valid JSON (${(e as Error).message})`);
  }
  if (!isRecord(raw)) throw new CliError(`${spec}: a config file must hold a JSON object`);
  const { config, problems } = configFromJson(raw, spec.replace(/^.*[\\/]/, '').replace(/\.json$/i, ''));
  if (problems.length) throw new ConfigProblems(spec, problems);
  return config;
}

/** The config if it is usable; else `ConfigProblems` listing every problem. */
export function checkConfig(config: MatpacConfig, source = config.name): MatpacConfig {
  const problems = configProblems(config);
  if (problems.length) throw new ConfigProblems(source, problems);
  return config;
}

// ── checkpoints ──────────────────────────────────────────────────────────────────────────────────

export interface Model {
  config: MatpacConfig;
  /** The student encoder (a whole StudentParams for checkpoints of `matpac train`). */
  student: EncoderPart;
  /** Training step of the checkpoint (0 for an untrained model or an official one). */
  step: number;
  /** What the model is, for messages ("base at step 1200", "official 768×12 from X.pt"). */
  label?: string;
}

/**
 * A config read back as the record of a run (a run's config.json, a checkpoint's metadata): the
 * fields it predates take the rules that run used (models/config.ts `completeStoredConfig`), then
 * it is checked like any other.
 */
export function storedConfig(raw: unknown, source: string): MatpacConfig {
  return checkConfig(completeStoredConfig(raw), source);
}

/** The config stored in a checkpoint's metadata. */
export function checkpointConfig(path: string): MatpacConfig {
  const meta = readMetadata(path);
  if (!meta.config) throw new CliError(`${path}: not a MATPAC checkpoint (no config in its metadata)`);
  let config: unknown;
  try {
    config = JSON.parse(meta.config);
  } catch {
    throw new CliError(`${path}: the config in its metadata is not valid JSON`);
  }
  return storedConfig(config, path);
}

/**
 * A whole training state from a checkpoint, checked against the structure its config implies and
 * refused when a value is NaN or infinite (a diverged run's state is no model to embed with or resume).
 */
export function loadTrainState(path: string, config = checkpointConfig(path)): TrainState {
  const state = loadState<TrainState>(path, { like: initTrainState(config) });
  if (state.step > config.optim.totalSteps)
    throw new CliError(
      `${path}: holds step ${state.step}, beyond its run's ${config.optim.totalSteps} steps (optim.totalSteps)`,
    );
  if (!allFinite(state)) {
    const { step: _s, key: _k, ...tensors } = state;
    const hit = firstNonFinite(tensors);
    throw new CliError(
      `${path}: holds ${countNonFinite(tensors)} non-finite values (first: ${hit?.path ?? 'a sum overflows'}): not a usable model (a diverged run?)`,
    );
  }
  return state;
}

export async function loadCheckpointModel(path: string): Promise<Model> {
  const config = checkpointConfig(path);
  checkInferenceMemory(config, path);
  const state = loadTrainState(path, config);
  return { config, student: state.student, step: state.step };
}

/** The architecture of `config` with the random initialisation a run of it starts from (the config's seed). */
export function randomInitModel(config: MatpacConfig): Model {
  checkInferenceMemory(config, `config ${config.name}`);
  return { config, student: initTrainState(config).student, step: 0 };
}

/** Clip embeddings of a model: a log-mel (80 bands, any length) → a vector (or [T, D], [L, D], [L, T, D] as `opts` asks). */
export function embedder(model: Model, opts: EmbedOptions = {}): (lm: LogMel) => Float32Array {
  return (lm) => {
    const e = embed(model.student, fitMels(lm, model.config.nMels), model.config, opts);
    const bad = e.reduce((n, v) => n + (Number.isFinite(v) ? 0 : 1), 0);
    if (bad)
      throw new CliError(
        `an embedding has ${bad} non-finite values of ${e.length} (${model.label ?? `${model.config.name} at step ${model.step}`}): refusing to write or probe it`,
      );
    return e;
  };
}

// ── official checkpoints ─────────────────────────────────────────────────────────────────────────

export interface LoadModelOptions {
  /** Attention heads for an official checkpoint (not stored in its tensors). */
  heads?: number;
}

/** What a checkpoint file is, from its first bytes and its header. */
function checkpointKind(path: string): 'torch' | 'matpac-ts' | 'official-safetensors' {
  const head = new Uint8Array(8);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 8, 0);
  } finally {
    closeSync(fd);
  }
  // a zip (torch.save ≥ 1.6) or a pickle (legacy torch.save: PROTO 2 then the LONG1 magic number)
  if (looksLikeZip(head) || (head[0] === 0x80 && head[2] === 0x8a)) return 'torch';
  const meta = readMetadata(path);
  return meta.format === 'matpac-ts.tree' ? 'matpac-ts' : 'official-safetensors';
}

/**
 * A model from official-name tensors: the architecture read off their shapes (heads from
 * `heads`, else the file's config, else the preset of that width), the encoder's tensors checked
 * (missing or mis-shaped ones are errors naming them; pos_embed against the sin-cos table), the
 * keys it does not use listed once.
 */
export function officialModel(
  path: string,
  tensors: Record<string, HostTensor | Tensor>,
  opts: LoadModelOptions & { fileConfig?: MatpacConfig; nonTensors?: string[] } = {},
): Model {
  const shapes = Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, t.shape]));
  const name = path.replace(/^.*[\\/]/, '');
  try {
    const inferred = inferEncoderConfig(shapes, {
      heads: opts.heads ?? opts.fileConfig?.encoder.heads,
      nMels: opts.fileConfig?.nMels,
      name,
    });
    // a file written by matpac export carries its whole config: keep it when the tensors agree with it
    const fc = opts.fileConfig;
    const same =
      fc &&
      JSON.stringify([fc.encoder, fc.patchSize, fc.cropFrames, fc.nMels]) ===
        JSON.stringify([inferred.encoder, inferred.patchSize, inferred.cropFrames, inferred.nMels]);
    const config = same && configProblems(fc).length === 0 ? fc : inferred;
    const keys = encoderKeys(config.encoder.depth);
    const named: Record<string, Tensor> = {};
    for (const k of keys) {
      const t = tensors[k];
      if (t) named[k] = t instanceof Tensor ? t : fromHost(t.data, t.shape);
    }
    const half = keys.some((k) => {
      const t = tensors[k];
      return t !== undefined && !(t instanceof Tensor) && (t.dtype === 'F16' || t.dtype === 'BF16');
    });
    checkInferenceMemory(config, path);
    const student = importStudentEncoder(named, config, half ? 1e-2 : 1e-4);
    const bad = countNonFinite(student);
    if (bad)
      throw new CliError(
        `${path}: holds ${bad} non-finite values in the encoder (first: ${firstNonFinite(student)?.path ?? 'a sum overflows'}): not a usable model`,
      );
    const unused = unusedKeys(Object.keys(tensors), config.encoder.depth);
    const other = opts.nonTensors ?? [];
    if (unused.count)
      say(
        `matpac: ${name}: ignored ${unused.count} tensor${unused.count > 1 ? 's' : ''} the encoder does not use: ${unused.summary}`,
      );
    if (other.length)
      say(
        `matpac: ${name}: ignored ${other.length} non-tensor entr${other.length > 1 ? 'ies' : 'y'}: ${other.slice(0, 5).join(', ')}${other.length > 5 ? ', …' : ''}`,
      );
    const { dim, depth, heads } = config.encoder;
    return {
      config,
      student,
      step: 0,
      label: `${name} (official layout, width ${dim}, depth ${depth}, ${heads} heads, ${config.cropFrames}-frame chunks)`,
    };
  } catch (e) {
    if (e instanceof InteropError) throw new CliError(e.problems.map((p) => `${path}: ${p}`).join('\n'));
    throw e;
  }
}

/**
 * Any checkpoint as a model: a `matpac train` checkpoint, an official PyTorch `.pt`/`.pth`
 * (MATPAC, MATPAC++ `_enconly`), or an official-name `.safetensors` (`matpac export` writes one).
 */
export async function loadModel(path: string, opts: LoadModelOptions = {}): Promise<Model> {
  try {
    const kind = checkpointKind(path);
    if (kind === 'matpac-ts') {
      const m = await loadCheckpointModel(path);
      if (opts.heads !== undefined && opts.heads !== m.config.encoder.heads)
        throw new CliError(
          `${path}: --heads ${opts.heads} contradicts the checkpoint's config (${m.config.encoder.heads} heads)`,
        );
      return m;
    }
    if (kind === 'torch') {
      const sd = readTorchFile(path);
      const fileConfig = sd.extra['config.json'] ? parseConfig(path, sd.extra['config.json']) : undefined;
      return officialModel(path, sd.tensors, { ...opts, fileConfig, nonTensors: sd.other });
    }
    const { tensors, metadata } = loadSafetensors(path);
    return officialModel(path, tensors, {
      ...opts,
      fileConfig: metadata.config ? parseConfig(path, metadata.config) : undefined,
    });
  } catch (e) {
    if (e instanceof TorchFileError || e instanceof CheckpointError) throw new CliError(e.message);
    throw e;
  }
}

/** A checkpoint's architecture: from the config in its metadata, or (official files) from its tensors. */
export async function modelConfig(path: string, opts: LoadModelOptions = {}): Promise<MatpacConfig> {
  return checkpointKind(path) === 'matpac-ts' ? checkpointConfig(path) : (await loadModel(path, opts)).config;
}

function parseConfig(path: string, text: string): MatpacConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new CliError(`${path}: the config stored in the file is not valid JSON`);
  }
  return completeStoredConfig(raw);
}
