/**
 * Sums over rows and over columns as WebAssembly SIMD, in exactly the float64 association of the
 * JS loops of ./layout.ts (COLUMN_SUMS, ROW_REDUCE), so that both give the same bits
 * (test/wasm-loop.test.ts), on buffers in the kernels' shared memory:
 *
 *   columns: acc_j += (x[r]_j + x[r+1]_j) + (x[r+2]_j + x[r+3]_j) for each four rows r, then
 *            acc_j += x[r]_j for the rows left; out_j = float32(acc_j)      (a bias gradient)
 *   rows:    a_k += x[4i + k] (k = 0…3) along each row, the elements left into a_0;
 *            out_r = float32((a_0 + a_1) + (a_2 + a_3))
 *
 * Two float64 lanes at a time: two columns, or the pairs (a_0, a_1) and (a_2, a_3).
 */
import { kernelHeap } from './heap';
import { wasmLoopsOn } from './wasm-loop';
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

const s = op.simd;

/** columns(x, out, acc, rows, n): byte addresses (x advances row by row), acc 8n bytes of zeros. */
function columnsModule(): Uint8Array<ArrayBuffer> {
  const [X, OUT, ACC, ROWS, N] = [0, 1, 2, 3, 4];
  const [R, J, RB, RB2, RB3, A] = [5, 6, 7, 8, 9, 10];
  // acc address of column byte j (float32 bytes → float64 bytes): ACC + 2j, kept in A
  const accAt = [...op.get(ACC), ...op.get(J), ...op.i32(1), ...op.i32Shl, ...op.i32Add, ...op.tee(A)];
  /** columns J (two, or one) of row X + rowBytes */
  const x = (wide: boolean, rowBytes?: number) => [
    ...(rowBytes === undefined ? addLocals(X, J) : [...addLocals(X, rowBytes), ...op.get(J), ...op.i32Add]),
    ...loadPromoted(wide),
  ];
  const update = (four: boolean, wide: boolean) => {
    const accLoad = wide ? s(SIMD.v128Load, 3, 0) : s(SIMD.load64Zero, 3, 0);
    const accStore = wide ? s(SIMD.v128Store, 3, 0) : s(SIMD.store64Lane, 3, 0, 0);
    const rowsSum = four
      ? [
          ...x(wide),
          ...x(wide, RB),
          ...s(SIMD.f64x2Add),
          ...x(wide, RB2),
          ...x(wide, RB3),
          ...s(SIMD.f64x2Add),
          ...s(SIMD.f64x2Add),
        ]
      : x(wide);
    return [...accAt, ...op.get(A), ...accLoad, ...rowsSum, ...s(SIMD.f64x2Add), ...accStore];
  };
  // every column of the rows at X: two at a time, then the last one
  const pass = (four: boolean) => [
    ...op.i32(0),
    ...op.set(J),
    ...whileFits(J, 8, RB, update(four, true)),
    ...whileFits(J, 4, RB, update(four, false)),
  ];
  const code = [
    ...op.get(N),
    ...op.i32(2),
    ...op.i32Shl,
    ...op.tee(RB),
    ...op.get(RB),
    ...op.i32Add,
    ...op.tee(RB2),
    ...op.get(RB),
    ...op.i32Add,
    ...op.set(RB3),
    ...whileFits(R, 4, ROWS, [...pass(true), ...addLocals(X, RB2), ...op.get(RB2), ...op.i32Add, ...op.set(X)]),
    ...whileFits(R, 1, ROWS, [...pass(false), ...addLocals(X, RB), ...op.set(X)]),
    // out_j = float32(acc_j)
    ...op.i32(0),
    ...op.set(J),
    ...whileFits(J, 4, RB, [...addLocals(OUT, J), ...accAt, ...s(SIMD.load64Zero, 3, 0), ...storeDemoted(false)]),
  ];
  return moduleBytes('run', [I32, I32, I32, I32, I32], [I32, I32, I32, I32, I32, I32], code);
}

