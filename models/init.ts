/**
 * Initialisation, as the official code (aurianworld/matpac training_matpac/models/model.py
 * `initialize_weights` l. 788-819, `make_ema_teacher` l. 679-699, `make_cls_heads` l. 341-373,
 * cls_head.py `Cls_Head.__init__` l. 40-63):
 *
 *   Linear W ∈ ℝ^{out×in}:  U(−a, a), a = √(6/(in + out))      (xavier_uniform_, incl. the fused qkv
 *                                                                as one [3D, D] matrix, as MAE/M2D)
 *   Linear bias:            0
 *   LayerNorm:              γ = 1, β = 0
 *   patch projection:       xavier_uniform_ on its [D, p²] view (l. 800-802); its bias keeps
 *                           PyTorch's Conv2d default U(−1/√p², 1/√p²) = U(−1/16, 1/16), since
 *                           `_init_weights` only touches Linear and LayerNorm modules
 *   cls_token, mask_token:  N(0, 0.02²)  (trunc_normal_ with cut-off ±2, i.e. never cut)
 *   teacher encoder:        its own random init (the same rules, independent draws), not a copy
 *
 * Head quirk (kept, as the official code does it): the student head is built with DINO's init
 * (MLP weights N(0, 0.02²) truncated at ±2, biases 0; last layer V from nn.Linear's default
 * U(−1/√bottleneck, 1/√bottleneck); g = 1), the teacher head is a copy of it, and then
 * `initialize_weights` re-initialises every nn.Linear of the student model — which reaches the
 * student head's MLP (now Xavier, biases 0) but not the teacher head (an EMAModule is not a
 * submodule), and not the last layer's g and V (weight_norm's `weight` is recomputed from them).
 * So teacher and student heads share V and g, but their MLPs start different.
 *
 * Randomness: one key per leaf, `foldIn(key, i)` over a fixed enumeration, so the whole init is a
 * pure function of (config, key).
 */
import * as mp from '../src/engine';
import type { Tensor } from '../src/engine';
import { foldIn, normalHost, uniformHost, type Key } from '../src/random';
import type { MatpacConfig, TransformerConfig } from './config';
import { mlpKey, type HeadParams } from './heads';
import type { PatchEmbedParams } from './patch';
import type { PredictorParams } from './predictor';
import type { MclHeadsParams } from './mcl';
import type { BlockParams, EncoderParams, LayerNormParams, LinearParams } from './vit';

