/**
 * Checkpoints in safetensors, the format users exchange with PyTorch, as bytes: this file works
 * on Uint8Array/ArrayBuffer and imports nothing from Node, so it runs in browsers too. Reading and
 * writing files (atomically) is ./file.ts.
 * (https://github.com/huggingface/safetensors, "Format"):
 *
 *     8 bytes   N, the header length, unsigned 64-bit little-endian
 *     N bytes   JSON header: { "__metadata__": {string: string}, "<name>": { "dtype": "F32",
 *               "shape": [..], "data_offsets": [begin, end] }, ... }, padded with spaces
 *     rest      the tensors' bytes, little-endian, row-major, back to back (offsets are
 *               relative to the start of this buffer; no holes, no overlaps)
 *
 * Tensor names are tree paths joined with '.' (src/tree.ts: object keys in sorted order, array
 * indices as numbers), e.g. `student.student_encoder.blocks.0.attn.qkv.weight` or
 * `optState.1.0.mu.student_encoder.blocks.0.attn.qkv.weight`.
 *
 * `encodeState` stores a whole tree (a TrainState: student, teacher, optimizer state, RNG key,
 * step, ...). Everything that is not a tensor goes into `__metadata__` (string → string):
 *     format          "matpac-ts.tree"
 *     format_version  "1"
 *     tree            the tree as JSON with each tensor replaced by "T:<name>"; strings are
 *                     stored as "S:<text>", non-finite numbers and −0 as "N:NaN" / "N:Infinity" /
 *                     "N:-Infinity" / "N:-0", undefined as "U:"; other numbers, booleans, null,
 *                     arrays and objects as themselves (JSON numbers round-trip doubles exactly)
 *     matpac_ts_sha256  SHA-256 of the header (with this value set to 64 zeros) followed by
 *                     the tensor bytes; checked on load, so any flipped byte is caught
 *     engine, runtime matpac-ts and runtime (Node or browser) versions that wrote the file
 *     step, rng_key   copies of the root's `step` and `key` when present (for tools that read
 *                     only the header; the tree is what decodeState uses)
 * plus the caller's own entries (e.g. `config`: a JSON string).
 *
 * Both directions go through positioned chunks so that the file layer can stream (one tensor in
 * memory at a time) and the bytes API can fill one buffer: `encodeChunks` yields what to write
 * where; `parseHeader` + `readTensors` take a `read(length, position)` callback. All validation of
 * what is read lives in `parseHeader` (layout) and `readTensors` (checksum).
 */
import type { Backend } from '../backend';
import { fromHost, getBackend, Tensor } from '../core';
import { fmt, size } from '../shape';
import { flatten } from '../tree';
import { VERSION } from '../version';
import { sha256, type Hasher } from './sha256';
import { halfToFloat } from '../float16';

/** A checkpoint that cannot be read or written; the message is one line and names the file (or the bytes' label). */
export class CheckpointError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`checkpoint ${file}: ${reason.replace(/\s*\n\s*/g, ' ')}`);
    this.name = 'CheckpointError';
  }
}

/** The header's `__metadata__`: a string → string map (safetensors spec). */
export type Metadata = Record<string, string>;

/** The dtypes tensors are written in. */
export type SaveDtype = 'F32' | 'F64';

/** Options of encodeSafetensors / encodeState. */
export interface EncodeOptions {
  /** Stored dtype: default F32 for float32 backends and F64 for float64 ones (ref64). */
  dtype?: SaveDtype;
  /** The name used in error messages (default `<bytes>`; the file layer passes the path). */
  name?: string;
  /** The SHA-256 implementation (default: the portable one in ./sha256.ts; Node passes node:crypto's, which is faster). */
  hasher?: () => Hasher;
}

/** Options of decodeSafetensors. */
export interface DecodeOptions {
  /** Backend to upload the tensors to (a name or a backend; default: the current backend). */
  backend?: string | Backend;
  /** The name used in error messages (default `<bytes>`; the file layer passes the path). */
  name?: string;
  /** The SHA-256 implementation (see EncodeOptions.hasher). */
  hasher?: () => Hasher;
}

