/**
 * `matpac export --checkpoint RUN.safetensors --out encoder.safetensors|encoder.pt [--full]`:
 * a checkpoint under the official PyTorch names (models/interop.ts), with its config.
 *
 *   default  the inference state dict that `matpac_wrapper` loads (patch_embed, cls_token,
 *            pos_embed, student_encoder.*) — from a `matpac train` checkpoint, or re-written from an
 *            official file (a .pt → .safetensors conversion, or back)
 *   --full   the whole training state of a `matpac train` checkpoint under the official trainer's
 *            names (student, predictor, heads, centre, `_ema` / `_cls_head_ema` teacher)
 *
 * The config travels as JSON: in the safetensors `__metadata__` (key `config`), or in a `.pt` as the
 * extra record `<archive>/matpac_ts/config.json` (torch.load ignores it). Values are written as
 * float32, bit for bit: importing the export gives back the same tensors.
 */
import { exportStudentEncoder, exportTrainingState, NESTED_TRAINING_KEYS } from '../../models/interop';
import { readMetadata, saveSafetensors } from '../checkpoint/file';
import type { Tensor } from '../engine';
import { encodeTorchSave, type SaveTree } from '../interop/torch-save';
import { CliError, requireFile, say, shown } from './common';
import { checkpointConfig, loadModel, loadTrainState } from './model';
import { writeFileAtomic } from '../io/atomic-file';

export interface ExportOptions {
  checkpoint: string;
  out: string;
  full?: boolean;
  heads?: number;
}

/** Flat official names → the `.pt` tree (the trainer's `_ema` and `_cls_head_ema` are nested dicts). */
export function torchTree(named: Record<string, Tensor>): SaveTree {
  const tree: SaveTree = {};
  for (const [name, t] of Object.entries(named)) {
    const host = t.toArray();
    const leaf = { shape: [...t.shape], data: host instanceof Float32Array ? host : Float32Array.from(host) };
    const nest = NESTED_TRAINING_KEYS.find((k) => name.startsWith(`${k}.`));
    if (nest) ((tree[nest] ??= {}) as SaveTree)[name.slice(nest.length + 1)] = leaf;
    else tree[name] = leaf;
  }
  return tree;
}

export async function exportCommand(opts: ExportOptions): Promise<void> {
  requireFile(opts.checkpoint, 'checkpoint');
  const ext = /\.([^./\\]+)$/.exec(opts.out)?.[1]?.toLowerCase();
  if (ext !== 'safetensors' && ext !== 'pt' && ext !== 'pth')
    throw new CliError(`${opts.out}: unknown output format${ext ? ` '.${ext}'` : ''}; use .safetensors or .pt`);
  let trainCheckpoint = false;
  try {
    trainCheckpoint = readMetadata(opts.checkpoint).format === 'matpac-ts.tree';
  } catch {
    /* not a safetensors file: an official .pt */
  }
  let named: Record<string, Tensor>;
  let config;
  if (opts.full) {
    if (!trainCheckpoint)
      throw new CliError(
        `${opts.checkpoint}: --full exports a training checkpoint of matpac train (this file holds no training state)`,
      );
    config = checkpointConfig(opts.checkpoint);
    named = exportTrainingState(loadTrainState(opts.checkpoint, config), config);
  } else {
    const model = await loadModel(opts.checkpoint, { heads: opts.heads });
    config = model.config;
    named = exportStudentEncoder(model.student, config);
  }
  const configJson = JSON.stringify(config);
  if (ext === 'safetensors')
    saveSafetensors(
      opts.out,
      named,
      { config: configJson, matpac_ts_export: opts.full ? 'training' : 'encoder' },
      { dtype: 'F32' },
    );
  else
    writeFileAtomic(
      opts.out,
      encodeTorchSave(torchTree(named), { 'config.json': new TextEncoder().encode(configJson) }),
    );
  const params = Object.values(named).reduce((s, t) => s + t.size, 0);
  say(
    `exported ${Object.keys(named).length} tensors (${params.toLocaleString('en-US')} values, ${opts.full ? 'training state' : 'encoder'} of ${config.name}) → ${shown(opts.out)}`,
  );
}
