/**
 * MATPAC configuration: every number of the model and of its training, and the presets.
 *
 * `base` is the paper's configuration (Quelennec et al., MATPAC, arXiv 2502.12031, with the
 * official code aurianworld/matpac):
 *   - training_matpac/config/matpac.yaml: lr 3e-4 (l. 82-83), max_update 294816 (l. 84), warm-up
 *     19654 updates = 20 epochs (l. 64), AdamW betas (0.9, 0.95), eps 1e-6, weight decay 0.05
 *     (l. 86-89), clip_norm 3.0 (l. 81), crop 608 frames (l. 93-94), head 2048/2048 (l. 76-77),
 *     head EMA 0.998 (l. 78), teacher-temperature warm-up 9827 updates = 10 epochs (l. 79),
 *     loss weights 0.5/0.5 (l. 31-33), 8 GPUs × 256 = batch 2048 (l. 36, 47), seed 1337 (l. 10).
 *   - training_matpac/models/model.py `general_config` (l. 52-86): mask ratio 0.7, encoder EMA
 *     0.99995 → 0.99999 annealed over max_update.
 *   - training_matpac/models/cls_head.py `Cls_Head_Config` (l. 12-37): τ_s 0.1, τ_t 0.04 → 0.07,
 *     centre momentum 0.9, head EMA end 1.0; `Cls_Head` (l. 40-57): 3 layers, bottleneck 256.
 *   - training_matpac/models/encoder.py / decoder.py: ViT-B 768/12/12, predictor 512/8/16, MLP ×4.
 *
 * All schedules are expressed in optimizer steps (updates), as the official code does; for `base`
 * one epoch of AudioSet at batch 2048 is ≈ 983 updates, so 300 epochs = 294816 steps.
 *
 * The small presets (`small`, `tiny`, `micro`) keep the architecture and every rule of `base` and
 * shrink the sizes; their choice is documented beside each preset and in docs/matpac.md.
 *
 * MATPAC++ (arXiv 2508.12709) is the `mcl` section with heads > 0 — config/matpac_plusplus.yaml
 * l. 67-77: n_head 5, temperature 0.1 → 1e-4 by ×0.99997 per update — and the `tiny-pp` preset.
 */

/** Adam's ε placement: see MatpacConfig.optim.adamEps. */
export const ADAM_EPS_RULES = ['fairseq', 'pytorch'] as const;
/** One of ADAM_EPS_RULES. */
export type AdamEpsRule = (typeof ADAM_EPS_RULES)[number];
/** The clipping rule: see MatpacConfig.optim.clip. */
export const CLIP_RULES = ['fp16', 'fp32'] as const;
/** One of CLIP_RULES. */
export type ClipRule = (typeof CLIP_RULES)[number];

/** A ViT stack: width, depth, heads, MLP ratio. */
export interface TransformerConfig {
  /** Token width D. */
  dim: number;
  /** Number of pre-LN blocks. */
  depth: number;
  /** Attention heads (D must be divisible by it). */
  heads: number;
  /** MLP hidden width = mlpRatio·D. */
  mlpRatio: number;
}