/** A deterministic stream of keys derived from one key (pure: a new stream per call). */
function keyStream(key: Key): () => Key {
  let i = 0;
  return () => foldIn(key, i++);
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

export function uniformInit(key: Key, shape: number[], bound: number): Tensor {
  const u = uniformHost(key, size(shape));
  const out = new Float32Array(u.length);
  for (let i = 0; i < u.length; i++) out[i] = (2 * u[i] - 1) * bound;
  return mp.tensor(out, shape);
}

/**
 * N(0, std²). timm's trunc_normal_(std=0.02) cuts at ±2 in absolute value, i.e. at 100 σ: never
 * reached, so the plain normal is the same distribution (the official comment says as much,
 * model.py l. 804).
 */
export function normalInit(key: Key, shape: number[], std: number): Tensor {
  const z = normalHost(key, size(shape));
  const out = new Float32Array(z.length);
  for (let i = 0; i < z.length; i++) out[i] = z[i] * std;
  return mp.tensor(out, shape);
}

export const xavierUniform = (key: Key, out: number, inF: number): Tensor =>
  uniformInit(key, [out, inF], Math.sqrt(6 / (inF + out)));

const zeros = (n: number) => mp.zeros([n]);
const linearInit = (next: () => Key, out: number, inF: number): LinearParams => ({
  weight: xavierUniform(next(), out, inF),
  bias: zeros(out),
});
const layerNormInit = (d: number): LayerNormParams => ({ weight: mp.ones([d]), bias: zeros(d) });

export function blockInit(next: () => Key, t: TransformerConfig): BlockParams {
  const D = t.dim;
  const Hd = t.dim * t.mlpRatio;
  return {
    norm1: layerNormInit(D),
    attn: { qkv: linearInit(next, 3 * D, D), proj: linearInit(next, D, D) },
    norm2: layerNormInit(D),
    mlp: { fc1: linearInit(next, Hd, D), fc2: linearInit(next, D, Hd) },
  };
}

export function encoderInit(key: Key, t: TransformerConfig): EncoderParams {
  const next = keyStream(key);
  return { blocks: Array.from({ length: t.depth }, () => blockInit(next, t)), norm: layerNormInit(t.dim) };
}

export function patchEmbedInit(key: Key, c: MatpacConfig): PatchEmbedParams {
  const [k1, k2] = [foldIn(key, 0), foldIn(key, 1)];
  const P = c.patchSize * c.patchSize;
  const D = c.encoder.dim;
  const w = xavierUniform(k1, D, P);
  return {
    proj: { weight: mp.reshape(w, [D, 1, c.patchSize, c.patchSize]), bias: uniformInit(k2, [D], 1 / Math.sqrt(P)) },
  };
}

export function predictorInit(key: Key, c: MatpacConfig): PredictorParams {
  const next = keyStream(key);
  const D = c.encoder.dim;
  const Dp = c.predictor.dim;
  return {
    decoder_embed: linearInit(next, Dp, D),
    mask_token: normalInit(next(), [1, 1, Dp], 0.02),
    decoder_blocks: Array.from({ length: c.predictor.depth }, () => blockInit(next, c.predictor)),
    decoder_norm: layerNormInit(Dp),
    // MATPAC++ (mcl.heads > 0) replaces the output projection by the MCL heads (mclHeadsInit)
    ...(c.mcl.heads > 0 ? {} : { decoder_pred: linearInit(next, D, Dp) }),
  };
}

/** MATPAC++'s n prediction heads D_p → D: Xavier-uniform weights, zero biases (the official `_init_weights` on every nn.Linear). */
export function mclHeadsInit(key: Key, c: MatpacConfig): MclHeadsParams {
  const next = keyStream(key);
  return { mcl_heads: Array.from({ length: c.mcl.heads }, () => linearInit(next, c.encoder.dim, c.predictor.dim)) };
}

/** Widths of the head's linear layers: D → h → … → h → bottleneck. */
function headDims(c: MatpacConfig): [number, number][] {
  const { hiddenDim: h, bottleneckDim: bn, layers } = c.head;
  if (layers === 1) return [[c.encoder.dim, bn]];
  return Array.from(
    { length: layers },
    (_, i) => [i === 0 ? c.encoder.dim : h, i === layers - 1 ? bn : h] as [number, number],
  );
}

/** Student and teacher heads with the official quirk (see the top of this file). */
export function headsInit(key: Key, c: MatpacConfig): { student: HeadParams; teacher: HeadParams } {
  const next = keyStream(key);
  const dims = headDims(c);
  const K = c.head.numClasses;
  const bn = c.head.bottleneckDim;
  const lastLayer = { weight_g: mp.ones([K, 1]), weight_v: uniformInit(next(), [K, bn], 1 / Math.sqrt(bn)) };
  const dinoMlp: Record<string, LinearParams> = {};
  const xavierMlp: Record<string, LinearParams> = {};
  dims.forEach(([inF, out], i) => {
    dinoMlp[mlpKey(i)] = { weight: normalInit(next(), [out, inF], 0.02), bias: zeros(out) };
  });
  dims.forEach(([inF, out], i) => {
    xavierMlp[mlpKey(i)] = linearInit(next, out, inF);
  });
  return { teacher: { mlp: dinoMlp, last_layer: lastLayer }, student: { mlp: xavierMlp, last_layer: lastLayer } };
}
