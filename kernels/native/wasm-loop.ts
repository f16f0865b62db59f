/**
 * Elementwise loops generated as WebAssembly SIMD: the same scalar expressions as the generated JS
 * loops of ./elementwise.ts (src/fused.ts sources), computed two lanes at a time in float64 and
 * stored as float32 — the JS loops' arithmetic exactly (float32 storage, float64 operations, each
 * IEEE-rounded), so the two agree bit for bit (test/wasm-loop.test.ts), at a fraction of the time:
 * a JS loop pays a bounds check, a float32 → float64 conversion and a store check per element.
 *
 *   for r in [0, rows), e in [0, inner):
 *     out_j[r·inner + e] = expr_j(x_0, x_1, …),   x_k = in_k[r·rowStride_k + e]   ('c': contiguous)
 *                                                  x_k = in_k[r·rowStride_k]       ('b': one value per row)
 *
 * Arrays are read and written where they lie in the kernels' shared memory (./heap.ts): a call
 * applies when every output and every contiguous input is a block of it (one-value inputs that
 * are not are copied in). Operations without a WebAssembly form here (exp, log, tanh, erf, gelu,
 * pow: library functions) keep the JS loops.
 */
import { exprSource, parseExprSource, type Expr, type FusedOp } from '../../src/fused';
import { kernelHeap } from './heap';
import {
  addLocals,
  I32,
  instantiateRun,
  loadPromoted,
  moduleBytes,
  op,
  SIMD,
  storeDemoted,
  type Run,
  V128,
  whileFits,
} from './wasm-encode';

/** How an input is read along a row: 'c' contiguous, 'b' one value per row. */
export type RowAccess = 'c' | 'b';

const LOWERED: Partial<Record<FusedOp, true>> = {
  add: true,
  sub: true,
  mul: true,
  div: true,
  neg: true,
  square: true,
  sqrt: true,
  rsqrt: true,
  maximum: true,
  minimum: true,
  greater: true,
  greaterEqual: true,
  equal: true,
  where: true,
};
const lowered = (e: Expr): boolean => typeof e === 'number' || 'x' in e || (!!LOWERED[e.op] && e.args.every(lowered));

const BINARY: Partial<Record<FusedOp, number>> = {
  add: SIMD.f64x2Add,
  sub: SIMD.f64x2Sub,
  mul: SIMD.f64x2Mul,
  div: SIMD.f64x2Div,
};
const COMPARE: Partial<Record<FusedOp, number>> = {
  greater: SIMD.f64x2Gt,
  greaterEqual: SIMD.f64x2Ge,
  equal: SIMD.f64x2Eq,
};

