/**
 * Worked example for docs/extending.md, "Add a backend": a float32 backend that runs every
 * primitive with the float64 reference kernels and rounds each result to float32. Not fast — it
 * shows the interface: buffers are opaque to the engine, `KernelTable` is total (a missing
 * kernel does not compile), and `registerBackend` makes it selectable by name. The conformance
 * harness (property-tests/conformance.ts, `agree`) then checks every primitive and composite
 * against ref64; test/extending-examples.test.ts runs it on this backend.
 */
import type { Backend, KernelTable } from '../../src/backend';
import { createRef64Backend } from '../../src/backends/ref64';
import { PRIM_NAMES, registerBackend } from '../../src/index';

export function createRef64RoundedBackend(): Backend {
  const ref = createRef64Backend();
  const round = (buf: unknown) => Float64Array.from(buf as Float64Array, Math.fround);
  const kernels = Object.fromEntries(
    PRIM_NAMES.map((name) => {
      const k = ref.kernels[name] as (...a: unknown[]) => unknown;
      return [name, (...args: unknown[]) => round(k(...args))];
    }),
  ) as unknown as KernelTable;
  return {
    name: 'ref64-rounded',
    precision: 'float32',
    describe: () => 'float64 reference kernels, results rounded to float32 (docs/examples/f32-backend.ts)',
    upload: (data) => Float64Array.from(data, Math.fround),
    download: (buf) => Float32Array.from(buf as Float64Array),
    dispose: () => {},
    kernels,
  };
}

/** Make it available as `withBackend('ref64-rounded', …)` / `--backend ref64-rounded`. */
export function registerExampleBackend(): void {
  registerBackend('ref64-rounded', createRef64RoundedBackend);
}
