/**
 * matpac-ts engine: the public API.
 *
 *   import * as mp from 'matpac-ts';
 *   const loss = (p) => mp.mean(mp.square(mp.sub(mp.linear(x, p.w, p.b), y)));
 *   const [value, grads] = mp.valueAndGrad(loss)(params);
 */
import { registerBackend } from './core';
import { createNativeBackend } from './backends/native';
import { createRef64Backend } from './backends/ref64';
import { registerGpujsBackends } from './backends/gpujs';
import './primitives'; // fills the primitive registry (src/core.ts)

registerBackend('native', createNativeBackend);
registerBackend('ref64', createRef64Backend);
registerGpujsBackends();

export * from './ops';
export { fused, E, evalExpr, exprSource, type Expr } from './fused';
export { Tensor, Concrete, Tracer, scope, disposeTree, getBackend, setBackend, withBackend, listBackends, usableBackends, registerBackend, fromHost } from './core';
export { vjp, grad, valueAndGrad } from './autodiff';
export { jit, type Jitted, type JitStats } from './jit/jit';
export { formatPlan, formatPlanStats } from './jit/format';
export { flatten, treeMap, treeMapWithPath, toNamed, leaves, treeSize, type Tree } from './tree';
export { ShapeError, type Shape } from './shape';
export { PRIMITIVES, PRIM_NAMES, type PrimName } from './primitives';
export * as random from './random';
export { uniform, normal, permutation } from './rng-tensor';
export * as optim from './optim';
export * as schedules from './schedules';
export { emaUpdate, emaStep } from './ema';
export { saveSafetensors, loadSafetensors, saveState, loadState, readMetadata, CheckpointError } from './checkpoint';