/** Options of decodeState. */
export interface DecodeStateOptions<T> extends DecodeOptions {
  /**
   * A tree the loaded state must match: the same tensor paths with the same shapes (e.g. a
   * freshly initialised state for the current config). A mismatch is a CheckpointError that
   * names the first differing path.
   */
  like?: T;
}

const FORMAT = 'matpac-ts.tree';
const FORMAT_VERSION = '1';
const CHECKSUM = 'matpac_ts_sha256';
const RESERVED = ['format', 'format_version', 'tree', CHECKSUM, 'engine', 'runtime', 'step', 'rng_key'];
const MAX_HEADER = 100_000_000; // the safetensors reference implementation's limit
const HASH_PLACEHOLDER = '0'.repeat(64);
const ENGINE = `matpac-ts ${VERSION}`;
const DEFAULT_NAME = '<bytes>';

/** `node 20.19.0` in Node, else the browser's user agent (or `unknown`). */
function runtime(): string {
  const g = globalThis as { process?: { versions?: { node?: string } }; navigator?: { userAgent?: string } };
  if (g.process?.versions?.node) return `node ${g.process.versions.node}`;
  return g.navigator?.userAgent ? `browser ${g.navigator.userAgent}` : 'unknown';
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const utf8 = new TextEncoder();

// ---------------------------------------------------------------------------------------------
// dtypes

const DTYPE_SIZE: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
};

/** Little-endian bytes of `n` values of `dtype` → host floats (F32/F16/BF16 → float32, others float64). */
function decodeValues(bytes: Uint8Array, dtype: string, n: number): Float32Array | Float64Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const aligned = () => {
    const copy = new Uint8Array(bytes.byteLength);
    copy.set(bytes);
    return copy.buffer;
  };
  switch (dtype) {
    case 'F32':
      if (LITTLE_ENDIAN) return new Float32Array(aligned(), 0, n);
      return Float32Array.from({ length: n }, (_, i) => dv.getFloat32(4 * i, true));
    case 'F64':
      if (LITTLE_ENDIAN) return new Float64Array(aligned(), 0, n);
      return Float64Array.from({ length: n }, (_, i) => dv.getFloat64(8 * i, true));
    case 'F16':
      return Float32Array.from({ length: n }, (_, i) => halfToFloat(dv.getUint16(2 * i, true)));
    case 'BF16': {
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = dv.getUint16(2 * i, true) << 16;
      return out;
    }
    default: {
      const get: Record<string, (i: number) => number> = {
        I64: (i) => Number(dv.getBigInt64(8 * i, true)),
        U64: (i) => Number(dv.getBigUint64(8 * i, true)),
        I32: (i) => dv.getInt32(4 * i, true),
        U32: (i) => dv.getUint32(4 * i, true),
        I16: (i) => dv.getInt16(2 * i, true),
        U16: (i) => dv.getUint16(2 * i, true),
        I8: (i) => dv.getInt8(i),
        U8: (i) => dv.getUint8(i),
        BOOL: (i) => (dv.getUint8(i) ? 1 : 0),
      };
      return Float64Array.from({ length: n }, (_, i) => get[dtype](i));
    }
  }
}

