/**
 * Clip embeddings, as the official "precise" inference mode (aurianworld/matpac
 * inference_matpac/matpac/model.py `forward_precise` l. 250-296, `extract_features` l. 319-343,
 * `forward` with pull_time_dimension l. 178-196):
 *
 *   1. pad the log-mel X ∈ ℝ^{M×T} with zeros to T' = 16·⌈T/16⌉ frames
 *   2. cut it into chunks of `cropFrames` (608) frames; the last chunk is shorter (a multiple of 16)
 *   3. each chunk: patch embedding + the sin-cos table of its own length + CLS → student encoder,
 *      unmasked → drop CLS → Z ∈ ℝ^{(F·T_c)×D}
 *   4. concatenate the F frequency tokens of each time step: E[t] = [Z[0·T_c + t], …, Z[(F−1)·T_c + t]]
 *      ∈ ℝ^{F·D} (einops 'b n (f t) d -> b n t (f d)')
 *   5. concatenate the chunks along time and average over time: e = (1/T_tot) Σ_t E[t] ∈ ℝ^{F·D}
 *      (3840 = 5·768 for base)
 *
 * Chunks of the same length are encoded together as one batch (the result is the same: the encoder
 * works per sequence). No gradient is needed; the function is an ordinary pure function of the
 * parameters and could be differentiated all the same.
 */
import * as mp from '../src/engine';
import type { Tensor } from '../src/engine';
import type { MatpacConfig } from './config';
import type { StudentParams } from './matpac';
import { tokens, withCls } from './matpac';
import { encoder } from './vit';

/** The parameters the embedding needs (the student encoder part of a checkpoint). */
export type EncoderPart = Pick<StudentParams, 'patch_embed' | 'cls_token' | 'student_encoder'>;

/** Per-time-step features of chunks x [n, M, L] (L a multiple of the patch size): [n, L/p, F·D]. */
export function chunkFeatures(params: EncoderPart, x: Tensor, c: MatpacConfig): Tensor {
  const { x: tok, F, T } = tokens(params, x, c);
  const [n, N, D] = tok.shape;
  const z = encoder(params.student_encoder, withCls(params.cls_token, tok), c.encoder.heads, c.lnEps);
  const patches = mp.reshape(mp.sliceAxis(z, 1, 1, 1 + N), [n, F, T, D]);
  return mp.reshape(mp.transpose(patches, [0, 2, 1, 3]), [n, T, F * D]);
}

/** Options of embed / embedBatch. */
export interface EmbedOptions {
  /** At most this many chunks per encoder call (bounds memory on long clips). Default 16. */
  maxChunksPerCall?: number;
  /** Return the per-time-step features [B, T_tot, F·D] instead of their mean. */
  keepTime?: boolean;
}

/** Embeddings of a batch x [B, M, T] → [B, F·D] (or [B, T_tot, F·D] with keepTime). */
export function embedBatch(params: EncoderPart, x: Tensor, c: MatpacConfig, opts: EmbedOptions = {}): Tensor {
  const [B, M, T] = x.shape;
  const p = c.patchSize;
  const L = c.cropFrames;
  const padded = mp.pad(x, [0, 0, 0], [0, 0, (p - (T % p)) % p]);
  const Tp = padded.shape[2];
  const nFull = Math.floor(Tp / L);
  const rest = Tp - nFull * L;
  const parts: Tensor[] = [];
  const maxChunks = Math.max(1, opts.maxChunksPerCall ?? 16);
  if (nFull > 0) {
    // [B, M, nFull·L] → [B·nFull, M, L] (chunk-major within each clip)
    const full = mp.sliceAxis(padded, 2, 0, nFull * L);
    const chunks = mp.reshape(mp.transpose(mp.reshape(full, [B, M, nFull, L]), [0, 2, 1, 3]), [B * nFull, M, L]);
    const feats: Tensor[] = [];
    for (let i = 0; i < B * nFull; i += maxChunks) feats.push(chunkFeatures(params, mp.sliceAxis(chunks, 0, i, Math.min(B * nFull, i + maxChunks)), c));
    const f = mp.concat(feats, 0); // [B·nFull, L/p, F·D]
    parts.push(mp.reshape(f, [B, nFull * (L / p), f.shape[2]]));
  }
  if (rest > 0) parts.push(chunkFeatures(params, mp.sliceAxis(padded, 2, nFull * L, Tp), c));
  const all = mp.concat(parts, 1); // [B, T_tot, F·D]
  return opts.keepTime ? all : mp.mean(all, 1);
}

/** A single log-mel ({data [M, T] row-major, nMels, nFrames}, e.g. models/frontend.ts's output) → Float32Array [F·D]. */
export function embed(
  params: EncoderPart,
  logmel: { data: Float32Array; nMels: number; nFrames: number } | Tensor,
  config: MatpacConfig,
  opts: EmbedOptions = {},
): Float32Array {
  const x = logmel instanceof mp.Tensor ? (logmel.rank === 2 ? mp.expandDims(logmel, 0) : logmel) : mp.tensor(logmel.data, [1, logmel.nMels, logmel.nFrames]);
  if (x.shape[0] !== 1) throw new Error(`embed: expects one clip, got a batch of ${x.shape[0]} (use embedBatch)`);
  if (x.shape[1] !== config.nMels) throw new Error(`embed: the log-mel has ${x.shape[1]} bands, config '${config.name}' expects ${config.nMels}`);
  return Float32Array.from(embedBatch(params, x, config, opts).toArray());
}
