/**
 * The built-in backends, registered by name when the engine is imported, and `useBackend`, the
 * asynchronous way to choose one that works on every platform (it loads gpu.js first when a
 * gpujs backend is chosen: gpu.js is only loaded when one is).
 */
import type { Backend } from '../backend';
import { registerBackend, setBackend } from '../core';
import { registerGpujsBackends } from './gpujs';
import { loadGpujs } from './gpujs-lib';
import { createNativeBackend } from './native';
import { createRef64Backend } from './ref64';

registerBackend('native', createNativeBackend);
registerBackend('ref64', createRef64Backend);
registerGpujsBackends();

/**
 * Make `name` the default backend, loading what it needs first (gpu.js for `gpujs*`). In Node
 * `setBackend(name)` does the same synchronously; in browsers choose a gpujs backend with this.
 */
export async function useBackend(name: string): Promise<Backend> {
  if (name.startsWith('gpujs')) await loadGpujs();
  return setBackend(name);
}
