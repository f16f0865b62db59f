/**
 * Reading PyTorch checkpoints (`.pt`/`.pth` from `torch.save`, zip format since PyTorch 1.6):
 *
 *   <archive>/data.pkl     the pickled object (./unpickle.ts: whitelist only, nothing is executed)
 *   <archive>/data/<key>   one record per storage: numel little-endian elements (<archive>/byteorder
 *                          says "little"; absent in files older than PyTorch 1.10, which were all little-endian)
 *   <archive>/version      the format version
 *
 * A tensor is `torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, …)`: element
 * [i₀, …, i_{k−1}] is storage[offset + Σ i_j·stride_j]. The view is checked (non-negative strides,
 * every element inside the storage, the storage record as long as its numel) and gathered into a
 * dense row-major host array: F32/F16/BF16 as float32, F64/I64 as float64.
 *
 * The state dict is the top-level dict, or the dict under `model` or `state_dict` when the file
 * wraps it (training checkpoints); nested dicts of tensors (e.g. the official trainer's `_ema`)
 * flatten to dotted names. Non-tensor entries are reported, not loaded.
 */
import { readFileSync } from 'node:fs';
import { looksLikeZip, readZip, ZipError } from './zip';
import {
  PickleError,
  PyDict,
  PyTuple,
  STORAGE_TYPES,
  unpickle,
  type PyValue,
  type TensorRef,
  type TorchDtype,
} from './unpickle';
import { halfToFloat } from '../float16';

/** A tensor read from a file: dense row-major host values. */
export interface HostTensor {
  dtype: TorchDtype;
  shape: number[];
  data: Float32Array | Float64Array;
}

