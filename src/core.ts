/**
 * The core of the engine: tensors, tracers, and the one function `bind` through which every
 * primitive is applied.
 *
 * Reverse mode with nesting, the JAX way. A `Tracer` at level L wraps a primal value (a concrete
 * tensor or a tracer of a lower level) and remembers the primitive that produced it. `bind`
 * looks at the highest level among its inputs: at level 0 it runs the backend's kernel; at
 * level L > 0 it applies the primitive to the primals (recursing downwards) and records a node
 * on level L. `vjp` (src/autodiff.ts) opens a new level, and its backward pass runs the VJP
 * rules — which are written with ordinary ops — on the primals, i.e. *below* level L. So the
 * backward pass of an inner `grad` is itself recorded by an outer `grad`: grad-of-grad works
 * with no extra machinery, and perturbations of different levels are never confused.
 */
import type { Backend } from './backend';
import type { PrimName, PrimParams } from './primitives';
import { fmt, ShapeError, size, type Shape } from './shape';

// ---------------------------------------------------------------------------------------------
// The primitive registry. Core owns it and knows no primitive by name: src/primitives.ts fills
// it (defineRules) when it is loaded, and bind, the autodiff transforms, the tracer and jit read
// it (ruleOf). So the layers import downwards only: core ← ops ← fused ← primitives.

/** What the engine knows about a primitive besides its kernels: shape rule, VJP rule, FLOPs. */
export interface PrimRules<P> {
  /** Output shape from the input shapes (throws a ShapeError naming the op on bad input). */
  shape(inShapes: Shape[], params: P): Shape;
  /**
   * Cotangents of the inputs from the output's cotangent `ct`, the inputs and the output (one
   * level below the level being differentiated), and which inputs need one; written with ops,
   * so the backward pass is itself differentiable.
   */
  vjp(ct: Tensor, primals: Tensor[], out: Tensor, params: P, needs: boolean[]): (Tensor | null)[];
  flops(inShapes: Shape[], outShape: Shape, params: P): number;
}

const rules = new Map<string, PrimRules<never>>();

/** Register a primitive's rules (src/primitives.ts does this for every primitive). */
export function defineRules<P extends PrimName>(name: P, r: PrimRules<PrimParams[P]>): void {
  rules.set(name, r as PrimRules<never>);
}

/** The rules of a primitive. */
export function ruleOf<P extends PrimName>(name: P): PrimRules<PrimParams[P]> {
  const r = rules.get(name);
  if (!r)
    throw new Error(
      `internal: primitive '${name}' has no rules (src/primitives.ts registers them; import the engine through src/index.ts)`,
    );
  return r as unknown as PrimRules<PrimParams[P]>;
}

// ---------------------------------------------------------------------------------------------
// Backends (execution context, like a JAX device: which machine runs kernels, not model state)

const backends = new Map<string, () => Backend>();
const instances = new Map<string, Backend>();
let current: Backend | null = null;

/** Register a backend factory under `name` (created on first use, then reused). */
export function registerBackend(name: string, factory: () => Backend): void {
  backends.set(name, factory);
}

/** The backend named `name` (created on first use), or the current default (initially `native`). */
export function getBackend(name?: string): Backend {
  if (name === undefined) {
    if (current) return current;
    return (current = getBackend('native'));
  }
  let b = instances.get(name);
  if (!b) {
    const f = backends.get(name);
    if (!f) throw new Error(`unknown backend '${name}' (known: ${[...backends.keys()].join(', ')})`);
    b = f();
    instances.set(name, b);
  }
  return b;
}

/** The names of all registered backends. */
export function listBackends(): string[] {
  return [...backends.keys()];
}

/** The registered backends that can run on this machine (their factory does not throw). */
export function usableBackends(): string[] {
  return [...backends.keys()].filter((name) => {
    try {
      getBackend(name);
      return true;
    } catch {
      return false;
    }
  });
}

/** Make `name` the default backend for new tensors (synchronous; in browsers use `useBackend` for gpujs backends). */
export function setBackend(name: string): Backend {
  current = getBackend(name);
  return current;
}

