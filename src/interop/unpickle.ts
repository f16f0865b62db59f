/**
 * A whitelist-only unpickler for what `torch.save` writes for a state dict (pickle protocol 2,
 * torch/serialization.py `DEFAULT_PROTOCOL`; opcodes of Python's Lib/pickletools.py). It is an
 * interpreter of the pickle stack machine that never calls anything: the only "callables" it knows
 * are data constructors, chosen from a fixed list —
 *
 *   collections.OrderedDict            → a dict (its `_metadata` BUILD state is ignored)
 *   torch._utils._rebuild_tensor_v2    (storage, offset, size, stride, requires_grad, hooks[, metadata]) → a tensor view
 *   torch._utils._rebuild_parameter    (tensor, requires_grad, hooks) → the tensor
 *   torch._utils._rebuild_parameter_with_state (tensor, requires_grad, hooks, state) → the tensor
 *   torch.{Float,Half,BFloat16,Double,Long}Storage   storage types, only inside a persistent id
 *
 * and persistent ids ('storage', <type>, key, location, numel), which name the zip record
 * `data/<key>` (torch/serialization.py `persistent_id` / `_load.persistent_load`). Any other global
 * — `os.system`, `builtins.eval`, a class of someone's training code — is refused with one line
 * naming it, before anything else happens; unknown opcodes likewise. Values: None, bools, ints
 * (safe integers), floats, str, tuples, lists, dicts with str/int keys.
 *
 * Bounds: every length is checked against the bytes that remain; memo indices live in a Map;
 * lines of GLOBAL are at most 256 bytes; the work is linear in the pickle's size.
 */

export class PickleError extends Error {
  override readonly name = 'PickleError';
}

export type TorchDtype = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64';

/** Storage types allowed in persistent ids → their dtype and element size. */
export const STORAGE_TYPES: Record<string, { dtype: TorchDtype; itemSize: number }> = {
  FloatStorage: { dtype: 'F32', itemSize: 4 },
  HalfStorage: { dtype: 'F16', itemSize: 2 },
  BFloat16Storage: { dtype: 'BF16', itemSize: 2 },
  DoubleStorage: { dtype: 'F64', itemSize: 8 },
  LongStorage: { dtype: 'I64', itemSize: 8 },
};

/** A storage named by a persistent id: the record `data/<key>` holding `numel` elements. */
export interface StorageRef {
  kind: 'storage';
  key: string;
  dtype: TorchDtype;
  numel: number;
}

/** A tensor as `_rebuild_tensor_v2` describes it: a strided view of a storage. */
export interface TensorRef {
  kind: 'tensor';
  storage: StorageRef;
  offset: number;
  shape: number[];
  stride: number[];
}

export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}
export class PyDict {
  readonly map = new Map<string | number, PyValue>();
}

export type PyValue =
  null | boolean | number | string | PyValue[] | PyTuple | PyDict | TensorRef | StorageRef | PyGlobal;

/** A whitelisted global (a constructor or a storage type) before it is called. */
export interface PyGlobal {
  kind: 'global';
  name: string;
}

/** Most dimensions a tensor may have (PyTorch's own limit is 64; state dicts use ≤ 4). */
const MAX_RANK = 16;

const ALLOWED_GLOBALS = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
  ...Object.keys(STORAGE_TYPES).map((s) => `torch.${s}`),
]);

const isGlobal = (v: PyValue, name?: string): v is PyGlobal =>
  typeof v === 'object' &&
  v !== null &&
  !Array.isArray(v) &&
  !(v instanceof PyTuple) &&
  !(v instanceof PyDict) &&
  v.kind === 'global' &&
  (name === undefined || v.name === name);

const isTensor = (v: PyValue): v is TensorRef =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && 'kind' in v && v.kind === 'tensor';

function describe(v: PyValue): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof PyTuple) return 'a tuple';
  if (v instanceof PyDict) return 'a dict';
  if (typeof v === 'object') return v.kind === 'global' ? v.name : `a ${v.kind}`;
  return `a ${typeof v}`;
}

function intList(v: PyValue, what: string): number[] {
  const items = v instanceof PyTuple ? v.items : Array.isArray(v) ? v : null;
  if (!items || !items.every((x) => typeof x === 'number' && Number.isSafeInteger(x)))
    throw new PickleError(`${what} must be a tuple of integers, got ${describe(v)}`);
  return items as number[];
}

