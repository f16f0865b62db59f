/**
 * The page's engine, in a Web Worker: it trains MATPAC on the chosen backend (gpu.js WebGL2
 * kernels, or the native SIMD-wasm kernels), traces one loss and its gradient for the explorer,
 * runs gradient checks in float64, and reads and writes checkpoints as safetensors bytes — the
 * same files `matpac train` writes and `matpac embed/probe --checkpoint` read.
 *
 * The training run is the CLI's: the same config (models/run.ts scales the run length the same
 * way), the same clips in the same order (served by `matpac web` as a log-mel pack), the same
 * batch of step t, the same pure `trainStep`. Between steps the loop yields to the message queue,
 * so pause, save and trace requests are answered while training.
 */
import { configFromJson, configProblems, gridOf, PRESETS, type MatpacConfig } from '../../models/config';
import { embed } from '../../models/embed';
import { logMelSpectrogram } from '../../models/frontend';
import { randomMasking } from '../../models/masking';
import { initTrainState, matpacLossAux, trainStep, type StudentParams, type TrainState } from '../../models/matpac';
import { fitMels, trainingBatch, withRunLength } from '../../models/run';
import { decodeAudio16k } from '../../src/audio/decode';
import { decodeMetadata, decodeState, encodeState } from '../../src/checkpoint/codec';
import { unpackLogMels, type PackIndex } from '../../src/data/pack';
import type { HasLogMel } from '../../src/data/loader';
import {
  disposeTree,
  fromHost,
  getBackend,
  grad,
  scope,
  setBackend,
  tensor,
  treeMap,
  useBackend as chooseEngineBackend,
  valueAndGrad,
  type Tensor,
} from '../../src/index';
import * as mp from '../../src/index';
import { split } from '../../src/random';
import { fmtParams, trace, type Trace } from '../../src/trace';
import { checkEquation } from './gradcheck';
import type { EquationView, FromWorker, PageBackend, ToWorker } from './protocol';

const post = (m: FromWorker, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(m, transfer);

// ── backends ─────────────────────────────────────────────────────────────────────────────────────

const ENGINE_BACKEND: Record<PageBackend, string> = { webgl2: 'gpujs-webgl2', webgpu: 'gpujs-webgpu', wasm: 'native' };

interface GpujsLike {
  kernelClasses?: () => string[];
  fallbackReasons?: () => string[];
}

function backendInfo(backend: PageBackend): FromWorker {
  const b = getBackend() as ReturnType<typeof getBackend> & GpujsLike;
  const description = b.describe();
  const renderer = /renderer: ([^;]+)/.exec(description)?.[1] ?? null;
  return { type: 'backend', backend, engine: b.name, description, renderer, kernelClasses: b.kernelClasses?.() ?? [] };
}

async function useBackend(backend: PageBackend): Promise<void> {
  if (backend === 'webgpu')
    throw new Error(
      "WebGPU: gpu.js's webgpu kernels return a Promise from every call (the read-back is asynchronous), and the engine's kernels are synchronous, so the engine cannot run on them yet; choose WebGL2 (the GPU through WebGL) or wasm",
    );
  await chooseEngineBackend(ENGINE_BACKEND[backend]);
}

// ── data ─────────────────────────────────────────────────────────────────────────────────────────

let clips: (HasLogMel & { name: string })[] | null = null;

async function loadClips(): Promise<(HasLogMel & { name: string })[]> {
  if (clips) return clips;
  const [indexRes, blobRes] = await Promise.all([fetch('data/pretrain.json'), fetch('data/pretrain.bin')]);
  if (!indexRes.ok || !blobRes.ok)
    throw new Error(`the training clips could not be loaded from the server (${indexRes.status} ${blobRes.status})`);
  const index = (await indexRes.json()) as PackIndex & { source: string };
  clips = unpackLogMels(index, new Float32Array(await blobRes.arrayBuffer()));
  post({ type: 'data', clips: clips.length, source: index.source });
  return clips;
}

/** The clips `matpac train` would use for this config: long enough for its crop, fitted to its bands. */
function trainingItems(all: readonly (HasLogMel & { name: string })[], config: MatpacConfig): HasLogMel[] {
  const items = all
    .filter((it) => it.logmel.nFrames >= config.cropFrames)
    .map((it) => ({ logmel: fitMels(it.logmel, config.nMels) }));
  if (!items.length) throw new Error(`no clip is long enough for the crop of ${config.cropFrames} frames`);
  return items;
}

// ── the run ──────────────────────────────────────────────────────────────────────────────────────

let backendName: PageBackend = 'webgl2';
let config: MatpacConfig | null = null;
let state: TrainState | null = null;
let items: HasLogMel[] = [];
let totalSteps = 0;
let running = false;
let paused = false;
let lastBatch: Float32Array | null = null;

function resolveConfig(spec: unknown): MatpacConfig {
  if (typeof spec === 'string' && spec in PRESETS) return structuredClone(PRESETS[spec as keyof typeof PRESETS]);
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec))
    throw new Error('config: choose a preset, or give a JSON object');
  const { config: c, problems } = configFromJson(spec as Record<string, unknown>, 'custom');
  if (problems.length) throw new Error(problems.map((p) => `config: ${p}`).join('; '));
  return c;
}

