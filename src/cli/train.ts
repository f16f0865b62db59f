/**
 * `matpac train`: pre-train MATPAC and leave a run folder a person can look at.
 *
 * RUN_DIR/
 *   config.json                      the config the run uses (its run length included)
 *   run.json                         where the data came from, the backend, the checkpoint period
 *   checkpoint-latest.safetensors    the whole training state (student, teacher, optimizer, centre,
 *                                    RNG key, step), written atomically; --resume continues from it
 *   checkpoint-<step>.safetensors    the same, kept every --checkpoint-every steps
 *   metrics.jsonl                    one line per step: loss, L_pred, L_cls, lr, EMA momenta, τ_t, …
 *   loss.svg                         the loss curves, redrawn as training goes
 *   input-mask.png                   the first training input's log-mel, masked patches shaded
 *   probe.json                       the linear probe on the bundled probe set, at the end
 *   probe-suite.json                 the end-of-run probes: the probe set and (unless --no-probe-suite)
 *                                    the development sets, each with the trained encoder, its random
 *                                    init and log-mel statistics (src/cli/probe-suite.ts)
 *
 * The run is a pure function of (config, data): batch t is cropped with the key foldIn(data key, t)
 * and the masks come from the state's own key, so a resumed run repeats the uninterrupted one
 * bit for bit.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import type { MatpacConfig } from '../../models/config';
import { gridOf } from '../../models/config';
import { randomMasking } from '../../models/masking';
import { initTrainState, makeTrainStep, matpacLossAux, type StepMetrics, type TrainState } from '../../models/matpac';
import { writeLogMelPng } from '../audio/png';
import { readMetadata, saveState } from '../checkpoint/file';
import { ensureProbeSet } from '../data/render';
import { allFinite, countNonFinite, firstNonFinite } from '../finite';
import { disposeTree, scope, tensor, valueAndGrad, type Tensor } from '../index';
import { writeFileAtomic } from '../io/atomic-file';
import { linePlotSvg, stackSvg } from '../plot';
import { split } from '../random';
import { CliError, say, shown, useBackend } from './common';
import { checkTrainingMemory } from './memory-check';
import { metricsBefore, MetricsWriter } from './metrics-log';
import { withRunLength } from '../../models/run';
import { checkConfig, checkpointConfig, loadTrainState, resolveConfig, storedConfig } from './model';
import { accuracyLine, formatProbeReport, writeProbeJson, type ProbeReport } from './probe';
import type { SuiteSet } from './probe-suite';
import { cleanStaleTemps, configChanges, lockRunFolder, runIdOf, type RunLock } from './run-folder';
import {
  defaultTrainingData,
  openTrainingData,
  POOL_DATA,
  type PoolDataOptions,
  type TrainingData,
} from './train-data';

export interface TrainOptions {
  preset?: string;
  data?: string;
  steps?: number;
  minutes?: number;
  batch?: number;
  seed?: number;
  /** MATPAC++: the number of MCL prediction heads (config mcl.heads; 0 = MATPAC). */
  mcl?: number;
  out?: string;
  resume?: boolean;
  checkpointEvery?: number;
  stopAt?: number;
  backend: string;
  /** Run the step compiled by jit (default; `--no-jit` runs it eagerly, op by op). */
  jit?: boolean;
  probe: boolean;
  probeData?: string;
  /** With `probe`: also probe the development sets (default true; `--no-probe-suite` turns it off). */
  probeSuite?: boolean;
  followLinks?: boolean;
}

/** Test hooks: change a batch before its step (e.g. inject a NaN). */
export interface TrainHooks {
  batch?: (step: number, data: Float32Array) => void;
  /** The development sets probed at the end (tests: small ones; default: every development set). */
  devSets?: () => Promise<SuiteSet[]>;
}

/** Training stopped because a value became NaN or infinite. */
export class NonFiniteError extends CliError {}

