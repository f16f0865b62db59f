/**
 * FLAC decoding with @wasm-audio-decoders/flac (libFLAC compiled to WebAssembly). Two things are
 * added on top of it:
 *  - frames are found and checked here (./flac-frames.ts), not by the package's codec-parser, which
 *    silently drops frames it cannot delimit (a damaged frame, and in some valid files the last one):
 *    so a damaged file is reported as corrupt, with the bytes, and a cut-off one as truncated, with
 *    the byte where it stops; the number of decoded samples is also checked against STREAMINFO's total;
 *    frames are decoded in batches of a few MiB, so the decoder never holds the whole output twice;
 *  - scaling: the decoder divides b-bit integers by 2^(b−1) − 1; we rescale to v / 2^(b−1), the
 *    convention of libsndfile (and of our WAV reader), so that both formats give identical floats.
 * libFLAC reports bad frames on console.error while it decodes; those messages are collected
 * (./wasm-result.ts `runDecoder`, shared with the MP3 and Opus decoders) and turned into one
 * AudioError line instead.
 */
import { FLACDecoder, type FLACDecodedAudio } from '@wasm-audio-decoders/flac';
import { AudioError } from './audio-error';
import { flacFirstFrame, scanFlacFrames } from './flac-frames';
import { MAX_AUDIO_FRAMES, tooLong } from './limits';
import type { DecodedAudio } from './wav';
import { problemDetail, runDecoder } from './wasm-result';

/** Total samples per channel declared by the STREAMINFO block (0 = unknown), or undefined if absent. */
export function flacDeclaredSamples(bytes: Uint8Array, start: number): number | undefined {
  // "fLaC", then a metadata block header (type in the low 7 bits of its first byte; STREAMINFO = 0).
  const s = start + 8;
  if (bytes.length < s + 18 || (bytes[start + 4] & 0x7f) !== 0) return undefined;
  const high = bytes[s + 13] & 0x0f;
  const low = ((bytes[s + 14] << 24) | (bytes[s + 15] << 16) | (bytes[s + 16] << 8) | bytes[s + 17]) >>> 0;
  return high * 2 ** 32 + low;
}

/** Sample rate declared by the STREAMINFO block (0 if absent). */
function flacDeclaredRate(bytes: Uint8Array, start: number): number {
  const s = start + 8;
  if (bytes.length < s + 18 || (bytes[start + 4] & 0x7f) !== 0) return 0;
  return (bytes[s + 10] << 12) | (bytes[s + 11] << 4) | (bytes[s + 12] >> 4);
}

/** Input bytes handed to the decoder per call: bounds the decoder's output held at once. */
const BATCH_BYTES = 4 << 20;

/**
 * Decode a FLAC file held in memory; `start` is the offset of "fLaC" (after any ID3 tag). With
 * `mono`, the one channel returned is the mix of all (so the channels are never held at once).
 */