/** The module of a loop, or null when an expression has an operation without a WebAssembly form. */
export function loopModule(srcs: string[], pattern: RowAccess[]): Uint8Array<ArrayBuffer> | null {
  const exprs = srcs.map(parseExprSource);
  if (exprs.some((e) => e === null || !lowered(e))) return null;
  const m = srcs.length;
  // params: rows, inner, out_0 … out_{m-1}, then (address, row stride in bytes) per input
  const ROWS = 0;
  const INNER = 1;
  const out = (j: number) => 2 + j;
  const addr = (k: number) => 2 + m + 2 * k;
  const stride = (k: number) => 3 + m + 2 * k;
  const params = [I32, I32, ...Array(m).fill(I32), ...pattern.flatMap(() => [I32, I32])];
  const locals: number[] = [];
  const local = (t: number) => params.length + locals.push(t) - 1;
  const R = local(I32);
  const I = local(I32);
  const BYTES = local(I32);
  const xs = pattern.map(() => local(V128));

  // sub-expressions used more than once get a local, computed once per body
  const uses = new Map<string, number>();
  const count = (e: Expr) => {
    if (typeof e === 'number' || 'x' in e) return;
    const k = exprSource(e);
    uses.set(k, (uses.get(k) ?? 0) + 1);
    e.args.forEach(count);
  };
  exprs.forEach((e) => count(e!));
  const shared = new Map<string, number>();
  for (const [k, n] of uses) if (n > 1) shared.set(k, local(V128));
  let done = new Set<string>();

  const emit = (e: Expr): number[] => {
    if (typeof e === 'number') return op.f64x2(e, e);
    if ('x' in e) return op.get(xs[e.x]);
    const key = exprSource(e);
    const slot = shared.get(key);
    if (slot !== undefined && done.has(key)) return op.get(slot);
    const code = emitOp(e.op, e.args);
    if (slot === undefined) return code;
    done.add(key);
    return [...code, ...op.tee(slot)];
  };
  const emitOp = (o: FusedOp, a: readonly Expr[]): number[] => {
    const s = (c: number) => op.simd(c);
    if (BINARY[o] !== undefined) return [...emit(a[0]), ...emit(a[1]), ...s(BINARY[o]!)];
    if (COMPARE[o] !== undefined)
      return [...emit(a[0]), ...emit(a[1]), ...s(COMPARE[o]!), ...op.f64x2(1, 1), ...s(SIMD.v128And)];
    switch (o) {
      case 'neg':
        return [...emit(a[0]), ...s(SIMD.f64x2Neg)];
      case 'sqrt':
        return [...emit(a[0]), ...s(SIMD.f64x2Sqrt)];
      case 'rsqrt': // 1 / √x, as the JS source
        return [...op.f64x2(1, 1), ...emit(a[0]), ...s(SIMD.f64x2Sqrt), ...s(SIMD.f64x2Div)];
      case 'square': {
        const t = local(V128);
        return [...emit(a[0]), ...op.tee(t), ...op.get(t), ...s(SIMD.f64x2Mul)];
      }
      case 'maximum':
      case 'minimum': {
        // fmax(a, b) = a > b || a ≠ a ? a : b (NaN from the first operand), fmin with <
        const [ta, tb] = [local(V128), local(V128)];
        const cmp = o === 'maximum' ? SIMD.f64x2Gt : SIMD.f64x2Lt;
        return [
          ...emit(a[0]),
          ...op.tee(ta),
          ...emit(a[1]),
          ...op.tee(tb),
          ...op.get(ta),
          ...op.get(tb),
          ...s(cmp),
          ...op.get(ta),
          ...op.get(ta),
          ...s(SIMD.f64x2Ne),
          ...s(SIMD.v128Or),
          ...s(SIMD.v128Bitselect),
        ];
      }
      case 'where': // c ≠ 0 ? a : b
        return [
          ...emit(a[1]),
          ...emit(a[2]),
          ...emit(a[0]),
          ...op.f64x2(0, 0),
          ...s(SIMD.f64x2Ne),
          ...s(SIMD.v128Bitselect),
        ];
      default:
        throw new Error(`wasm loop: no lowering of ${o}`);
    }
  };

  // one body: two elements (wide) or one at byte offset I + at of every contiguous input and output
  const body = (wide: boolean, at: number): number[] => {
    done = new Set();
    const code: number[] = [];
    pattern.forEach((p, k) => {
      if (p === 'c') code.push(...addLocals(addr(k), I), ...loadPromoted(wide, at), ...op.set(xs[k]));
    });
    exprs.forEach((e, j) => code.push(...addLocals(out(j), I), ...emit(e!), ...storeDemoted(wide, at)));
    return code;
  };
  // one row: one-value inputs' row value in both lanes; four elements at a time (two pairs), then
  // one at a time; then every input and output on to its next row
  const row: number[] = [];
  pattern.forEach((p, k) => {
    if (p === 'b')
      row.push(
        ...op.get(addr(k)),
        ...op.f32Load(0),
        ...op.f64PromoteF32,
        ...op.simd(SIMD.f64x2Splat),
        ...op.set(xs[k]),
      );
  });
  row.push(...op.i32(0), ...op.set(I));
  row.push(...whileFits(I, 16, BYTES, [...body(true, 0), ...body(true, 8)]), ...whileFits(I, 4, BYTES, body(false, 0)));
  pattern.forEach((_, k) => row.push(...addLocals(addr(k), stride(k)), ...op.set(addr(k))));
  exprs.forEach((_, j) => row.push(...addLocals(out(j), BYTES), ...op.set(out(j))));
  const code = [...op.get(INNER), ...op.i32(2), ...op.i32Shl, ...op.set(BYTES), ...whileFits(R, 1, ROWS, row)];
  return moduleBytes('run', params, locals, code);
}

