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
 *
 * The run is a pure function of (config, data): batch t is cropped with the key foldIn(data key, t)
 * and the masks come from the state's own key, so a resumed run repeats the uninterrupted one
 * bit for bit.
 */
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import type { MatpacConfig } from '../../models/config';
import { gridOf } from '../../models/config';
import { randomMasking } from '../../models/masking';
import { initTrainState, matpacLossAux, trainStep, type StepMetrics, type TrainState } from '../../models/matpac';
import { writeLogMelPng } from '../audio/png';
import { saveState } from '../checkpoint';
import { describeSkipped, loadLogMelDataset, type LogMelItem } from '../data/dataset';
import { cropBatch } from '../data/loader';
import { ensurePretrainSet, ensureProbeSet } from '../data/render';
import { disposeTree, flatten, scope, tensor, valueAndGrad, type Tensor } from '../index';
import { linePlotSvg, stackSvg } from '../plot';
import { foldIn, keyFromSeed, split, type Key } from '../random';
import { CliError, progressCallback, say, shown, useBackend } from './common';
import { checkConfig, embedder, fitMels, loadTrainState, resolveConfig, storedConfig, withRunLength } from './model';
import { accuracyLine, formatProbeReport, runProbe, writeProbeJson, type ProbeReport } from './probe';

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
  probe: boolean;
  probeData?: string;
}

/** Test hooks: change a batch before its step (e.g. inject a NaN). */
export interface TrainHooks {
  batch?: (step: number, data: Float32Array) => void;
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
}

// ── small helpers ────────────────────────────────────────────────────────────────────────────────

function timestamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec)) return '?';
  const s = Math.round(sec);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

const num = (x: number, digits = 4) => (Number.isFinite(x) ? (Math.abs(x) >= 1e-3 || x === 0 ? x.toFixed(digits) : x.toExponential(2)) : String(x));

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

// ── the run's data ───────────────────────────────────────────────────────────────────────────────

/** The key batch t is cropped with: a function of the config's seed and t only. */
const dataKey = (config: MatpacConfig): Key => foldIn(keyFromSeed(config.seed), 0xda7a);

function batchAt(items: readonly LogMelItem[], config: MatpacConfig, step: number) {
  return cropBatch(items, foldIn(dataKey(config), step), config.batchSize, config.cropFrames);
}

async function loadTrainingSet(dir: string, config: MatpacConfig): Promise<LogMelItem[]> {
  const ds = await loadLogMelDataset(dir, { minFrames: config.cropFrames, onProgress: progressCallback('reading audio', 'files') });
  const total = ds.items.length + ds.skipped.length;
  if (ds.skipped.length) say(`matpac: ${describeSkipped(ds.skipped, total)}`);
  if (!ds.items.length)
    throw new CliError(`${dir}: no usable audio (${total} files; clips need at least ${config.cropFrames} log-mel frames = ${(config.cropFrames / 100).toFixed(2)} s)`);
  return ds.items.map((it) => ({ ...it, logmel: fitMels(it.logmel, config.nMels) }));
}

// ── NaN / Inf ────────────────────────────────────────────────────────────────────────────────────

function countNonFinite(data: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) n++;
  return n;
}

const firstNonFinite = (tree: unknown, prefix: string): string | undefined => {
  const { leaves, paths } = flatten(tree, prefix);
  const i = leaves.findIndex((t) => countNonFinite(t.toArray()) > 0);
  return i < 0 ? undefined : paths[i];
};

/**
 * Why step t went non-finite, as one line: the first non-finite tensor in the order loss, then
 * gradient leaves by parameter path (found by recomputing the step's gradient — pure, so it is
 * the same gradient), with the input batch and parameters named when they hold NaN/Inf already.
 */
function diagnose(state: TrainState, batch: Tensor, files: string[], config: MatpacConfig, m: StepMetrics): string {
  const where: string[] = [];
  const bad = countNonFinite(batch.toArray());
  if (bad) where.push(`the input batch holds ${bad} non-finite value${bad > 1 ? 's' : ''} (clips: ${[...new Set(files)].map(shown).join(', ')})`);
  const param = firstNonFinite(state.student, 'student');
  if (param) where.push(`the parameters already hold one (first: ${param})`);
  let first: string;
  if (!Number.isFinite(m.loss)) first = `loss = ${m.loss} (L_pred ${m.lPred}, L_cls ${m.lCls})`;
  else {
    const stepKey = split(state.key)[1];
    const teacherState = { ...state.teacher, centre: state.centre, step: state.step };
    const [, grads] = valueAndGrad(matpacLossAux, { hasAux: true })(state.student, teacherState, batch, stepKey, config);
    first = `gradient of ${firstNonFinite(grads, 'student') ?? '(none found: the gradient norm overflowed)'}`;
  }
  return `training stopped at step ${state.step}: first non-finite tensor: ${first}${where.length ? `; ${where.join('; ')}` : ''}`;
}

