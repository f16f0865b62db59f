/**
 * The engine (tensors, ops, transforms, trees, random, optimisers, schedules, EMA) with its
 * backends registered: what models/ build on as `mp`. The package's public API is ./index.ts,
 * which adds the model, tracing and checkpoint bytes. Imports nothing from Node.
 */
export { useBackend } from './backends/register';
export { loadGpujs } from './backends/gpujs-lib';

export * from './ops';
export { fused, E, evalExpr, exprSource, type Expr } from './fused';
export {
  Tensor,
  Concrete,
  Tracer,
  scope,
  disposeTree,
  getBackend,
  setBackend,
  withBackend,
  listBackends,
  usableBackends,
  registerBackend,
  fromHost,
} from './core';
export { vjp, grad, valueAndGrad } from './autodiff';
export { jit, type Jitted, type JitStats } from './jit/jit';
export { formatPlan, formatPlanStats } from './jit/format';
export { flatten, treeMap, treeMapWithPath, toNamed, leaves, treeSize, type Tree } from './tree';
export { ShapeError, type Shape } from './shape';
export { PRIMITIVES, PRIM_NAMES, type PrimName } from './primitives';
/** Counter-based random numbers: keys are explicit values (`keyFromSeed`, `split`, `foldIn`), the same key gives the same numbers. */
export * as random from './random';
export { uniform, normal, permutation } from './rng-tensor';
/** Optimisers as composable gradient transformations (optax style): `adamw`, `sgd`, `chain`, `clipByGlobalNorm`, ... */
export * as optim from './optim';
/** Schedules of the step: `linear`, `warmupCosine`, and MATPAC's. */
export * as schedules from './schedules';
export { emaUpdate, emaStep } from './ema';
