/**
 * The page's main thread: controls, live views, the trace explorer and checkpoints. It holds no
 * engine state — everything runs in ./worker.ts — so the UI stays responsive while a step runs.
 *
 * Automation hook: `?preset=micro&steps=N&backend=webgl2&autostart=1` starts training at once, and
 * `window.matpacStatus` holds { step, loss, lPred, lCls, backend, renderer, done, error } (plus
 * the latest results of the explorer and the checks) for tests and scripts.
 */
import { logMelImage } from '../../src/audio/logmel-image';
import { drawChart } from './plot';
import type { EquationView, FromWorker, PageBackend, StepMetricsView, ToWorker } from './protocol';

declare const __VJP_RULES__: Record<string, string>;

export interface MatpacStatus {
  step: number;
  total: number;
  loss: number | null;
  lPred: number | null;
  lCls: number | null;
  backend: string | null;
  renderer: string | null;
  kernelClasses: string[];
  done: boolean;
  error: string | null;
  /** Losses of every step so far (index = step − 1). */
  losses: number[];
  /** Wall time of every step so far, in ms (the first includes compiling the kernels). */
  stepMs: number[];
  backendCheck?: Extract<FromWorker, { type: 'backendcheck' }>;
  gradcheck?: Extract<FromWorker, { type: 'gradcheck' }>;
  traceLength?: number;
  embedding?: { name: string; values: number[]; step: number };
  checkpoint?: { name: string; bytes: number; step: number };
}

const status: MatpacStatus = {
  step: 0,
  total: 0,
  loss: null,
  lPred: null,
  lCls: null,
  backend: null,
  renderer: null,
  kernelClasses: [],
  done: false,
  error: null,
  losses: [],
  stepMs: [],
};
(window as unknown as { matpacStatus: MatpacStatus }).matpacStatus = status;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);

// ── the worker ───────────────────────────────────────────────────────────────────────────────────

const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
/** Messages wait until the worker says it is ready (its module loads wasm kernels with a top-level await). */
let pending: [ToWorker, Transferable[]][] | null = [];
const send = (m: ToWorker, transfer: Transferable[] = []) =>
  pending ? pending.push([m, transfer]) : worker.postMessage(m, transfer);
worker.onerror = (e) => showError(`the engine's worker failed: ${e.message}`);

function showError(message: string): void {
  status.error = message;
  const el = $('error');
  el.textContent = message;
  el.hidden = false;
}

// ── backend choice ───────────────────────────────────────────────────────────────────────────────

function webgl2Available(): boolean {
  try {
    return !!document.createElement('canvas').getContext('webgl2');
  } catch {
    return false;
  }
}

/** Whether this browser exposes WebGPU (an adapter is only requested when WebGPU is chosen). */
function webGpuPresent(): boolean {
  return 'gpu' in navigator;
}

function chosenBackend(): PageBackend {
  return ($('backend') as HTMLSelectElement).value as PageBackend;
}

function setupBackends(): void {
  const sel = $('backend') as HTMLSelectElement;
  const gl = webgl2Available();
  for (const opt of Array.from(sel.options)) {
    if (opt.value === 'webgl2') opt.textContent = `WebGL2 (gpu.js)${gl ? '' : ' — not available here'}`;
    if (opt.value === 'webgpu')
      opt.textContent = `WebGPU (gpu.js) — ${webGpuPresent() ? 'present, ' : 'absent; '}not usable yet`;
  }
  const asked = params.get('backend') as PageBackend | null;
  sel.value = asked && ['webgl2', 'webgpu', 'wasm'].includes(asked) ? asked : gl ? 'webgl2' : 'wasm';
  sel.onchange = () => send({ type: 'init', backend: chosenBackend() });
  send({ type: 'init', backend: chosenBackend() });
}

// ── live views ───────────────────────────────────────────────────────────────────────────────────

const history: { step: number[]; m: StepMetricsView[] } = { step: [], m: [] };
let drawPending = false;

const num = (x: number, d = 4) =>
  Number.isFinite(x) ? (Math.abs(x) >= 1e-3 || x === 0 ? x.toFixed(d) : x.toExponential(2)) : String(x);