function checked(c: MatpacConfig): MatpacConfig {
  const problems = configProblems(c);
  if (problems.length) throw new Error(problems.map((p) => `config: ${p}`).join('; '));
  return c;
}

const yieldToMessages = () => new Promise<void>((r) => setTimeout(r, 0));

function postInput(step: number, batch: Float32Array): void {
  if (!config || !state) return;
  const { N } = gridOf(config, config.cropFrames);
  const m = randomMasking(split(state.key)[1], config.batchSize, N, config.maskRatio);
  const one = config.nMels * config.cropFrames;
  post({
    type: 'input',
    step,
    logmel: batch.slice(0, one),
    nMels: config.nMels,
    nFrames: config.cropFrames,
    mask: m.mask.slice(0, N),
    patchSize: config.patchSize,
  });
}

async function trainLoop(): Promise<void> {
  if (running || !config || !state) return;
  running = true;
  const c = config;
  const t0 = performance.now();
  const first = state.step;
  try {
    while (state.step < totalSteps) {
      if (paused) {
        post({ type: 'paused', step: state.step });
        while (paused) await new Promise((r) => setTimeout(r, 50));
      }
      const t = state.step;
      const b = trainingBatch(items, c, t);
      lastBatch = b.data;
      if (t === first || t % 5 === 0) postInput(t, b.data);
      const tStep = performance.now();
      const x = tensor(b.data, b.shape);
      const current: TrainState = state;
      const [next, m] = scope(() => trainStep(current, x, c));
      if (!Number.isFinite(m.loss) || !Number.isFinite(m.gradNorm))
        throw new Error(
          `training stopped at step ${t}: the loss or the gradient norm is not finite (loss ${m.loss}, ‖g‖ ${m.gradNorm})`,
        );
      disposeTree([x, current], next);
      state = next;
      const sps = (state.step - first) / ((performance.now() - t0) / 1000);
      const metrics = {
        loss: m.loss,
        lPred: m.lPred,
        lCls: m.lCls,
        lr: m.lr,
        emaMomentum: m.emaMomentum,
        teacherTemp: m.teacherTemp,
        targetPerplexity: m.targetPerplexity,
        gradNorm: m.gradNorm,
      };
      post({
        type: 'step',
        step: state.step,
        total: totalSteps,
        metrics,
        stepsPerSec: sps,
        stepMs: performance.now() - tStep,
      });
      if (state.step === first + 1) post(backendInfo(backendName)); // the kernel classes that really ran
      await yieldToMessages();
    }
    post(backendInfo(backendName));
    post({ type: 'done', step: state.step });
  } finally {
    running = false;
  }
}

