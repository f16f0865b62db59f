/**
 * Linear (integer PCM or IEEE float) WAV files read block by block straight into their mono mix
 * (see ./limits.ts for the memory this takes). The header is parsed by wavefile from the first bytes
 * of the file; a file whose header it cannot place there, or in a compressed format, is left to the
 * whole-file reader (`undefined`). Samples and messages are those of `decodeWav` + `mixToMono`.
 */
import type { FileHandle } from 'node:fs/promises';
import wavefile from 'wavefile';
import { AudioError } from './audio-error';
import { MAX_AUDIO_FRAMES, READ_BLOCK_BYTES, tooLong } from './limits';
import {
  linearWordReader,
  rf64DataSize,
  WAVE_FORMAT_EXTENSIBLE,
  WAVE_FORMAT_IEEE_FLOAT,
  WAVE_FORMAT_PCM,
  type FmtChunk,
} from './wav';

const { WaveFile } = wavefile;

/** A linear WAV file ready to be read: its rate and a reader of its mono mix. */
export interface LinearWavPlan {
  sampleRate: number;
  frames: number;
  readMono(handle: FileHandle): Promise<Float32Array>;
}

/** Offset and 32-bit size of the 'data' chunk, walking the chunks after "RIFF/RIFX/RF64 <size> WAVE" within `head`. */
function findDataChunk(head: Uint8Array, bigEndian: boolean): { start: number; size: number } | undefined {
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  for (let at = 12; at + 8 <= head.length;) {
    const id = String.fromCharCode(...head.subarray(at, at + 4));
    const size = view.getUint32(at + 4, !bigEndian);
    if (id === 'data') return { start: at + 8, size };
    at += 8 + size + (size % 2);
  }
  return undefined;
}

/** Plan the block-wise reading of a linear WAV file of `size` bytes whose first bytes are `head`. */
export function planLinearWav(head: Uint8Array, size: number, name: string): LinearWavPlan | undefined {
  const wav = new WaveFile();
  try {
    wav.fromBuffer(head, false);
  } catch {
    return undefined;
  }
  const fmt = wav.fmt as FmtChunk;
  const format = fmt.audioFormat === WAVE_FORMAT_EXTENSIBLE ? (fmt.subformat[0] ?? 0) : fmt.audioFormat;
  const data = findDataChunk(head, wav.container === 'RIFX');
  if ((format !== WAVE_FORMAT_PCM && format !== WAVE_FORMAT_IEEE_FLOAT) || data === undefined) return undefined;
  const { numChannels, sampleRate } = fmt;
  if (!(numChannels >= 1)) throw new AudioError(name, `WAV header has ${numChannels} channels`);
  if (!(sampleRate > 0)) throw new AudioError(name, `WAV header has sample rate ${sampleRate}`);
  const start = data.start;
  const declared = wav.container === 'RF64' && data.size === 0xffffffff ? rf64DataSize(head, name) : data.size;
  const present = Math.max(0, Math.min(declared, size - start));
  if (present < declared)
    throw new AudioError(name, `truncated: data chunk declares ${declared} bytes, ${present} present`);
  const reader = linearWordReader(fmt, format === WAVE_FORMAT_IEEE_FLOAT, wav.container === 'RIFX', name);
  if (declared % reader.frameBytes !== 0) {
    throw new AudioError(
      name,
      `truncated: ${declared} data bytes is not a whole number of ${reader.frameBytes}-byte frames`,
    );
  }
  const frames = declared / reader.frameBytes;
  if (frames > MAX_AUDIO_FRAMES) throw new AudioError(name, tooLong(frames, sampleRate));

  const readMono = async (handle: FileHandle): Promise<Float32Array> => {
    const mono = new Float32Array(frames);
    const blockFrames = Math.max(1, Math.floor(READ_BLOCK_BYTES / reader.frameBytes));
    const block = Buffer.alloc(Math.min(frames, blockFrames) * reader.frameBytes);
    const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
    for (let first = 0; first < frames; first += blockFrames) {
      const n = Math.min(blockFrames, frames - first);
      const want = n * reader.frameBytes;
      const { bytesRead } = await handle.read(block, 0, want, start + first * reader.frameBytes);
      if (bytesRead < want)
        throw new AudioError(
          name,
          `truncated: the file ended while it was read (at frame ${first + Math.floor(bytesRead / reader.frameBytes)} of ${frames})`,
        );
      for (let i = 0; i < n; i++) {
        let sum = 0;
        for (let c = 0; c < numChannels; c++) {
          const v = Math.fround(reader.read(view, i * reader.frameBytes + c * reader.bytesPerWord));
          if (!Number.isFinite(v))
            throw new AudioError(
              name,
              `${Number.isNaN(v) ? 'NaN' : 'infinite'} sample at index ${first + i} of channel ${c}`,
            );
          sum += v;
        }
        mono[first + i] = numChannels === 1 ? sum : sum / numChannels;
      }
    }
    return mono;
  };
  return { sampleRate, frames, readMono };
}
