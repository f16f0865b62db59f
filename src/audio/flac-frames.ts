/**
 * Splitting a FLAC stream into its frames (https://xiph.org/flac/format.html#frame), so that each
 * frame can be checked before it is decoded and a damaged file is described exactly: frames whose
 * CRC-16 fails in the middle of the stream (corrupt), or a stream that stops inside a frame
 * (truncated).
 *
 * A frame starts with the sync code 0xFFF8/0xFFF9 and a header protected by a CRC-8, and ends with a
 * CRC-16 of the whole frame. A frame's end is the next valid header at which the CRC-16 of the bytes so
 * far checks (the rule codec-parser and libFLAC use to stay in sync), or the end of the file. The scan
 * is linear in the file size when the file is sound (the CRC-16 is carried along byte by byte), and
 * a damaged frame costs at most one frame's length more.
 */

/** One frame: where its bytes are. */
export interface FlacFrame {
  start: number;
  end: number;
}

/** What a scan found: the good frames in order, the damaged byte ranges, and whether the file stops inside a frame. */
export interface FlacScan {
  frames: FlacFrame[];
  /** Byte ranges that hold no valid frame (damaged data) before the last good frame. */
  corrupt: { start: number; end: number }[];
  /** Offset of a frame that the end of the file cuts off, if any. */
  truncatedAt?: number;
}

/** No frame is longer (65535 samples × 8 channels × 32 bits, plus headers), so a frame's end is looked for this far at most. */
const MAX_FRAME_BYTES = 65535 * 8 * 4 + 1024;

const CRC16_TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let b = 0; b < 8; b++) c = c & 0x8000 ? ((c << 1) ^ 0x8005) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
})();

function crc8(bytes: Uint8Array, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) {
    crc ^= bytes[i];
    for (let b = 0; b < 8; b++) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff;
  }
  return crc;
}

/** Length of a valid frame header at `at` (sync code, fields, CRC-8), or 0. */
export function flacHeaderLength(bytes: Uint8Array, at: number): number {
  if (at + 6 > bytes.length || bytes[at] !== 0xff || (bytes[at + 1] & 0xfe) !== 0xf8) return 0;
  const blockCode = bytes[at + 2] >> 4;
  const rateCode = bytes[at + 2] & 0x0f;
  const channels = bytes[at + 3] >> 4;
  if (blockCode === 0 || rateCode === 15 || channels > 10 || (bytes[at + 3] & 0x01) !== 0) return 0;
  // the frame or sample number, UTF-8 style: a lead byte telling how many continuation bytes follow
  let p = at + 4;
  const lead = bytes[p];
  let extra = 0;
  if (lead >= 0x80) {
    if (lead >= 0xc0 && lead < 0xe0) extra = 1;
    else if (lead >= 0xe0 && lead < 0xf0) extra = 2;
    else if (lead >= 0xf0 && lead < 0xf8) extra = 3;
    else if (lead >= 0xf8 && lead < 0xfc) extra = 4;
    else if (lead >= 0xfc && lead < 0xfe) extra = 5;
    else if (lead === 0xfe) extra = 6;
    else return 0;
  }
  p += 1 + extra;
  if (p > bytes.length) return 0;
  for (let i = p - extra; i < p; i++) if ((bytes[i] & 0xc0) !== 0x80) return 0;
  p += blockCode === 6 ? 1 : blockCode === 7 ? 2 : 0;
  p += rateCode === 12 ? 1 : rateCode === 13 || rateCode === 14 ? 2 : 0;
  if (p >= bytes.length || crc8(bytes, at, p) !== bytes[p]) return 0;
  return p + 1 - at;
}

/** Offset of the first frame: after "fLaC" (at `start`) and the metadata blocks; undefined if they run past the end. */
export function flacFirstFrame(bytes: Uint8Array, start: number): number | undefined {
  let p = start + 4;
  for (;;) {
    if (p + 4 > bytes.length) return undefined;
    const last = bytes[p] & 0x80;
    const length = (bytes[p + 1] << 16) | (bytes[p + 2] << 8) | bytes[p + 3];
    p += 4 + length;
    if (last) return p <= bytes.length ? p : undefined;
  }
}

/**
 * Where a frame starting at `start` ends: the first later valid header at which the CRC-16 of the
 * bytes before it is 0 (a frame's CRC-16 over itself, footer included), else the end of the file if
 * the whole rest checks, else undefined.
 */
function frameEnd(bytes: Uint8Array, start: number, headerLength: number): number | undefined {
  let crc = 0;
  const stop = Math.min(bytes.length, start + MAX_FRAME_BYTES);
  for (let i = start; i < stop; i++) {
    if (i >= start + headerLength + 2 && crc === 0 && bytes[i] === 0xff && flacHeaderLength(bytes, i) > 0) return i;
    crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ bytes[i]) & 0xff];
  }
  return crc === 0 && stop === bytes.length ? bytes.length : undefined;
}

/** The next offset ≥ `from` holding a valid frame header, or the end of the file. */
function nextHeader(bytes: Uint8Array, from: number): number {
  for (let i = from; i < bytes.length; i++) if (bytes[i] === 0xff && flacHeaderLength(bytes, i) > 0) return i;
  return bytes.length;
}

/** Split the frames from `first` (see `flacFirstFrame`) to the end of `bytes`. */
export function scanFlacFrames(bytes: Uint8Array, first: number): FlacScan {
  const frames: FlacFrame[] = [];
  const corrupt: FlacScan['corrupt'] = [];
  let truncatedAt: number | undefined;
  let pos = nextHeader(bytes, first);
  if (pos > first) corrupt.push({ start: first, end: pos });
  while (pos < bytes.length) {
    const end = frameEnd(bytes, pos, flacHeaderLength(bytes, pos));
    if (end !== undefined) {
      frames.push({ start: pos, end });
      pos = end;
      continue;
    }
    // no CRC-16 closes this frame: damaged, or cut off by the end of the file
    const resume = nextHeader(bytes, pos + 1);
    if (resume >= bytes.length) {
      truncatedAt = pos;
      break;
    }
    corrupt.push({ start: pos, end: resume });
    pos = resume;
  }
  return { frames, corrupt, truncatedAt };
}