// ── the explorer ─────────────────────────────────────────────────────────────────────────────────

let traced: Trace | null = null;

/** Trace one loss and its gradient (batch of one crop) in float64 on ref64, keeping each equation's inputs. */
function traceLossAndGradient(): FromWorker {
  if (!config || !state) throw new Error('start (or load) a run first: the trace is of the current model');
  const c = config;
  if (traced) for (const e of traced.equations) e.inputTensors = undefined;
  const ref = getBackend('ref64');
  const toRef = <T>(tree: T): T => treeMap((t: Tensor) => fromHost(t.toArray(), t.shape, ref), tree);
  const crop = c.nMels * c.cropFrames;
  const data = lastBatch ? lastBatch.slice(0, crop) : trainingBatch(items, { ...c, batchSize: 1 }, 0).data;
  const student = toRef(state.student);
  const teacher = { ...toRef(state.teacher), centre: toRef(state.centre), step: state.step };
  const key = split(state.key)[1];
  const batch = fromHost(data, [1, c.nMels, c.cropFrames], ref);
  type Args = { student: StudentParams; teacher: typeof teacher; batch: Tensor };
  const cfg1 = { ...c, batchSize: 1 };
  const prev = getBackend().name;
  setBackend('ref64');
  try {
    const fwd = trace((a: Args) => matpacLossAux(a.student, a.teacher, a.batch, key, cfg1), {
      student,
      teacher,
      batch,
    }).trace;
    traced = trace(
      (a: Args) => valueAndGrad(matpacLossAux, { hasAux: true })(a.student, a.teacher, a.batch, key, cfg1),
      { student, teacher, batch },
      { keepInputs: true },
    ).trace;
    const equations: EquationView[] = traced.equations.map((e, index) => ({
      index,
      prim: e.prim,
      params: fmtParams(e.params),
      inputs: e.inputs,
      inShapes: e.inShapes,
      output: e.output,
      outShape: e.outShape,
      flops: e.flops,
      vjpOf: e.vjpOf,
    }));
    return {
      type: 'trace',
      equations,
      forwardCount: fwd.equations.length,
      flops: traced.flops,
      batch: [1, c.nMels, c.cropFrames],
    };
  } finally {
    setBackend(prev);
  }
}

/** Gradient of a small function on the training backend vs the float64 reference. */
function backendCheck(): FromWorker {
  const f = (p: { w: Tensor; b: Tensor; x: Tensor }) => mp.mean(mp.square(mp.tanh(mp.add(mp.matmul(p.x, p.w), p.b))));
  const values = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(0.7 * i + s) * 0.8);
  const on = (name: string) => {
    const prev = getBackend().name;
    setBackend(name);
    try {
      return scope(() => {
        const p = { w: tensor(values(12, 1), [4, 3]), b: tensor(values(3, 2), [3]), x: tensor(values(20, 3), [5, 4]) };
        const g = grad(f)(p);
        return [g.w, g.b, g.x].map((t) => Array.from(t.toArray()));
      });
    } finally {
      setBackend(prev);
    }
  };
  const here = on(getBackend().name);
  const ref = on('ref64');
  let maxRel = 0;
  here.forEach((g, k) =>
    g.forEach((v, i) => (maxRel = Math.max(maxRel, Math.abs(v - ref[k][i]) / (1e-6 + Math.abs(ref[k][i]))))),
  );
  const tol = 1e-4;
  return {
    type: 'backendcheck',
    backend: getBackend().name,
    maxRelErr: maxRel,
    tol,
    pass: maxRel <= tol,
    detail: `∇ of mean(tanh(x·W + b)²), x [5,4], W [4,3]: ${getBackend().name} vs ref64`,
  };
}

// ── checkpoints and embeddings ───────────────────────────────────────────────────────────────────

