/**
 * NumPy's file formats, for embeddings that audio tools read (numpy.lib.format, "Format Version 1.0";
 * numpy.savez):
 *
 *   .npy   "\x93NUMPY", version 1 0, uint16 LE header length, an ASCII dict literal
 *          {'descr': '<f4', 'fortran_order': False, 'shape': (N, D), } padded with spaces and ended by
 *          "\n" so that the data starts at a multiple of 64 bytes, then the C-order data
 *   .npz   a zip of NAME.npy records (np.load(..., allow_pickle=False) reads stored ones)
 *
 * dtypes written: '<f4' float32, '<f8' float64, '<i4' int32, '<U{n}' fixed-width strings (UTF-32LE
 * code points, zero-padded) — none needs pickle to load.
 */
import { writeZip } from './zip';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ALIGN = 64;

/** An array ready to write: its dtype descriptor, shape and little-endian C-order bytes. */
export interface NpyArray {
  descr: string;
  shape: readonly number[];
  bytes: Uint8Array;
}

const shapeLiteral = (shape: readonly number[]): string =>
  shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;

/** The bytes of a .npy file. */
export function encodeNpyArray(a: NpyArray): Uint8Array {
  if (!a.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new Error(`npy: invalid shape [${a.shape}]`);
  let header = `{'descr': '${a.descr}', 'fortran_order': False, 'shape': ${shapeLiteral(a.shape)}, }`;
  const preamble = MAGIC.length + 4;
  const total = Math.ceil((preamble + header.length + 1) / ALIGN) * ALIGN;
  if (total - preamble > 0xffff) throw new Error('npy: header too long for format 1.0');
  header = header.padEnd(total - preamble - 1, ' ') + '\n';
  const out = new Uint8Array(total + a.bytes.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[preamble + i] = header.charCodeAt(i);
  out.set(a.bytes, total);
  return out;
}

/** The bytes of a .npz file (stored, as np.savez writes them). */
export function encodeNpz(arrays: Record<string, NpyArray>): Uint8Array {
  return writeZip(Object.entries(arrays).map(([name, a]) => ({ name: `${name}.npy`, data: encodeNpyArray(a) })));
}

function littleEndian(
  values: ArrayLike<number>,
  size: number,
  set: (dv: DataView, at: number, v: number) => void,
): Uint8Array {
  const out = new Uint8Array(values.length * size);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) set(dv, i * size, values[i]);
  return out;
}

export const float32Array = (data: ArrayLike<number>, shape: readonly number[]): NpyArray => ({
  descr: '<f4',
  shape,
  bytes: littleEndian(data, 4, (dv, at, v) => dv.setFloat32(at, v, true)),
});
export const float64Array = (data: ArrayLike<number>, shape: readonly number[]): NpyArray => ({
  descr: '<f8',
  shape,
  bytes: littleEndian(data, 8, (dv, at, v) => dv.setFloat64(at, v, true)),
});
export const int32Array = (data: ArrayLike<number>, shape: readonly number[]): NpyArray => ({
  descr: '<i4',
  shape,
  bytes: littleEndian(data, 4, (dv, at, v) => dv.setInt32(at, v, true)),
});

/** A 1-D array of strings as NumPy's fixed-width unicode dtype '<U{n}' (n = the longest, in code points). */
export function unicodeArray(strings: readonly string[]): NpyArray {
  const points = strings.map((s) => Array.from(s, (ch) => ch.codePointAt(0)!));
  const n = Math.max(1, ...points.map((p) => p.length));
  const out = new Uint8Array(strings.length * n * 4);
  const dv = new DataView(out.buffer);
  points.forEach((p, i) => p.forEach((cp, j) => dv.setUint32((i * n + j) * 4, cp, true)));
  return { descr: `<U${n}`, shape: [strings.length], bytes: out };
}
