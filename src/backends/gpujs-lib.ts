/**
 * gpu.js, loaded only when a gpujs backend is chosen (it is large, and most users of the engine
 * never need it). In Node it is `require`d synchronously on first use; in browsers (where loading
 * is asynchronous) `await loadGpujs()` — or `await useBackend('gpujs-webgl2')` — first.
 */
import type * as GpuJs from 'gpu.js';
import { nodeBuiltin } from '../../kernels/platform';

type Lib = typeof GpuJs;
let lib: Lib | null = null;

/** A CommonJS module seen through `import()` may hide its exports under `default`. */
const unwrap = (m: unknown): Lib => ((m as Lib).GPU ? (m as Lib) : (m as { default: Lib }).default);

/** Load gpu.js (any platform); resolves once it is ready. */
export async function loadGpujs(): Promise<void> {
  if (!lib) lib = unwrap(await import('gpu.js'));
}

/** gpu.js itself: required on first use in Node; elsewhere it must have been loaded with `loadGpujs()`. */
export function gpujsLib(): Lib {
  if (lib) return lib;
  const mod = nodeBuiltin<{ createRequire(from: string): (id: string) => unknown }>('node:module');
  if (!mod)
    throw new Error(
      `gpu.js is not loaded yet: call \`await loadGpujs()\` (or \`await useBackend('gpujs-webgl2')\`) before choosing a gpujs backend`,
    );
  lib = unwrap(mod.createRequire(import.meta.url)('gpu.js'));
  return lib;
}
