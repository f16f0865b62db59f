/**
 * Fixed 2-D sin-cos positional table (MAE style), as MATPAC's `get_2d_sincos_pos_embed`
 * (aurianworld/matpac training_matpac/models/utils.py l. 90-140, identical in
 * inference_matpac/matpac/utils.py l. 39-89; from M2D/MAE).
 *
 * For a token at frequency row f ∈ [0, F) and time column t ∈ [0, T) (token index n = f·T + t) and a
 * width D (multiple of 4), with Q = D/4 and ω_i = 10000^(−i/Q), i = 0..Q−1:
 *
 *   P[n, i]        = sin(t·ω_i)      P[n, Q + i]   = cos(t·ω_i)        (first half: time)
 *   P[n, 2Q + i]   = sin(f·ω_i)      P[n, 3Q + i]  = cos(f·ω_i)        (second half: frequency)
 *
 * The official code builds `np.meshgrid(grid_w, grid_h)`, so its "grid[0]" (encoded first) is the
 * time (width) coordinate although the variable is called emb_h (utils.py l. 99, 113-116).
 * The CLS token gets an all-zero row (cls_token=True, l. 104-105). A shorter input uses the table
 * cut along time (model.py l. 389-396), which is the same as the table of the shorter grid —
 * positions are just the indices — so `sincos2d(D, F, T)` is computed for the actual T.
 *
 * The table is a constant: no gradient flows into it.
 */
import * as mp from '../src/engine';
import type { Tensor } from '../src/engine';

/** The [F·T, D] table as float64 host values (frequency-major rows). */
export function sincos2dHost(dim: number, F: number, T: number): Float64Array {
  if (dim % 4 !== 0) throw new Error(`sincos2d: width ${dim} is not a multiple of 4`);
  const Q = dim / 4;
  const out = new Float64Array(F * T * dim);
  const omega = Float64Array.from({ length: Q }, (_, i) => 1 / 10000 ** (i / Q));
  for (let f = 0; f < F; f++)
    for (let t = 0; t < T; t++) {
      const row = (f * T + t) * dim;
      for (let i = 0; i < Q; i++) {
        out[row + i] = Math.sin(t * omega[i]);
        out[row + Q + i] = Math.cos(t * omega[i]);
        out[row + 2 * Q + i] = Math.sin(f * omega[i]);
        out[row + 3 * Q + i] = Math.cos(f * omega[i]);
      }
    }
  return out;
}

/** The table as a constant tensor [F·T, D] on the current backend. */
export function sincos2d(dim: number, F: number, T: number): Tensor {
  return mp.tensor(sincos2dHost(dim, F, T), [F * T, dim]);
}

/** The table with the zero CLS row first: [1 + F·T, D] (the official `pos_embed[0]`). */
export function sincos2dWithCls(dim: number, F: number, T: number): Tensor {
  const host = new Float64Array((1 + F * T) * dim);
  host.set(sincos2dHost(dim, F, T), dim);
  return mp.tensor(host, [1 + F * T, dim]);
}

/** The official `pos_embed` parameter: [1, 1 + F·T, D]. */
export const posEmbedWithCls = (dim: number, F: number, T: number): Tensor =>
  mp.reshape(sincos2dWithCls(dim, F, T), [1, 1 + F * T, dim]);
