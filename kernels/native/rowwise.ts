/**
 * Native CPU kernels for the fused row-wise primitives over the last axis (softmax, LayerNorm's
 * normalisation with or without its affine part, and its VJP), float32 storage with float64 accumulation, one pass per row.
 */
import { allocF32 } from './alloc';

export function softmaxRows(x: Float32Array, d: number): Float32Array {
  const out = allocF32(x.length);
  const e = new Float64Array(d);
  for (let o = 0; o < x.length; o += d) {
    let m = -Infinity;
    for (let i = 0; i < d; i++) if (x[o + i] > m) m = x[o + i];
    let z = 0;
    for (let i = 0; i < d; i++) z += e[i] = Math.exp(x[o + i] - m);
    const inv = 1 / z;
    for (let i = 0; i < d; i++) out[o + i] = e[i] * inv;
  }
  return out;
}

function meanAndScale(x: Float32Array, o: number, d: number, eps: number): [number, number] {
  let mu = 0;
  for (let i = 0; i < d; i++) mu += x[o + i];
  mu /= d;
  let v = 0;
  for (let i = 0; i < d; i++) {
    const c = x[o + i] - mu;
    v += c * c;
  }
  return [mu, 1 / Math.sqrt(v / d + eps)];
}

/** x̂·γ + β per row (γ, β: d floats each), or the bare x̂ without them. */
export function layerNormalizeRows(
  x: Float32Array,
  d: number,
  eps: number,
  affine?: { gamma: Float32Array; beta: Float32Array },
): Float32Array {
  const out = allocF32(x.length);
  for (let o = 0; o < x.length; o += d) {
    const [mu, s] = meanAndScale(x, o, d, eps);
    if (affine) for (let i = 0; i < d; i++) out[o + i] = (x[o + i] - mu) * s * affine.gamma[i] + affine.beta[i];
    else for (let i = 0; i < d; i++) out[o + i] = (x[o + i] - mu) * s;
  }
  return out;
}

/** s·(g − mean(g) − x̂·mean(g⊙x̂)) per row. */
export function layerNormalizeVjpRows(x: Float32Array, g: Float32Array, d: number, eps: number): Float32Array {
  const out = allocF32(x.length);
  for (let o = 0; o < x.length; o += d) {
    const [mu, s] = meanAndScale(x, o, d, eps);
    let mg = 0;
    let mgx = 0;
    for (let i = 0; i < d; i++) {
      mg += g[o + i];
      mgx += g[o + i] * (x[o + i] - mu) * s;
    }
    mg /= d;
    mgx /= d;
    for (let i = 0; i < d; i++) out[o + i] = s * (g[o + i] - mg - (x[o + i] - mu) * s * mgx);
  }
  return out;
}