/** rows(x, out, rows, n): byte addresses. */
function rowsModule(): Uint8Array<ArrayBuffer> {
  const [X, OUT, ROWS, N] = [0, 1, 2, 3];
  const [R, J, RB, VA, VB] = [4, 5, 6, 7, 8];
  /** lane 0 + lane 1 of local v */
  const lanes = (v: number) => [
    ...op.get(v),
    ...s(SIMD.f64x2ExtractLane, 0),
    ...op.get(v),
    ...s(SIMD.f64x2ExtractLane, 1),
    ...op.f64Add,
  ];
  const code = [
    ...op.get(N),
    ...op.i32(2),
    ...op.i32Shl,
    ...op.set(RB),
    ...whileFits(R, 1, ROWS, [
      ...op.f64x2(0, 0),
      ...op.tee(VA),
      ...op.set(VB),
      ...op.i32(0),
      ...op.set(J),
      ...whileFits(J, 16, RB, [
        ...op.get(VA),
        ...addLocals(X, J),
        ...loadPromoted(true),
        ...s(SIMD.f64x2Add),
        ...op.set(VA),
        ...op.get(VB),
        ...addLocals(X, J),
        ...loadPromoted(true, 8),
        ...s(SIMD.f64x2Add),
        ...op.set(VB),
      ]),
      ...whileFits(J, 4, RB, [
        ...op.get(VA),
        ...addLocals(X, J),
        ...loadPromoted(false),
        ...s(SIMD.f64x2Add),
        ...op.set(VA),
      ]),
      ...op.get(OUT),
      ...lanes(VA),
      ...lanes(VB),
      ...op.f64Add,
      ...op.f32DemoteF64,
      ...op.f32Store(0),
      ...addLocals(X, RB),
      ...op.set(X),
      ...op.get(OUT),
      ...op.i32(4),
      ...op.i32Add,
      ...op.set(OUT),
    ]),
  ];
  return moduleBytes('run', [I32, I32, I32, I32], [I32, I32, I32, V128, V128], code);
}

const kernels: { memory: WebAssembly.Memory | null; columns?: Run; rows?: Run } = { memory: null };

function instances(memory: WebAssembly.Memory): { columns: Run; rows: Run } {
  if (kernels.memory !== memory) {
    Object.assign(kernels, {
      memory,
      columns: instantiateRun(columnsModule(), memory),
      rows: instantiateRun(rowsModule(), memory),
    });
  }
  return kernels as { columns: Run; rows: Run };
}

/** Whether x and out lie in the kernels' shared memory and the WebAssembly loops are on. */
function usable(x: Float32Array, out: Float32Array): WebAssembly.Memory | null {
  const heap = kernelHeap();
  return wasmLoopsOn() && heap?.shared && heap.holds(x) && heap.holds(out) ? heap.memory : null;
}

/** out[j] = Σ_r x[r·n + j] (rows × n); false, having done nothing, where it does not apply. */
export function columnSumsWasm(x: Float32Array, out: Float32Array, rows: number, n: number): boolean {
  const memory = usable(x, out);
  const heap = kernelHeap();
  if (!memory || !heap) return false;
  const at = heap.alloc(8 * n);
  if (at === null) return false;
  try {
    new Float64Array(memory.buffer, at, n).fill(0);
    instances(memory).columns(x.byteOffset, out.byteOffset, at, rows, n);
  } finally {
    heap.free(at, 8 * n);
  }
  return true;
}

/** out[r] = Σ_j x[r·n + j] (rows × n); false, having done nothing, where it does not apply. */
export function rowSumsWasm(x: Float32Array, out: Float32Array, rows: number, n: number): boolean {
  const memory = usable(x, out);
  if (!memory) return false;
  instances(memory).rows(x.byteOffset, out.byteOffset, rows, n);
  return true;
}