/** A whole MATPAC configuration: front end, patches, encoder, predictor, heads, masking, losses, schedules, optimizer, run length. */
export interface MatpacConfig {
  name: string;
  /** Mel bands of the input (80 for real audio; `micro` uses fewer). */
  nMels: number;
  /** Square patch side in bins/frames (16). */
  patchSize: number;
  /** Training crop length in frames (608 = 6.08 s for base); also the embedding chunk length. */
  cropFrames: number;
  encoder: TransformerConfig;
  predictor: TransformerConfig;
  head: {
    /** Hidden width of the head MLP (2048). */
    hiddenDim: number;
    /** Bottleneck width before L2 normalisation (256). */
    bottleneckDim: number;
    /** K, the number of classes of the weight-normalised last layer (2048). */
    numClasses: number;
    /** Linear layers of the MLP (3: D→h→h→bottleneck). */
    layers: number;
  };
  /** Fraction of tokens masked (0.7): visible = ⌊N·(1 − ratio)⌋. */
  maskRatio: number;
  /** LayerNorm ε of every block and final norm (1e-6). */
  lnEps: number;
  /** L = cls·L_cls + pred·L_pred. */
  loss: { clsWeight: number; predWeight: number };
  /**
   * MATPAC++'s multiple-choice prediction heads (models/mcl.ts; official `mcl_config`, mcl.py
   * l. 8-19, and config/matpac_plusplus.yaml l. 67-77). `heads` 0 is MATPAC (one output projection,
   * decoder_pred); n ≥ 1 replaces decoder_pred by n linear heads trained by annealed MCL.
   */
  mcl: {
    /** n, the number of prediction heads (official n_head: 5); 0 = no MCL (MATPAC). */
    heads: number;
    /** Assignment temperature at step 0 (matpac_plusplus.yaml: 0.1; the dataclass default is 1). */
    temperatureStart: number;
    /** Below this the assignment becomes the hard minimum (1e-4). */
    temperatureEnd: number;
    /** T(step) = temperatureStart·decayRate^step (base: 0.99997; scaled presets: the same curve in run fractions). */
    decayRate: number;
  };
  cls: {
    studentTemp: number;
    teacherTempStart: number;
    teacherTempEnd: number;
    /** Steps over which τ_t goes linearly from start to end (then stays at end). */
    teacherTempWarmupSteps: number;
    centerMomentum: number;
  };
  ema: {
    /** Encoder EMA momentum, linear from start to end over `annealSteps`. */
    encoderStart: number;
    encoderEnd: number;
    /** Head EMA momentum, linear from start to end over `annealSteps` (1.0 at the end: frozen). */
    headStart: number;
    headEnd: number;
    annealSteps: number;
  };
  optim: {
    peakLr: number;
    b1: number;
    b2: number;
    eps: number;
    /**
     * Where Adam's ε goes (docs/optimization.md, "Which code path the official run took"):
     * 'fairseq' — the official run: fairseq's own Adam (fairseq/optim/adam.py l. 223-227) adds ε to
     * √v before the bias correction, u = m̂/(√v̂ + ε/√(1 − b2^t));
     * 'pytorch' — torch.optim.AdamW / optax / apex FusedAdam: u = m̂/(√v̂ + ε).
     */
    adamEps: AdamEpsRule;
    weightDecay: number;
    clipNorm: number;
    /**
     * How the gradient is clipped to `clipNorm` c:
     * 'fp16' — the official run (common.fp16: true routes clipping through fairseq's FP16Optimizer,
     * fairseq/optim/fp16_optimizer.py l. 191-211): g·c/‖g‖ only when ‖g‖ > c, nothing added to ‖g‖;
     * 'fp32' — fairseq's fp32 path, utils.clip_grad_norm_ (fairseq/utils.py l. 392-395):
     * g·min(1, c/(‖g‖ + 1e-6)).
     */
    clip: ClipRule;
    /** Linear warm-up from 0 to peakLr over these steps, then cosine to 0 at totalSteps. */
    warmupSteps: number;
    totalSteps: number;
  };
  batchSize: number;
  seed: number;
}

// ---------------------------------------------------------------------------------------------
// derived sizes

/** Patch grid of an input of `frames` frames: F frequency rows × T time columns. */
export function gridOf(c: MatpacConfig, frames = c.cropFrames): { F: number; T: number; N: number } {
  const F = Math.floor(c.nMels / c.patchSize);
  const T = Math.floor(frames / c.patchSize);
  return { F, T, N: F * T };
}

/** Visible and masked token counts, as `random_unstructured_mask` (training_matpac/models/utils.py l. 78-87). */
export function maskCounts(c: MatpacConfig, nTokens = gridOf(c).N): { nVisible: number; nMasked: number } {
  const nVisible = Math.floor(nTokens * (1 - c.maskRatio)); // Python int() of the same float expression
  return { nVisible, nMasked: nTokens - nVisible };
}