export async function decodeFlac(
  bytes: Uint8Array,
  name: string,
  start = 0,
  opts: { mono?: boolean } = {},
): Promise<DecodedAudio> {
  const declared = flacDeclaredSamples(bytes, start) ?? 0;
  const rate = flacDeclaredRate(bytes, start);
  if (declared > MAX_AUDIO_FRAMES) throw new AudioError(name, tooLong(declared, rate || 48000));
  const first = flacFirstFrame(bytes, start);
  if (first === undefined) throw new AudioError(name, 'truncated FLAC: the file ends inside its metadata blocks');
  const scan = scanFlacFrames(bytes, first);
  if (scan.corrupt.length) {
    const c = scan.corrupt[0];
    const more =
      scan.corrupt.length > 1
        ? ` and ${scan.corrupt.length - 1} more damaged stretch${scan.corrupt.length > 2 ? 'es' : ''}`
        : '';
    throw new AudioError(
      name,
      `corrupt FLAC: bytes ${c.start}–${c.end - 1} hold no frame whose checksum matches${more}`,
    );
  }
  if (!scan.frames.length) {
    throw new AudioError(
      name,
      scan.truncatedAt !== undefined
        ? `truncated FLAC: the file ends inside its first frame (byte ${scan.truncatedAt})`
        : 'FLAC stream holds no audio frames',
    );
  }

  // the output is written as the batches come: into arrays of the declared length, or (no total
  // declared) into per-batch pieces joined at the end
  const decoder = new FLACDecoder();
  let out: Float32Array[] | undefined;
  const pieces: Float32Array[][] = [];
  let decodedSamples = 0;
  let sampleRate = 0;
  let rescale = 1;
  let nChannels = 0;
  try {
    await decoder.ready;
    for (let i = 0; i < scan.frames.length;) {
      const batch: Uint8Array[] = [];
      for (let size = 0; i < scan.frames.length && size < BATCH_BYTES; i++) {
        const f = scan.frames[i];
        batch.push(bytes.subarray(f.start, f.end));
        size += f.end - f.start;
      }
      const decoded = await decodeQuietly(decoder, batch, name);
      if (decoded.samplesDecoded === 0) continue;
      if (!nChannels) {
        nChannels = decoded.channelData.length;
        sampleRate = decoded.sampleRate;
        const bits = decoded.bitDepth;
        rescale = bits >= 2 && bits <= 32 ? (2 ** (bits - 1) - 1) / 2 ** (bits - 1) : 1;
        if (declared > 0) out = Array.from({ length: opts.mono ? 1 : nChannels }, () => new Float32Array(declared));
      }
      if (decoded.channelData.length !== nChannels)
        throw new AudioError(name, 'corrupt FLAC: the number of channels changes between frames');
      const n = out ? Math.min(decoded.samplesDecoded, declared - decodedSamples) : decoded.samplesDecoded;
      const target = out ?? Array.from({ length: opts.mono ? 1 : nChannels }, () => new Float32Array(n));
      writeScaled(decoded.channelData, n, rescale, target, out ? decodedSamples : 0, opts.mono === true);
      if (!out) pieces.push(target);
      decodedSamples += decoded.samplesDecoded;
      // STREAMINFO may declare no total (0): the limit is then kept as the frames come
      if (decodedSamples > MAX_AUDIO_FRAMES) throw new AudioError(name, tooLong(decodedSamples, sampleRate || 48000));
    }
  } finally {
    decoder.free();
  }
  if (decodedSamples === 0) throw new AudioError(name, 'FLAC stream holds no decodable audio');
  if (scan.truncatedAt !== undefined) {
    throw new AudioError(
      name,
      `truncated FLAC: the file ends inside the frame at byte ${scan.truncatedAt} (decoded ${decodedSamples}${declared ? ` of ${declared}` : ''} samples)`,
    );
  }
  if (declared > 0 && decodedSamples < declared)
    throw new AudioError(name, `truncated FLAC: decoded ${decodedSamples} of ${declared} samples`);
  const channels =
    out ??
    pieces[0].map((_, c) => {
      const whole = new Float32Array(decodedSamples);
      let at = 0;
      for (const piece of pieces) {
        whole.set(piece[c], at);
        at += piece[c].length;
      }
      return whole;
    });
  return { channels, sampleRate };
}

/**
 * Decoder floats → our scale, written into `target` from `at`: each channel, or (mono) their average
 * of the float32 values, exactly as `mixToMono` would compute it from the channels.
 */
function writeScaled(
  src: Float32Array[],
  n: number,
  rescale: number,
  target: Float32Array[],
  at: number,
  mono: boolean,
): void {
  if (!mono || src.length === 1) {
    for (let c = 0; c < src.length; c++) {
      const s = src[c];
      const d = target[mono ? 0 : c];
      for (let i = 0; i < n; i++) d[at + i] = s[i] * rescale;
    }
    return;
  }
  const d = target[0];
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let c = 0; c < src.length; c++) sum += Math.fround(src[c][i] * rescale);
    d[at + i] = sum / src.length;
  }
}

/** Decode frames, turning libFLAC's console reports and decode errors into one AudioError line. */
async function decodeQuietly(decoder: FLACDecoder, frames: Uint8Array[], name: string): Promise<FLACDecodedAudio> {
  const { decoded, logged } = await runDecoder(name, 'FLAC', () => decoder.decodeFrames(frames));
  if (decoded.errors.length > 0)
    throw new AudioError(name, `corrupt FLAC: ${decoded.errors.length} bad frame(s)${problemDetail(decoded, logged)}`);
  return decoded;
}