/** Run `fn` with `name` as the default backend for newly created tensors. */
export function withBackend<T>(name: string, fn: () => T): T {
  const prev = current;
  current = getBackend(name);
  try {
    return fn();
  } finally {
    current = prev;
  }
}

// ---------------------------------------------------------------------------------------------
// Hooks: tracing (src/trace.ts) and NaN checking observe every kernel launch.

export interface LaunchRecord {
  prim: PrimName;
  inputs: Concrete[];
  output: Concrete;
  params: unknown;
  /** Set when the launch comes from a VJP rule: the rule's primitive and the forward output it differentiates. */
  vjpOf?: VjpContext;
}
export interface VjpContext {
  prim: PrimName;
  /** The forward node's output one level down (its concrete tensor is what the forward launch produced). */
  out: Tensor;
}
let vjpContext: VjpContext | undefined;
/** Run a VJP rule with launches attributed to it (src/autodiff.ts; read by tracing). */
export function inVjpRule<T>(ctx: VjpContext, fn: () => T): T {
  const outer = vjpContext;
  vjpContext = ctx;
  try {
    return fn();
  } finally {
    vjpContext = outer;
  }
}
type Hook = (r: LaunchRecord) => void;
const hooks: Hook[] = [];
export function pushHook(h: Hook): void {
  hooks.push(h);
}
export function popHook(h: Hook): void {
  const i = hooks.lastIndexOf(h);
  if (i >= 0) hooks.splice(i, 1);
}

// ---------------------------------------------------------------------------------------------
// Tensors

let nextId = 0;

/** A value of the engine: a concrete tensor or a tracer. Model code only sees this type. */
export abstract class Tensor {
  readonly id = nextId++;
  /** A human-readable name (a parameter path such as `student.blocks.0.attn.qkv.weight`). */
  label?: string;
  abstract readonly shape: Shape;
  /** The backend the tensor's data lives on (for a traced value: the backend it will live on). */
  abstract readonly backend: Backend;
  get rank(): number {
    return this.shape.length;
  }
  get size(): number {
    return size(this.shape);
  }
  /** The concrete tensor under all tracers (reading values is not differentiable). */
  abstract concrete(): Concrete;
  /** Host copy of the values as float32 (float64 on the reference backend). */
  toArray(): Float32Array | Float64Array {
    return this.concrete().data();
  }
  /**
   * Host copy of the values, asynchronously: a page awaits this so that its UI never blocks while
   * a GPU finishes (gpu.js WebGL2 waits on a fence without blocking); `toArray` is the
   * synchronous one.
   */
  async toArrayAsync(): Promise<Float32Array | Float64Array> {
    const c = this.concrete();
    if (c.backend.downloadAsync) return c.backend.downloadAsync(c.buffer, c.shape);
    await Promise.resolve();
    return c.data();
  }
  /** Values as a nested plain array (for printing and tests). */
  toNested(): unknown {
    const d = Array.from(this.toArray());
    const build = (dim: number, off: number): unknown => {
      if (dim === this.shape.length) return d[off];
      const stride = size(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, off + i * stride));
    };
    return build(0, 0);
  }
  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1)
      throw new ShapeError(`item: tensor of shape ${fmt(this.shape)} has ${this.size} elements, expected 1`);
    return this.toArray()[0];
  }
  toString(): string {
    return `Tensor${fmt(this.shape)}${this.label ? ` ${this.label}` : ''}`;
  }
}

/** A tensor with data on a backend. Immutable: no op writes into an existing buffer. */
export class Concrete extends Tensor {
  constructor(
    readonly backend: Backend,
    readonly buffer: unknown,
    readonly shape: Shape,
  ) {
    super();
  }
  concrete(): Concrete {
    return this;
  }
  /** Host copy of the values (the backend's read-back). */
  data(): Float32Array | Float64Array {
    return this.backend.download(this.buffer, this.shape);
  }
  /** Free device memory now (only the engine's scopes call this; the GC handles CPU buffers). */
  dispose(): void {
    this.backend.dispose(this.buffer);
  }
}