/** A PyTorch file that cannot be read; the message is one line and names the file. */
export class TorchFileError extends Error {
  override readonly name = 'TorchFileError';
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason.replace(/\s+/g, ' ').trim()}`);
  }
}

export interface TorchStateDict {
  tensors: Record<string, HostTensor>;
  /** Entries that are not tensors (numbers, strings, None, lists …), by dotted name. */
  other: string[];
  /** The key the state dict was found under ('model', 'state_dict'), or '' for the top level. */
  nesting: string;
  /** Extra records written by ./torch-save.ts (`<archive>/matpac_ts/<name>`), as text. */
  extra: Record<string, string>;
}

/**
 * Largest tensor accepted (elements): beyond any MATPAC checkpoint, below what a typed array can
 * hold. Together with "no more elements than the storage" (whose bytes are in the file), what a
 * file makes us allocate is bounded by its own size.
 */
const MAX_ELEMENTS = 2 ** 30;
const MAX_DEPTH = 32;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const DTYPE_SIZE: Record<TorchDtype, number> = Object.fromEntries(
  Object.values(STORAGE_TYPES).map((s) => [s.dtype, s.itemSize]),
) as Record<TorchDtype, number>;

/** Element reader of a little-endian storage. */
function reader(bytes: Uint8Array, dtype: TorchDtype): (i: number) => number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F32':
      return (i) => dv.getFloat32(4 * i, true);
    case 'F64':
      return (i) => dv.getFloat64(8 * i, true);
    case 'F16':
      return (i) => halfToFloat(dv.getUint16(2 * i, true));
    case 'BF16': {
      const f = new Float32Array(1);
      const u = new Uint32Array(f.buffer);
      return (i) => ((u[0] = dv.getUint16(2 * i, true) << 16), f[0]);
    }
    case 'I64':
      return (i) => Number(dv.getBigInt64(8 * i, true));
  }
}

/**
 * A strided view checked against its storage (throws a one-line reason when it does not fit), with
 * its dense host values gathered on first use of `data` — so that the keys a caller never reads
 * (a teacher, a predictor) cost no memory beyond the file's bytes.
 */
export function gather(ref: TensorRef, storage: Uint8Array): HostTensor {
  const { shape, stride, offset } = ref;
  const { dtype, numel, key } = ref.storage;
  const item = DTYPE_SIZE[dtype];
  if (shape.some((d) => d < 0)) throw new Error(`a tensor on storage '${key}' has a negative size [${shape}]`);
  if (stride.some((s) => s < 0)) throw new Error(`a tensor on storage '${key}' has a negative stride [${stride}]`);
  if (offset < 0) throw new Error(`a tensor on storage '${key}' has a negative offset ${offset}`);
  let count = 1;
  for (const d of shape) {
    count *= d;
    if (count > MAX_ELEMENTS) throw new Error(`a tensor of shape [${shape}] exceeds ${MAX_ELEMENTS} elements`);
  }
  if (count > numel)
    throw new Error(
      `a tensor of shape [${shape}] has more elements than its storage '${key}' (${numel}): broadcast views are not stored in state dicts`,
    );
  if (storage.length < numel * item)
    throw new Error(
      `storage '${key}' holds ${storage.length} bytes, its ${numel} ${dtype} elements need ${numel * item}`,
    );
  const last = count === 0 ? -1 : offset + shape.reduce((s, d, j) => s + (d - 1) * stride[j], 0);
  if (last >= numel)
    throw new Error(
      `a tensor of shape [${shape}] (offset ${offset}, stride [${stride}]) reaches element ${last} of storage '${key}', which has ${numel}`,
    );
  let data: Float32Array | Float64Array | undefined;
  return {
    dtype,
    shape: [...shape],
    get data() {
      return (data ??= dense(ref, storage, count));
    },
  };
}

/** The elements of a checked view, row-major. */
function dense(ref: TensorRef, storage: Uint8Array, count: number): Float32Array | Float64Array {
  const { shape, stride, offset } = ref;
  const { dtype } = ref.storage;
  const get = reader(storage, dtype);
  const k = shape.length;
  const contiguous = shape.every(
    (_, j) => shape[j] === 1 || stride[j] === shape.slice(j + 1).reduce((a, b) => a * b, 1),
  );
  const copy = (n: number) => Uint8Array.prototype.slice.call(storage, n * offset, n * (offset + count)).buffer; // aligned copy
  if (contiguous && LITTLE_ENDIAN && dtype === 'F32') return new Float32Array(copy(4));
  if (contiguous && LITTLE_ENDIAN && dtype === 'F64') return new Float64Array(copy(8));
  const data = dtype === 'F64' || dtype === 'I64' ? new Float64Array(count) : new Float32Array(count);
  if (contiguous) {
    for (let i = 0; i < count; i++) data[i] = get(offset + i);
    return data;
  }
  const idx = new Array<number>(k).fill(0);
  let src = offset;
  for (let i = 0; i < count; i++) {
    data[i] = get(src);
    for (let j = k - 1; j >= 0; j--) {
      idx[j]++;
      src += stride[j];
      if (idx[j] < shape[j]) break;
      src -= shape[j] * stride[j];
      idx[j] = 0;
    }
  }
  return data;
}

/** The prefix (archive folder) of the records: the folder holding data.pkl. */
function archivePrefix(names: Iterable<string>): string | undefined {
  for (const n of names)
    if (/^[^/]*\/data\.pkl$/.test(n) || n === 'data.pkl') return n.slice(0, n.length - 'data.pkl'.length);
  return undefined;
}

const isTensorRef = (v: PyValue): v is TensorRef =>
  typeof v === 'object' &&
  v !== null &&
  !Array.isArray(v) &&
  !(v instanceof PyTuple) &&
  !(v instanceof PyDict) &&
  v.kind === 'tensor';

function hasTensor(d: PyDict): boolean {
  for (const v of d.map.values()) if (isTensorRef(v)) return true;
  return false;
}

/** The conversion line shown for a legacy (pre-1.6) file. */
export const legacyConversion = (file: string): string =>
  `python3 -c "import torch; torch.save(torch.load('${file}', map_location='cpu', weights_only=True), '${file.replace(/(\.[^./]*)?$/, '-zip$1')}')"`;

/** Parse the bytes of a `.pt` file into its state dict (tensors by name). */
export function parseTorchFile(bytes: Uint8Array, file: string): TorchStateDict {
  if (!looksLikeZip(bytes)) {
    // legacy torch.save: a pickle (PROTO 2, then the LONG1 magic number 0x1950a86a20f9469cfc6c)
    if (bytes[0] === 0x80 && bytes[2] === 0x8a)
      throw new TorchFileError(
        file,
        `a legacy (pre-1.6, non-zip) PyTorch file; convert it once with: ${legacyConversion(file)}`,
      );
    const head = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new TorchFileError(file, `not a PyTorch zip checkpoint (first bytes: ${head || 'none'})`);
  }
  try {
    const entries = readZip(bytes);
    const prefix = archivePrefix(entries.keys());
    if (prefix === undefined)
      throw new TorchFileError(file, 'a zip file without data.pkl: not a torch.save checkpoint');
    const order = entries.get(`${prefix}byteorder`);
    if (order && new TextDecoder().decode(order.data).trim() !== 'little')
      throw new TorchFileError(file, 'big-endian checkpoints are not supported');
    const root = unpickle(entries.get(`${prefix}data.pkl`)!.data);
    if (!(root instanceof PyDict)) throw new TorchFileError(file, 'the checkpoint holds no dict of tensors');
    let dict = root;
    let nesting = '';
    if (!hasTensor(root))
      for (const key of ['model', 'state_dict']) {
        const inner = root.map.get(key);
        if (inner instanceof PyDict) {
          dict = inner;
          nesting = key;
          break;
        }
      }
    const tensors: Record<string, HostTensor> = {};
    const other: string[] = [];
    const seen = new Set<PyDict>();
    const walk = (d: PyDict, path: string, depth: number) => {
      if (depth > MAX_DEPTH)
        throw new TorchFileError(file, `dicts nested deeper than ${MAX_DEPTH} levels at '${path}'`);
      if (seen.has(d)) throw new TorchFileError(file, `the dict at '${path || '<root>'}' contains itself`);
      seen.add(d);
      for (const [k, v] of d.map) {
        const name = path ? `${path}.${k}` : String(k);
        if (isTensorRef(v)) {
          const rec = entries.get(`${prefix}data/${v.storage.key}`);
          if (!rec) throw new TorchFileError(file, `tensor '${name}': storage record data/${v.storage.key} is missing`);
          try {
            tensors[name] = gather(v, rec.data);
          } catch (e) {
            throw new TorchFileError(file, `tensor '${name}': ${(e as Error).message}`);
          }
        } else if (v instanceof PyDict) walk(v, name, depth + 1);
        else other.push(name);
      }
    };
    walk(dict, '', 0);
    const extra: Record<string, string> = {};
    for (const [name, rec] of entries)
      if (name.startsWith(`${prefix}matpac_ts/`))
        extra[name.slice(prefix.length + 10)] = new TextDecoder().decode(rec.data);
    return { tensors, other, nesting, extra };
  } catch (e) {
    if (e instanceof ZipError || e instanceof PickleError) throw new TorchFileError(file, e.message);
    throw e;
  }
}

/** Read a `.pt`/`.pth` file's state dict. */
export function readTorchFile(file: string): TorchStateDict {
  let bytes: Uint8Array;
  try {
    const buf = readFileSync(file);
    bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength); // a plain view: Buffer#slice would not copy
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new TorchFileError(file, `cannot read (${err.code ?? err.message})`);
  }
  return parseTorchFile(bytes, file);
}
