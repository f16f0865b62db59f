/**
 * NumPy .npy files (format version 1.0) holding little-endian float32 arrays in C order — what
 * MATPAC's preprocessing writes with `np.save` for each log-mel ([80, T]).
 * Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
 *   magic "\x93NUMPY", version 1 0, uint16 LE header length, an ASCII Python dict literal
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (80, T), } padded with spaces and ended by "\n"
 *   so that the data starts at a multiple of 64 bytes, then the raw data.
 */
import { readFile } from 'node:fs/promises';
import { encodeNpyArray, float32Array } from '../interop/numpy';
import { writeFileAtomic } from '../io/atomic-file';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Serialise a float32 array of the given shape (C order) to .npy bytes. */
export function encodeNpy(data: Float32Array, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (!shape.every((d) => Number.isInteger(d) && d >= 0) || count !== data.length) {
    throw new Error(`encodeNpy: shape [${shape.join(', ')}] does not match ${data.length} values`);
  }
  return encodeNpyArray(float32Array(data, shape));
}

/** Parse .npy bytes holding a float32 (`<f4`) or float64 (`<f8`) C-order array; values come back as float32. */
export function decodeNpy(bytes: Uint8Array): { data: Float32Array; shape: number[] } {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new Error('decodeNpy: not a .npy file');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = String.fromCharCode(...bytes.subarray(start, start + headerLength));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined)
    throw new Error(`decodeNpy: bad header ${header.trim()}`);
  if (fortran === 'True') throw new Error('decodeNpy: Fortran-order arrays are not supported');
  if (descr !== '<f4' && descr !== '<f8') throw new Error(`decodeNpy: dtype ${descr} is not supported (only <f4, <f8)`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const itemSize = descr === '<f4' ? 4 : 8;
  const offset = start + headerLength;
  if (bytes.length < offset + count * itemSize) throw new Error('decodeNpy: truncated data');
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    data[i] = itemSize === 4 ? view.getFloat32(offset + 4 * i, true) : view.getFloat64(offset + 8 * i, true);
  }
  return { data, shape };
}

/** Write a float32 array of the given shape as a .npy file (atomically: a failed write leaves an existing file as it was). */
export async function writeNpy(path: string, data: Float32Array, shape: readonly number[]): Promise<void> {
  writeFileAtomic(path, encodeNpy(data, shape));
}

/** Read a .npy file (float32 or float64, C order). */
export async function readNpy(path: string): Promise<{ data: Float32Array; shape: number[] }> {
  return decodeNpy(new Uint8Array(await readFile(path)));
}

/** Write a log-mel ([nMels, nFrames], row-major) as a float32 .npy file of shape [nMels, nFrames]. */
export async function writeLogMelNpy(
  path: string,
  lm: { data: Float32Array; nMels: number; nFrames: number },
): Promise<void> {
  await writeNpy(path, lm.data, [lm.nMels, lm.nFrames]);
}
