/**
 * Ogg/Opus decoding with ogg-opus-decoder (libopus compiled to WebAssembly, the wasm-audio-decoders
 * family of our FLAC decoder). Opus always decodes at 48 kHz (the pre-skip of the OpusHead removed);
 * the front end resamples to 16 kHz like any other rate. Other codecs in an Ogg container (Vorbis,
 * FLAC, Speex) are named in the refusal.
 */
import { OggOpusDecoder } from 'ogg-opus-decoder';
import { AudioError } from './audio-error';
import type { DecodedAudio } from './wav';
import { checkedAudio, runDecoder } from './wasm-result';

/** The codec of the first logical stream of an Ogg file, from its first packet's signature. */
export function oggCodec(bytes: Uint8Array): string {
  if (bytes.length < 28) return 'unknown';
  const segments = bytes[26];
  const start = 27 + segments;
  const head = String.fromCharCode(...bytes.subarray(start, start + 8));
  if (head.startsWith('OpusHead')) return 'Opus';
  if (head.slice(1, 7) === 'vorbis') return 'Vorbis';
  if (head.slice(1, 5) === 'FLAC') return 'FLAC';
  if (head.startsWith('Speex')) return 'Speex';
  return 'unknown';
}

export async function decodeOggOpus(bytes: Uint8Array, name: string): Promise<DecodedAudio> {
  const codec = oggCodec(bytes);
  if (codec !== 'Opus')
    throw new AudioError(
      name,
      `Ogg file with ${codec === 'unknown' ? 'an unrecognised codec' : codec} audio: only Ogg/Opus is supported (convert with: ffmpeg -i in.ogg out.flac)`,
    );
  const decoder = new OggOpusDecoder();
  try {
    await decoder.ready;
    const { decoded, logged } = await runDecoder(name, 'Ogg/Opus', () => decoder.decodeFile(bytes));
    return checkedAudio(name, 'Ogg/Opus', decoded, logged);
  } finally {
    decoder.free();
  }
}