// ── outputs ──────────────────────────────────────────────────────────────────────────────────────

interface MetricsRow extends StepMetrics {
  step: number;
  /** Seconds since this process started training. */
  time: number;
}

/** Keep the lines of metrics.jsonl before `step` (a resumed run rewrites what came after its checkpoint). */
function truncateMetrics(path: string, step: number): MetricsRow[] {
  if (!existsSync(path)) return [];
  const rows = readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as MetricsRow)
    .filter((r) => r.step < step);
  writeFileSync(path, rows.map((r) => JSON.stringify(r) + '\n').join(''));
  return rows;
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
    series: [series(`L = ${config.loss.clsWeight}·L_cls + ${config.loss.predWeight}·L_pred`, (r) => r.loss), series('L_pred', (r) => r.lPred), series('L_cls', (r) => r.lCls)],
  });
  // below it, what the study of the parts reads: the teacher's target perplexity, and for MATPAC++
  // each head's share of the tokens it won and the assignment temperature
  const K = config.head.numClasses;
  const study = [series(`teacher target perplexity / K (K = ${K})`, (r) => r.targetPerplexity / K)];
  for (let h = 0; h < config.mcl.heads; h++) study.push(series(`head ${h}: share of tokens won`, (r) => (r.headWins?.[h] ?? NaN) / (r.headWins ?? []).reduce((a, b) => a + b, 0)));
  if (config.mcl.heads > 0) study.push(series(`MCL temperature / ${config.mcl.temperatureStart}`, (r) => (r.mclTemperature ?? NaN) / config.mcl.temperatureStart));
  const panel = linePlotSvg({ title: config.mcl.heads > 0 ? 'targets and MCL heads' : 'targets', xLabel: 'step', yLabel: 'fraction', series: study, height: 300 });
  writeFileSync(path, stackSvg([svg, panel]));
}

/** input-mask.png: the first training crop and the patches step 0 masks in it. */
async function writeMaskPicture(path: string, batch: { data: Float32Array; shape: [number, number, number] }, state: TrainState, config: MatpacConfig): Promise<void> {
  const [B, nMels, nFrames] = batch.shape;
  const { N } = gridOf(config, nFrames);
  const m = randomMasking(split(state.key)[1], B, N, config.maskRatio);
  await writeLogMelPng(path, { data: batch.data.subarray(0, nMels * nFrames), nMels, nFrames }, { mask: m.mask.subarray(0, N), patchSize: config.patchSize, scale: nFrames < 200 ? 4 : 2 });
}

// ── the progress display ─────────────────────────────────────────────────────────────────────────

