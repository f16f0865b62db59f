/**
 * Random per-sample masking, as MATPAC's `random_masking` + `random_unstructured_mask`
 * (aurianworld/matpac training_matpac/models/model.py l. 637-669, utils.py l. 78-87; from M2D/MAE).
 *
 * For each sample b, draw u_b ∈ [0,1)^N from the key, and let
 *
 *   shuffle_b = argsort(u_b)                    (ascending: small noise is kept)
 *   restore_b = argsort(shuffle_b)              (the inverse permutation)
 *   visible_b = shuffle_b[0 : N_v]              N_v = ⌊N·(1 − ratio)⌋
 *   masked_b  = shuffle_b[N_v : N]              N_m = N − N_v
 *
 * so {visible_b, masked_b} is a partition of {0..N−1}, each side in shuffle order (the order the
 * student and teacher sequences use). `mask_b[n] = 1` where token n is masked (the official binary
 * mask: 0 visible, 1 masked).
 *
 * Tokens are selected with one `gather` per index set (its VJP is `scatterAdd`, so the selected
 * rows' gradients land back at their positions). The noise is drawn on the host from the
 * Threefry key, so the masks are a pure function of (key, B, N, ratio).
 */
import * as mp from '../src/engine';
import type { Tensor } from '../src/engine';
import { uniformHost, type Key } from '../src/random';

export interface Masking {
  batch: number;
  nTokens: number;
  nVisible: number;
  nMasked: number;
  /** [B·N] row-major: the per-sample argsort of the noise. */
  shuffle: Int32Array;
  /** [B·N]: restore[b, shuffle[b, k]] = k. */
  restore: Int32Array;
  /** [B·N]: 1 where masked. */
  mask: Uint8Array;
  /** Index tensors for `gather` on axis 1 (values are token positions, stored as floats). */
  visibleIdx: Tensor; // [B, N_v]
  maskedIdx: Tensor; // [B, N_m]
}

/** Draw the masks of a batch of B sequences of N tokens from `key`. */
export function randomMasking(key: Key, batch: number, nTokens: number, ratio: number): Masking {
  const nVisible = Math.floor(nTokens * (1 - ratio));
  const nMasked = nTokens - nVisible;
  const noise = uniformHost(key, batch * nTokens);
  const shuffle = new Int32Array(batch * nTokens);
  const restore = new Int32Array(batch * nTokens);
  const mask = new Uint8Array(batch * nTokens);
  const vis = new Float32Array(batch * nVisible);
  const msk = new Float32Array(batch * nMasked);
  const order = Array.from({ length: nTokens }, (_, i) => i);
  for (let b = 0; b < batch; b++) {
    const off = b * nTokens;
    const ids = order.slice().sort((i, j) => noise[off + i] - noise[off + j] || i - j);
    for (let k = 0; k < nTokens; k++) {
      shuffle[off + k] = ids[k];
      restore[off + ids[k]] = k;
      if (k < nVisible) vis[b * nVisible + k] = ids[k];
      else {
        msk[b * nMasked + k - nVisible] = ids[k];
        mask[off + ids[k]] = 1;
      }
    }
  }
  return {
    batch,
    nTokens,
    nVisible,
    nMasked,
    shuffle,
    restore,
    mask,
    visibleIdx: mp.tensor(vis, [batch, nVisible]),
    maskedIdx: mp.tensor(msk, [batch, nMasked]),
  };
}

/** Rows of x [B, N, D] at idx [B, M] → [B, M, D] (one gather). */
export const gatherTokens = (x: Tensor, idx: Tensor): Tensor => mp.gather(x, idx, 1);