function save(): FromWorker {
  if (!config || !state) throw new Error('nothing to save yet: start (or load) a run first');
  const bytes = encodeState(state, { config: JSON.stringify(config) });
  const name = `matpac-${config.name}-step${state.step}.safetensors`;
  return {
    type: 'checkpoint',
    bytes: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
    step: state.step,
    name,
  };
}

async function load(bytes: ArrayBuffer, name: string): Promise<void> {
  const meta = decodeMetadata(bytes, { name });
  if (!meta.config) throw new Error(`${name}: not a MATPAC checkpoint (no config in its metadata)`);
  let c: MatpacConfig;
  try {
    c = checked(JSON.parse(meta.config) as MatpacConfig);
  } catch (e) {
    throw new Error(`${name}: the config in its metadata is not usable (${(e as Error).message})`, { cause: e });
  }
  const loaded = decodeState<TrainState>(bytes, { name, like: initTrainState(c) });
  if (state) disposeTree(state);
  config = c;
  state = loaded;
  totalSteps = c.optim.totalSteps;
  items = trainingItems(await loadClips(), c);
  post({ type: 'config', config: c, fromCheckpoint: true, step: loaded.step });
}

async function embedFile(bytes: ArrayBuffer, name: string): Promise<FromWorker> {
  if (!config || !state) throw new Error('load or train a model first: the embedding is of the current model');
  const lm = logMelSpectrogram(await decodeAudio16k(new Uint8Array(bytes), name));
  const e = scope(() => embed(state!.student, fitMels(lm, config!.nMels), config!));
  return { type: 'embedding', name, embedding: e, step: state.step };
}

// ── messages ─────────────────────────────────────────────────────────────────────────────────────

async function handle(msg: ToWorker): Promise<void> {
  switch (msg.type) {
    case 'init':
      await useBackend(msg.backend);
      backendName = msg.backend;
      post(backendInfo(msg.backend));
      return;
    case 'start': {
      if (running) throw new Error('a run is in progress');
      const c = resolveConfig(msg.config);
      config = msg.steps > 0 && msg.steps !== c.optim.totalSteps ? withRunLength(c, msg.steps) : c;
      checked(config);
      items = trainingItems(await loadClips(), config);
      if (state) disposeTree(state);
      state = initTrainState(config);
      totalSteps = config.optim.totalSteps;
      paused = false;
      post({ type: 'config', config, fromCheckpoint: false, step: 0 });
      void trainLoop().catch(fail);
      return;
    }
    case 'pause':
      paused = true;
      return;
    case 'resume':
      paused = false;
      if (!running) void trainLoop().catch(fail);
      return;
    case 'trace':
      post(traceLossAndGradient());
      return;
    case 'gradcheck': {
      const eq = traced?.equations[msg.index];
      if (!eq) throw new Error('trace the loss first');
      const r = checkEquation(eq, msg.perturb);
      post({
        type: 'gradcheck',
        index: msg.index,
        prim: eq.prim,
        analytic: r.analytic,
        numeric: r.numeric,
        scale: r.scale,
        tol: r.tol,
        pass: r.pass,
        perturbed: msg.perturb,
        note: r.note,
      });
      return;
    }
    case 'backendcheck':
      post(backendCheck());
      return;
    case 'save': {
      const m = save();
      post(m, [(m as { bytes: ArrayBuffer }).bytes]);
      return;
    }
    case 'load':
      await load(msg.bytes, msg.name);
      return;
    case 'embed': {
      const m = await embedFile(msg.bytes, msg.name);
      post(m);
      return;
    }
  }
}

function fail(e: unknown): void {
  const message = e instanceof Error ? e.message : String(e);
  post({ type: 'error', message });
}

// one message at a time, in order (a trace waits for the step in flight)
let queue = Promise.resolve();
self.onmessage = (ev: MessageEvent<ToWorker>) => {
  queue = queue.then(() => handle(ev.data)).catch(fail);
};
// Messages that arrive before this module has finished loading (its wasm kernels load with a
// top-level await) would find no handler: the page waits for this.
post({ type: 'ready' });
