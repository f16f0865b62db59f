/**
 * Clip embeddings, as the official inference code (aurianworld/matpac
 * inference_matpac/matpac/model.py `forward_precise` l. 250-296, `forward_fast` l. 200-248,
 * `extract_features` l. 319-343, `forward` with pull_time_dimension l. 178-196).
 *
 * "precise" (the paper's):
 *   1. pad the log-mel X ∈ ℝ^{M×T} with zeros to T' = 16·⌈T/16⌉ frames
 *   2. cut it into chunks of `cropFrames` (608) frames; the last chunk is shorter (a multiple of 16)
 * "fast":
 *   1. pad with zeros to a whole number of chunks, n·608 frames (the padding's columns count)
 *   2. cut it into n chunks of 608 frames
 * then, both:
 *   3. each chunk: patch embedding + positions (the file's `pos_embed` cut along time, or the sin-cos
 *      table of the chunk's length) + CLS (+ pos_embed[0]) → student encoder, unmasked; every
 *      block's output is a "layer result", the last one after the final LayerNorm → drop CLS →
 *      Z ∈ ℝ^{(F·T_c)×D} per layer
 *   4. concatenate the F frequency tokens of each time step: E[t] = [Z[0·T_c + t], …, Z[(F−1)·T_c + t]]
 *      ∈ ℝ^{F·D} (einops 'b n (f t) d -> b n t (f d)')
 *   5. concatenate the chunks along time and average over time: e = (1/T_tot) Σ_t E[t] ∈ ℝ^{F·D}
 *      (3840 = 5·768 for base); the embedding is the last layer's.
 * (The official fast mode orders the unpooled time axis chunk-interleaved, '(b n) l t d -> b l (t n) d';
 * here time is always in order. Means are the same.)
 *
 * Chunks of the same length are encoded together as one batch (the result is the same: the encoder
 * works per sequence). No gradient is needed; the function is an ordinary pure function of the
 * parameters and could be differentiated all the same.
 */
import * as mp from '../src/engine';
import type { Tensor } from '../src/engine';
import type { MatpacConfig } from './config';
import type { StudentParams } from './matpac';
import { withCls } from './matpac';
import { embedPatches, patchify } from './patch';
import { sincos2d } from './positional';
import { encoder, encoderLayers } from './vit';

/**
 * The parameters the embedding needs (the student encoder part of a checkpoint), and optionally a
 * file's `pos_embed` [1, 1 + F·T_max, D] (official checkpoints store it; without it the sin-cos
 * table is computed).
 */
export type EncoderPart = Pick<StudentParams, 'patch_embed' | 'cls_token' | 'student_encoder'> & { pos_embed?: Tensor };

/** Tokens of chunks x [n, M, L] with their positions, CLS first: [n, 1 + F·T, D]. */
function chunkTokens(params: EncoderPart, x: Tensor, c: MatpacConfig): { seq: Tensor; F: number; T: number } {
  const { patches, F, T } = patchify(x, c.patchSize);
  const tok = embedPatches(params.patch_embed, patches);
  const D = tok.shape[2];
  const pe = params.pos_embed;
  if (!pe) return { seq: withCls(params.cls_token, mp.add(tok, sincos2d(D, F, T))), F, T };
  // extract_features: pos_embed[:, 1:] reshaped [F, T_max, D], cut to T columns; CLS gets pos_embed[:, :1]
  const Tmax = (pe.shape[1] - 1) / F;
  const table = mp.reshape(mp.sliceAxis(mp.reshape(mp.sliceAxis(pe, 1, 1, pe.shape[1]), [F, Tmax, D]), 1, 0, T), [
    F * T,
    D,
  ]);
  const cls = mp.add(params.cls_token, mp.sliceAxis(pe, 1, 0, 1));
  return { seq: withCls(cls, mp.add(tok, table)), F, T };
}

/** Per-time-step features of chunks x [n, M, L] (L a multiple of the patch size): [n, layers, L/p, F·D] (layers = 1 unless `allLayers`). */
export function chunkFeatures(params: EncoderPart, x: Tensor, c: MatpacConfig, allLayers = false): Tensor {
  const { seq, F, T } = chunkTokens(params, x, c);
  const [n, , D] = seq.shape;
  const outs = allLayers
    ? encoderLayers(params.student_encoder, seq, c.encoder.heads, c.lnEps)
    : [encoder(params.student_encoder, seq, c.encoder.heads, c.lnEps)];
  const per = outs.map((z) => {
    const patches = mp.reshape(mp.sliceAxis(z, 1, 1, 1 + F * T), [n, F, T, D]);
    return mp.reshape(mp.transpose(patches, [0, 2, 1, 3]), [n, 1, T, F * D]);
  });
  return per.length === 1 ? per[0] : mp.concat(per, 1);
}

