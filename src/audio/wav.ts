/**
 * WAV reading and writing on top of `wavefile` (RIFF/RIFX/RF64 container parsing, A-law, µ-law and
 * IMA-ADPCM codecs, writing). Sample words are turned into floats here, with the convention of
 * libsndfile (what MATPAC's `soundfile.read(..., dtype="float32")` returns):
 *   signed b-bit integer v → v / 2^(b−1);   unsigned 8-bit v → (v − 128) / 128;   float as stored.
 */
import wavefile from 'wavefile';
import { AudioError } from './audio-error';

const { WaveFile } = wavefile;

/** Decoded multi-channel audio: one Float32Array per channel, all the same length. */
export interface DecodedAudio {
  channels: Float32Array[];
  sampleRate: number;
}

export const WAVE_FORMAT_PCM = 1;
export const WAVE_FORMAT_IEEE_FLOAT = 3;
const WAVE_FORMAT_ALAW = 6;
const WAVE_FORMAT_MULAW = 7;
const WAVE_FORMAT_IMA_ADPCM = 17;
export const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

export interface FmtChunk {
  audioFormat: number;
  numChannels: number;
  sampleRate: number;
  blockAlign: number;
  bitsPerSample: number;
  subformat: number[];
}

/** Decode a WAV file held in memory. `name` is used in error messages only. */
export function decodeWav(bytes: Uint8Array, name: string): DecodedAudio {
  const wav = new WaveFile();
  try {
    wav.fromBuffer(bytes);
  } catch (e) {
    throw new AudioError(name, `not a readable WAV file (${(e as Error).message})`);
  }
  const fmt = wav.fmt as FmtChunk;
  const data = wav.data as { chunkSize: number; samples: Uint8Array };
  const { numChannels, sampleRate } = fmt;
  if (!(numChannels >= 1)) throw new AudioError(name, `WAV header has ${numChannels} channels`);
  if (!(sampleRate > 0)) throw new AudioError(name, `WAV header has sample rate ${sampleRate}`);
  const dataSize =
    wav.container === 'RF64' && data.chunkSize === 0xffffffff ? rf64DataSize(bytes, name) : data.chunkSize;
  if (data.samples.length < dataSize) {
    throw new AudioError(name, `truncated: data chunk declares ${dataSize} bytes, ${data.samples.length} present`);
  }
  // an RF64 data chunk's 32-bit size is a placeholder, so wavefile took everything after it: keep the data only
  if (data.samples.length > dataSize) data.samples = data.samples.subarray(0, dataSize);

  const format = fmt.audioFormat === WAVE_FORMAT_EXTENSIBLE ? (fmt.subformat[0] ?? 0) : fmt.audioFormat;
  let interleaved: Float64Array;
  if (format === WAVE_FORMAT_PCM || format === WAVE_FORMAT_IEEE_FLOAT) {
    interleaved = unpackLinear(data.samples, fmt, format === WAVE_FORMAT_IEEE_FLOAT, wav.container === 'RIFX', name);
  } else if (format === WAVE_FORMAT_ALAW || format === WAVE_FORMAT_MULAW || format === WAVE_FORMAT_IMA_ADPCM) {
    // wavefile's codecs expand these to 16-bit PCM.
    try {
      if (format === WAVE_FORMAT_ALAW) wav.fromALaw('16');
      else if (format === WAVE_FORMAT_MULAW) wav.fromMuLaw('16');
      else wav.fromIMAADPCM('16');
    } catch (e) {
      throw new AudioError(name, `cannot decode WAV format ${format} (${(e as Error).message})`);
    }
    interleaved = wav.getSamples(true, Float64Array) as unknown as Float64Array;
    for (let i = 0; i < interleaved.length; i++) interleaved[i] /= 32768;
  } else {
    throw new AudioError(
      name,
      `unsupported WAV sample format ${format} (supported: PCM, float, A-law, µ-law, IMA-ADPCM)`,
    );
  }

  const nFrames = Math.floor(interleaved.length / numChannels);
  const channels = Array.from({ length: numChannels }, () => new Float32Array(nFrames));
  for (let i = 0; i < nFrames; i++) {
    for (let c = 0; c < numChannels; c++) channels[c][i] = interleaved[i * numChannels + c];
  }
  return { channels, sampleRate };
}

