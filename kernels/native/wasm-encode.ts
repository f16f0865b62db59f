/**
 * A minimal WebAssembly binary writer: one module importing the kernels' shared memory and
 * exporting one function — what the native backend's generated loops need (./wasm-loop.ts,
 * ./wasm-sums.ts) — and the few instruction sequences both build from. Opcodes are the core and
 * SIMD proposals' (their behaviour is checked bit for bit in test/wasm-loop.test.ts).
 */

/** Value types. */
export const I32 = 0x7f;
export const V128 = 0x7b;

/** Unsigned LEB128. */
export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 (i32 constants). */
export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) return [...out, b];
    out.push(b | 0x80);
  }
}

const utf8 = (s: string) => [...uleb(s.length), ...[...s].map((c) => c.charCodeAt(0))];
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];

/** Instructions used by the loops (bytes; SIMD ones behind the 0xfd prefix with a LEB opcode). */
export const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  br: (depth: number) => [0x0c, ...uleb(depth)],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  tee: (i: number) => [0x22, ...uleb(i)],
  i32: (v: number) => [0x41, ...sleb(v)],
  i32Add: [0x6a],
  i32Shl: [0x74],
  i32GeU: [0x4f],
  i32GtU: [0x4b],
  f32Load: (offset: number) => [0x2a, 2, ...uleb(offset)],
  f32Store: (offset: number) => [0x38, 2, ...uleb(offset)],
  f64Add: [0xa0],
  f32DemoteF64: [0xb6],
  f64PromoteF32: [0xbb],
  /** v128 holding two f64 lanes */
  f64x2: (a: number, b: number) => {
    const d = new DataView(new ArrayBuffer(16));
    d.setFloat64(0, a, true);
    d.setFloat64(8, b, true);
    return [0xfd, 0x0c, ...new Uint8Array(d.buffer)];
  },
  simd: (code: number, ...imm: number[]) => [0xfd, ...uleb(code), ...imm],
};

/** SIMD opcodes (after the 0xfd prefix). */
export const SIMD = {
  /** v128.load / v128.store (memarg) */
  v128Load: 0x00,
  v128Store: 0x0b,
  f64x2Splat: 0x14,
  /** f64x2.extract_lane (a lane) */
  f64x2ExtractLane: 0x21,
  v128And: 0x4e,
  v128Or: 0x50,
  v128Bitselect: 0x52,
  f64x2Eq: 0x47,
  f64x2Ne: 0x48,
  f64x2Lt: 0x49,
  f64x2Gt: 0x4a,
  f64x2Ge: 0x4c,
  f64x2Neg: 0xed,
  f64x2Sqrt: 0xef,
  f64x2Add: 0xf0,
  f64x2Sub: 0xf1,
  f64x2Mul: 0xf2,
  f64x2Div: 0xf3,
  f32x4DemoteF64x2Zero: 0x5e,
  f64x2PromoteLowF32x4: 0x5f,
  /** v128.load32_zero / load64_zero, v128.store32_lane / store64_lane (memarg, then a lane for stores) */
  load32Zero: 0x5c,
  load64Zero: 0x5d,
  store32Lane: 0x5a,
  store64Lane: 0x5b,
};

/** Pages the imported memory may grow to: the kernels' memory (kernels/native/matmul.ts, 2 GiB) fits. */
const MAX_PAGES = 65536;

/**
 * A module importing env.memory (shared) and exporting `name`, a function of `params` with
 * `locals` (value types) and body `code` (without the final end).
 */
export function moduleBytes(name: string, params: number[], locals: number[], code: number[]): Uint8Array<ArrayBuffer> {
  const type = section(1, vec([[0x60, ...uleb(params.length), ...params, 0]]));
  const memory = [...utf8('env'), ...utf8('memory'), 0x02, 0x03, ...uleb(1), ...uleb(MAX_PAGES)];
  const imports = section(2, vec([memory]));
  const funcs = section(3, vec([uleb(0)]));
  const exports = section(7, vec([[...utf8(name), 0x00, ...uleb(0)]]));
  // locals as runs of one type
  const runs: number[][] = [];
  for (const t of locals) {
    const last = runs[runs.length - 1];
    if (last && last[1] === t) last[0]++;
    else runs.push([1, t]);
  }
  const body = [...vec(runs.map(([n, t]) => [...uleb(n), t])), ...code, ...op.end];
  const codeSec = section(10, vec([[...uleb(body.length), ...body]]));
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...type, ...imports, ...funcs, ...exports, ...codeSec]);
}

/** A generated kernel: its arguments are i32 byte addresses and counts. */
export type Run = (...args: number[]) => void;

/** The exported `run` of a module from moduleBytes, instantiated on `memory`. */
export function instantiateRun(bytes: Uint8Array<ArrayBuffer>, memory: WebAssembly.Memory): Run {
  return new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports.run as Run;
}

/** local a + local b (i32: byte addresses). */
export const addLocals = (a: number, b: number): number[] => [...op.get(a), ...op.get(b), ...op.i32Add];

/** Two float32 values (wide) or one (the other lane 0) at the address on the stack + offset, as float64 lanes. */
export const loadPromoted = (wide: boolean, offset = 0): number[] => [
  ...op.simd(wide ? SIMD.load64Zero : SIMD.load32Zero, wide ? 3 : 2, offset),
  ...op.simd(SIMD.f64x2PromoteLowF32x4),
];

/** Float64 lanes demoted and stored as two float32 values (wide) or one, at the address below them on the stack + offset. */
export const storeDemoted = (wide: boolean, offset = 0): number[] => [
  ...op.simd(SIMD.f32x4DemoteF64x2Zero),
  ...op.simd(wide ? SIMD.store64Lane : SIMD.store32Lane, wide ? 3 : 2, offset, 0),
];

/** while (local i + step <= local limit) { body; i += step } */
export const whileFits = (i: number, step: number, limit: number, body: number[]): number[] => [
  ...op.block,
  ...op.loop,
  ...op.get(i),
  ...op.i32(step),
  ...op.i32Add,
  ...op.get(limit),
  ...op.i32GtU,
  ...op.brIf(1),
  ...body,
  ...op.get(i),
  ...op.i32(step),
  ...op.i32Add,
  ...op.set(i),
  ...op.br(0),
  ...op.end,
  ...op.end,
];