/** A node of the graph recorded at one level: which primitive, on which inputs. */
export interface Node {
  prim: PrimName;
  params: unknown;
  /** Inputs as values one level down (what the VJP rule reads). */
  primals: Tensor[];
  /** For each input: the tracer of this level it came from, or null (a constant at this level). */
  parents: (Tracer | null)[];
  /** Output one level down. */
  out: Tensor;
}

export class Tracer extends Tensor {
  constructor(
    readonly level: number,
    readonly primal: Tensor,
    readonly node: Node | null,
  ) {
    super();
  }
  get shape(): Shape {
    return this.primal.shape;
  }
  get backend(): Backend {
    return this.primal.backend;
  }
  concrete(): Concrete {
    return this.primal.concrete();
  }
}

export const levelOf = (t: Tensor): number => (t instanceof Tracer ? t.level : 0);

// ---------------------------------------------------------------------------------------------
// Levels of differentiation (opened by vjp; engine-internal)

let openLevels = 0;
export function openLevel(): number {
  return ++openLevels;
}
export function closeLevel(level: number): void {
  if (level !== openLevels) throw new Error(`internal: closing level ${level} while ${openLevels} is open`);
  openLevels--;
}

// ---------------------------------------------------------------------------------------------
// Staging (src/jit): while a program is being traced, level-0 primitives are recorded instead
// of run, and host data uploaded inside the traced function becomes the program's constants.

export interface Stager {
  /** Record `prim` on level-0 inputs (concrete or staged values); returns the staged output. */
  stage(prim: PrimName, inputs: Tensor[], outShape: Shape, params: unknown): Tensor;
  /** A tensor uploaded while tracing (owned by the program being traced, not by a scope). */
  constant(c: Concrete): void;
}
let stager: Stager | null = null;

/** Run `fn` with `s` staging every level-0 primitive (jit's tracer; not re-entrant). */
export function withStager<T>(s: Stager, fn: () => T): T {
  if (stager) throw new Error('internal: jit tracing is already active');
  stager = s;
  try {
    return fn();
  } finally {
    stager = null;
  }
}
export const isStaging = (): boolean => stager !== null;

/** Hand a tensor made outside bind (jit's executor outputs) to the innermost scope, as launch does. */
export function adopt(c: Concrete): Concrete {
  if (scopes.length) scopes[scopes.length - 1].add(c);
  return c;
}

// ---------------------------------------------------------------------------------------------
// bind: apply a primitive

function describeInputs(inputs: Tensor[]): string {
  const names = inputs.map((t) => {
    let x: Tensor | undefined = t;
    while (x) {
      if (x.label) return x.label;
      x = x instanceof Tracer ? x.primal : undefined;
    }
    return undefined;
  });
  return names.some((n) => n) ? ` (inputs: ${names.map((n) => n ?? '<intermediate>').join(', ')})` : '';
}

export function bind<P extends PrimName>(prim: P, inputs: Tensor[], params: PrimParams[P]): Tensor {
  const def = ruleOf(prim);
  let outShape: Shape;
  try {
    outShape = def.shape(
      inputs.map((t) => t.shape),
      params,
    );
  } catch (e) {
    if (e instanceof ShapeError) throw new ShapeError(e.message + describeInputs(inputs));
    throw e;
  }
  let level = 0;
  for (const t of inputs) level = Math.max(level, levelOf(t));
  if (level === 0)
    return stager ? stager.stage(prim, inputs, outShape, params) : launch(prim, inputs as Concrete[], outShape, params);
  const primals = inputs.map((t) => (t instanceof Tracer && t.level === level ? t.primal : t));
  const out = bind(prim, primals, params);
  const parents = inputs.map((t) => (t instanceof Tracer && t.level === level ? t : null));
  return new Tracer(level, out, { prim, params, primals, parents, out });
}