/**
 * The data size of an RF64 file, from its ds64 chunk (EBU Tech 3306: right after "WAVE"; 64-bit
 * little-endian RIFF size, data size, sample count). wavefile reads this chunk's words in the wrong
 * order, so it is read here.
 */
export function rf64DataSize(bytes: Uint8Array, name: string): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 36 || String.fromCharCode(...bytes.subarray(12, 16)) !== 'ds64')
    throw new AudioError(name, 'RF64 file without a ds64 chunk after its header');
  const size = view.getUint32(28, true) + view.getUint32(32, true) * 2 ** 32;
  if (!Number.isSafeInteger(size)) throw new AudioError(name, `RF64 ds64 chunk declares an impossible data size`);
  return size;
}

/** How to turn the sample words of a linear (integer PCM or IEEE float) WAV into floats. */
export interface WordReader {
  bytesPerWord: number;
  /** Bytes of one frame (a word per channel). */
  frameBytes: number;
  /** The float value of the word at byte `offset` of `view`. */
  read(view: DataView, offset: number): number;
}

/** Integer PCM (8/16/24/32-bit, any container width up to 32) or IEEE float (32/64-bit) words. */
export function linearWordReader(fmt: FmtChunk, isFloat: boolean, bigEndian: boolean, name: string): WordReader {
  const bits = fmt.bitsPerSample;
  const bytesPerWord = Math.ceil(bits / 8);
  if (isFloat ? bits !== 32 && bits !== 64 : bits < 1 || bits > 32) {
    throw new AudioError(name, `unsupported WAV bit depth ${bits}${isFloat ? ' (float)' : ''}`);
  }
  const frameBytes = bytesPerWord * fmt.numChannels;
  const le = !bigEndian;
  if (isFloat)
    return {
      bytesPerWord,
      frameBytes,
      read: bits === 32 ? (v, o) => v.getFloat32(o, le) : (v, o) => v.getFloat64(o, le),
    };
  const scale = 2 ** (bytesPerWord * 8 - 1); // samples are left-justified in their container word
  const read = (view: DataView, o: number): number => {
    switch (bytesPerWord) {
      case 1:
        return (view.getUint8(o) - 128) / scale; // 8-bit WAV is unsigned
      case 2:
        return view.getInt16(o, le) / scale;
      case 3: {
        const b0 = view.getUint8(o);
        const b1 = view.getUint8(o + 1);
        const b2 = view.getUint8(o + 2);
        const u = le ? b0 | (b1 << 8) | (b2 << 16) : b2 | (b1 << 8) | (b0 << 16);
        return (u >= 0x800000 ? u - 0x1000000 : u) / scale;
      }
      default:
        return view.getInt32(o, le) / scale;
    }
  };
  return { bytesPerWord, frameBytes, read };
}

/** Linear sample words → floats, interleaved. */
function unpackLinear(
  bytes: Uint8Array,
  fmt: FmtChunk,
  isFloat: boolean,
  bigEndian: boolean,
  name: string,
): Float64Array {
  const reader = linearWordReader(fmt, isFloat, bigEndian, name);
  if (bytes.length % reader.frameBytes !== 0) {
    throw new AudioError(
      name,
      `truncated: ${bytes.length} data bytes is not a whole number of ${reader.frameBytes}-byte frames`,
    );
  }
  const n = bytes.length / reader.bytesPerWord;
  const out = new Float64Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) out[i] = reader.read(view, i * reader.bytesPerWord);
  return out;
}

/** Encode mono float samples in [−1, 1] as a 16-bit PCM WAV (values are clipped, then rounded). */
export function encodeWav16(samples: Float32Array, sampleRate: number): Uint8Array {
  const ints = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const v = Math.round(Math.max(-1, Math.min(1, samples[i])) * 32767);
    ints[i] = v;
  }
  const wav = new WaveFile();
  wav.fromScratch(1, sampleRate, '16', ints);
  return wav.toBuffer();
}