/** Host values → little-endian bytes of F32 or F64. */
function encodeValues(data: Float32Array | Float64Array, dtype: SaveDtype): Uint8Array {
  const typed =
    dtype === 'F32'
      ? data instanceof Float32Array
        ? data
        : Float32Array.from(data)
      : data instanceof Float64Array
        ? data
        : Float64Array.from(data);
  if (LITTLE_ENDIAN) return new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
  const out = new Uint8Array(typed.byteLength);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < typed.length; i++) {
    if (dtype === 'F32') dv.setFloat32(4 * i, typed[i], true);
    else dv.setFloat64(8 * i, typed[i], true);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// writing

/** One named tensor to store. */
export interface Entry {
  name: string;
  tensor: Tensor;
}

/** `bytes` to be written at byte `at` of the file. */
export interface Chunk {
  at: number;
  bytes: Uint8Array;
}

function headerBytes(entries: Entry[], dtypes: SaveDtype[], metadata: Metadata): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  entries.forEach(({ name, tensor }, i) => {
    const bytes = tensor.size * DTYPE_SIZE[dtypes[i]];
    header[name] = { dtype: dtypes[i], shape: [...tensor.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  });
  const json = utf8.encode(JSON.stringify(header));
  const padded = new Uint8Array(json.byteLength + ((8 - ((8 + json.byteLength) % 8)) % 8)).fill(0x20); // the tensor data starts 8-byte aligned
  padded.set(json);
  return padded;
}

/**
 * The file's bytes as positioned chunks, in writing order: the length prefix and a header with a
 * placeholder checksum, each tensor's data, then the final header (same length) over the
 * placeholder. Also returns the file's total size. Checks names and metadata first.
 */
export function encodeChunks(
  entries: Entry[],
  metadata: Metadata,
  opts: EncodeOptions = {},
): { size: number; chunks: Iterable<Chunk> } {
  const name = opts.name ?? DEFAULT_NAME;
  const seen = new Set<string>();
  for (const e of entries) {
    if (!(e.tensor instanceof Tensor)) throw new CheckpointError(name, `'${e.name}' is not a tensor`);
    if (e.name === '__metadata__') throw new CheckpointError(name, `'__metadata__' cannot be a tensor name`);
    if (seen.has(e.name))
      throw new CheckpointError(
        name,
        `two tensors are named '${e.name}' (tree paths must be unique when joined with '.')`,
      );
    seen.add(e.name);
  }
  for (const [k, v] of Object.entries(metadata))
    if (typeof v !== 'string')
      throw new CheckpointError(name, `metadata '${k}' is a ${typeof v}; __metadata__ values must be strings`);
  const dtypes = entries.map(
    ({ tensor }) => opts.dtype ?? (tensor.concrete().backend.precision === 'float64' ? 'F64' : 'F32'),
  );
  const placeholder = headerBytes(entries, dtypes, { ...metadata, [CHECKSUM]: HASH_PLACEHOLDER });
  const dataSize = entries.reduce((s, { tensor }, i) => s + tensor.size * DTYPE_SIZE[dtypes[i]], 0);
  const hasher = opts.hasher ?? sha256;
  function* chunks(): Generator<Chunk> {
    const len = new Uint8Array(8);
    new DataView(len.buffer).setBigUint64(0, BigInt(placeholder.byteLength), true);
    yield { at: 0, bytes: len };
    yield { at: 8, bytes: placeholder };
    const hash = hasher();
    hash.update(placeholder);
    let pos = 8 + placeholder.byteLength;
    for (let i = 0; i < entries.length; i++) {
      const bytes = encodeValues(entries[i].tensor.toArray(), dtypes[i]);
      hash.update(bytes);
      yield { at: pos, bytes };
      pos += bytes.byteLength;
    }
    // the digest has the placeholder's length, so the header keeps its size: rewrite it in place
    const header = headerBytes(entries, dtypes, { ...metadata, [CHECKSUM]: hash.hex() });
    if (header.byteLength !== placeholder.byteLength) throw new Error('internal: header length changed');
    yield { at: 8, bytes: header };
  }
  return { size: 8 + placeholder.byteLength + dataSize, chunks: chunks() };
}

function collect({ size, chunks }: { size: number; chunks: Iterable<Chunk> }): Uint8Array {
  const out = new Uint8Array(size);
  for (const { at, bytes } of chunks) out.set(bytes, at);
  return out;
}

// ---------------------------------------------------------------------------------------------
// reading

/** Reads exactly `length` bytes at `position`, or throws a CheckpointError (truncated). */
export type Read = (length: number, position: number) => Uint8Array;

interface TensorInfo {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/** A validated header. */
export interface Parsed {
  /** The header as stored (for the checksum). */
  text: string;
  metadata: Metadata;
  tensors: TensorInfo[]; // in data order
  dataStart: number;
}

/**
 * Read and validate the header of a file of `fileSize` bytes: the length prefix, UTF-8 JSON, each
 * tensor's dtype/shape/offsets, and a data section with no holes, overlaps, missing or extra bytes.
 */
export function parseHeader(read: Read, fileSize: number, file: string): Parsed {
  if (fileSize < 8) throw new CheckpointError(file, `truncated: ${fileSize} bytes, not even the 8-byte header length`);
  const prefix = read(8, 0);
  const n64 = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(fileSize - 8))
    throw new CheckpointError(
      file,
      `truncated or not a safetensors file: the header length (${n64} bytes) exceeds the file (${fileSize} bytes)`,
    );
  const n = Number(n64);
  if (n > MAX_HEADER)
    throw new CheckpointError(file, `header of ${n} bytes exceeds the safetensors limit of ${MAX_HEADER}`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(read(n, 8));
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw new CheckpointError(file, 'corrupted: the header is not UTF-8');
  }
  if (!text.startsWith('{'))
    throw new CheckpointError(file, `not a safetensors file: the header does not start with '{'`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(file, `corrupted: the header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    throw new CheckpointError(file, 'corrupted: the header is not a JSON object');

  let metadata: Metadata = {};
  const tensors: TensorInfo[] = [];
  for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (
        typeof v !== 'object' ||
        v === null ||
        Array.isArray(v) ||
        Object.values(v).some((x) => typeof x !== 'string')
      )
        throw new CheckpointError(file, 'corrupted: __metadata__ is not a string → string map');
      metadata = v as Metadata;
      continue;
    }
    const info = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const bad = (why: string) => new CheckpointError(file, `corrupted: tensor '${name}' ${why}`);
    if (typeof info !== 'object' || info === null) throw bad('has no description');
    if (typeof info.dtype !== 'string' || !(info.dtype in DTYPE_SIZE))
      throw bad(`has unsupported dtype ${JSON.stringify(info.dtype)}`);
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      throw bad(`has an invalid shape ${JSON.stringify(shape)}`);
    const offs = info.data_offsets;
    if (
      !Array.isArray(offs) ||
      offs.length !== 2 ||
      !offs.every((d) => Number.isSafeInteger(d) && d >= 0) ||
      offs[1] < offs[0]
    )
      throw bad(`has invalid data_offsets ${JSON.stringify(offs)}`);
    const bytes = size(shape) * DTYPE_SIZE[info.dtype];
    if (offs[1] - offs[0] !== bytes)
      throw bad(`spans ${offs[1] - offs[0]} bytes, but ${info.dtype}${fmt(shape)} needs ${bytes}`);
    tensors.push({ name, dtype: info.dtype, shape, begin: offs[0], end: offs[1] });
  }
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const t of tensors) {
    if (t.begin !== expected)
      throw new CheckpointError(
        file,
        `corrupted: tensor '${t.name}' starts at byte ${t.begin} of the data, expected ${expected} (holes and overlaps are not allowed)`,
      );
    expected = t.end;
  }
  const dataStart = 8 + n;
  const have = fileSize - dataStart;
  if (have < expected)
    throw new CheckpointError(file, `truncated: the tensors need ${expected} bytes of data, the file has ${have}`);
  if (have > expected)
    throw new CheckpointError(file, `corrupted: ${have - expected} unexpected bytes after the tensor data`);
  return { text, metadata, tensors, dataStart };
}

function resolveBackend(b: DecodeOptions['backend']): Backend {
  return b === undefined ? getBackend() : typeof b === 'string' ? getBackend(b) : b;
}

/** Whether matpac-ts wrote the file (its metadata says so): then it has a checksum and F32/F64 tensors only. */
const writtenHere = (m: Metadata): boolean => m.format === FORMAT || m.engine?.startsWith('matpac-ts') === true;

/**
 * Read every tensor of a parsed file onto the backend, checking the checksum. Files matpac-ts wrote
 * must have one (so a flipped bit or an edited header never loads silently) and hold F32/F64 tensors
 * only (a relabelled dtype is refused); files written elsewhere (PyTorch, official-layout imports)
 * are checked when they carry one.
 */
export function readTensors(read: Read, parsed: Parsed, file: string, opts: DecodeOptions = {}): Map<string, Tensor> {
  const backend = resolveBackend(opts.backend);
  const { text, metadata, tensors, dataStart } = parsed;
  const want = metadata[CHECKSUM];
  if (writtenHere(metadata)) {
    if (want === undefined)
      throw new CheckpointError(
        file,
        `corrupted or edited: no ${CHECKSUM} checksum in __metadata__ (every file matpac-ts writes has one)`,
      );
    const odd = tensors.find((t) => t.dtype !== 'F32' && t.dtype !== 'F64');
    if (odd)
      throw new CheckpointError(
        file,
        `corrupted or edited: tensor '${odd.name}' is labelled ${odd.dtype}, but matpac-ts writes F32 and F64 only`,
      );
  }
  const hash = (opts.hasher ?? sha256)();
  if (want !== undefined) {
    const field = `"${CHECKSUM}":"${want}"`;
    const at = text.indexOf(field);
    if (!/^[0-9a-f]{64}$/.test(want) || at < 0 || text.indexOf(field, at + 1) >= 0)
      throw new CheckpointError(file, `corrupted: malformed ${CHECKSUM}`);
    hash.update(utf8.encode(text.slice(0, at) + `"${CHECKSUM}":"${HASH_PLACEHOLDER}"` + text.slice(at + field.length)));
  }
  const out = new Map<string, Tensor>();
  for (const t of tensors) {
    const bytes = read(t.end - t.begin, dataStart + t.begin);
    hash.update(bytes);
    const tensor = fromHost(decodeValues(bytes, t.dtype, size(t.shape)), t.shape, backend);
    tensor.label = t.name;
    out.set(t.name, tensor);
  }
  if (want !== undefined && hash.hex() !== want)
    throw new CheckpointError(file, `corrupted: the contents do not match their checksum (${CHECKSUM})`);
  return out;
}

/** A `Read` over bytes in memory. */
function bytesReader(bytes: Uint8Array, file: string): Read {
  return (length, position) => {
    if (position + length > bytes.byteLength)
      throw new CheckpointError(file, `truncated: unexpected end of data at byte ${bytes.byteLength}`);
    return bytes.subarray(position, position + length);
  };
}

const asBytes = (b: Uint8Array | ArrayBuffer): Uint8Array => (b instanceof Uint8Array ? b : new Uint8Array(b));

// ---------------------------------------------------------------------------------------------
// plain tensor files

/** Encode `named` tensors and string metadata as the bytes of a .safetensors file. */
export function encodeSafetensors(
  named: Record<string, Tensor>,
  metadata: Metadata = {},
  opts: EncodeOptions = {},
): Uint8Array {
  return collect(encodeChunks(namedEntries(named), metadata, opts));
}

/** `named` as entries, in the object's order. */
export function namedEntries(named: Record<string, Tensor>): Entry[] {
  return Object.entries(named).map(([name, tensor]) => ({ name, tensor }));
}

/**
 * Decode the bytes of a .safetensors file (written here or by PyTorch/safetensors). F32, F16 and
 * BF16 load as float32 values, F64 and integer/bool dtypes as float64 values, then go to the backend.
 */
export function decodeSafetensors(
  bytes: Uint8Array | ArrayBuffer,
  opts: DecodeOptions = {},
): { tensors: Record<string, Tensor>; metadata: Metadata } {
  const { tensors, metadata } = decodeBytes(asBytes(bytes), opts);
  return { tensors: Object.fromEntries(tensors), metadata };
}

/** The header's `__metadata__` alone (validates the layout; does not read the tensors). */
export function decodeMetadata(bytes: Uint8Array | ArrayBuffer, opts: { name?: string } = {}): Metadata {
  const b = asBytes(bytes);
  const file = opts.name ?? DEFAULT_NAME;
  return parseHeader(bytesReader(b, file), b.byteLength, file).metadata;
}

function decodeBytes(bytes: Uint8Array, opts: DecodeOptions): { tensors: Map<string, Tensor>; metadata: Metadata } {
  const file = opts.name ?? DEFAULT_NAME;
  const read = bytesReader(bytes, file);
  const parsed = parseHeader(read, bytes.byteLength, file);
  return { tensors: readTensors(read, parsed, file, opts), metadata: parsed.metadata };
}

// ---------------------------------------------------------------------------------------------
// trees

const isKey = (k: unknown): k is [number, number] =>
  Array.isArray(k) && k.length === 2 && k.every((w) => Number.isInteger(w) && w >= 0 && w < 2 ** 32);

function encodeTree(file: string, root: unknown): { skeleton: unknown; entries: Entry[] } {
  const entries: Entry[] = [];
  const walk = (node: unknown, path: string): unknown => {
    const where = path || '<root>';
    if (node instanceof Tensor) {
      entries.push({ name: path, tensor: node });
      return `T:${path}`;
    }
    switch (typeof node) {
      case 'number':
        return Number.isFinite(node) && !Object.is(node, -0) ? node : `N:${Object.is(node, -0) ? '-0' : String(node)}`;
      case 'string':
        return `S:${node}`;
      case 'boolean':
        return node;
      case 'undefined':
        return 'U:';
      case 'object': {
        if (node === null) return null;
        if (Array.isArray(node)) return node.map((c, i) => walk(c, path ? `${path}.${i}` : String(i)));
        const proto = Object.getPrototypeOf(node);
        if (ArrayBuffer.isView(node) || (proto !== Object.prototype && proto !== null))
          throw new CheckpointError(
            file,
            `cannot store the ${(node as object).constructor?.name ?? 'object'} at '${where}': state trees hold tensors, numbers, strings, booleans, null, arrays and plain objects`,
          );
        const out: Record<string, unknown> = {};
        for (const k of Object.keys(node).sort())
          out[k] = walk((node as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
        return out;
      }
      default:
        throw new CheckpointError(file, `cannot store the ${typeof node} at '${where}'`);
    }
  };
  return { skeleton: walk(root, ''), entries };
}

function decodeTree(file: string, skeleton: unknown, tensors: Map<string, Tensor>, used: Set<string>): unknown {
  const walk = (node: unknown): unknown => {
    if (node === null || typeof node === 'number' || typeof node === 'boolean') return node;
    if (typeof node === 'string') {
      const tag = node.slice(0, 2);
      const rest = node.slice(2);
      if (tag === 'T:') {
        const t = tensors.get(rest);
        if (!t)
          throw new CheckpointError(
            file,
            `corrupted: the tree refers to tensor '${rest}', which the file does not contain`,
          );
        used.add(rest);
        return t;
      }
      if (tag === 'S:') return rest;
      if (tag === 'U:') return undefined;
      if (tag === 'N:' && ['NaN', 'Infinity', '-Infinity', '-0'].includes(rest))
        return rest === '-0' ? -0 : Number(rest);
      throw new CheckpointError(file, `corrupted: unknown tree entry ${JSON.stringify(node.slice(0, 40))}`);
    }
    if (Array.isArray(node)) return node.map(walk);
    if (typeof node === 'object') {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(node).sort()) out[k] = walk((node as Record<string, unknown>)[k]);
      return out;
    }
    throw new CheckpointError(file, 'corrupted: invalid tree');
  };
  return walk(skeleton);
}

/**
 * A whole tree as positioned chunks (see encodeChunks): tensors as safetensors entries named by
 * their paths, everything else in `__metadata__.tree`. `metadata` adds the caller's own string
 * entries (e.g. `{ config: JSON.stringify(cfg) }`); the reserved keys listed at the top of this
 * file are refused.
 */
export function encodeStateChunks(
  state: unknown,
  metadata: Metadata = {},
  opts: EncodeOptions = {},
): { size: number; chunks: Iterable<Chunk> } {
  const name = opts.name ?? DEFAULT_NAME;
  for (const k of Object.keys(metadata))
    if (RESERVED.includes(k))
      throw new CheckpointError(name, `metadata key '${k}' is reserved (reserved: ${RESERVED.join(', ')})`);
  const { skeleton, entries } = encodeTree(name, state);
  const meta: Metadata = {
    ...metadata,
    format: FORMAT,
    format_version: FORMAT_VERSION,
    engine: ENGINE,
    runtime: runtime(),
    tree: JSON.stringify(skeleton),
  };
  if (typeof state === 'object' && state !== null && !Array.isArray(state)) {
    const { step, key } = state as { step?: unknown; key?: unknown };
    if (typeof step === 'number') meta.step = String(step);
    if (isKey(key)) meta.rng_key = JSON.stringify(key);
  }
  return encodeChunks(entries, meta, opts);
}

/** Encode a whole tree (a training state, a model's parameters, ...) as the bytes of a .safetensors file. */
export function encodeState(state: unknown, metadata: Metadata = {}, opts: EncodeOptions = {}): Uint8Array {
  return collect(encodeStateChunks(state, metadata, opts));
}

/** Decode bytes written by encodeState/saveState into the tree, with its original structure, on the chosen backend. */
export function decodeState<T = unknown>(bytes: Uint8Array | ArrayBuffer, opts: DecodeStateOptions<T> = {}): T {
  return stateFrom(decodeBytes(asBytes(bytes), opts), opts.name ?? DEFAULT_NAME, opts.like);
}

/** The tree from a file's tensors and metadata (checked against `like` when given). */
export function stateFrom<T>(
  { tensors, metadata }: { tensors: Map<string, Tensor>; metadata: Metadata },
  file: string,
  like?: T,
): T {
  if (metadata.format !== FORMAT || metadata.tree === undefined)
    throw new CheckpointError(
      file,
      `not a matpac-ts state checkpoint (no '${FORMAT}' tree in __metadata__); use loadSafetensors for plain tensor files`,
    );
  if (metadata.format_version !== FORMAT_VERSION)
    throw new CheckpointError(
      file,
      `format_version ${metadata.format_version} is not supported (this is version ${FORMAT_VERSION})`,
    );
  let skeleton: unknown;
  try {
    skeleton = JSON.parse(metadata.tree);
  } catch (e) {
    throw new CheckpointError(file, `corrupted: __metadata__.tree is not valid JSON (${(e as Error).message})`);
  }
  const used = new Set<string>();
  const state = decodeTree(file, skeleton, tensors, used);
  checkStepAndKey(file, state, metadata);
  const unused = [...tensors.keys()].filter((k) => !used.has(k));
  if (unused.length)
    throw new CheckpointError(
      file,
      `corrupted: tensor '${unused[0]}' is not part of the tree${unused.length > 1 ? ` (and ${unused.length - 1} more)` : ''}`,
    );
  if (like !== undefined) checkLike(file, state, like);
  return state as T;
}

/**
 * The root's `step` (a non-negative integer) and `key` (two 32-bit words), and their copies in
 * `__metadata__` (`step`: the integer in decimal, `rng_key`: the key as JSON), must agree.
 */
function checkStepAndKey(file: string, state: unknown, metadata: Metadata): void {
  const root =
    typeof state === 'object' && state !== null && !Array.isArray(state)
      ? (state as { step?: unknown; key?: unknown })
      : {};
  const bad = (why: string) => new CheckpointError(file, `corrupted or edited: ${why}`);
  if ('step' in root && !(typeof root.step === 'number' && Number.isSafeInteger(root.step) && root.step >= 0))
    throw bad(
      `the state's step is ${typeof root.step === 'number' ? String(root.step) : (JSON.stringify(root.step) ?? String(root.step))}, not a non-negative integer`,
    );
  if (metadata.step !== undefined) {
    if (!/^(0|[1-9][0-9]{0,15})$/.test(metadata.step) || !Number.isSafeInteger(Number(metadata.step)))
      throw bad(`__metadata__.step is ${JSON.stringify(metadata.step.slice(0, 40))}, not a non-negative integer`);
    if (typeof root.step !== 'number' || Number(metadata.step) !== root.step)
      throw bad(`__metadata__.step ${metadata.step} differs from the state's step ${String(root.step)}`);
  }
  if ('key' in root && root.key !== undefined && Array.isArray(root.key) && !isKey(root.key))
    throw bad(`the state's key ${JSON.stringify(root.key).slice(0, 60)} is not two 32-bit words`);
  if (metadata.rng_key !== undefined && metadata.rng_key !== JSON.stringify(root.key))
    throw bad(`__metadata__.rng_key ${metadata.rng_key.slice(0, 60)} differs from the state's key`);
}

function checkLike(file: string, state: unknown, like: unknown): void {
  const a = flatten(state);
  const b = flatten(like);
  const have = new Map(a.paths.map((p, i) => [p, a.leaves[i]]));
  const want = new Map(b.paths.map((p, i) => [p, b.leaves[i]]));
  for (const [p, t] of want) {
    const got = have.get(p);
    if (!got) throw new CheckpointError(file, `does not match the expected structure: tensor '${p}' is missing`);
    if (fmt(got.shape) !== fmt(t.shape))
      throw new CheckpointError(
        file,
        `does not match the expected structure: '${p}' has shape ${fmt(got.shape)}, expected ${fmt(t.shape)}`,
      );
  }
  for (const p of have.keys())
    if (!want.has(p))
      throw new CheckpointError(file, `does not match the expected structure: unexpected tensor '${p}'`);
}