function launch<P extends PrimName>(prim: P, inputs: Concrete[], outShape: Shape, params: PrimParams[P]): Concrete {
  const backend = inputs.length ? inputs[0].backend : getBackend();
  for (const t of inputs) {
    if (t.backend !== backend)
      throw new Error(`${prim}: inputs live on different backends (${backend.name} and ${t.backend.name})`);
  }
  const kernel = backend.kernels[prim] as (i: unknown[], s: Shape[], o: Shape, p: PrimParams[P]) => unknown;
  const buf = kernel(
    inputs.map((t) => t.buffer),
    inputs.map((t) => t.shape),
    outShape,
    params,
  );
  const out = new Concrete(backend, buf, outShape);
  if (scopes.length) scopes[scopes.length - 1].add(out);
  if (hooks.length) for (const h of hooks) h({ prim, inputs, output: out, params, vjpOf: vjpContext });
  return out;
}

/** A concrete tensor from host data on the current (or given) backend. */
export function fromHost(
  data: Float32Array | Float64Array | readonly number[],
  shape: Shape,
  backend?: Backend,
): Concrete {
  const n = size(shape);
  if (data.length !== n)
    throw new ShapeError(`tensor: ${data.length} values do not fill shape ${fmt(shape)} (${n} needed)`);
  const b = backend ?? getBackend();
  const out = new Concrete(b, b.upload(data, shape), [...shape]);
  if (stager) stager.constant(out);
  else if (scopes.length) scopes[scopes.length - 1].add(out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Scopes: deterministic freeing of device memory (GPU textures). The engine, not the user, uses
// them: the trainer runs each step in a scope, so every intermediate of the step is freed when
// the step returns, except the buffers reachable from the step's result.

const scopes: Set<Concrete>[] = [];

/** Call `f` on the concrete tensor of every tensor inside a value (objects and arrays, recursively). */
function forEachConcrete(value: unknown, f: (c: Concrete) => void): void {
  if (value instanceof Tensor) f(value.concrete());
  else if (Array.isArray(value)) for (const v of value) forEachConcrete(v, f);
  else if (value && typeof value === 'object' && !ArrayBuffer.isView(value))
    for (const v of Object.values(value)) forEachConcrete(v, f);
}

/** Collect the buffers of the tensors reachable from a value. */
function reachable(value: unknown, into: Set<unknown>): void {
  forEachConcrete(value, (c) => into.add(c.buffer));
}

/**
 * Dispose now every tensor reachable from `value` (each once) whose buffer `keep` does not reach
 * (compared by buffer, so a reshape view in `keep` keeps its store; backends count the tensors
 * that share a buffer and free it at the last dispose). The trainer calls it on the previous
 * step's state and batch once the next state exists: a training loop holds one state's buffers,
 * not one per step.
 * The caller promises that nothing else still reads `value`'s tensors.
 */
export function disposeTree(value: unknown, keep?: unknown): void {
  const kept = new Set<unknown>();
  reachable(keep, kept);
  const seen = new Set<Concrete>();
  forEachConcrete(value, (c) => {
    if (kept.has(c.buffer) || seen.has(c)) return;
    seen.add(c);
    c.dispose();
  });
}

/**
 * Run `fn`; then dispose every tensor created inside it whose buffer its result does not reach
 * (buffers shared by reshapes are compared by identity, so a kept view keeps its buffer; each
 * tensor is disposed once and backends free a shared buffer at its last dispose). Buffers that
 * survive are handed to the enclosing scope. If `fn` throws, everything it created is freed.
 */
export function scope<T>(fn: () => T, opts: { keep?: unknown } = {}): T {
  const created = new Set<Concrete>();
  scopes.push(created);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const c of created) c.dispose();
    throw e;
  }
  scopes.pop();
  const keep = new Set<unknown>();
  reachable(result, keep);
  reachable(opts.keep, keep);
  const parent = scopes[scopes.length - 1];
  // every tensor created here is disposed once (backends count the tensors sharing a buffer)
  for (const c of created) {
    if (keep.has(c.buffer)) parent?.add(c);
    else c.dispose();
  }
  return result;
}