/** Call a whitelisted constructor. */
function construct(fn: PyGlobal, args: PyValue[]): PyValue {
  switch (fn.name) {
    case 'collections.OrderedDict':
      if (args.length !== 0) throw new PickleError('collections.OrderedDict called with arguments');
      return new PyDict();
    case 'torch._utils._rebuild_tensor_v2': {
      if (args.length < 6 || args.length > 7)
        throw new PickleError(`_rebuild_tensor_v2 takes 6 or 7 arguments, got ${args.length}`);
      const [storage, offset, size, stride] = args;
      if (typeof storage !== 'object' || storage === null || !('kind' in storage) || storage.kind !== 'storage')
        throw new PickleError(`_rebuild_tensor_v2: expected a storage, got ${describe(storage)}`);
      if (typeof offset !== 'number' || !Number.isSafeInteger(offset))
        throw new PickleError('_rebuild_tensor_v2: the storage offset is not an integer');
      const shape = intList(size, '_rebuild_tensor_v2: the size');
      const strides = intList(stride, '_rebuild_tensor_v2: the stride');
      if (shape.length !== strides.length)
        throw new PickleError(`_rebuild_tensor_v2: size has ${shape.length} dimensions, stride ${strides.length}`);
      if (shape.length > MAX_RANK)
        throw new PickleError(`_rebuild_tensor_v2: ${shape.length} dimensions (at most ${MAX_RANK})`);
      return { kind: 'tensor', storage, offset, shape, stride: strides };
    }
    case 'torch._utils._rebuild_parameter':
    case 'torch._utils._rebuild_parameter_with_state':
      if (!isTensor(args[0])) throw new PickleError(`${fn.name}: expected a tensor, got ${describe(args[0])}`);
      return args[0];
    default:
      throw new PickleError(`${fn.name} cannot be called`);
  }
}