function duration(sec: number): string {
  if (!Number.isFinite(sec)) return '?';
  const s = Math.round(sec);
  return s < 60
    ? `${s}s`
    : s < 3600
      ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
      : `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function drawCharts(): void {
  drawPending = false;
  const xs = history.step;
  const pick = (f: (m: StepMetricsView) => number) => history.m.map(f);
  drawChart($<HTMLCanvasElement>('chart-loss'), 'loss', xs, [
    { name: 'L', color: '#222', ys: pick((m) => m.loss) },
    { name: 'L_pred', color: '#1f77b4', ys: pick((m) => m.lPred) },
    { name: 'L_cls', color: '#d62728', ys: pick((m) => m.lCls) },
  ]);
  drawChart($<HTMLCanvasElement>('chart-lr'), 'learning rate', xs, [
    { name: 'lr', color: '#2ca02c', ys: pick((m) => m.lr) },
  ]);
  drawChart($<HTMLCanvasElement>('chart-ema'), 'EMA momentum (encoder)', xs, [
    { name: 'm', color: '#9467bd', ys: pick((m) => m.emaMomentum) },
  ]);
  drawChart($<HTMLCanvasElement>('chart-tau'), 'teacher temperature τ_t', xs, [
    { name: 'τ_t', color: '#ff7f0e', ys: pick((m) => m.teacherTemp) },
  ]);
  drawChart($<HTMLCanvasElement>('chart-ppl'), 'teacher target perplexity', xs, [
    { name: 'ppl', color: '#8c564b', ys: pick((m) => m.targetPerplexity) },
  ]);
}

function onStep(m: Extract<FromWorker, { type: 'step' }>): void {
  history.step.push(m.step);
  history.m.push(m.metrics);
  status.step = m.step;
  status.total = m.total;
  status.loss = m.metrics.loss;
  status.lPred = m.metrics.lPred;
  status.lCls = m.metrics.lCls;
  status.losses.push(m.metrics.loss);
  status.stepMs.push(m.stepMs);
  const eta = m.stepsPerSec > 0 ? (m.total - m.step) / m.stepsPerSec : NaN;
  const cells: [string, string][] = [
    ['step', `${m.step} / ${m.total}`],
    ['L', num(m.metrics.loss)],
    ['L_pred', num(m.metrics.lPred)],
    ['L_cls', num(m.metrics.lCls)],
    ['lr', num(m.metrics.lr, 6)],
    ['EMA m', num(m.metrics.emaMomentum, 5)],
    ['τ_t', num(m.metrics.teacherTemp)],
    ['perplexity', num(m.metrics.targetPerplexity, 2)],
    ['‖g‖', num(m.metrics.gradNorm)],
    ['steps/s', m.stepsPerSec.toFixed(2)],
    ['last step', m.stepMs < 1000 ? `${m.stepMs.toFixed(0)} ms` : `${(m.stepMs / 1000).toFixed(1)} s`],
    ['ETA', duration(eta)],
  ];
  $('stats').innerHTML = cells.map(([k, v]) => `<div><span>${k}</span><b>${v}</b></div>`).join('');
  ($('progress') as HTMLProgressElement).value = m.step / Math.max(1, m.total);
  if (!drawPending) {
    drawPending = true;
    requestAnimationFrame(drawCharts);
  }
}

function onInput(m: Extract<FromWorker, { type: 'input' }>): void {
  const scale = m.nFrames < 100 ? 6 : 2;
  const img = logMelImage(
    { data: m.logmel, nMels: m.nMels, nFrames: m.nFrames },
    { mask: m.mask, patchSize: m.patchSize, scale },
  );
  const canvas = $<HTMLCanvasElement>('mask');
  canvas.width = img.width;
  canvas.height = img.height;
  canvas.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(img.rgba), img.width, img.height), 0, 0);
  const masked = m.mask.reduce((a, b) => a + b, 0);
  $('mask-caption').textContent =
    `step ${m.step}: the first crop of the batch, ${m.nMels} mel bands × ${m.nFrames} frames; ${masked} of ${m.mask.length} patches (${m.patchSize}×${m.patchSize}) masked — shaded — the student sees the others`;
}

// ── the explorer ─────────────────────────────────────────────────────────────────────────────────

let equations: EquationView[] = [];
let selected = -1;

const shape = (s: number[]) => `[${s.join(',')}]`;
const flops = (f: number) =>
  f >= 1e6 ? `${(f / 1e6).toFixed(2)} MFLOP` : f >= 1e3 ? `${(f / 1e3).toFixed(1)} kFLOP` : `${f} FLOP`;
const escape = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

function renderTrace(m: Extract<FromWorker, { type: 'trace' }>): void {
  equations = m.equations;
  status.traceLength = equations.length;
  $('trace-summary').textContent =
    `${equations.length} equations for one crop ${shape(m.batch)}: ${m.forwardCount} forward (the loss), ${equations.length - m.forwardCount} backward (its gradient); ${flops(m.flops)} in all. Click an equation.`;
  renderTraceList();
}

function renderTraceList(): void {
  const filter = ($('trace-filter') as HTMLInputElement).value.trim();
  const rows = equations
    .filter((e) => !filter || e.prim.includes(filter) || e.output === filter || e.inputs.includes(filter))
    .slice(0, 2000)
    .map((e) => {
      const side = e.vjpOf ? 'bwd' : 'fwd';
      return `<div class="eq ${side}${e.index === selected ? ' sel' : ''}" data-i="${e.index}"><code>${e.output}:f32${shape(e.outShape)} = ${e.prim}${escape(e.params)} ${e.inputs.map(escape).join(' ')}</code></div>`;
    });
  $('trace-list').innerHTML = rows.join('');
}

function selectEquation(i: number): void {
  selected = i;
  const e = equations[i];
  renderTraceList();
  const rule = __VJP_RULES__[e.prim] ?? '(rule not found)';
  const producedBy = e.vjpOf
    ? `<p>Backward: launched by the <b>VJP rule of ${e.vjpOf.prim}</b> while pulling the cotangent back through <a href="#" data-goto="${e.vjpOf.output}">${e.vjpOf.output}</a>.</p><pre>${escape(__VJP_RULES__[e.vjpOf.prim] ?? '')}</pre>`
    : '<p>Forward: part of the loss.</p>';
  $('trace-detail').innerHTML = `
    <h3>${e.output} = ${e.prim}${escape(e.params)}</h3>
    <table>
      <tr><td>inputs</td><td>${e.inputs.map((n, k) => `${escape(n)}: f32${shape(e.inShapes[k])}`).join(', ') || '—'}</td></tr>
      <tr><td>output</td><td>${e.output}: f32${shape(e.outShape)}</td></tr>
      <tr><td>FLOPs</td><td>${flops(e.flops)}</td></tr>
    </table>
    ${producedBy}
    <p>The rule of <b>${e.prim}</b> (src/primitives.ts) — <a href="docs/primitives.md#${e.prim.toLowerCase()}" target="_blank">its equations in docs/primitives.md</a>:</p>
    <pre>${escape(rule)}</pre>
    <p><button id="gradcheck">Check this gradient</button>
    <label><input type="checkbox" id="perturb"> break the rule (scale its cotangents by 1.01) to see the check fail</label></p>
    <p id="gradcheck-result"></p>`;
  $('gradcheck').onclick = () => {
    $('gradcheck-result').textContent = 'checking in float64…';
    send({ type: 'gradcheck', index: i, perturb: ($('perturb') as HTMLInputElement).checked });
  };
  for (const a of Array.from($('trace-detail').querySelectorAll('a[data-goto]'))) {
    (a as HTMLElement).onclick = (ev) => {
      ev.preventDefault();
      const j = equations.findIndex((q) => q.output === (a as HTMLElement).dataset.goto);
      if (j >= 0) selectEquation(j);
    };
  }
}

function onGradcheck(m: Extract<FromWorker, { type: 'gradcheck' }>): void {
  status.gradcheck = m;
  const el = document.getElementById('gradcheck-result');
  if (!el) return;
  const diff = Math.abs(m.analytic - m.numeric);
  el.className = m.pass ? 'pass' : 'fail';
  el.textContent = `${m.pass ? 'PASS' : 'FAIL'}${m.perturbed ? ' (rule deliberately broken)' : ''}: ⟨Jᵀv, u⟩ = ${m.analytic.toPrecision(10)} by the VJP rule, ${m.numeric.toPrecision(10)} by float64 central differences (ε = 1e-5); |difference| ${diff.toExponential(2)} ${m.pass ? '≤' : '>'} ${m.tol}·${m.scale.toPrecision(3)}${m.note ? ` — ${m.note}` : ''}`;
}

// ── checkpoints and embeddings ───────────────────────────────────────────────────────────────────

function download(bytes: ArrayBuffer, name: string): void {
  const url = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

async function sendFile(type: 'load' | 'embed', file: File): Promise<void> {
  const bytes = await file.arrayBuffer();
  send({ type, bytes, name: file.name }, [bytes]);
}

// ── wiring ───────────────────────────────────────────────────────────────────────────────────────

function startConfig(): unknown {
  const preset = ($('preset') as HTMLSelectElement).value;
  if (preset !== 'custom') return preset;
  try {
    return JSON.parse(($('custom') as HTMLTextAreaElement).value);
  } catch (e) {
    throw new Error(`custom config: not valid JSON (${(e as Error).message})`, { cause: e });
  }
}

function start(): void {
  try {
    history.step.length = 0;
    history.m.length = 0;
    status.losses.length = 0;
    status.stepMs.length = 0;
    status.done = false;
    status.error = null;
    $('error').hidden = true;
    send({ type: 'start', config: startConfig(), steps: Number(($('steps') as HTMLInputElement).value) || 0 });
  } catch (e) {
    showError((e as Error).message);
  }
}

worker.onmessage = (ev: MessageEvent<FromWorker>) => {
  const m = ev.data;
  switch (m.type) {
    case 'ready':
      for (const [q, t] of pending ?? []) worker.postMessage(q, t);
      pending = null;
      return;
    case 'backend':
      status.backend = m.engine;
      status.renderer = m.renderer;
      status.kernelClasses = m.kernelClasses;
      $('runs').textContent = `${m.engine}: ${m.description}`;
      $('renderer').textContent = m.renderer ?? (m.engine === 'native' ? 'CPU (WebAssembly SIMD kernels)' : '—');
      return;
    case 'data':
      $('data').textContent = `${m.clips} clips from ${m.source}`;
      return;
    case 'config':
      $('config').textContent = JSON.stringify(m.config, null, 1);
      $('run-note').textContent = m.fromCheckpoint
        ? `loaded a checkpoint at step ${m.step}: Resume continues its run`
        : '';
      if (m.fromCheckpoint) {
        history.step.length = 0;
        history.m.length = 0;
        status.losses.length = 0;
        status.stepMs.length = 0;
        status.done = false;
      }
      status.step = m.step;
      return;
    case 'step':
      onStep(m);
      return;
    case 'input':
      onInput(m);
      return;
    case 'done':
      status.done = true;
      $('run-note').textContent = `done: ${m.step} steps`;
      drawCharts();
      return;
    case 'paused':
      $('run-note').textContent = `paused at step ${m.step}`;
      return;
    case 'trace':
      renderTrace(m);
      return;
    case 'gradcheck':
      onGradcheck(m);
      return;
    case 'backendcheck':
      status.backendCheck = m;
      $('backendcheck-result').className = m.pass ? 'pass' : 'fail';
      $('backendcheck-result').textContent =
        `${m.pass ? 'PASS' : 'FAIL'}: ${m.detail}: max relative error ${m.maxRelErr.toExponential(2)} (tolerance ${m.tol})`;
      return;
    case 'checkpoint':
      status.checkpoint = { name: m.name, bytes: m.bytes.byteLength, step: m.step };
      download(m.bytes, m.name);
      return;
    case 'embedding':
      status.embedding = { name: m.name, values: Array.from(m.embedding), step: m.step };
      $('embedding').textContent =
        `${m.name}: ${m.embedding.length}-dim embedding (model at step ${m.step}): [${Array.from(m.embedding.slice(0, 6), (v) => v.toFixed(4)).join(', ')}, …]`;
      return;
    case 'error':
      showError(m.message);
      return;
  }
};

$('start').onclick = start;
$('pause').onclick = () => send({ type: 'pause' });
$('resume').onclick = () => send({ type: 'resume' });
$('save').onclick = () => send({ type: 'save' });
$('trace').onclick = () => send({ type: 'trace' });
$('backendcheck').onclick = () => send({ type: 'backendcheck' });
$('trace-filter').oninput = renderTraceList;
$('trace-list').onclick = (ev) => {
  const row = (ev.target as HTMLElement).closest('.eq') as HTMLElement | null;
  if (row) selectEquation(Number(row.dataset.i));
};
$('preset').onchange = () => ($('custom').hidden = ($('preset') as HTMLSelectElement).value !== 'custom');
($('load') as HTMLInputElement).onchange = (ev) => {
  const f = (ev.target as HTMLInputElement).files?.[0];
  if (f) void sendFile('load', f);
};
($('audio') as HTMLInputElement).onchange = (ev) => {
  const f = (ev.target as HTMLInputElement).files?.[0];
  if (f) void sendFile('embed', f);
};
const drop = $('drop');
drop.ondragover = (ev) => ev.preventDefault();
drop.ondrop = (ev) => {
  ev.preventDefault();
  const f = ev.dataTransfer?.files?.[0];
  if (f) void sendFile(f.name.endsWith('.safetensors') ? 'load' : 'embed', f);
};

const preset = params.get('preset');
if (preset) ($('preset') as HTMLSelectElement).value = preset;
if (params.get('steps')) ($('steps') as HTMLInputElement).value = params.get('steps')!;
setupBackends();
if (params.get('autostart') === '1') start();
drawCharts();
