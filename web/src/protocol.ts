/**
 * The messages between the page (main thread: UI only) and its Web Worker (the engine: training,
 * tracing, gradient checks, checkpoints). Training runs in the worker so the UI never waits on a
 * kernel.
 */

/** Backends the page offers: gpu.js WebGL2 / WebGPU kernels, or the native SIMD-wasm kernels. */
export type PageBackend = 'webgl2' | 'webgpu' | 'wasm';

/** A trace equation as the explorer shows it. */
export interface EquationView {
  index: number;
  prim: string;
  params: string;
  inputs: string[];
  inShapes: number[][];
  output: string;
  outShape: number[];
  flops: number;
  /** Backward equations: the VJP rule that launched this one and the forward output it differentiates. */
  vjpOf?: { prim: string; output: string };
}

export interface StepMetricsView {
  loss: number;
  lPred: number;
  lCls: number;
  lr: number;
  emaMomentum: number;
  teacherTemp: number;
  targetPerplexity: number;
  gradNorm: number;
}

export type ToWorker =
  | { type: 'init'; backend: PageBackend }
  | { type: 'start'; config: unknown; steps: number }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'trace' }
  | { type: 'gradcheck'; index: number; perturb: boolean }
  | { type: 'backendcheck' }
  | { type: 'save' }
  | { type: 'load'; bytes: ArrayBuffer; name: string }
  | { type: 'embed'; bytes: ArrayBuffer; name: string };

export type FromWorker =
  | { type: 'ready' }
  | {
      type: 'backend';
      backend: PageBackend;
      engine: string;
      description: string;
      renderer: string | null;
      kernelClasses: string[];
    }
  | { type: 'data'; clips: number; source: string }
  | { type: 'config'; config: unknown; fromCheckpoint: boolean; step: number }
  | { type: 'step'; step: number; total: number; metrics: StepMetricsView; stepsPerSec: number; stepMs: number }
  | {
      type: 'input';
      step: number;
      logmel: Float32Array;
      nMels: number;
      nFrames: number;
      mask: Uint8Array;
      patchSize: number;
    }
  | { type: 'done'; step: number }
  | { type: 'paused'; step: number }
  | { type: 'trace'; equations: EquationView[]; forwardCount: number; flops: number; batch: number[] }
  | {
      type: 'gradcheck';
      index: number;
      prim: string;
      analytic: number;
      numeric: number;
      scale: number;
      tol: number;
      pass: boolean;
      perturbed: boolean;
      note?: string;
    }
  | { type: 'backendcheck'; backend: string; maxRelErr: number; tol: number; pass: boolean; detail: string }
  | { type: 'checkpoint'; bytes: ArrayBuffer; step: number; name: string }
  | { type: 'embedding'; name: string; embedding: Float32Array; step: number }
  | { type: 'error'; message: string };
