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
import { createGpujsBackend, defaultGpujsMode } from './backends/gpujs';

registerBackend('native', createNativeBackend);
registerBackend('ref64', createRef64Backend);
registerBackend('gpujs', () => createGpujsBackend(defaultGpujsMode()));
registerBackend('gpujs-cpu', () => createGpujsBackend('cpu'));
registerBackend('gpujs-webasm', () => createGpujsBackend('webasm'));
registerBackend('gpujs-headlessgl', () => createGpujsBackend('headlessgl'));
registerBackend('gpujs-gpu', () => createGpujsBackend('gpu'));
registerBackend('gpujs-webgl2', () => createGpujsBackend('webgl2'));

export * from './ops';
export { fused, E, evalExpr, exprSource, type Expr } from './fused';
export { Tensor, Concrete, Tracer, scope, disposeTree, getBackend, setBackend, withBackend, listBackends, usableBackends, registerBackend, fromHost } from './core';
export { vjp, grad, valueAndGrad } from './autodiff';
export { flatten, treeMap, treeMapWithPath, toNamed, leaves, treeSize, type Tree } from './tree';
export { ShapeError, type Shape } from './shape';
export { PRIMITIVES, PRIM_NAMES, type PrimName } from './primitives';
export * as random from './random';
export { uniform, normal, permutation } from './rng-tensor';
export * as optim from './optim';
export * as schedules from './schedules';
export { emaUpdate, emaStep } from './ema';
export { saveSafetensors, loadSafetensors, saveState, loadState, readMetadata } from './checkpoint/file';
export { CheckpointError, encodeSafetensors, decodeSafetensors, decodeMetadata, encodeState, decodeState, type Metadata } from './checkpoint/codec';
