/** A helper of the row-kernel tests (test/native-rows.test.ts, test/native-threads.test.ts). */
import { rowsWasm } from '../kernels/native/rows';

/**
 * Every SIMD row kernel over rows of d floats of x (g: the VJP's incoming gradient; γ, β: the
 * affine layer norm's), in a fixed order; softmax only where `softmax` is true.
 */
export function everyRowKernel(
  x: Float32Array,
  g: Float32Array,
  d: number,
  affine: { gamma: Float32Array; beta: Float32Array },
  softmax = true,
): Float32Array[] {
  return [
    ...(softmax ? [rowsWasm.softmax(x, d)!] : []),
    rowsWasm.layerNormalize(x, d, 1e-6)!,
    rowsWasm.layerNormalize(x, d, 1e-5, affine)!,
    rowsWasm.layerNormalizeVjp(x, g, d, 1e-6)!,
    rowsWasm.elementwise('exp', x)!,
    rowsWasm.elementwise('gelu', x)!,
    rowsWasm.elementwise('geluGrad', x)!,
  ];
}
