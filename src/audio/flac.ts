/**
 * FLAC decoding with @wasm-audio-decoders/flac (libFLAC compiled to WebAssembly, frames found by
 * codec-parser). Two things are added on top of it:
 *  - completeness: codec-parser silently drops a cut-off last frame, so the number of decoded samples
 *    is checked against the total that STREAMINFO declares (when it declares one);
 *  - scaling: the decoder divides b-bit integers by 2^(b−1) − 1; we rescale to v / 2^(b−1), the
 *    convention of libsndfile (and of our WAV reader), so that both formats give identical floats.
 * libFLAC reports bad frames on console.error while it decodes; those messages are collected (the
 * decoding call is synchronous up to its first await) and turned into one AudioError line instead.
 */
import { FLACDecoder, type FLACDecodedAudio } from '@wasm-audio-decoders/flac';
import { AudioError } from './audio-error';
import type { DecodedAudio } from './wav';

/** Total samples per channel declared by the STREAMINFO block (0 = unknown), or undefined if absent. */
export function flacDeclaredSamples(bytes: Uint8Array, start: number): number | undefined {
  // "fLaC", then a metadata block header (type in the low 7 bits of its first byte; STREAMINFO = 0).
  const s = start + 8;
  if (bytes.length < s + 18 || (bytes[start + 4] & 0x7f) !== 0) return undefined;
  const high = bytes[s + 13] & 0x0f;
  const low = ((bytes[s + 14] << 24) | (bytes[s + 15] << 16) | (bytes[s + 16] << 8) | bytes[s + 17]) >>> 0;
  return high * 2 ** 32 + low;
}

/** Decode a FLAC file held in memory; `start` is the offset of "fLaC" (after any ID3 tag). */
export async function decodeFlac(bytes: Uint8Array, name: string, start = 0): Promise<DecodedAudio> {
  const declared = flacDeclaredSamples(bytes, start);
  const decoder = new FLACDecoder();
  let decoded: FLACDecodedAudio;
  const logged: string[] = [];
  try {
    await decoder.ready;
    const { error, warn } = console;
    console.error = console.warn = (...args: unknown[]) => void logged.push(args.map(String).join(' '));
    let pending: Promise<FLACDecodedAudio>;
    try {
      pending = decoder.decodeFile(bytes.subarray(start));
    } finally {
      console.error = error;
      console.warn = warn;
    }
    decoded = await pending;
  } catch (e) {
    throw new AudioError(name, `not a readable FLAC file (${(e as Error).message})`);
  } finally {
    decoder.free();
  }

  const firstProblem = decoded.errors[0]?.message ?? logged[0];
  const detail = firstProblem === undefined ? '' : ` (${firstProblem.replace(/\s+/g, ' ').trim()})`;
  if (decoded.samplesDecoded === 0 || decoded.channelData.length === 0) {
    throw new AudioError(name, `FLAC stream holds no decodable audio${detail}`);
  }
  if (decoded.errors.length > 0) {
    throw new AudioError(name, `corrupt FLAC: ${decoded.errors.length} bad frame(s)${detail}`);
  }
  if (declared !== undefined && declared > 0 && decoded.samplesDecoded < declared) {
    throw new AudioError(name, `truncated FLAC: decoded ${decoded.samplesDecoded} of ${declared} samples${detail}`);
  }

  const bits = decoded.bitDepth;
  const rescale = bits >= 2 && bits <= 32 ? (2 ** (bits - 1) - 1) / 2 ** (bits - 1) : 1;
  const length = declared !== undefined && declared > 0 ? Math.min(declared, decoded.samplesDecoded) : decoded.samplesDecoded;
  const channels = decoded.channelData.map((c) => {
    const out = new Float32Array(length);
    for (let i = 0; i < length; i++) out[i] = c[i] * rescale;
    return out;
  });
  return { channels, sampleRate: decoded.sampleRate };
}