function makeProgress(total: number, start: number) {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        // the most useful fields first: a narrow terminal cuts the line at its right edge
        format: 'step {value}/{total} |{bar}| ETA {eta_formatted} {sps} steps/s | loss {loss} L_pred {lPred} L_cls {lCls} | lr {lr} ema {ema} τ_t {tau}',
        barsize: 20,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, start, { loss: '-', lPred: '-', lCls: '-', lr: '-', ema: '-', tau: '-', sps: '-' });
    return {
      update: (step: number, m: StepMetrics, sps: number) =>
        bar.update(step, { loss: num(m.loss), lPred: num(m.lPred), lCls: num(m.lCls), lr: num(m.lr, 6), ema: num(m.emaMomentum, 5), tau: num(m.teacherTemp, 4), sps: sps.toFixed(2) }),
      stop: () => bar.stop(),
    };
  }
  // Not a terminal (a log file, CI): a plain line about every 5% of the run.
  const every = Math.max(1, Math.round(total / 20));
  return {
    update: (step: number, m: StepMetrics, sps: number) => {
      if (step % every !== 0 && step !== total) return;
      const eta = sps > 0 ? formatDuration((total - step) / sps) : '?';
      say(`step ${step}/${total} ETA ${eta} ${sps.toFixed(2)} steps/s | loss ${num(m.loss)} L_pred ${num(m.lPred)} L_cls ${num(m.lCls)} | lr ${num(m.lr, 6)} ema ${num(m.emaMomentum, 5)} τ_t ${num(m.teacherTemp)}`);
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
}

async function prepare(opts: TrainOptions): Promise<Prepared> {
  if (opts.resume) {
    const fixed = (['preset', 'steps', 'batch', 'seed', 'mcl', 'data', 'checkpointEvery'] as const).filter((k) => opts[k] !== undefined);
    if (fixed.length)
      throw new CliError(`--resume continues a run exactly as it was configured; drop ${fixed.map((k) => `--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`).join(', ')} (use --minutes or --stop-at to limit this session)`);
    const runDir = opts.out ?? latestRun();
    if (!runDir) throw new CliError(`--resume: no run to continue in ${RUNS_DIR}/ (name one with --out RUN_DIR)`);
    const ckpt = join(runDir, LATEST);
    if (!existsSync(ckpt)) throw new CliError(`--resume: ${shown(runDir)} has no ${LATEST} to continue from`);
    const config = storedConfig(readJson<unknown>(join(runDir, 'config.json')), join(runDir, 'config.json'));
    const info = readJson<RunInfo>(join(runDir, 'run.json'));
    return { runDir, config, state: loadTrainState(ckpt, config), info, resumed: true };
  }

  const presetSpec = opts.preset ?? 'tiny';
  let config = resolveConfig(presetSpec);
  if (opts.batch !== undefined) config = { ...config, batchSize: opts.batch };
  if (opts.seed !== undefined) config = { ...config, seed: opts.seed };
  if (opts.mcl !== undefined) config = { ...config, mcl: { ...config.mcl, heads: opts.mcl } };
  if (opts.steps !== undefined) config = withRunLength(config, opts.steps);
  config = checkConfig(config, presetSpec);

  const runDir = opts.out ?? join(RUNS_DIR, `${config.name}-${timestamp()}`);
  if (existsSync(join(runDir, LATEST))) throw new CliError(`${shown(runDir)} already holds a run: continue it with --resume, or choose another --out`);
  const data = opts.data ?? (await ensurePretrainSet());
  if (opts.data !== undefined && !(existsSync(opts.data) && statSync(opts.data).isDirectory())) throw new CliError(`${opts.data}: no such folder`);
  const checkpointEvery = opts.checkpointEvery ?? Math.max(1, Math.round(config.optim.totalSteps / 10));
  const info: RunInfo = { data: resolve(data), checkpointEvery, preset: presetSpec, createdAt: new Date().toISOString() };
  return { runDir, config, state: initTrainState(config), info, resumed: false };
}

/**
 * Seconds per step, measured on steps that are thrown away (trainStep is pure: the state does not
 * advance): one to warm up, then more until about a second has been timed (at most 10).
 */
function timeStep(config: MatpacConfig, state: TrainState, items: LogMelItem[]): number {
  const b = batchAt(items, config, 0);
  const x = tensor(b.data, b.shape);
  const thrownAway = () => scope(() => void trainStep(state, x, config));
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
  probe?: ProbeReport;
}

/** The training run behind `matpac train` (exported for tests, with hooks). */
export async function train(opts: TrainOptions, hooks: TrainHooks = {}): Promise<TrainResult> {
  const backend = useBackend(opts.backend);
  const start = performance.now();
  const prepared = await prepare(opts);
  const { runDir, info, resumed } = prepared;
  let { config, state } = prepared;
  say(`backend: ${backend}`);
  const items = await loadTrainingSet(info.data, config);

  const deadline = opts.minutes !== undefined ? start + opts.minutes * 60_000 : Infinity;
  if (!resumed && opts.minutes !== undefined) {
    // fit the run length (and so every schedule) to the time left
    const stepSec = timeStep(config, state, items);
    const leftSec = (deadline - performance.now()) / 1000;
    const steps = Math.max(1, Math.floor((0.95 * leftSec) / stepSec));
    say(`one step takes ${stepSec < 0.1 ? `${(stepSec * 1000).toFixed(1)} ms` : `${stepSec.toFixed(2)} s`}: ${steps} steps fit in the ${formatDuration(leftSec)} left`);
    config = checkConfig(withRunLength(config, steps));
  }
  const total = config.optim.totalSteps;
  const stopAt = Math.min(total, opts.stopAt ?? total);

  mkdirSync(runDir, { recursive: true });
  const paths = {
    config: join(runDir, 'config.json'),
    run: join(runDir, 'run.json'),
    latest: join(runDir, LATEST),
    metrics: join(runDir, 'metrics.jsonl'),
    plot: join(runDir, 'loss.svg'),
    mask: join(runDir, 'input-mask.png'),
    probe: join(runDir, 'probe.json'),
  };
  if (!resumed) {
    writeFileSync(paths.config, JSON.stringify(config, null, 2) + '\n');
    writeFileSync(paths.run, JSON.stringify(info, null, 2) + '\n');
    await writeMaskPicture(paths.mask, batchAt(items, config, 0), state, config);
  }
  const rows = truncateMetrics(paths.metrics, state.step);
  const meta = { config: JSON.stringify(config) };
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
    `${resumed ? `resuming ${shown(runDir)} at step ${state.step}` : `training ${config.name} → ${shown(runDir)}`}: ${total} steps of ${config.batchSize} clips (${items.length} clips from ${shown(info.data)})`,
  );

  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    say('\nmatpac: interrupted: finishing this step and writing a checkpoint (Ctrl-C again to quit at once)');
  };
  process.on('SIGINT', onSigint);

  const progress = makeProgress(stopAt, state.step);
  const loopStart = performance.now();
  const firstStep = state.step;
  try {
    while (state.step < stopAt && !interrupted && performance.now() < deadline) {
      const t = state.step;
      const b = batchAt(items, config, t);
      hooks.batch?.(t, b.data);
      const x = tensor(b.data, b.shape);
      // the step's intermediates are freed when it returns (device memory: textures on GL)
      const [next, m] = scope(() => trainStep(state, x, config));
      if (!Number.isFinite(m.loss) || !Number.isFinite(m.gradNorm)) {
        progress.stop();
        saveLatest();
        throw new NonFiniteError(`${diagnose(state, x, b.sources.map((s) => items[s.item].file), config, m)} (last good state: ${shown(paths.latest)})`);
      }
      // and so are the batch and the previous state's buffers that the new state does not reuse
      disposeTree([x, state], next);
      state = next;
      const row: MetricsRow = { step: t, ...m, time: Math.round(performance.now() - start) / 1000 };
      rows.push(row);
      appendFileSync(paths.metrics, JSON.stringify(row) + '\n');

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
    process.off('SIGINT', onSigint);
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
    lines.push(`done: ${total} steps${stepsDone < total ? ` (${stepsDone} in this session)` : ''} in ${formatDuration(elapsed)}${lossNote}`);
  }
  else {
    const why = interrupted ? 'interrupted' : performance.now() >= deadline ? 'time budget used up' : 'stopped as asked (--stop-at)';
    lines.push(`${why} at step ${state.step} of ${total}; continue with: matpac train --resume --out ${shown(runDir)}`);
  }
  if (stepsDone > 0) lines.push(`speed:      ${(stepsDone / elapsed).toFixed(2)} steps/s on ${backend}`);
  lines.push(`checkpoint: ${shown(paths.latest)}`);
  lines.push(`plots:      ${shown(paths.plot)} (loss curves), ${shown(paths.mask)} (an input with its masked patches)`);
  lines.push(`metrics:    ${shown(paths.metrics)}`);

  let probe: ProbeReport | undefined;
  if (completed && opts.probe) {
    say(`probing the trained encoder on ${opts.probeData ? shown(opts.probeData) : 'the bundled probe set (instrument families)'}…`);
    const probeDir = opts.probeData ?? (await ensureProbeSet());
    probe = await runProbe({ name: `${config.name} step ${state.step}`, features: embedder({ config, student: state.student, step: state.step }) }, probeDir, 5, 0);
    await writeProbeJson(paths.probe, probe);
    say(formatProbeReport(probe));
    lines.push(`probe:      ${accuracyLine(probe)} on ${probe.classes.length} classes → ${shown(paths.probe)}`);
    const dataArg = opts.probeData ? ` --data ${shown(opts.probeData)}` : '';
    lines.push(`            compare with the untrained model: matpac probe --random-init --checkpoint ${shown(paths.latest)}${dataArg}`);
    lines.push(`            and with log-mel statistics:      matpac probe --baseline logmel${dataArg}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  return { runDir, state, config, completed, interrupted, probe };
}

export async function trainCommand(opts: TrainOptions): Promise<void> {
  const r = await train(opts);
  if (r.interrupted) throw new CliError(`interrupted (Ctrl-C) at step ${r.state.step}`, 130);
}
