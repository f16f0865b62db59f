/**
 * The zip container of PyTorch checkpoints (`torch.save` since 1.6, torch/serialization.py
 * `_save` → caffe2/serialize/inline_container.cc `PyTorchStreamWriter`): every record is STORED
 * (compression method 0, no deflate), under one top-level folder named after the file
 * (`<name>/data.pkl`, `<name>/data/0`, `<name>/version`, …), data aligned to 64 bytes by padding
 * the local header's extra field. ZIP64 records appear when the file or an entry exceeds 4 GiB.
 *
 * Format (PKWARE APPNOTE.TXT, §4.3): local file header + data per entry, then the central
 * directory (one 46-byte header + name + extra + comment per entry), then — for ZIP64 — the
 * ZIP64 end record and its locator, then the 22-byte end-of-central-directory record.
 *
 * Only what a checkpoint needs is read, and every number is checked against the file before it
 * is used: entry counts are bounded by the directory's size, offsets and lengths by the file's,
 * so a hostile or truncated file gives one `ZipError` line, never a huge allocation or a long
 * loop. Entries are views into the file's bytes (no copy). Compressed entries are refused
 * (torch never writes them). A general zip library (fflate's unzipSync) was considered: it does
 * not bound the entry count or check offsets against the file, and copies every entry.
 *
 * The writer makes the same kind of archive (stored entries, 64-byte aligned data, CRC-32), which
 * is what torch.load reads.
 */
import { crc32 } from 'node:zlib';

export class ZipError extends Error {
  override readonly name = 'ZipError';
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;
const CENTRAL_SIZE = 46;
const LOCAL_SIZE = 30;

export interface ZipEntry {
  name: string;
  /** The stored bytes (a view into the archive). */
  data: Uint8Array;
}

/** Is this the start of a zip archive (a local file header, or an empty archive's end record)? */
export function looksLikeZip(bytes: Uint8Array): boolean {
  if (bytes.length < 4) return false;
  const sig = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
  return sig === SIG_LOCAL || sig === SIG_EOCD;
}

function u64(dv: DataView, at: number, what: string): number {
  const v = dv.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipError(`${what} ${v} is out of range`);
  return Number(v);
}

/** The entries of a zip archive held in memory, by name (stored entries only). */
export function readZip(bytes: Uint8Array): Map<string, ZipEntry> {
  const n = bytes.length;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (n < EOCD_SIZE) throw new ZipError(`truncated: ${n} bytes cannot hold a zip directory`);
  // the end record is the last 22 bytes plus a comment of at most 65535 bytes
  let eocd = -1;
  for (let at = n - EOCD_SIZE; at >= Math.max(0, n - EOCD_SIZE - MAX_COMMENT); at--) {
    if (dv.getUint32(at, true) === SIG_EOCD && at + EOCD_SIZE + dv.getUint16(at + 20, true) === n) {
      eocd = at;
      break;
    }
  }
  if (eocd < 0) throw new ZipError('truncated or not a zip archive: no end-of-central-directory record');
  let count = dv.getUint16(eocd + 10, true);
  let cdSize = dv.getUint32(eocd + 12, true);
  let cdStart = dv.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdStart === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || dv.getUint32(loc, true) !== SIG_ZIP64_LOCATOR)
      throw new ZipError('corrupted: ZIP64 sizes without a ZIP64 locator');
    const z = u64(dv, loc + 8, 'ZIP64 end record offset');
    if (z + 56 > loc || dv.getUint32(z, true) !== SIG_ZIP64_EOCD)
      throw new ZipError('corrupted: the ZIP64 end record is missing');
    count = u64(dv, z + 32, 'entry count');
    cdSize = u64(dv, z + 40, 'central directory size');
    cdStart = u64(dv, z + 48, 'central directory offset');
  }
  if (cdStart + cdSize > eocd)
    throw new ZipError(
      `truncated: the central directory (${cdSize} bytes at ${cdStart}) lies beyond the data (${eocd} bytes)`,
    );
  if (count * CENTRAL_SIZE > cdSize)
    throw new ZipError(`corrupted: ${count} entries cannot fit in a ${cdSize}-byte central directory`);

  const entries = new Map<string, ZipEntry>();
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let p = cdStart;
  const cdEnd = cdStart + cdSize;
  for (let i = 0; i < count; i++) {
    if (p + CENTRAL_SIZE > cdEnd || dv.getUint32(p, true) !== SIG_CENTRAL)
      throw new ZipError(`corrupted: central directory entry ${i} is damaged`);
    const method = dv.getUint16(p + 10, true);
    let compressed = dv.getUint32(p + 20, true);
    let size = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    let local = dv.getUint32(p + 42, true);
    const next = p + CENTRAL_SIZE + nameLen + extraLen + commentLen;
    if (next > cdEnd) throw new ZipError(`corrupted: central directory entry ${i} runs past the directory`);
    let name: string;
    try {
      name = utf8.decode(bytes.subarray(p + CENTRAL_SIZE, p + CENTRAL_SIZE + nameLen));
    } catch {
      throw new ZipError(`corrupted: entry ${i} has a name that is not UTF-8`);
    }
    // ZIP64 extended information (header id 1): the 0xffffffff fields, in this order
    for (let e = p + CENTRAL_SIZE + nameLen, eEnd = e + extraLen; e + 4 <= eEnd;) {
      const id = dv.getUint16(e, true);
      const len = dv.getUint16(e + 2, true);
      if (e + 4 + len > eEnd) break;
      if (id === 1) {
        let q = e + 4;
        const take = (what: string) => {
          if (q + 8 > e + 4 + len) throw new ZipError(`corrupted: entry '${name}' has a short ZIP64 field`);
          const v = u64(dv, q, what);
          q += 8;
          return v;
        };
        if (size === 0xffffffff) size = take(`'${name}' size`);
        if (compressed === 0xffffffff) compressed = take(`'${name}' compressed size`);
        if (local === 0xffffffff) local = take(`'${name}' offset`);
      }
      e += 4 + len;
    }
    if (method !== 0)
      throw new ZipError(
        `entry '${name}' is compressed (method ${method}); PyTorch checkpoints store their records uncompressed`,
      );
    if (compressed !== size)
      throw new ZipError(`corrupted: stored entry '${name}' declares ${compressed} ≠ ${size} bytes`);
    if (local + LOCAL_SIZE > cdStart || dv.getUint32(local, true) !== SIG_LOCAL)
      throw new ZipError(`corrupted: the local header of '${name}' is missing`);
    const dataStart = local + LOCAL_SIZE + dv.getUint16(local + 26, true) + dv.getUint16(local + 28, true);
    if (dataStart + size > cdStart)
      throw new ZipError(`truncated: entry '${name}' (${size} bytes at ${dataStart}) runs past the data`);
    if (entries.has(name)) throw new ZipError(`corrupted: entry '${name}' appears twice`);
    entries.set(name, { name, data: bytes.subarray(dataStart, dataStart + size) });
    p = next;
  }
  return entries;
}

