/**
 * Writing PyTorch checkpoints that `torch.load(path, weights_only=True)` accepts: a zip of stored
 * records (./zip.ts) holding
 *
 *   archive/data.pkl     a protocol-2 pickle of a dict {name: tensor} (nested dicts allowed), each
 *                        tensor as torch/_utils.py `_rebuild_tensor_v2(storage, 0, size, stride,
 *                        False, OrderedDict())` with the storage as the persistent id
 *                        ('storage', torch.FloatStorage, key, 'cpu', numel)
 *   archive/byteorder    "little"
 *   archive/data/<key>   the float32 (or float64) elements, little-endian, row-major
 *   archive/version      "3"
 *   archive/matpac_ts/<name>  extra records (e.g. the config as JSON); torch.load ignores them
 *
 * Only these opcodes are written: PROTO, EMPTY_DICT, MARK, SETITEMS, BINUNICODE, GLOBAL, TUPLE,
 * EMPTY_TUPLE, BINPERSID, BININT/LONG1, NEWFALSE, REDUCE, STOP — all in the weights-only
 * unpickler's vocabulary (torch/_weights_only_unpickler.py).
 */
import { writeZip, type ZipEntry } from './zip';

/** What gets written: dense row-major values and their shape. */
export interface SaveTensor {
  shape: readonly number[];
  data: Float32Array | Float64Array;
}
export type SaveTree = { [name: string]: SaveTensor | SaveTree };

const isTensor = (v: SaveTensor | SaveTree): v is SaveTensor =>
  ArrayBuffer.isView((v as SaveTensor).data) && Array.isArray((v as SaveTensor).shape);

class PickleWriter {
  private chunks: number[] = [];
  op(...bytes: number[]): this {
    for (const b of bytes) this.chunks.push(b);
    return this;
  }
  ascii(s: string): this {
    for (let i = 0; i < s.length; i++) this.chunks.push(s.charCodeAt(i));
    return this;
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    this.op(0x58, b.length & 0xff, (b.length >> 8) & 0xff, (b.length >> 16) & 0xff, (b.length >>> 24) & 0xff);
    for (const x of b) this.chunks.push(x);
    return this;
  }
  int(v: number): this {
    if (!Number.isSafeInteger(v)) throw new Error(`pickle: ${v} is not an integer`);
    if (v >= -(2 ** 31) && v < 2 ** 31)
      return this.op(0x4a, v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff);
    let x = BigInt(v);
    const out: number[] = [];
    for (let i = 0; i < 8; i++, x >>= 8n) out.push(Number(x & 0xffn));
    return this.op(0x8a, 8, ...out);
  }
  global(module: string, name: string): this {
    return this.op(0x63).ascii(`${module}\n${name}\n`);
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function storageBytes(t: SaveTensor): Uint8Array {
  const item = t.data instanceof Float64Array ? 8 : 4;
  const out = new Uint8Array(t.data.length * item);
  if (LITTLE_ENDIAN) out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  else {
    const dv = new DataView(out.buffer);
    for (let i = 0; i < t.data.length; i++) {
      if (item === 8) dv.setFloat64(8 * i, t.data[i], true);
      else dv.setFloat32(4 * i, t.data[i], true);
    }
  }
  return out;
}

/** The bytes of a `.pt` file holding `tree` (tensors in nested dicts) and optional extra records. */
export function encodeTorchSave(
  tree: SaveTree,
  extra: Record<string, Uint8Array> = {},
  archive = 'archive',
): Uint8Array {
  const w = new PickleWriter().op(0x80, 2);
  const storages: ZipEntry[] = [];
  const dict = (node: SaveTree) => {
    w.op(0x7d, 0x28); // EMPTY_DICT, MARK
    for (const [name, v] of Object.entries(node)) {
      w.str(name);
      if (!isTensor(v)) {
        dict(v);
        continue;
      }
      const numel = v.shape.reduce((a, b) => a * b, 1);
      if (numel !== v.data.length)
        throw new Error(`torch-save: '${name}' has ${v.data.length} values for shape [${v.shape}]`);
      const key = String(storages.length);
      storages.push({ name: `${archive}/data/${key}`, data: storageBytes(v) });
      const strides = v.shape.map((_, j) => v.shape.slice(j + 1).reduce((a, b) => a * b, 1));
      w.global('torch._utils', '_rebuild_tensor_v2').op(0x28); // MARK (args)
      w.op(0x28)
        .str('storage')
        .global('torch', v.data instanceof Float64Array ? 'DoubleStorage' : 'FloatStorage')
        .str(key)
        .str('cpu')
        .int(numel)
        .op(0x74, 0x51); // TUPLE, BINPERSID
      w.int(0);
      w.op(0x28);
      for (const d of v.shape) w.int(d);
      w.op(0x74, 0x28);
      for (const s of strides) w.int(s);
      w.op(0x74, 0x89); // TUPLE, NEWFALSE (requires_grad)
      w.global('collections', 'OrderedDict').op(0x29, 0x52); // OrderedDict() (backward hooks)
      w.op(0x74, 0x52); // TUPLE, REDUCE
    }
    w.op(0x75); // SETITEMS
  };
  dict(tree);
  w.op(0x2e);
  const enc = new TextEncoder();
  return writeZip([
    { name: `${archive}/data.pkl`, data: w.bytes() },
    { name: `${archive}/byteorder`, data: enc.encode('little') },
    ...storages,
    ...Object.entries(extra).map(([name, data]) => ({ name: `${archive}/matpac_ts/${name}`, data })),
    { name: `${archive}/version`, data: enc.encode('3\n') },
  ]);
}
