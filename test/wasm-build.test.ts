/**
 * The committed kernel binaries (kernels/native/*.wasm, loaded at run time) are exactly what
 * scripts/build-wasm.ts assembles from the .wat sources: no drift between source and binary.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assemble, binaryPath } from '../scripts/build-wasm';

describe('compiled WebAssembly kernels', () => {
  it('each committed .wasm equals the assembly of its .wat (else: npx tsx scripts/build-wasm.ts)', async () => {
    const built = await assemble();
    expect([...built.keys()].sort()).toEqual([
      'matmul-fma-single.wasm',
      'matmul-fma.wasm',
      'matmul-single.wasm',
      'matmul.wasm',
      'rows-shared.wasm',
      'rows.wasm',
    ]);
    for (const [name, bytes] of built) {
      const committed = new Uint8Array(readFileSync(binaryPath(name)));
      expect(Buffer.from(committed).equals(Buffer.from(bytes)), `kernels/native/${name} is out of date`).toBe(true);
    }
  });
});