/** Loops compiled against the kernels' memory (null: not expressible), by sources and pattern. */
const cache = new Map<string, Run | null>();
let memoryOf: WebAssembly.Memory | null = null;
let enabled = true;

/** Whether elementwise loops may run as WebAssembly (default: yes; tests and benchmarks compare). Returns the previous setting. */
export function setWasmLoops(on: boolean): boolean {
  const prev = enabled;
  enabled = on;
  return prev;
}

/** Whether the WebAssembly loops are on (setWasmLoops). */
export const wasmLoopsOn = (): boolean => enabled;

/** What runs the elementwise loops now: WebAssembly where the kernels' memory is shared and they are on, else JS. */
export function wasmLoopsInfo(): string {
  return enabled && kernelHeap()?.shared ? 'wasm-simd128 (float64 lanes; JS for library functions)' : 'js';
}

function compiled(srcs: string[], pattern: RowAccess[], memory: WebAssembly.Memory): Run | null {
  if (memory !== memoryOf) {
    cache.clear();
    memoryOf = memory;
  }
  const key = `${srcs.join(' ; ')}/${pattern.join('')}`;
  if (cache.has(key)) return cache.get(key)!;
  if (cache.size >= 4096) cache.clear();
  let run: Run | null = null;
  const bytes = loopModule(srcs, pattern);
  if (bytes) {
    try {
      run = instantiateRun(bytes, memory);
    } catch {
      run = null; // (a page's main thread refuses to compile big modules synchronously: the JS loop runs)
    }
  }
  cache.set(key, run);
  return run;
}

/**
 * Run `srcs` over `rows` rows of `inner` elements as a WebAssembly loop (see the file comment;
 * `rowStrides[k]` in elements; one row needs none), writing `outs`. Returns false, having done nothing, where it does
 * not apply: no shared kernel memory, an array outside it, or an operation without a lowering.
 */
export function runWasmLoop(
  srcs: string[],
  pattern: RowAccess[],
  ins: Float32Array[],
  outs: Float32Array[],
  rows: number,
  inner: number,
  rowStrides?: ArrayLike<number>,
): boolean {
  const heap = kernelHeap();
  if (!enabled || !heap?.shared || !outs.every((o) => heap.holds(o))) return false;
  if (!pattern.every((p, k) => p === 'b' || heap.holds(ins[k]))) return false;
  const run = compiled(srcs, pattern, heap.memory);
  if (!run) return false;
  // one-value inputs outside the memory (small arrays: under alloc.ts's SHARED_MIN) are copied in
  const temps: { at: number; bytes: number }[] = [];
  try {
    const args: number[] = [rows, inner, ...outs.map((o) => o.byteOffset)];
    for (let k = 0; k < ins.length; k++) {
      let a = ins[k];
      if (!heap.holds(a)) {
        const at = heap.alloc(a.byteLength);
        if (at === null) return false;
        temps.push({ at, bytes: a.byteLength });
        new Float32Array(heap.memory.buffer, at, a.length).set(a);
        a = new Float32Array(heap.memory.buffer, at, a.length);
      }
      args.push(a.byteOffset, 4 * (rowStrides?.[k] ?? 0));
    }
    run(...args);
    return true;
  } finally {
    for (const t of temps) heap.free(t.at, t.bytes);
  }
}
