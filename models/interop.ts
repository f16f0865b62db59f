/**
 * Checkpoint interoperability with the official PyTorch inference model
 * (aurianworld/matpac inference_matpac/matpac/model.py `matpac_wrapper` l. 35-68, loaded with
 * `model.load_state_dict(checkpoint, strict=False)` at l. 438).
 *
 * Names and layouts of the student encoder's state dict:
 *
 *   patch_embed.proj.weight                      [D, 1, p, p]   Conv2d weight
 *   patch_embed.proj.bias                        [D]
 *   cls_token                                    [1, 1, D]
 *   pos_embed                                    [1, 1 + F·T, D]  fixed sin-cos table, zero CLS row
 *   student_encoder.blocks.N.norm1.{weight,bias}               [D]
 *   student_encoder.blocks.N.attn.qkv.{weight,bias}            [3D, D], [3D]
 *   student_encoder.blocks.N.attn.proj.{weight,bias}           [D, D], [D]
 *   student_encoder.blocks.N.norm2.{weight,bias}               [D]
 *   student_encoder.blocks.N.mlp.fc1.{weight,bias}             [r·D, D], [r·D]
 *   student_encoder.blocks.N.mlp.fc2.{weight,bias}             [D, r·D], [D]
 *   student_encoder.norm.{weight,bias}                         [D]
 *
 * PyTorch Linear weights are [out, in], which is the engine's `linear` layout, and the parameter
 * tree of models/matpac.ts uses these very names, so export and import are renamings-free: the
 * tree's paths (src/tree.ts) are the state-dict keys. `pos_embed` must be exported: the inference
 * model creates it as zeros and relies on the checkpoint (it never computes the table), and
 * `strict=False` would silently keep the zeros if it were missing.
 */
import * as mp from '../src/engine';
import type { Tensor } from '../src/engine';
import { toNamed } from '../src/tree';
import { gridOf, type MatpacConfig } from './config';
import type { EncoderPart } from './embed';
import { posEmbedWithCls, sincos2dHost } from './positional';
import type { BlockParams } from './vit';

/** Official-name tensors of the student encoder (what the inference model loads). */
export function exportStudentEncoder(params: EncoderPart, config: MatpacConfig): Record<string, Tensor> {
  const { F, T } = gridOf(config);
  const D = config.encoder.dim;
  return {
    ...toNamed({ patch_embed: params.patch_embed, cls_token: params.cls_token, student_encoder: params.student_encoder }),
    pos_embed: posEmbedWithCls(D, F, T),
  };
}

const BLOCK_LEAVES: [string, (D: number, H: number) => number[]][] = [
  ['norm1.weight', (D) => [D]],
  ['norm1.bias', (D) => [D]],
  ['attn.qkv.weight', (D) => [3 * D, D]],
  ['attn.qkv.bias', (D) => [3 * D]],
  ['attn.proj.weight', (D) => [D, D]],
  ['attn.proj.bias', (D) => [D]],
  ['norm2.weight', (D) => [D]],
  ['norm2.bias', (D) => [D]],
  ['mlp.fc1.weight', (D, H) => [H, D]],
  ['mlp.fc1.bias', (_D, H) => [H]],
  ['mlp.fc2.weight', (D, H) => [D, H]],
  ['mlp.fc2.bias', (D) => [D]],
];

/**
 * The encoder part of the parameters from official-name tensors (e.g. an official checkpoint
 * converted to safetensors and read with src/checkpoint/). Other keys (decoder, heads, teacher)
 * are ignored. Every missing or mis-shaped tensor is reported, one per line; a `pos_embed`, if
 * present, must agree with the sin-cos table (it is not a parameter here: we recompute it).
 */
export function importStudentEncoder(named: Record<string, Tensor>, config: MatpacConfig): EncoderPart {
  const D = config.encoder.dim;
  const H = D * config.encoder.mlpRatio;
  const p = config.patchSize;
  const problems: string[] = [];
  const take = (name: string, shape: number[]): Tensor => {
    const t = named[name];
    if (!t) {
      problems.push(`${name}: missing`);
      return mp.zeros(shape);
    }
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      problems.push(`${name}: shape [${t.shape}], expected [${shape}] for config '${config.name}'`);
      return mp.zeros(shape);
    }
    return t;
  };
  const depth = config.encoder.depth;
  const extraBlock = Object.keys(named).find((k) => k.startsWith(`student_encoder.blocks.${depth}.`));
  if (extraBlock) problems.push(`${extraBlock}: the checkpoint has more than encoder.depth = ${depth} blocks`);
  const blocks: BlockParams[] = Array.from({ length: depth }, (_, n) => {
    const g = (leaf: string) => take(`student_encoder.blocks.${n}.${leaf}`, BLOCK_LEAVES.find(([l]) => l === leaf)![1](D, H));
    return {
      norm1: { weight: g('norm1.weight'), bias: g('norm1.bias') },
      attn: { qkv: { weight: g('attn.qkv.weight'), bias: g('attn.qkv.bias') }, proj: { weight: g('attn.proj.weight'), bias: g('attn.proj.bias') } },
      norm2: { weight: g('norm2.weight'), bias: g('norm2.bias') },
      mlp: { fc1: { weight: g('mlp.fc1.weight'), bias: g('mlp.fc1.bias') }, fc2: { weight: g('mlp.fc2.weight'), bias: g('mlp.fc2.bias') } },
    };
  });
  const out: EncoderPart = {
    patch_embed: { proj: { weight: take('patch_embed.proj.weight', [D, 1, p, p]), bias: take('patch_embed.proj.bias', [D]) } },
    cls_token: take('cls_token', [1, 1, D]),
    student_encoder: { blocks, norm: { weight: take('student_encoder.norm.weight', [D]), bias: take('student_encoder.norm.bias', [D]) } },
  };
  const pos = named.pos_embed;
  if (pos) {
    const F = gridOf(config).F;
    const rows = pos.shape[1] - 1;
    if (pos.rank !== 3 || pos.shape[0] !== 1 || pos.shape[2] !== D || rows % F !== 0) problems.push(`pos_embed: shape [${pos.shape}] is not [1, 1 + ${F}·T, ${D}]`);
    else {
      const want = sincos2dHost(D, F, rows / F);
      const got = pos.toArray();
      let worst = Math.max(...Array.from(got.subarray(0, D), Math.abs));
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[D + i] - want[i]));
      if (worst > 1e-4) problems.push(`pos_embed: differs from the 2-D sin-cos table by ${worst.toExponential(2)} (not a MATPAC/M2D table?)`);
    }
  }
  if (problems.length) throw new Error(`importStudentEncoder: ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
  return out;
}
