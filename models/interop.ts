/**
 * Checkpoint interoperability with the official PyTorch code (aurianworld/matpac):
 * the inference model `matpac_wrapper` (inference_matpac/matpac/model.py l. 35-68, loaded by
 * `get_matpac` with `model.load_state_dict(checkpoint, strict=False)`) and the trainer's model
 * (training_matpac/models/model.py l. 95-140, its `state_dict` l. 702-710).
 *
 * Names and layouts of the inference state dict (the student encoder):
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
 * The training state dict adds (model.py `__init__`, decoder.py, cls_head.py, `state_dict`):
 *
 *   decoder.{decoder_embed, mask_token, decoder_pos_embed [1, 1 + F·T, D_p], decoder_blocks.N, decoder_norm, decoder_pred}
 *   mcl_heads.mcl_heads.N.{weight, bias}          MATPAC++ only (mcl.py), in place of decoder.decoder_pred
 *   cls_student_head.{mlp.0, mlp.2, mlp.4, last_layer.weight_g [K, 1], last_layer.weight_v [K, b]}
 *   cls_head_loss.center                         [1, 1, K]   the centre c
 *   _ema                                         {blocks.N.*, norm.*}  the teacher encoder (EMA fp32 params)
 *   _cls_head_ema                                {mlp.*, last_layer.*}  the teacher head
 *
 * PyTorch Linear weights are [out, in], which is the engine's `linear` layout, and the parameter
 * tree of models/matpac.ts uses these very names, so export and import are renamings-free: the
 * tree's paths (src/tree.ts) are the state-dict keys. `pos_embed` must be exported: the official
 * models create it as zeros and rely on the checkpoint (inference never computes the table), and
 * `strict=False` would silently keep the zeros if it were missing.
 *
 * The architecture of a file is read off its tensors: D and p from `patch_embed.proj.weight`, the
 * depth from the block indices, the MLP ratio from `mlp.fc1`, the patch grid (F·T) from `pos_embed`
 * with F = 80/p mel bands (the official n_freq). Only the number of heads is not in the tensors:
 * it comes from the caller (`--heads`), the file's own config, or the preset of that width.
 */
import * as mp from '../src/engine';
import type { Tensor } from '../src/engine';
import { toNamed } from '../src/tree';
import { gridOf, PRESETS, type MatpacConfig } from './config';
import type { EncoderPart } from './embed';
import type { TrainState } from './matpac';
import { posEmbedWithCls, sincos2dHost } from './positional';
import type { BlockParams } from './vit';

