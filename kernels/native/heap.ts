/**
 * Blocks of the native kernels' WebAssembly memory (the matmul kernel's, kernels/native/matmul.ts).
 *
 * The memory holds the kernels' control block at byte 0 and, above BASE, blocks handed out here:
 * the matmul's scratch (packing workspaces, copies of operands that live elsewhere) and — where
 * the memory is shared (Node, cross-origin-isolated workers) — the backend's buffers themselves
 * (./alloc.ts). A matmul whose operands and result are such buffers reads and writes them in
 * place: no copy into the kernel's memory and none out of it. A shared memory grows without
 * detaching what was handed out (an unshared one detaches its views when it grows, so there only
 * offsets are kept, never arrays).
 *
 * Blocks are multiples of 64 bytes, reused by exact size (a training step asks for the same sizes
 * every step), and carved from the top of the memory otherwise, which grows up to its maximum.
 */
const PAGE = 65536;
/** Bytes below the first block: the kernels' control and parameter blocks. */
const BASE = 4096;
const ALIGN = 64;

export interface KernelHeap {
  memory: WebAssembly.Memory;
  /** Whether the memory is shared: its blocks may back typed arrays that live on (./alloc.ts). */
  shared: boolean;
  /** Byte offset of a free block of at least `bytes`, or null when the memory cannot grow to it. */
  alloc(bytes: number): number | null;
  /** Return a block (its offset and the size it was asked for). */
  free(offset: number, bytes: number): void;
  /** Whether `a` lies in this memory (any of its buffers since it grew), shared memories only. */
  holds(a: Float32Array): boolean;
}

export function createHeap(memory: WebAssembly.Memory, maxBytes: number, shared: boolean): KernelHeap {
  const free = new Map<number, number[]>();
  const buffers = new WeakSet<ArrayBufferLike>([memory.buffer]);
  let top = BASE;
  const sizeOf = (bytes: number) => Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
  return {
    memory,
    shared,
    alloc(bytes) {
      const size = sizeOf(bytes);
      const reuse = free.get(size)?.pop();
      if (reuse !== undefined) return reuse;
      if (top + size > maxBytes) return null;
      const have = memory.buffer.byteLength;
      if (top + size > have) {
        try {
          memory.grow(Math.ceil((top + size - have) / PAGE));
        } catch {
          return null; // the process could not get the memory
        }
        buffers.add(memory.buffer);
      }
      const at = top;
      top += size;
      return at;
    },
    free(offset, bytes) {
      const size = sizeOf(bytes);
      let list = free.get(size);
      if (!list) free.set(size, (list = []));
      list.push(offset);
    },
    holds: (a) => shared && buffers.has(a.buffer),
  };
}

let heap: KernelHeap | null = null;

/** The kernels' heap (registered by matmul.ts once its kernel has loaded), or null before / without it. */
export function kernelHeap(): KernelHeap | null {
  return heap;
}

export function setKernelHeap(h: KernelHeap): void {
  heap = h;
}