/** Interpret a pickle of a state dict. Returns the top-level value. */
export function unpickle(bytes: Uint8Array): PyValue {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length;
  let pos = 0;
  let stack: PyValue[] = [];
  const marks: PyValue[][] = [];
  const memo = new Map<number, PyValue>();
  const utf8 = new TextDecoder('utf-8', { fatal: true });

  const need = (k: number, what: string) => {
    if (k < 0 || pos + k > n)
      throw new PickleError(`truncated: ${what} of ${k} bytes at byte ${pos} runs past the end (${n} bytes)`);
  };
  const pop = (): PyValue => {
    if (!stack.length) throw new PickleError(`corrupted: stack underflow at byte ${pos}`);
    return stack.pop()!;
  };
  const top = (): PyValue => {
    if (!stack.length) throw new PickleError(`corrupted: stack underflow at byte ${pos}`);
    return stack[stack.length - 1];
  };
  const popMark = (): PyValue[] => {
    const items = stack;
    if (!marks.length) throw new PickleError(`corrupted: no MARK before byte ${pos}`);
    stack = marks.pop()!;
    return items;
  };
  const text = (k: number): string => {
    need(k, 'a string');
    try {
      const s = utf8.decode(bytes.subarray(pos, pos + k));
      pos += k;
      return s;
    } catch {
      throw new PickleError(`corrupted: a string at byte ${pos} is not UTF-8`);
    }
  };
  const line = (): string => {
    const end = pos + bytes.subarray(pos, pos + 257).indexOf(0x0a);
    if (end < pos) throw new PickleError(`corrupted: unterminated GLOBAL name at byte ${pos}`);
    const s = String.fromCharCode(...bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const global = (module: string, name: string): PyGlobal => {
    const full = `${module}.${name}`;
    if (!ALLOWED_GLOBALS.has(full))
      throw new PickleError(
        `refused: the pickle calls ${full}, which is not part of a state dict (allowed: tensors, dicts, lists, tuples, numbers, strings)`,
      );
    return { kind: 'global', name: full };
  };
  const setItems = (dict: PyValue, kv: PyValue[]) => {
    if (!(dict instanceof PyDict)) throw new PickleError(`corrupted: SETITEM on ${describe(dict)}`);
    if (kv.length % 2) throw new PickleError('corrupted: SETITEMS with an odd number of items');
    for (let i = 0; i < kv.length; i += 2) {
      const k = kv[i];
      if (typeof k !== 'string' && typeof k !== 'number') throw new PickleError(`unsupported dict key: ${describe(k)}`);
      dict.map.set(k, kv[i + 1]);
    }
  };
  const int = (v: bigint): number => {
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER))
      throw new PickleError(`integer ${v} is out of range`);
    return Number(v);
  };
  const long = (k: number): number => {
    need(k, 'a long integer');
    if (k > 8) throw new PickleError(`integer of ${k} bytes is out of range`);
    let v = 0n;
    for (let i = k - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[pos + i]);
    if (k > 0 && bytes[pos + k - 1] & 0x80) v -= 1n << BigInt(8 * k);
    pos += k;
    return int(v);
  };

  for (;;) {
    if (pos >= n) throw new PickleError(`truncated: the pickle ends at byte ${n} without STOP`);
    const at = pos;
    const op = bytes[pos++];
    switch (op) {
      case 0x80: // PROTO
        need(1, 'PROTO');
        if (bytes[pos] > 5) throw new PickleError(`unsupported pickle protocol ${bytes[pos]}`);
        pos += 1;
        break;
      case 0x95: // FRAME (a length hint)
        need(8, 'FRAME');
        pos += 8;
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length)
          throw new PickleError(`corrupted: STOP with ${stack.length} values on the stack`);
        return stack[0];
      case 0x28: // MARK
        marks.push(stack);
        stack = [];
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(new PyTuple([]));
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new PyDict());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4b: // BININT1
        need(1, 'BININT1');
        stack.push(bytes[pos]);
        pos += 1;
        break;
      case 0x4d: // BININT2
        need(2, 'BININT2');
        stack.push(dv.getUint16(pos, true));
        pos += 2;
        break;
      case 0x4a: // BININT
        need(4, 'BININT');
        stack.push(dv.getInt32(pos, true));
        pos += 4;
        break;
      case 0x8a: // LONG1
        need(1, 'LONG1');
        pos += 1;
        stack.push(long(bytes[pos - 1]));
        break;
      case 0x8b: // LONG4
        need(4, 'LONG4');
        pos += 4;
        stack.push(long(dv.getInt32(pos - 4, true)));
        break;
      case 0x47: // BINFLOAT (big-endian double)
        need(8, 'BINFLOAT');
        stack.push(dv.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x58: // BINUNICODE
        need(4, 'BINUNICODE');
        pos += 4;
        stack.push(text(dv.getUint32(pos - 4, true)));
        break;
      case 0x8c: // SHORT_BINUNICODE
        need(1, 'SHORT_BINUNICODE');
        pos += 1;
        stack.push(text(bytes[pos - 1]));
        break;
      case 0x8d: // BINUNICODE8
        need(8, 'BINUNICODE8');
        pos += 8;
        stack.push(text(int(dv.getBigUint64(pos - 8, true))));
        break;
      case 0x74: {
        // TUPLE (popMark replaces `stack`: take the items before pushing)
        const items = popMark();
        stack.push(new PyTuple(items));
        break;
      }
      case 0x85: // TUPLE1
        stack.push(new PyTuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push(new PyTuple([pop(), b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push(new PyTuple([pop(), b, c]));
        break;
      }
      case 0x6c: {
        // LIST
        const items = popMark();
        stack.push(items);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        const list = top();
        if (!Array.isArray(list)) throw new PickleError(`corrupted: APPEND to ${describe(list)}`);
        list.push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const list = top();
        if (!Array.isArray(list)) throw new PickleError(`corrupted: APPENDS to ${describe(list)}`);
        for (const v of items) list.push(v);
        break;
      }
      case 0x64: {
        // DICT
        const d = new PyDict();
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const kv = popMark();
        setItems(top(), kv);
        break;
      }
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line();
        stack.push(global(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string')
          throw new PickleError('corrupted: STACK_GLOBAL without two strings');
        stack.push(global(module, name));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        if (!isGlobal(fn)) throw new PickleError(`corrupted: REDUCE calls ${describe(fn)}`);
        if (!(args instanceof PyTuple)) throw new PickleError(`corrupted: REDUCE with ${describe(args)} as arguments`);
        stack.push(construct(fn, args.items));
        break;
      }
      case 0x62: {
        // BUILD: only an OrderedDict's attribute dict (state_dict's `_metadata`), which is ignored
        const state = pop();
        const obj = top();
        if (!(obj instanceof PyDict) || !(state instanceof PyDict || state === null))
          throw new PickleError(`refused: BUILD sets the state of ${describe(obj)}`);
        break;
      }
      case 0x51: {
        // BINPERSID: ('storage', <storage type>, key, location, numel)
        const pid = pop();
        const items = pid instanceof PyTuple ? pid.items : [];
        const [tag, type, key, , numel] = items;
        if (items.length !== 5 || tag !== 'storage')
          throw new PickleError(`unsupported persistent id (${describe(pid)})`);
        if (!isGlobal(type) || !type.name.startsWith('torch.') || !(type.name.slice(6) in STORAGE_TYPES))
          throw new PickleError(`unsupported storage type ${describe(type)}`);
        if (typeof key !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(key))
          throw new PickleError('corrupted: a storage key is not a short name');
        if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0)
          throw new PickleError(`corrupted: storage '${key}' has ${String(numel)} elements`);
        stack.push({ kind: 'storage', key, dtype: STORAGE_TYPES[type.name.slice(6)].dtype, numel });
        break;
      }
      case 0x71: // BINPUT
        need(1, 'BINPUT');
        memo.set(bytes[pos], top());
        pos += 1;
        break;
      case 0x72: // LONG_BINPUT
        need(4, 'LONG_BINPUT');
        memo.set(dv.getUint32(pos, true), top());
        pos += 4;
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const k = op === 0x68 ? 1 : 4;
        need(k, 'BINGET');
        const idx = k === 1 ? bytes[pos] : dv.getUint32(pos, true);
        pos += k;
        if (!memo.has(idx)) throw new PickleError(`corrupted: memo entry ${idx} is not defined (byte ${at})`);
        stack.push(memo.get(idx)!);
        break;
      }
      case 0x30: // POP
        pop();
        break;
      default:
        throw new PickleError(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${at}`);
    }
  }
}