/** Problems with a file's tensors, one line each (the CLI prints them one per line). */
export class InteropError extends Error {
  override readonly name = 'InteropError';
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

/** Official-name tensors of the student encoder (what the inference model loads). */
export function exportStudentEncoder(params: EncoderPart, config: MatpacConfig): Record<string, Tensor> {
  const { F, T } = gridOf(config);
  const D = config.encoder.dim;
  return {
    ...toNamed({
      patch_embed: params.patch_embed,
      cls_token: params.cls_token,
      student_encoder: params.student_encoder,
    }),
    pos_embed: params.pos_embed ?? posEmbedWithCls(D, F, T),
  };
}

/** Keys of the training state dict that hold a nested dict in the official `.pt` (model.py `state_dict`). */
export const NESTED_TRAINING_KEYS = ['_ema', '_cls_head_ema'] as const;

/**
 * The whole training state under the official trainer's names: the student (encoder, predictor,
 * head), both positional tables, the centre, and the EMA teacher encoder and head under `_ema.` /
 * `_cls_head_ema.` (nested dicts in a `.pt`). Optimizer moments are not part of the model's state
 * dict (fairseq keeps them in `last_optimizer_state`) and are not exported.
 */
export function exportTrainingState(
  state: Pick<TrainState, 'student' | 'teacher' | 'centre'>,
  config: MatpacConfig,
): Record<string, Tensor> {
  const { F, T } = gridOf(config);
  const K = config.head.numClasses;
  return {
    ...exportStudentEncoder(state.student, config),
    ...toNamed({ decoder: state.student.decoder, cls_student_head: state.student.cls_student_head }),
    ...(state.student.mcl_heads ? toNamed({ mcl_heads: state.student.mcl_heads }) : {}), // MATPAC++: mcl_heads.mcl_heads.N.*
    'decoder.decoder_pos_embed': posEmbedWithCls(config.predictor.dim, F, T),
    'cls_head_loss.center': mp.reshape(state.centre, [1, 1, K]),
    ...toNamed({ _ema: state.teacher.encoder, _cls_head_ema: state.teacher.head }),
  };
}

// ---------------------------------------------------------------------------------------------
// reading

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

/** The keys the encoder reads, for a given depth. */
export function encoderKeys(depth: number): string[] {
  const keys = [
    'patch_embed.proj.weight',
    'patch_embed.proj.bias',
    'cls_token',
    'pos_embed',
    'student_encoder.norm.weight',
    'student_encoder.norm.bias',
  ];
  for (let n = 0; n < depth; n++) for (const [leaf] of BLOCK_LEAVES) keys.push(`student_encoder.blocks.${n}.${leaf}`);
  return keys;
}

export interface InferOptions {
  /** Attention heads (not stored in the tensors). */
  heads?: number;
  /** Mel bands of the input (the official models: 80). */
  nMels?: number;
  /** Name for the config (e.g. the file's). */
  name?: string;
}

/** The heads a width gets when nothing says otherwise: the preset of that width (base 768 → 12). */
export function defaultHeads(dim: number): number | undefined {
  return Object.values(PRESETS).find((p) => p.encoder.dim === dim)?.encoder.heads;
}

/**
 * The encoder architecture of official-name tensors (only their shapes are read), as a config:
 * `base` with the encoder, patch size and crop length of the file. Every problem is reported.
 */
export function inferEncoderConfig(shapes: Record<string, readonly number[]>, opts: InferOptions = {}): MatpacConfig {
  const problems: string[] = [];
  const nMels = opts.nMels ?? 80;
  const w = shapes['patch_embed.proj.weight'];
  if (!w)
    throw new InteropError([
      `patch_embed.proj.weight: missing (not a MATPAC/M2D encoder state dict; it has ${Object.keys(shapes).length} tensors${Object.keys(shapes).length ? `, e.g. ${Object.keys(shapes).slice(0, 3).join(', ')}` : ''})`,
    ]);
  if (w.length !== 4 || w[1] !== 1 || w[2] !== w[3])
    throw new InteropError([`patch_embed.proj.weight: shape [${w}], expected [D, 1, p, p]`]);
  const [D, , p] = w;
  const blockIdx = new Set<number>();
  for (const k of Object.keys(shapes)) {
    const m = /^student_encoder\.blocks\.(\d+)\./.exec(k);
    if (m) blockIdx.add(Number(m[1]));
  }
  const depth = blockIdx.size ? Math.max(...blockIdx) + 1 : 0;
  if (depth === 0) problems.push('student_encoder.blocks.*: missing (the file has no encoder blocks)');
  const fc1 = shapes['student_encoder.blocks.0.mlp.fc1.weight'];
  const mlpRatio = fc1 && fc1.length === 2 ? fc1[0] / D : 4;
  if (!Number.isInteger(mlpRatio) || mlpRatio < 1)
    problems.push(`student_encoder.blocks.0.mlp.fc1.weight: shape [${fc1}] is not [r·${D}, ${D}]`);
  const F = nMels / p;
  const pos = shapes.pos_embed;
  let T = 0;
  if (!Number.isInteger(F))
    problems.push(`patch_embed.proj.weight: patch size ${p} does not divide ${nMels} mel bands`);
  else if (!pos)
    problems.push(
      'pos_embed: missing (the official model keeps its positions in the file; without them it would run with zeros)',
    );
  else if (pos.length !== 3 || pos[0] !== 1 || pos[2] !== D || (pos[1] - 1) % F !== 0 || pos[1] < 1 + F)
    problems.push(`pos_embed: shape [${pos}] is not [1, 1 + ${F}·T, ${D}]`);
  else T = (pos[1] - 1) / F;
  const heads = opts.heads ?? defaultHeads(D);
  if (heads === undefined)
    problems.push(`the number of attention heads is not stored in the file and no preset has width ${D}: give --heads`);
  else if (D % heads !== 0) problems.push(`heads: width ${D} is not divisible by ${heads} heads`);
  if (problems.length) throw new InteropError(problems);
  const base = structuredClone(PRESETS.base);
  return {
    ...base,
    name: opts.name ?? `official ${D}×${depth}`,
    nMels,
    patchSize: p,
    cropFrames: T * p,
    encoder: { dim: D, depth, heads: heads!, mlpRatio },
  };
}

/**
 * The encoder part of the parameters from official-name tensors (an official `.pt` read with
 * src/interop/torch-load.ts, or a `.safetensors`), including the file's `pos_embed`, which is
 * checked against the 2-D sin-cos table (within 1e-4, or 1e-2 for half-precision files). Every
 * missing or mis-shaped tensor is reported (`InteropError`, one line each); other keys (teacher,
 * predictor, heads, probes) are not read — `unusedKeys` lists them.
 */
export function importStudentEncoder(
  named: Record<string, Tensor>,
  config: MatpacConfig,
  tolerance = 1e-4,
): EncoderPart & { pos_embed: Tensor } {
  const D = config.encoder.dim;
  const H = D * config.encoder.mlpRatio;
  const p = config.patchSize;
  const { F, T } = gridOf(config);
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
    const g = (leaf: string) =>
      take(`student_encoder.blocks.${n}.${leaf}`, BLOCK_LEAVES.find(([l]) => l === leaf)![1](D, H));
    return {
      norm1: { weight: g('norm1.weight'), bias: g('norm1.bias') },
      attn: {
        qkv: { weight: g('attn.qkv.weight'), bias: g('attn.qkv.bias') },
        proj: { weight: g('attn.proj.weight'), bias: g('attn.proj.bias') },
      },
      norm2: { weight: g('norm2.weight'), bias: g('norm2.bias') },
      mlp: {
        fc1: { weight: g('mlp.fc1.weight'), bias: g('mlp.fc1.bias') },
        fc2: { weight: g('mlp.fc2.weight'), bias: g('mlp.fc2.bias') },
      },
    };
  });
  const patch_embed = {
    proj: { weight: take('patch_embed.proj.weight', [D, 1, p, p]), bias: take('patch_embed.proj.bias', [D]) },
  };
  const cls_token = take('cls_token', [1, 1, D]);
  const norm = { weight: take('student_encoder.norm.weight', [D]), bias: take('student_encoder.norm.bias', [D]) };
  const pos = take('pos_embed', [1, 1 + F * T, D]);
  if (named.pos_embed && pos === named.pos_embed) {
    const want = sincos2dHost(D, F, T);
    const got = pos.toArray();
    let worst = 0;
    for (let i = 0; i < D; i++) worst = Math.max(worst, Math.abs(got[i]));
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[D + i] - want[i]));
    if (!(worst <= tolerance))
      problems.push(
        `pos_embed: differs from the 2-D sin-cos table by ${worst.toExponential(2)} (not a MATPAC/M2D table, or positions in another order)`,
      );
  }
  const out = { patch_embed, cls_token, student_encoder: { blocks, norm }, pos_embed: pos };
  if (problems.length) throw new InteropError(problems);
  return out;
}

/** Keys the encoder does not read, summarised by their first name component: "_ema.* (148), decoder.* (50)". */
export function unusedKeys(keys: Iterable<string>, depth: number): { count: number; summary: string } {
  const used = new Set(encoderKeys(depth));
  const groups = new Map<string, number>();
  let count = 0;
  for (const k of keys) {
    if (used.has(k)) continue;
    count++;
    const head = k.includes('.') ? `${k.slice(0, k.indexOf('.'))}.*` : k;
    groups.set(head, (groups.get(head) ?? 0) + 1);
  }
  return { count, summary: [...groups].map(([g, n]) => (n > 1 ? `${g} (${n})` : g)).join(', ') };
}
