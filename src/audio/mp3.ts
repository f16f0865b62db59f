/**
 * MP3 (MPEG-1/2 Layer III, also Layers I/II) decoding with mpg123-decoder (libmpg123 compiled to
 * WebAssembly, the wasm-audio-decoders family of our FLAC decoder), gapless (encoder delay and
 * padding from the LAME/Xing header removed). Samples are floats in [−1, 1] as mpg123 gives them.
 */
import { MPEGDecoder } from 'mpg123-decoder';
import type { DecodedAudio } from './wav';
import { checkedAudio, runDecoder } from './wasm-result';

export async function decodeMp3(bytes: Uint8Array, name: string): Promise<DecodedAudio> {
  const decoder = new MPEGDecoder();
  try {
    await decoder.ready;
    const { decoded, logged } = await runDecoder(name, 'MP3', () => decoder.decode(bytes));
    return checkedAudio(name, 'MP3', decoded, logged);
  } finally {
    decoder.free();
  }
}