// ---------------------------------------------------------------------------------------------
// validation

/** An invalid configuration: `problems` lists every problem, one line each. */
export class ConfigError extends Error {
  constructor(
    readonly problems: string[],
    name: string,
  ) {
    super(`invalid MATPAC config '${name}':\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Every problem of `c`, one line each, each naming its field. Empty when the config is usable. */
export function configProblems(c: MatpacConfig): string[] {
  const p: string[] = [];
  const posInt = (field: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) p.push(`${field}: must be a positive integer, got ${v}`);
  };
  const nonNegInt = (field: string, v: number) => {
    if (!Number.isInteger(v) || v < 0) p.push(`${field}: must be a non-negative integer, got ${v}`);
  };
  const inRange = (field: string, v: number, lo: number, hi: number, loOpen = false) => {
    if (!Number.isFinite(v) || v > hi || (loOpen ? v <= lo : v < lo))
      p.push(`${field}: must be in ${loOpen ? '(' : '['}${lo}, ${hi}], got ${v}`);
  };
  const positive = (field: string, v: number) => {
    if (!Number.isFinite(v) || v <= 0) p.push(`${field}: must be > 0, got ${v}`);
  };
  const oneOf = (field: string, v: unknown, allowed: readonly string[]) => {
    if (!allowed.includes(v as string))
      p.push(`${field}: must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(v)}`);
  };

  posInt('patchSize', c.patchSize);
  posInt('nMels', c.nMels);
  posInt('cropFrames', c.cropFrames);
  if (p.length === 0) {
    if (c.nMels % c.patchSize !== 0) p.push(`nMels: ${c.nMels} is not a multiple of patchSize ${c.patchSize}`);
    if (c.cropFrames % c.patchSize !== 0)
      p.push(`cropFrames: ${c.cropFrames} is not a multiple of patchSize ${c.patchSize}`);
  }
  for (const which of ['encoder', 'predictor'] as const) {
    const t = c[which];
    posInt(`${which}.dim`, t.dim);
    nonNegInt(`${which}.depth`, t.depth);
    posInt(`${which}.heads`, t.heads);
    posInt(`${which}.mlpRatio`, t.mlpRatio);
    if (Number.isInteger(t.dim) && Number.isInteger(t.heads) && t.heads > 0 && t.dim % t.heads !== 0)
      p.push(`${which}.heads: dim ${t.dim} is not divisible by ${t.heads} heads`);
    if (Number.isInteger(t.dim) && t.dim % 4 !== 0)
      p.push(`${which}.dim: ${t.dim} must be a multiple of 4 (2-D sin-cos table: 4 quarters)`);
  }
  if (c.encoder.depth < 1) p.push(`encoder.depth: must be at least 1, got ${c.encoder.depth}`);
  posInt('head.hiddenDim', c.head.hiddenDim);
  posInt('head.bottleneckDim', c.head.bottleneckDim);
  posInt('head.numClasses', c.head.numClasses);
  posInt('head.layers', c.head.layers);
  inRange('maskRatio', c.maskRatio, 0, 1, true);
  if (p.length === 0) {
    const { N } = gridOf(c);
    const { nVisible, nMasked } = maskCounts(c);
    if (nVisible < 1) p.push(`maskRatio: ${c.maskRatio} leaves no visible token out of ${N}`);
    if (nMasked < 1) p.push(`maskRatio: ${c.maskRatio} masks no token out of ${N}`);
  }
  positive('lnEps', c.lnEps);
  inRange('loss.clsWeight', c.loss.clsWeight, 0, Infinity);
  inRange('loss.predWeight', c.loss.predWeight, 0, Infinity);
  if (typeof c.mcl !== 'object' || c.mcl === null)
    p.push('mcl: must be an object { heads, temperatureStart, temperatureEnd, decayRate }');
  else {
    nonNegInt('mcl.heads', c.mcl.heads);
    positive('mcl.temperatureStart', c.mcl.temperatureStart);
    positive('mcl.temperatureEnd', c.mcl.temperatureEnd);
    inRange('mcl.decayRate', c.mcl.decayRate, 0, 1, true);
  }
  positive('cls.studentTemp', c.cls.studentTemp);
  positive('cls.teacherTempStart', c.cls.teacherTempStart);
  positive('cls.teacherTempEnd', c.cls.teacherTempEnd);
  nonNegInt('cls.teacherTempWarmupSteps', c.cls.teacherTempWarmupSteps);
  inRange('cls.centerMomentum', c.cls.centerMomentum, 0, 1);
  inRange('ema.encoderStart', c.ema.encoderStart, 0, 1);
  inRange('ema.encoderEnd', c.ema.encoderEnd, 0, 1);
  inRange('ema.headStart', c.ema.headStart, 0, 1);
  inRange('ema.headEnd', c.ema.headEnd, 0, 1);
  posInt('ema.annealSteps', c.ema.annealSteps);
  positive('optim.peakLr', c.optim.peakLr);
  inRange('optim.b1', c.optim.b1, 0, 1);
  inRange('optim.b2', c.optim.b2, 0, 1);
  positive('optim.eps', c.optim.eps);
  oneOf('optim.adamEps', c.optim.adamEps, ADAM_EPS_RULES);
  inRange('optim.weightDecay', c.optim.weightDecay, 0, Infinity);
  positive('optim.clipNorm', c.optim.clipNorm);
  oneOf('optim.clip', c.optim.clip, CLIP_RULES);
  nonNegInt('optim.warmupSteps', c.optim.warmupSteps);
  posInt('optim.totalSteps', c.optim.totalSteps);
  if (c.optim.warmupSteps > c.optim.totalSteps)
    p.push(`optim.warmupSteps: ${c.optim.warmupSteps} exceeds optim.totalSteps ${c.optim.totalSteps}`);
  posInt('batchSize', c.batchSize);
  if (!Number.isSafeInteger(c.seed)) p.push(`seed: must be a safe integer, got ${c.seed}`);
  return p;
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Overlay `patch` on `base`, reporting keys the base does not have and values of the wrong type. */
function overlay(
  base: Record<string, unknown>,
  patch: Record<string, unknown>,
  path: string,
  problems: string[],
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    const field = path ? `${path}.${k}` : k;
    if (!Object.hasOwn(base, k)) {
      problems.push(`${field}: unknown field (known here: ${Object.keys(base).join(', ')})`);
      continue;
    }
    const b = base[k];
    if (isRecord(b)) {
      if (isRecord(v)) out[k] = overlay(b, v, field, problems);
      else problems.push(`${field}: must be an object, got ${JSON.stringify(v)}`);
    } else if (typeof b !== typeof v) problems.push(`${field}: must be a ${typeof b}, got ${JSON.stringify(v)}`);
    else out[k] = v;
  }
  return out;
}

/**
 * A config from parsed JSON: a whole config (e.g. a run's config.json) or only the fields that
 * differ from the preset it names in "extends" (default tiny), named `name`. Every problem is
 * returned at once, one line each naming its field (the config is usable when there are none).
 */
export function configFromJson(
  raw: Record<string, unknown>,
  name: string,
): { config: MatpacConfig; problems: string[] } {
  const names = Object.keys(PRESETS);
  const { extends: parent = 'tiny', ...fields } = raw;
  if (typeof parent !== 'string' || !names.includes(parent))
    return {
      config: structuredClone(PRESETS.tiny),
      problems: [`extends: must name a preset (${names.join(', ')}), got ${JSON.stringify(parent)}`],
    };
  const problems: string[] = [];
  const base = { ...structuredClone(PRESETS[parent as PresetName]), name };
  const config = overlay(base as unknown as Record<string, unknown>, fields, '', problems) as unknown as MatpacConfig;
  problems.push(...configProblems(config));
  return { config, problems };
}

/** Throws a ConfigError listing every problem (one line each, naming the field). */
export function validateConfig(c: MatpacConfig): MatpacConfig {
  const problems = configProblems(c);
  if (problems.length) throw new ConfigError(problems, c.name);
  return c;
}

// ---------------------------------------------------------------------------------------------
// configs written by earlier versions

/**
 * Fields added to MatpacConfig after runs had been recorded with it, each with the value that
 * reproduces what such a run did: before the field existed, the code ran that rule.
 *   optim.adamEps   'pytorch' (ε on √v̂: the default until the official rules became the default)
 *   optim.clip      'fp32'    (g·min(1, c/(‖g‖ + 1e-6)), likewise)
 *   mcl             heads 0   (MATPAC: the predictor's single output projection)
 */
const RULES_OF_EARLIER_RUNS: { section: 'optim'; field: string; value: unknown }[] = [
  { section: 'optim', field: 'adamEps', value: 'pytorch' },
  { section: 'optim', field: 'clip', value: 'fp32' },
];
/** Whole sections added later: `mcl` (runs recorded before MATPAC++ were MATPAC: no heads). */
const SECTIONS_OF_EARLIER_RUNS: Record<string, unknown> = {
  mcl: { heads: 0, temperatureStart: 0.1, temperatureEnd: 1e-4, decayRate: 0.99997 },
};

/**
 * A config read back as the record of a run — a run folder's config.json or a checkpoint's
 * metadata — with the fields it predates filled in by RULES_OF_EARLIER_RUNS, so that resuming
 * or reloading an earlier run repeats exactly what it ran (the result is validated by the
 * caller). Fields that are present are kept as they are; a config that is not an object is
 * returned untouched, for the validation to report. (A config *file* given to `--preset` starts
 * a new run instead: its absent fields take the preset's values, i.e. the official rules.)
 */
export function completeStoredConfig(raw: unknown): MatpacConfig {
  if (typeof raw !== 'object' || raw === null) return raw as MatpacConfig;
  const out = { ...(raw as Record<string, unknown>) };
  for (const [section, value] of Object.entries(SECTIONS_OF_EARLIER_RUNS))
    if (!(section in out)) out[section] = structuredClone(value);
  for (const { section, field, value } of RULES_OF_EARLIER_RUNS) {
    const sec = out[section];
    if (typeof sec === 'object' && sec !== null && !(field in sec)) out[section] = { ...sec, [field]: value };
  }
  return out as unknown as MatpacConfig;
}

// ---------------------------------------------------------------------------------------------
// presets

/**
 * MATPAC++'s assignment temperature (config/matpac_plusplus.yaml l. 72-77): 0.1 → 1e-4 by ×0.99997 per
 * update. We use the config file's temperature_start 0.1, not the dataclass default 1 (mcl.py l. 17):
 * the yaml is what the published MATPAC++ run was launched with, and it overrides the default.
 * `heads` is 0 in every preset but `tiny-pp` (5, official n_head); `--mcl N` sets it.
 */
const OFFICIAL_MCL = { temperatureStart: 0.1, temperatureEnd: 1e-4, decayRate: 0.99997 };
/** Steps of the official run (max_update), to which the MCL decay rate is tied. */
const OFFICIAL_STEPS = 294816;
/**
 * The decay rate that gives a run of `steps` the official temperature curve as a function of the
 * run fraction: 0.99997^(294816/steps). (Official: T reaches 1e-4, the hard phase, at ≈ 230 k updates,
 * 78% of the run.)
 */
export const mclDecayRateFor = (steps: number, official = OFFICIAL_MCL.decayRate): number =>
  official ** (OFFICIAL_STEPS / steps);

const OFFICIAL_CLS = { studentTemp: 0.1, teacherTempStart: 0.04, teacherTempEnd: 0.07, centerMomentum: 0.9 };
/**
 * config/matpac.yaml l. 80-89 (optimizer adam, betas, eps, weight decay, clip_norm), with the update
 * rules of the code path that config runs: fairseq's own Adam (environment.yml installs no apex, so
 * fairseq/optim/fused_adam.py `get_fused_adam_class` finds no FusedAdam) and, since `common.fp16:
 * true` (l. 7), the FP16Optimizer's clipping.
 */
const OFFICIAL_ADAM = {
  b1: 0.9,
  b2: 0.95,
  eps: 1e-6,
  adamEps: 'fairseq',
  weightDecay: 0.05,
  clipNorm: 3.0,
  clip: 'fp16',
} as const;

/** The paper's model and training (ViT-B on AudioSet-2M, 300 epochs at batch 2048). */
const base: MatpacConfig = {
  name: 'base',
  nMels: 80,
  patchSize: 16,
  cropFrames: 608,
  encoder: { dim: 768, depth: 12, heads: 12, mlpRatio: 4 },
  predictor: { dim: 512, depth: 8, heads: 16, mlpRatio: 4 },
  head: { hiddenDim: 2048, bottleneckDim: 256, numClasses: 2048, layers: 3 },
  maskRatio: 0.7,
  lnEps: 1e-6,
  loss: { clsWeight: 0.5, predWeight: 0.5 },
  mcl: { heads: 0, ...OFFICIAL_MCL },
  cls: { ...OFFICIAL_CLS, teacherTempWarmupSteps: 9827 },
  ema: { encoderStart: 0.99995, encoderEnd: 0.99999, headStart: 0.998, headEnd: 1.0, annealSteps: 294816 },
  optim: { ...OFFICIAL_ADAM, peakLr: 3e-4, warmupSteps: 19654, totalSteps: 294816 },
  batchSize: 2048,
  seed: 1337,
};

/**
 * Scaled presets. What is kept from base: the input (80 mels, 16×16 patches), mask ratio, every
 * loss/temperature/centre rule, AdamW betas/eps/decay, clipping, the warm-up fraction of the run
 * (20/300 of the steps) and the teacher-temperature warm-up fraction (10/300). What changes:
 * widths, depths, K, crop length, batch and run length; and the EMA momenta, whose time constants
 * 1/(1 − m) are tied to the run length: base's 0.99995 (time constant 20 000 steps ≈ 7% of its
 * 294 816 steps) would leave a 2 000-step teacher at its random init, so the small presets start the
 * encoder EMA at a time constant of ≈ 5% of the run and end it at ≈ 1/5 of that, like base's
 * 0.99995 → 0.99999; the head EMA 0.998 → 1 is kept as a function of the run fraction.
 * Peak learning rate is raised for the small batch and short run (small models tolerate it; M2D
 * and MAE scale lr with batch, base lr 1.5e-4·B/256 → 3e-4 at 2048 in MATPAC's choice).
 */
function scaled(
  name: string,
  o: {
    cropFrames: number;
    encoder: TransformerConfig;
    predictor: TransformerConfig;
    head: MatpacConfig['head'];
    batchSize: number;
    totalSteps: number;
    peakLr: number;
    encoderEma: [number, number];
    headEma: [number, number];
    nMels?: number;
    patchSize?: number;
  },
): MatpacConfig {
  return {
    name,
    nMels: o.nMels ?? 80,
    patchSize: o.patchSize ?? 16,
    cropFrames: o.cropFrames,
    encoder: o.encoder,
    predictor: o.predictor,
    head: o.head,
    maskRatio: 0.7,
    lnEps: 1e-6,
    loss: { clsWeight: 0.5, predWeight: 0.5 },
    mcl: { heads: 0, ...OFFICIAL_MCL, decayRate: mclDecayRateFor(o.totalSteps) },
    cls: { ...OFFICIAL_CLS, teacherTempWarmupSteps: Math.round((o.totalSteps * 10) / 300) },
    ema: {
      encoderStart: o.encoderEma[0],
      encoderEnd: o.encoderEma[1],
      headStart: o.headEma[0],
      headEnd: o.headEma[1],
      annealSteps: o.totalSteps,
    },
    optim: {
      ...OFFICIAL_ADAM,
      peakLr: o.peakLr,
      warmupSteps: Math.round((o.totalSteps * 20) / 300),
      totalSteps: o.totalSteps,
    },
    batchSize: o.batchSize,
    seed: 1337,
  };
}

/**
 * `tiny`: the default run — 2 400 steps on the generated pool in about 16 minutes on a 2-core CPU
 * (native backend). The crop is 1 s (96 frames, 30 tokens; 2.08 s until session 5): on the
 * development probe sets it won sound events by 6–10 points over log-mel statistics where the
 * 2.08-s crop lost them at equal compute (docs/matpac.md, "Transfer", E6–E7, E10, E12).
 * See docs/matpac.md ("Presets") for the measured step time and FLOPs per step.
 */
const tiny = scaled('tiny', {
  cropFrames: 96,
  encoder: { dim: 128, depth: 4, heads: 4, mlpRatio: 4 },
  predictor: { dim: 96, depth: 2, heads: 4, mlpRatio: 4 },
  head: { hiddenDim: 256, bottleneckDim: 64, numClasses: 256, layers: 3 },
  batchSize: 32,
  totalSteps: 2400,
  peakLr: 1e-3,
  encoderEma: [0.995, 0.999],
  headEma: [0.99, 1.0],
});

/**
 * `small`: about 10× tiny's compute per step (a bigger encoder and the 3-s crop of M2D's 80×304
 * setting); several hours on a 2-core CPU — for a bigger machine. See docs/matpac.md ("Presets").
 */
const small = scaled('small', {
  cropFrames: 304,
  encoder: { dim: 192, depth: 6, heads: 6, mlpRatio: 4 },
  predictor: { dim: 128, depth: 3, heads: 4, mlpRatio: 4 },
  head: { hiddenDim: 512, bottleneckDim: 128, numClasses: 512, layers: 3 },
  batchSize: 48,
  totalSteps: 8000,
  peakLr: 1e-3,
  encoderEma: [0.996, 0.9995],
  headEma: [0.99, 1.0],
});

/** `micro`: for tests only — 32×32 input (2×2 patches), width 8, one block, K 8. */
const micro = scaled('micro', {
  nMels: 32,
  cropFrames: 32,
  encoder: { dim: 8, depth: 1, heads: 2, mlpRatio: 2 },
  predictor: { dim: 8, depth: 1, heads: 2, mlpRatio: 2 },
  head: { hiddenDim: 12, bottleneckDim: 8, numClasses: 8, layers: 3 },
  batchSize: 2,
  totalSteps: 30,
  peakLr: 1e-3,
  encoderEma: [0.9, 0.95],
  headEma: [0.9, 1.0],
});

/** `tiny-pp`: tiny as MATPAC++ — the predictor's output projection replaced by 5 MCL heads. */
const tinyPp: MatpacConfig = { ...structuredClone(tiny), name: 'tiny-pp', mcl: { ...tiny.mcl, heads: 5 } };

/** The named configurations: base (the paper's), small, tiny (the default run), tiny-pp (tiny as MATPAC++), micro (tests). */
export const PRESETS: Readonly<Record<'base' | 'small' | 'tiny' | 'tiny-pp' | 'micro', MatpacConfig>> = {
  base,
  small,
  tiny,
  'tiny-pp': tinyPp,
  micro,
};
/** The name of a preset. */
export type PresetName = keyof typeof PRESETS;

/** A preset by name (a deep copy, so callers may modify it), with optional overrides of top-level fields. */
export function preset(name: string, overrides: Partial<MatpacConfig> = {}): MatpacConfig {
  if (!(name in PRESETS))
    throw new Error(`unknown MATPAC preset '${name}' (known: ${Object.keys(PRESETS).join(', ')})`);
  return validateConfig({ ...structuredClone(PRESETS[name as PresetName]), ...overrides });
}
