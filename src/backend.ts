/**
 * The backend interface. A backend knows buffers and kernels — nothing about autodiff.
 *
 * Every backend implements every primitive: `KernelTable` is a total mapped type over the
 * primitive names, so a backend missing a kernel does not compile (the same idea as jax-js's
 * rule tables). Buffers are opaque to the engine: a Float32Array on the native CPU backend, a
 * Float64Array on the reference backend, a gpu.js texture (or array) on the gpu.js backend.
 */
import type { Shape } from './shape';
import type { PrimName, PrimParams } from './primitives';

export type Buffer = unknown;

export type Kernel<P extends PrimName> = (
  inputs: Buffer[],
  inShapes: Shape[],
  outShape: Shape,
  params: PrimParams[P],
) => Buffer;

export type KernelTable = { [P in PrimName]: Kernel<P> };

export interface Backend {
  /** Short name used by `--backend` and in reports, e.g. `native`, `ref64`, `gpujs-cpu`. */
  readonly name: string;
  /** Float precision of its buffers (the reference backend computes in float64). */
  readonly precision: 'float32' | 'float64';
  /** What actually runs the kernels (e.g. "gpu.js headlessgl on Mesa llvmpipe"). */
  describe(): string;
  upload(data: Float32Array | Float64Array | readonly number[], shape: Shape): Buffer;
  /** Host copy of a buffer (row-major). */
  download(buf: Buffer, shape: Shape): Float32Array | Float64Array;
  /**
   * Host copy without blocking the calling thread while the device finishes (optional: backends
   * whose buffers live on the host need none; `Tensor.toArrayAsync` then yields once and copies).
   */
  downloadAsync?(buf: Buffer, shape: Shape): Promise<Float32Array | Float64Array>;
  /** Free device memory now (a no-op where the GC owns the memory). */
  dispose(buf: Buffer): void;
  readonly kernels: KernelTable;
  /**
   * Optional: whether the kernel of `prim` on these inputs returns a view sharing its input's
   * storage (no data moves; native: reshapes, and slices that are one contiguous range). jit's
   * plan counts such steps as views, not launches. Default: reshapes only.
   */
  isView?(prim: PrimName, inShapes: Shape[], params: unknown): boolean;
  /**
   * Elementwise primitives whose own kernel beats computing them inside a fused loop (native:
   * exp, gelu and geluGrad run as SIMD WebAssembly); jit (src/jit/fuse.ts) does not fuse them.
   */
  readonly unfusedOps?: readonly PrimName[];
  /**
   * Optional: Σ or max over `axes` of a fused expression (src/fused.ts source) of inputs broadcast
   * to `groupShape`, in one pass (keepdims). jit fuses an elementwise group into the reduction
   * that reads it where the backend has this (native).
   */
  fusedReduce?(
    kind: 'sum' | 'max',
    src: string,
    inputs: Buffer[],
    inShapes: Shape[],
    groupShape: Shape,
    axes: number[],
  ): Buffer;
  /**
   * Optional: horizontal fusion — one fused expression (src/fused.ts source) over several
   * independent members in one launch; each input of a member has `n` elements (read in order) or
   * one (read once). `map` returns each member's n values per source (several sources: a batch of
   * multi-output groups), `sum`/`max` (one source) its one reduced value.
   * jit batches the same pass over many parameters (optimizer, EMA, gradient norms) into one
   * launch where the backend has this (native).
   */
  fusedBatch?(kind: 'map' | 'sum' | 'max', srcs: string[], members: { inputs: Buffer[]; n: number }[]): Buffer[][];
  /**
   * Optional: multi-output fusion — several fused expressions (src/fused.ts sources) of the same
   * inputs broadcast to `shape`, one output each, in one pass over the inputs. jit lets a fused
   * group also store values computed inside it that other equations read (an optimizer's new
   * moments, read by its parameter update and returned) where the backend has this (native, ref64).
   */
  fusedMulti?(srcs: string[], inputs: Buffer[], inShapes: Shape[], shape: Shape): Buffer[];
  /**
   * Optional: matmul or linear reading operands through transposes (jit's strided views): operand
   * k is `transpose(inputs[k], views[k].perm)` (stored with `storedShapes[k]`) read in row-major
   * order as `shapes[k]`, or `inputs[k]` itself where `views[k]` is null. The transposed copy is
   * never made (native: gathered straight into the matmul kernel's memory).
   */
  matmulOfViews?(
    prim: 'matmul' | 'linear',
    inputs: Buffer[],
    storedShapes: Shape[],
    shapes: Shape[],
    params: unknown,
    views: ({ perm: number[] } | null)[],
  ): Buffer;
}
