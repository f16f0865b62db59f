/**
 * The browser-safe checkpoint codec (src/checkpoint/codec.ts) on bytes: the portable SHA-256
 * agrees with node:crypto, bytes and files are the same format (byte for byte), and damaged bytes
 * fail with one line naming the label.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import * as mp from '../src/index';
import {
  CheckpointError,
  decodeMetadata,
  decodeSafetensors,
  decodeState,
  encodeSafetensors,
  encodeState,
} from '../src/checkpoint/codec';
import { loadState, saveSafetensors, saveState } from '../src/checkpoint/file';
import { sha256 } from '../src/checkpoint/sha256';
import type { Tensor } from '../src/core';

const dir = mkdtempSync(join(tmpdir(), 'matpac-codec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('portable SHA-256', () => {
  it('matches node:crypto for any bytes, however they are split into updates', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(300), { maxLength: 4 }), (bytes, cuts) => {
        const h = sha256();
        let at = 0;
        for (const c of [...cuts].sort((a, b) => a - b)) {
          h.update(bytes.subarray(at, Math.max(at, c)));
          at = Math.max(at, c);
        }
        h.update(bytes.subarray(at));
        expect(h.hex()).toBe(createHash('sha256').update(bytes).digest('hex'));
      }),
      { numRuns: 200, seed: 3 },
    );
    const abc = sha256();
    abc.update(new TextEncoder().encode('abc'));
    expect(abc.hex()).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'); // FIPS 180-2 example
  });
});

describe('checkpoint bytes', () => {
  const state = {
    step: 3,
    key: [1, 2],
    w: mp.tensor([1.5, -2, 3.25, 0], [2, 2]),
    nested: { b: [mp.scalar(7), 'x', null, NaN] },
  };

  it('bytes and files are the same format, byte for byte', () => {
    const file = join(dir, 's.safetensors');
    saveState(file, state, { config: '{}' });
    const fromFile = new Uint8Array(readFileSync(file));
    const bytes = encodeState(state, { config: '{}' });
    expect(Buffer.from(bytes).equals(Buffer.from(fromFile))).toBe(true);
    const back = decodeState<typeof state>(
      fromFile.buffer.slice(fromFile.byteOffset, fromFile.byteOffset + fromFile.byteLength),
    );
    expect(back.w.toNested()).toEqual([
      [1.5, -2],
      [3.25, 0],
    ]);
    expect((back.nested.b[0] as Tensor).item()).toBe(7);
    expect(back.nested.b.slice(1)).toEqual(['x', null, NaN]);
    expect(decodeMetadata(bytes).step).toBe('3');
    // and what the codec wrote loads from a file
    const file2 = join(dir, 's2.safetensors');
    saveSafetensors(file2, { a: mp.tensor([1, 2]) });
    expect(Array.from(decodeSafetensors(new Uint8Array(readFileSync(file2))).tensors.a.toArray())).toEqual([1, 2]);
    expect(loadState<typeof state>(file).step).toBe(3);
  });

  it('cut or flipped data bytes fail with one line naming the label', () => {
    const bytes = encodeSafetensors({ a: mp.tensor([1, 2, 3]) });
    const dataStart = bytes.length - 12;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: bytes.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        fc.boolean(),
        (pos, x, cut) => {
          const copy = cut ? bytes.slice(0, pos) : bytes.slice();
          if (!cut) copy[dataStart + (pos % 12)] ^= x;
          let err: unknown;
          try {
            decodeSafetensors(copy, { name: 'upload.safetensors' });
          } catch (e) {
            err = e;
          }
          expect(err).toBeInstanceOf(CheckpointError);
          expect((err as Error).message).toMatch(/^checkpoint upload\.safetensors: [^\n]+$/);
        },
      ),
      { numRuns: 150, seed: 5 },
    );
  });
});
