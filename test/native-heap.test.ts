/**
 * The kernels' heap (kernels/native/heap.ts): blocks of the matmul kernel's WebAssembly memory,
 * which back the native backend's larger buffers where the memory is shared, so that the matmul
 * reads its operands and writes its result in place.
 */
import { describe, expect, it } from 'vitest';
import { createHeap, kernelHeap } from '../kernels/native/heap';
import { allocF32, releaseF32 } from '../kernels/native/alloc';
import { matmulF32, matmulF32JS } from '../kernels/native/matmul';

describe('kernel heap', () => {
  it('hands out aligned blocks, reuses freed ones by size, grows the memory, refuses past its maximum', () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 4, shared: true });
    const heap = createHeap(memory, 4 * 65536, true);
    const a = heap.alloc(100)!;
    const b = heap.alloc(100)!;
    expect(a % 64).toBe(0);
    expect(b - a).toBe(128);
    heap.free(a, 100);
    expect(heap.alloc(70)).toBe(a); // same 128-byte size class
    const big = heap.alloc(200_000)!; // past the first page: the memory grows
    expect(memory.buffer.byteLength).toBeGreaterThanOrEqual(big + 200_000);
    expect(heap.holds(new Float32Array(memory.buffer, big, 10))).toBe(true);
    expect(heap.holds(new Float32Array(10))).toBe(false);
    expect(heap.alloc(4 * 65536)).toBeNull(); // beyond the maximum
  });

  it('backs large native buffers where the memory is shared, and the matmul reads and writes them in place', () => {
    const heap = kernelHeap();
    expect(heap?.shared).toBe(true); // Node: shared memory
    const fill = (x: Float32Array, seed: number) => {
      for (let i = 0; i < x.length; i++) x[i] = Math.sin(seed * 1000 + i);
      return x;
    };
    const [M, K, N] = [70, 90, 80];
    const a = fill(allocF32(M * K), 1);
    const b = fill(allocF32(K * N), 2);
    const out = allocF32(M * N);
    expect([a, b, out].every((x) => heap!.holds(x))).toBe(true);
    const want = matmulF32JS(a, b, 1, M, K, N, { bias: fill(new Float32Array(N), 3) });
    matmulF32(a, b, 1, M, K, N, { out, bias: fill(new Float32Array(N), 3) });
    for (let i = 0; i < want.length; i++) expect(out[i]).toBeCloseTo(want[i], 4);
    // a result that aliases an operand read in place is still right (C is then written through a copy)
    const sq = fill(allocF32(K * K), 4);
    const ref = matmulF32JS(sq, sq, 1, K, K, K);
    const res = matmulF32(sq, sq, 1, K, K, K, { out: sq });
    expect(res).toBe(sq);
    for (let i = 0; i < ref.length; i++) expect(sq[i]).toBeCloseTo(ref[i], 3);
    // and a released buffer comes back from the pool, still in the heap
    releaseF32(out);
    const again = allocF32(M * N);
    expect(again).toBe(out);
  });
});