// ---------------------------------------------------------------------------------------------
// writing

const ALIGN = 64;

/**
 * A zip archive of stored entries with each entry's data aligned to 64 bytes (as PyTorch writes
 * them). Files here stay below 4 GiB per entry and in all (no ZIP64): larger ones are refused.
 */
export function writeZip(entries: readonly ZipEntry[]): Uint8Array {
  const enc = new TextEncoder();
  const names = entries.map((e) => enc.encode(e.name));
  // layout: local header + name + padding extra (id 0x5046 'FP', as PyTorch) + data
  const offsets: number[] = [];
  const pads: number[] = [];
  let pos = 0;
  entries.forEach((e, i) => {
    offsets.push(pos);
    const head = LOCAL_SIZE + names[i].length;
    const pad = (ALIGN - ((pos + head + 4) % ALIGN)) % ALIGN;
    pads.push(pad + 4);
    pos += head + pad + 4 + e.data.length;
  });
  const cdStart = pos;
  const cdSize = names.reduce((s, nm) => s + CENTRAL_SIZE + nm.length, 0);
  const total = cdStart + cdSize + EOCD_SIZE;
  if (total > 0xfffffffe || entries.length > 0xfffe)
    throw new ZipError(`archive of ${total} bytes needs ZIP64, which this writer does not produce`);
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  const crcs = entries.map((e) => crc32(e.data));
  entries.forEach((e, i) => {
    const at = offsets[i];
    dv.setUint32(at, SIG_LOCAL, true);
    dv.setUint16(at + 4, 20, true); // version needed
    dv.setUint16(at + 6, 0x0800, true); // names are UTF-8
    dv.setUint16(at + 8, 0, true); // stored
    dv.setUint32(at + 14, crcs[i], true);
    dv.setUint32(at + 18, e.data.length, true);
    dv.setUint32(at + 22, e.data.length, true);
    dv.setUint16(at + 26, names[i].length, true);
    dv.setUint16(at + 28, pads[i], true);
    out.set(names[i], at + LOCAL_SIZE);
    const extra = at + LOCAL_SIZE + names[i].length;
    dv.setUint16(extra, 0x5046, true);
    dv.setUint16(extra + 2, pads[i] - 4, true);
    out.set(e.data, extra + pads[i]);
  });
  let p = cdStart;
  entries.forEach((e, i) => {
    dv.setUint32(p, SIG_CENTRAL, true);
    dv.setUint16(p + 4, 20, true); // made by
    dv.setUint16(p + 6, 20, true);
    dv.setUint16(p + 8, 0x0800, true);
    dv.setUint16(p + 10, 0, true);
    dv.setUint32(p + 16, crcs[i], true);
    dv.setUint32(p + 20, e.data.length, true);
    dv.setUint32(p + 24, e.data.length, true);
    dv.setUint16(p + 28, names[i].length, true);
    dv.setUint32(p + 42, offsets[i], true);
    out.set(names[i], p + CENTRAL_SIZE);
    p += CENTRAL_SIZE + names[i].length;
  });
  dv.setUint32(p, SIG_EOCD, true);
  dv.setUint16(p + 8, entries.length, true);
  dv.setUint16(p + 10, entries.length, true);
  dv.setUint32(p + 12, cdSize, true);
  dv.setUint32(p + 16, cdStart, true);
  return out;
}