/** Options of embed / embedBatch. */
export interface EmbedOptions {
  /** At most this many chunks per encoder call (bounds memory on long clips). Default 16. */
  maxChunksPerCall?: number;
  /** Return the per-time-step features (one row per patch column) instead of their mean. */
  keepTime?: boolean;
  /** Every layer's output instead of the last one's (an extra axis after the batch). */
  layers?: boolean;
  /** 'precise' (default, the paper's) or 'fast' (whole chunks, padding included). */
  mode?: 'precise' | 'fast';
}

/**
 * Embeddings of a batch x [B, M, T] → [B, F·D]; with keepTime [B, T_tot, F·D]; with layers
 * [B, depth, F·D] or [B, depth, T_tot, F·D].
 */
export function embedBatch(params: EncoderPart, x: Tensor, c: MatpacConfig, opts: EmbedOptions = {}): Tensor {
  const [B, M, T] = x.shape;
  const p = c.patchSize;
  const L = c.cropFrames;
  const unit = opts.mode === 'fast' ? L : p;
  const padded = mp.pad(x, [0, 0, 0], [0, 0, (unit - (T % unit)) % unit]);
  const Tp = padded.shape[2];
  const nFull = Math.floor(Tp / L);
  const rest = Tp - nFull * L;
  const parts: Tensor[] = [];
  const maxChunks = Math.max(1, opts.maxChunksPerCall ?? 16);
  const layers = !!opts.layers;
  if (nFull > 0) {
    // [B, M, nFull·L] → [B·nFull, M, L] (chunk-major within each clip)
    const full = mp.sliceAxis(padded, 2, 0, nFull * L);
    const chunks = mp.reshape(mp.transpose(mp.reshape(full, [B, M, nFull, L]), [0, 2, 1, 3]), [B * nFull, M, L]);
    const feats: Tensor[] = [];
    for (let i = 0; i < B * nFull; i += maxChunks)
      feats.push(chunkFeatures(params, mp.sliceAxis(chunks, 0, i, Math.min(B * nFull, i + maxChunks)), c, layers));
    const f = mp.concat(feats, 0); // [B·nFull, Λ, L/p, F·D]
    const [, nl, tc, fd] = f.shape;
    parts.push(
      mp.reshape(mp.transpose(mp.reshape(f, [B, nFull, nl, tc, fd]), [0, 2, 1, 3, 4]), [B, nl, nFull * tc, fd]),
    );
  }
  if (rest > 0) parts.push(chunkFeatures(params, mp.sliceAxis(padded, 2, nFull * L, Tp), c, layers));
  let all = parts.length === 1 ? parts[0] : mp.concat(parts, 2); // [B, Λ, T_tot, F·D]
  if (!opts.keepTime) all = mp.mean(all, 2);
  if (!layers) all = mp.reshape(all, [B, ...all.shape.slice(2)]);
  return all;
}

/** A single log-mel ({data [M, T] row-major, nMels, nFrames}, e.g. models/frontend.ts's output) → Float32Array [F·D]. */
export function embed(
  params: EncoderPart,
  logmel: { data: Float32Array; nMels: number; nFrames: number } | Tensor,
  config: MatpacConfig,
  opts: EmbedOptions = {},
): Float32Array {
  const x =
    logmel instanceof mp.Tensor
      ? logmel.rank === 2
        ? mp.expandDims(logmel, 0)
        : logmel
      : mp.tensor(logmel.data, [1, logmel.nMels, logmel.nFrames]);
  if (x.shape[0] !== 1) throw new Error(`embed: expects one clip, got a batch of ${x.shape[0]} (use embedBatch)`);
  if (x.shape[1] !== config.nMels)
    throw new Error(`embed: the log-mel has ${x.shape[1]} bands, config '${config.name}' expects ${config.nMels}`);
  return Float32Array.from(embedBatch(params, x, config, opts).toArray());
}