export const LATEST = 'checkpoint-latest.safetensors';
const numbered = (step: number) => `checkpoint-${String(step).padStart(6, '0')}.safetensors`;
const RUNS_DIR = 'runs';
/** The latest checkpoint is also rewritten at least this often (seconds), so little is lost to a crash. */
const LATEST_EVERY_SEC = 120;

interface RunInfo {
  data: string;
  checkpointEvery: number;
  preset: string;
  createdAt: string;
  /** The run id (run-folder.ts); absent in runs written before it existed. */
  runId?: string;
  /** Whether symbolic links out of the data folder were followed (--follow-links); absent: no. */
  followLinks?: boolean;
}

// ── small helpers ────────────────────────────────────────────────────────────────────────────────

function timestamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec)) return '?';
  if (sec < 1) return `${Math.max(0, sec).toFixed(sec < 0.1 ? 3 : 1)}s`;
  const s = Math.round(sec);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

const num = (x: number, digits = 4) =>
  Number.isFinite(x) ? (Math.abs(x) >= 1e-3 || x === 0 ? x.toFixed(digits) : x.toExponential(2)) : String(x);

/** The run folder under runs/ whose latest checkpoint was written last. */
function latestRun(): string | undefined {
  if (!existsSync(RUNS_DIR)) return undefined;
  const candidates = readdirSync(RUNS_DIR)
    .filter((d) => existsSync(join(RUNS_DIR, d, LATEST)))
    .map((d) => ({ d: join(RUNS_DIR, d), t: statSync(join(RUNS_DIR, d, LATEST)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  return candidates[0]?.d;
}

function readJson<T>(path: string): T {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (e) {
    throw new CliError(`${path}: cannot read (${(e as Error).message})`);
  }
}

// ── NaN / Inf ────────────────────────────────────────────────────────────────────────────────────

/**
 * Why step t went non-finite, as one line: the first non-finite tensor in the order loss, then
 * gradient leaves by parameter path (found by recomputing the step's gradient — pure, so it is
 * the same gradient), then the updated state (student, teacher, optimizer moments, centre), with
 * the input batch and parameters named when they hold NaN/Inf already.
 */
function diagnose(
  state: TrainState,
  next: TrainState,
  batch: Tensor,
  files: string[],
  config: MatpacConfig,
  m: StepMetrics,
): string {
  const where: string[] = [];
  const bad = countNonFinite(batch);
  if (bad)
    where.push(
      `the input batch holds ${bad} non-finite value${bad > 1 ? 's' : ''} (clips: ${[...new Set(files)].map(shown).join(', ')})`,
    );
  const param = firstNonFinite(state.student, 'student');
  if (param) where.push(`the parameters already hold one (first: ${param.path})`);
  let first: string;
  if (!Number.isFinite(m.loss)) first = `loss = ${m.loss} (L_pred ${m.lPred}, L_cls ${m.lCls})`;
  else if (!Number.isFinite(m.gradNorm)) {
    const stepKey = split(state.key)[1];
    const teacherState = { ...state.teacher, centre: state.centre, step: state.step };
    const [, grads] = valueAndGrad(matpacLossAux, { hasAux: true })(
      state.student,
      teacherState,
      batch,
      stepKey,
      config,
    );
    first = `gradient of ${firstNonFinite(grads, 'student')?.path ?? '(none found: the gradient norm overflowed)'}`;
  } else {
    const { step: _s, key: _k, ...updated } = next;
    const hit = firstNonFinite(updated);
    first = hit
      ? `the updated ${hit.path} (${hit.count} value${hit.count > 1 ? 's' : ''}; ${countNonFinite(updated)} in the whole state): the update diverged (learning rate ${num(m.lr, 6)} too high?)`
      : 'the updated state (its values overflow float32 when summed: the update diverged)';
  }
  return `training stopped at step ${state.step}: first non-finite tensor: ${first}${where.length ? `; ${where.join('; ')}` : ''}`;
}

// ── outputs ──────────────────────────────────────────────────────────────────────────────────────

interface MetricsRow extends StepMetrics {
  step: number;
  /** Seconds since this process started training. */
  time: number;
}

/** Mean over consecutive bins, so a long noisy curve stays readable (≤ maxPoints points). */
function binned(xs: number[], ys: number[], maxPoints = 400): { x: number[]; y: number[] } {
  if (xs.length <= maxPoints) return { x: xs, y: ys };
  const per = Math.ceil(xs.length / maxPoints);
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < xs.length; i += per) {
    const n = Math.min(per, xs.length - i);
    let s = 0;
    for (let j = 0; j < n; j++) s += ys[i + j];
    x.push(xs[i + n - 1]);
    y.push(s / n);
  }
  return { x, y };
}

function writeLossPlot(path: string, rows: MetricsRow[], config: MatpacConfig): void {
  const steps = rows.map((r) => r.step);
  const series = (name: string, pick: (r: MetricsRow) => number) => ({ name, ...binned(steps, rows.map(pick)) });
  const svg = linePlotSvg({
    title: `MATPAC ${config.name}: training loss`,
    xLabel: 'step',
    yLabel: 'loss',
    series: [
      series(`L = ${config.loss.clsWeight}·L_cls + ${config.loss.predWeight}·L_pred`, (r) => r.loss),
      series('L_pred', (r) => r.lPred),
      series('L_cls', (r) => r.lCls),
    ],
  });
  // below it, what the study of the parts reads: the teacher's target perplexity, and for MATPAC++
  // each head's share of the tokens it won and the assignment temperature
  const K = config.head.numClasses;
  const study = [series(`teacher target perplexity / K (K = ${K})`, (r) => r.targetPerplexity / K)];
  for (let h = 0; h < config.mcl.heads; h++)
    study.push(
      series(
        `head ${h}: share of tokens won`,
        (r) => (r.headWins?.[h] ?? NaN) / (r.headWins ?? []).reduce((a, b) => a + b, 0),
      ),
    );
  if (config.mcl.heads > 0)
    study.push(
      series(
        `MCL temperature / ${config.mcl.temperatureStart}`,
        (r) => (r.mclTemperature ?? NaN) / config.mcl.temperatureStart,
      ),
    );
  const panel = linePlotSvg({
    title: config.mcl.heads > 0 ? 'targets and MCL heads' : 'targets',
    xLabel: 'step',
    yLabel: 'fraction',
    series: study,
    height: 300,
  });
  writeFileAtomic(path, stackSvg([svg, panel]));
}

/** input-mask.png: the first training crop and the patches step 0 masks in it. */
async function writeMaskPicture(
  path: string,
  batch: { data: Float32Array; shape: [number, number, number] },
  state: TrainState,
  config: MatpacConfig,
): Promise<void> {
  const [B, nMels, nFrames] = batch.shape;
  const { N } = gridOf(config, nFrames);
  const m = randomMasking(split(state.key)[1], B, N, config.maskRatio);
  await writeLogMelPng(
    path,
    { data: batch.data.subarray(0, nMels * nFrames), nMels, nFrames },
    { mask: m.mask.subarray(0, N), patchSize: config.patchSize, scale: nFrames < 200 ? 4 : 2 },
  );
}

// ── the progress display ─────────────────────────────────────────────────────────────────────────

function makeProgress(total: number, start: number) {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        // the most useful fields first: a narrow terminal cuts the line at its right edge
        format:
          'step {value}/{total} |{bar}| ETA {eta_formatted} {sps} steps/s | loss {loss} L_pred {lPred} L_cls {lCls} | lr {lr} ema {ema} τ_t {tau}',
        barsize: 20,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, start, { loss: '-', lPred: '-', lCls: '-', lr: '-', ema: '-', tau: '-', sps: '-' });
    return {
      update: (step: number, m: StepMetrics, sps: number) =>
        bar.update(step, {
          loss: num(m.loss),
          lPred: num(m.lPred),
          lCls: num(m.lCls),
          lr: num(m.lr, 6),
          ema: num(m.emaMomentum, 5),
          tau: num(m.teacherTemp, 4),
          sps: sps.toFixed(2),
        }),
      stop: () => bar.stop(),
    };
  }
  // Not a terminal (a log file, CI): a plain line about every 5% of the run.
  const every = Math.max(1, Math.round(total / 20));
  return {
    update: (step: number, m: StepMetrics, sps: number) => {
      if (step % every !== 0 && step !== total) return;
      const eta = sps > 0 ? formatDuration((total - step) / sps) : '?';
      say(
        `step ${step}/${total} ETA ${eta} ${sps.toFixed(2)} steps/s | loss ${num(m.loss)} L_pred ${num(m.lPred)} L_cls ${num(m.lCls)} | lr ${num(m.lr, 6)} ema ${num(m.emaMomentum, 5)} τ_t ${num(m.teacherTemp)}`,
      );
    },
    stop: () => {},
  };
}

// ── the command ──────────────────────────────────────────────────────────────────────────────────

interface Prepared {
  runDir: string;
  config: MatpacConfig;
  state: TrainState;
  info: RunInfo;
  resumed: boolean;
  lock: RunLock;
  /** The run folder was made by this run (removed again if the run ends before writing into it). */
  madeFolder?: boolean;
}

const isFolder = (p: string) => existsSync(p) && statSync(p).isDirectory();

/** Every path the run will use, checked before anything is written or trained. */
function checkPaths(opts: TrainOptions, runDir: string): void {
  if (opts.data !== undefined && opts.data !== POOL_DATA && !isFolder(opts.data))
    throw new CliError(`${opts.data}: no such folder`);
  if (opts.probe && opts.probeData !== undefined && !isFolder(opts.probeData))
    throw new CliError(`${opts.probeData}: no such folder (--probe-data)`);
  if (existsSync(runDir) && !statSync(runDir).isDirectory())
    throw new CliError(`${shown(runDir)}: --out must be a folder, this is a file`);
}

/** Own the run folder, and clear what killed writes left in it. */
function takeRunFolder(runDir: string): RunLock {
  const lock = lockRunFolder(runDir);
  const stale = cleanStaleTemps(runDir);
  if (stale.length)
    say(
      `matpac: ${shown(runDir)}: removed ${stale.length} unfinished temporary file${stale.length > 1 ? 's' : ''} of killed writes (${stale.slice(0, 3).join(', ')}${stale.length > 3 ? ', …' : ''})`,
    );
  return lock;
}

/** The run to continue in `runDir`, checked to be one run: config.json, run.json and the checkpoint agree. */
function resumeRun(runDir: string): Omit<Prepared, 'lock' | 'runDir' | 'resumed'> {
  const ckpt = join(runDir, LATEST);
  const configPath = join(runDir, 'config.json');
  const runPath = join(runDir, 'run.json');
  const config = storedConfig(readJson<unknown>(configPath), configPath);
  const info = readJson<RunInfo>(runPath);
  if (
    typeof info !== 'object' ||
    info === null ||
    typeof info.data !== 'string' ||
    !Number.isSafeInteger(info.checkpointEvery) ||
    info.checkpointEvery < 1
  )
    throw new CliError(
      `${shown(runPath)}: not a run description written by matpac train (needs "data" and a positive "checkpointEvery")`,
    );
  const changed = configChanges(checkpointConfig(ckpt), config);
  if (changed.length)
    throw new CliError(
      `${shown(configPath)} differs from the config in ${LATEST}: ${changed.join('; ')}; a resumed run continues exactly as it was configured (undo the edit, or start a new run with --preset ${shown(configPath)})`,
    );
  const runId = readMetadata(ckpt).run_id;
  if (runId !== info.runId)
    throw new CliError(
      `${shown(ckpt)} belongs to another run (run id ${runId ?? 'none'}; ${shown(runPath)} says ${info.runId ?? 'none'})`,
    );
  return { config, state: loadTrainState(ckpt, config), info };
}

async function prepare(opts: TrainOptions): Promise<Prepared> {
  if (opts.resume) {
    const fixed = (
      ['preset', 'steps', 'batch', 'seed', 'mcl', 'data', 'checkpointEvery', 'followLinks'] as const
    ).filter((k) => opts[k] !== undefined);
    if (fixed.length)
      throw new CliError(
        `--resume continues a run exactly as it was configured; drop ${fixed.map((k) => `--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`).join(', ')} (use --minutes or --stop-at to limit this session)`,
      );
    const runDir = opts.out ?? latestRun();
    if (!runDir) throw new CliError(`--resume: no run to continue in ${RUNS_DIR}/ (name one with --out RUN_DIR)`);
    checkPaths(opts, runDir);
    if (!existsSync(join(runDir, LATEST)))
      throw new CliError(`--resume: ${shown(runDir)} has no ${LATEST} to continue from`);
    const lock = takeRunFolder(runDir);
    try {
      checkTrainingMemory(checkpointConfig(join(runDir, LATEST)), join(runDir, LATEST));
      return { runDir, ...resumeRun(runDir), resumed: true, lock };
    } catch (e) {
      lock.release();
      throw e;
    }
  }

  const presetSpec = opts.preset ?? 'tiny';
  let config = resolveConfig(presetSpec);
  if (opts.batch !== undefined) config = { ...config, batchSize: opts.batch };
  if (opts.seed !== undefined) config = { ...config, seed: opts.seed };
  if (opts.mcl !== undefined) config = { ...config, mcl: { ...config.mcl, heads: opts.mcl } };
  if (opts.steps !== undefined) config = withRunLength(config, opts.steps);
  config = checkConfig(config, presetSpec);
  checkTrainingMemory(config, presetSpec);

  const runDir = opts.out ?? join(RUNS_DIR, `${config.name}-${timestamp()}`);
  checkPaths(opts, runDir);
  if (existsSync(join(runDir, LATEST)))
    throw new CliError(`${shown(runDir)} already holds a run: continue it with --resume, or choose another --out`);
  const madeFolder = !existsSync(runDir);
  mkdirSync(runDir, { recursive: true });
  const lock = takeRunFolder(runDir);
  try {
    // checked again under the lock: a run that started meanwhile has written it
    if (existsSync(join(runDir, LATEST)))
      throw new CliError(`${shown(runDir)} already holds a run: continue it with --resume, or choose another --out`);
    if (existsSync(join(runDir, 'metrics.jsonl')))
      say(
        `matpac: ${shown(runDir)}: an earlier run there saved no checkpoint; starting over (its metrics.jsonl is replaced)`,
      );
    const data = opts.data ?? (await defaultTrainingData());
    const checkpointEvery = opts.checkpointEvery ?? Math.max(1, Math.round(config.optim.totalSteps / 10));
    const info: RunInfo = {
      data: data === POOL_DATA ? data : resolve(data),
      checkpointEvery,
      preset: presetSpec,
      createdAt: new Date().toISOString(),
      ...(opts.followLinks ? { followLinks: true } : {}),
    };
    return { runDir, config, state: initTrainState(config), info, resumed: false, lock, madeFolder };
  } catch (e) {
    lock.release();
    if (madeFolder) removeIfEmpty(runDir);
    throw e;
  }
}

/**
 * Seconds per step, measured on steps that are thrown away (trainStep is pure: the state does not
 * advance): one to warm up, then more until about a second has been timed (at most 10).
 */
async function timeStep(
  config: MatpacConfig,
  state: TrainState,
  data: TrainingData,
  trainStep: ReturnType<typeof makeTrainStep>,
): Promise<number> {
  const b = await data.batch(0);
  const x = tensor(b.data, b.shape);
  const thrownAway = () => scope(() => void trainStep(state, x));
  thrownAway();
  const t0 = performance.now();
  let n = 0;
  while (n < 10 && (n === 0 || performance.now() - t0 < 1000)) {
    thrownAway();
    n++;
  }
  disposeTree(x);
  return (performance.now() - t0) / 1000 / n;
}

export interface TrainResult {
  runDir: string;
  state: TrainState;
  config: MatpacConfig;
  completed: boolean;
  interrupted: boolean;
  /** The signal that stopped the run early (SIGINT: Ctrl-C, SIGTERM), with a checkpoint saved. */
  signal?: NodeJS.Signals;
  probe?: ProbeReport;
}

/** The training run behind `matpac train` (exported for tests, with hooks). */
export async function train(
  opts: TrainOptions,
  hooks: TrainHooks = {},
  poolOptions: PoolDataOptions = {},
): Promise<TrainResult> {
  const backend = useBackend(opts.backend);
  const start = performance.now();
  const prepared = await prepare(opts);
  try {
    say(`backend: ${backend}`);
    const data = await openTrainingData(prepared.info.data, prepared.config, {
      followLinks: prepared.info.followLinks === true,
      ...poolOptions,
    });
    try {
      return await trainIn(data, prepared, opts, hooks, backend, start);
    } finally {
      data.close();
    }
  } finally {
    prepared.lock.release();
    if (prepared.madeFolder) removeIfEmpty(prepared.runDir);
  }
}

/** Remove a run folder this run made when nothing was written into it (a run that failed before starting). */
function removeIfEmpty(dir: string): void {
  try {
    if (readdirSync(dir).length === 0) rmdirSync(dir);
  } catch {
    /* not ours to worry about */
  }
}

/** The run, in a folder this process owns, on its training data. */
async function trainIn(
  data: TrainingData,
  prepared: Prepared,
  opts: TrainOptions,
  hooks: TrainHooks,
  backend: string,
  start: number,
): Promise<TrainResult> {
  const { runDir, info, resumed } = prepared;
  let { config, state } = prepared;

  const deadline = opts.minutes !== undefined ? start + opts.minutes * 60_000 : Infinity;
  if (!resumed && opts.minutes !== undefined) {
    // fit the run length (and so every schedule) to the time left
    const stepSec = await timeStep(config, state, data, makeTrainStep(config, { jit: opts.jit !== false }));
    const leftSec = (deadline - performance.now()) / 1000;
    const stepText = stepSec < 0.1 ? `${(stepSec * 1000).toFixed(1)} ms` : `${stepSec.toFixed(2)} s`;
    const steps = Math.floor((0.95 * leftSec) / stepSec);
    if (steps < 1) {
      const usedSec = (performance.now() - start) / 1000;
      throw new CliError(
        `--minutes ${opts.minutes}: no time left to train: reading the data and timing a step took ${formatDuration(usedSec)} of the ${formatDuration(opts.minutes * 60)} budget (one step takes ${stepText}); give more minutes or use --steps`,
      );
    }
    say(
      `one step takes ${stepText}: ${steps} step${steps > 1 ? 's' : ''} fit${steps > 1 ? '' : 's'} in the ${formatDuration(leftSec)} left`,
    );
    config = checkConfig(withRunLength(config, steps));
  }
  const total = config.optim.totalSteps;
  const stopAt = Math.min(total, opts.stopAt ?? total);
  // the step compiled by jit (src/jit): traced each step, compiled once per program structure
  const trainStep = makeTrainStep(config, { jit: opts.jit !== false });
  say(
    `step: ${opts.jit !== false ? 'compiled by jit (fused kernels, planned memory; --no-jit runs it op by op)' : 'eager, op by op (--no-jit)'}`,
  );

  const paths = {
    config: join(runDir, 'config.json'),
    run: join(runDir, 'run.json'),
    latest: join(runDir, LATEST),
    metrics: join(runDir, 'metrics.jsonl'),
    plot: join(runDir, 'loss.svg'),
    mask: join(runDir, 'input-mask.png'),
    probe: join(runDir, 'probe.json'),
    probeSuite: join(runDir, 'probe-suite.json'),
  };
  if (!resumed) {
    info.runId = runIdOf(config, info.data);
    writeFileAtomic(paths.config, JSON.stringify(config, null, 2) + '\n');
    writeFileAtomic(paths.run, JSON.stringify(info, null, 2) + '\n');
    await writeMaskPicture(paths.mask, await data.batch(0), state, config);
  }
  // a fresh run starts an empty log; a resumed one keeps (and checks) the lines before its checkpoint
  if (!resumed) writeFileAtomic(paths.metrics, '');
  const rows = (resumed ? metricsBefore(paths.metrics, state.step, info.runId) : []) as unknown as MetricsRow[];
  const metricsLog = new MetricsWriter(paths.metrics);
  const meta: Record<string, string> = {
    config: JSON.stringify(config),
    ...(info.runId ? { run_id: info.runId } : {}),
  };
  const save = (path: string, s: TrainState) => saveState(path, s, meta);
  let latestStep = state.step; // the step checkpoint-latest holds, and when it was written
  let lastLatest = performance.now();
  const saveLatest = () => {
    save(paths.latest, state);
    writeLossPlot(paths.plot, rows, config);
    latestStep = state.step;
    lastLatest = performance.now();
  };

  say(
    `${resumed ? `resuming ${shown(runDir)} at step ${state.step}` : `training ${config.name} → ${shown(runDir)}`}: ${total} steps of ${config.batchSize} clips (${data.description})`,
  );

  // Ctrl-C (SIGINT) and SIGTERM (kill, a scheduler's stop): finish the step, save, exit 130 / 143
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted) process.exit(signalExitCode(sig));
    interrupted = sig;
    say(
      `\nmatpac: ${sig === 'SIGINT' ? 'interrupted' : `stopped (${sig})`}: finishing this step and writing a checkpoint (${sig === 'SIGINT' ? 'Ctrl-C' : sig} again to quit at once)`,
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const progress = makeProgress(stopAt, state.step);
  const loopStart = performance.now();
  const firstStep = state.step;
  try {
    while (state.step < stopAt && !interrupted && performance.now() < deadline) {
      const t = state.step;
      const b = await data.batch(t);
      hooks.batch?.(t, b.data);
      const x = tensor(b.data, b.shape);
      // the step's intermediates are freed when it returns (device memory: textures on GL)
      const [next, m] = scope(() => trainStep(state, x));
      // the updated state itself (parameters, teacher, optimizer moments, centre) must be finite:
      // `state` (checked when it was made) stays the last good one
      if (!Number.isFinite(m.loss) || !Number.isFinite(m.gradNorm) || !allFinite(next)) {
        progress.stop();
        saveLatest();
        throw new NonFiniteError(
          `${diagnose(state, next, x, b.files, config, m)} (last good state: ${shown(paths.latest)}, step ${state.step})`,
        );
      }
      // and so are the batch and the previous state's buffers that the new state does not reuse
      disposeTree([x, state], next);
      state = next;
      const row: MetricsRow = { step: t, ...m, time: Math.round(performance.now() - start) / 1000 };
      rows.push(row);
      const logged: MetricsRow & { run?: string } = info.runId ? { ...row, run: info.runId } : row;
      metricsLog.append(logged);

      const done = state.step;
      if (done % info.checkpointEvery === 0 || done === total) {
        save(join(runDir, numbered(done)), state);
        saveLatest();
      } else if (performance.now() - lastLatest > LATEST_EVERY_SEC * 1000) saveLatest();
      progress.update(done, m, (done - firstStep) / ((performance.now() - loopStart) / 1000));
      await new Promise((r) => setImmediate(r)); // let Ctrl-C and the progress bar's timer in
    }
  } finally {
    progress.stop();
    metricsLog.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (latestStep !== state.step || !existsSync(paths.latest)) saveLatest();

  const completed = state.step >= total;
  const elapsed = (performance.now() - loopStart) / 1000;
  const stepsDone = state.step - firstStep;
  const lines: string[] = [];
  if (completed) {
    const tail = rows.slice(-Math.max(1, Math.round(rows.length / 10)));
    const finalLoss = tail.reduce((a, r) => a + r.loss, 0) / tail.length;
    const lossNote = tail.length ? `; final loss ${num(finalLoss)} (mean of the last ${tail.length} steps)` : '';
    lines.push(
      `done: ${total} steps${stepsDone < total ? ` (${stepsDone} in this session)` : ''} in ${formatDuration(elapsed)}${lossNote}`,
    );
  } else {
    const why = interrupted
      ? 'interrupted'
      : performance.now() >= deadline
        ? 'time budget used up'
        : 'stopped as asked (--stop-at)';
    lines.push(`${why} at step ${state.step} of ${total}; continue with: matpac train --resume --out ${shown(runDir)}`);
  }
  if (stepsDone > 0) lines.push(`speed:      ${(stepsDone / elapsed).toFixed(2)} steps/s on ${backend}`);
  const dataLine = data.summary(stepsDone, elapsed);
  if (dataLine) lines.push(dataLine);
  lines.push(`checkpoint: ${shown(paths.latest)}`);
  lines.push(`plots:      ${shown(paths.plot)} (loss curves), ${shown(paths.mask)} (an input with its masked patches)`);
  lines.push(`metrics:    ${shown(paths.metrics)}`);

  let probe: ProbeReport | undefined;
  if (completed && opts.probe) {
    // one table: the probe set (bundled, or --probe-data) and the development sets, each with the trained
    // encoder, the same encoder at its initialisation, and log-mel statistics
    const suite = await import('./probe-suite');
    const probeDir = opts.probeData ?? (await ensureProbeSet());
    const sets: SuiteSet[] = [
      {
        name: opts.probeData ? basename(resolve(probeDir)) : 'bundled probe set',
        dir: probeDir,
        followLinks: info.followLinks,
      },
    ];
    if (opts.probeSuite !== false) sets.push(...(await (hooks.devSets ?? (() => suite.devSets()))()));
    say(
      `probing the trained encoder, its initialisation and log-mel statistics on ${sets.map((s) => s.name).join(', ')}…`,
    );
    const result = await suite.runProbeSuite(
      suite.suiteSources(config, { config, student: state.student, step: state.step }),
      sets,
      5,
      0,
    );
    probe = result.reports[0][0];
    await writeProbeJson(paths.probe, probe);
    await suite.writeSuiteJson(paths.probeSuite, result);
    say(formatProbeReport(probe));
    lines.push(`probe:      ${accuracyLine(probe)} on ${probe.classes.length} classes → ${shown(paths.probe)}`);
    lines.push(
      '',
      `linear probes: trained vs its initialisation vs log-mel statistics${sets.length > 1 ? ' (the development sets hold kinds of sound the generated pool lacks)' : ''} → ${shown(paths.probeSuite)}`,
      suite.formatSuiteTable(result),
      suite.suiteVerdict(result),
    );
  }
  process.stdout.write(lines.join('\n') + '\n');
  return { runDir, state, config, completed, interrupted: interrupted !== undefined, signal: interrupted, probe };
}

/** The exit status of a run stopped by a signal: 128 + its number (130 Ctrl-C, 143 SIGTERM). */
const signalExitCode = (sig: NodeJS.Signals) => 128 + (sig === 'SIGTERM' ? 15 : 2);

export async function trainCommand(opts: TrainOptions): Promise<void> {
  const r = await train(opts);
  if (r.signal)
    throw new CliError(
      `${r.signal === 'SIGINT' ? 'interrupted (Ctrl-C)' : `stopped (${r.signal})`} at step ${r.state.step}; checkpoint saved`,
      signalExitCode(r.signal),
    );
}
