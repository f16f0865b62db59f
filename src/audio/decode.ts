/**
 * Reading audio files: WAV (PCM 8/16/24/32-bit, float 32/64, A-law, µ-law, IMA-ADPCM; RIFF, RIFX, RF64),
 * FLAC, MP3 and Ogg/Opus, recognised by their first bytes; mixed to mono by averaging the channels (as MATPAC's
 * preprocessing, `torch.mean(audio, dim=-1)`), and resampled to 16 kHz with the Kaiser-windowed sinc
 * of ./resample.ts. Any file that cannot be used raises an `AudioError` with a one-line message. This
 * module works on bytes (it runs in browsers too); reading files, within the bounds of ./limits.ts
 * (linear WAV block by block into the mono mix), is ./read.ts.
 */
import { AudioError } from './audio-error';
import { decodeFlac } from './flac';
import { decodeMp3 } from './mp3';
import { decodeOggOpus } from './opus';
import { resample } from './resample';
import { decodeWav, type DecodedAudio } from './wav';

export { AudioError } from './audio-error';
export type { DecodedAudio } from './wav';

/** The sample rate of MATPAC's front end. */
export const TARGET_SAMPLE_RATE = 16000;
/** Input sample rates accepted, in Hz (inclusive). */
export const MIN_SAMPLE_RATE = 1000;
export const MAX_SAMPLE_RATE = 384000;

export type AudioContainer = 'wav' | 'flac' | 'mp3' | 'ogg';

const ascii = (bytes: Uint8Array, start: number, length: number): string =>
  String.fromCharCode(...bytes.subarray(start, start + length));

/** Length of an ID3v2 tag at the start of the file (some FLAC files carry one), else 0. */
export function id3v2Length(bytes: Uint8Array): number {
  if (bytes.length < 10 || ascii(bytes, 0, 3) !== 'ID3') return 0;
  const size = ((bytes[6] & 0x7f) << 21) | ((bytes[7] & 0x7f) << 14) | ((bytes[8] & 0x7f) << 7) | (bytes[9] & 0x7f);
  const footer = bytes[5] & 0x10 ? 10 : 0;
  return 10 + size + footer;
}

/** Which container the bytes hold, from their signature; throws AudioError if neither. */
export function sniffContainer(bytes: Uint8Array, name: string): AudioContainer {
  if (bytes.length === 0) throw new AudioError(name, 'empty file (0 bytes)');
  const riff = ascii(bytes, 0, 4);
  if ((riff === 'RIFF' || riff === 'RIFX' || riff === 'RF64') && bytes.length >= 12 && ascii(bytes, 8, 4) === 'WAVE')
    return 'wav';
  const skip = id3v2Length(bytes);
  if (bytes.length >= skip + 4 && ascii(bytes, skip, 4) === 'fLaC') return 'flac';
  if (ascii(bytes, 0, 4) === 'OggS') return 'ogg';
  // an MPEG audio frame header: 11 sync bits, a version other than "reserved" (01), a layer other than 00
  if (
    bytes.length >= skip + 2 &&
    bytes[skip] === 0xff &&
    (bytes[skip + 1] & 0xe0) === 0xe0 &&
    (bytes[skip + 1] & 0x18) !== 0x08 &&
    (bytes[skip + 1] & 0x06) !== 0
  )
    return 'mp3';
  if (skip > 0 && bytes.length >= skip) return 'mp3'; // an ID3v2 tag before something else: let the MP3 decoder judge
  if (riff === 'RIFF' || riff === 'RIFX' || riff === 'RF64') {
    throw new AudioError(
      name,
      bytes.length < 12 ? `truncated: ${bytes.length}-byte file ends inside the RIFF header` : 'RIFF file is not WAVE',
    );
  }
  const head = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new AudioError(name, `not a WAV, FLAC, MP3 or Ogg/Opus file (first bytes: ${head})`);
}

export function checkSampleRate(sampleRate: number, name: string): void {
  if (!(sampleRate >= MIN_SAMPLE_RATE && sampleRate <= MAX_SAMPLE_RATE) || !Number.isInteger(sampleRate)) {
    throw new AudioError(
      name,
      `unsupported sample rate ${sampleRate} Hz (accepted: ${MIN_SAMPLE_RATE}–${MAX_SAMPLE_RATE})`,
    );
  }
}

/** Check that decoded audio is usable: some samples, a sane rate, only finite values. */
export function validate(audio: DecodedAudio, name: string): DecodedAudio {
  const { channels, sampleRate } = audio;
  checkSampleRate(sampleRate, name);
  if (channels.length === 0 || channels[0].length === 0) throw new AudioError(name, 'no audio samples');
  for (let c = 0; c < channels.length; c++) {
    const ch = channels[c];
    for (let i = 0; i < ch.length; i++) {
      if (!Number.isFinite(ch[i])) {
        const what = Number.isNaN(ch[i]) ? 'NaN' : 'infinite';
        throw new AudioError(name, `${what} sample at index ${i} of channel ${c}`);
      }
    }
  }
  return audio;
}

/** Decode a WAV, FLAC, MP3 or Ogg/Opus file held in memory into its channels (no mixing, no resampling). */
export async function decodeAudio(bytes: Uint8Array, name: string): Promise<DecodedAudio> {
  const container = sniffContainer(bytes, name);
  const audio =
    container === 'wav'
      ? decodeWav(bytes, name)
      : container === 'flac'
        ? await decodeFlac(bytes, name, id3v2Length(bytes))
        : container === 'mp3'
          ? await decodeMp3(bytes, name)
          : await decodeOggOpus(bytes, name);
  return validate(audio, name);
}

/** Average of the channels (the mono mix-down of MATPAC's preprocessing). */
export function mixToMono(channels: readonly Float32Array[]): Float32Array {
  if (channels.length === 1) return channels[0];
  const n = channels[0].length;
  const mono = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (const ch of channels) s += ch[i];
    mono[i] = s / channels.length;
  }
  return mono;
}

/** Decode a WAV or FLAC file held in memory as mono float samples at 16 kHz (the input of `logMelSpectrogram`). */
export async function decodeAudio16k(bytes: Uint8Array, name: string): Promise<Float32Array> {
  const audio = await decodeAudio(bytes, name);
  const samples = mixToMono(audio.channels);
  return audio.sampleRate === TARGET_SAMPLE_RATE ? samples : resample(samples, audio.sampleRate, TARGET_SAMPLE_RATE);
}
