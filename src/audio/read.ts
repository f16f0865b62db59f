/**
 * Reading audio files from disk (Node): the bytes of a file, decoded by ./decode.ts (which works
 * on bytes and so runs in browsers too), within the bounds of ./limits.ts. Errors are
 * `AudioError`s naming the file.
 */
import { constants, type Stats } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { fileKind, hasReplacedBytes } from '../io/file-kind';
import {
  AudioError,
  checkSampleRate,
  decodeAudio,
  id3v2Length,
  mixToMono,
  sniffContainer,
  TARGET_SAMPLE_RATE,
  validate,
} from './decode';
import { decodeFlac } from './flac';
import { MAX_WHOLE_FILE_BYTES, READ_BLOCK_BYTES } from './limits';
import { resample } from './resample';
import { planLinearWav } from './wav-stream';

/**
 * Run `use` on an open regular file and its size. Anything else (a FIFO, a device, a folder) is
 * refused before it is opened — a FIFO would block the read forever — and again after (opened
 * non-blocking), in case the path changed in between.
 */
async function withRegularFile<T>(path: string, use: (handle: FileHandle, size: number) => Promise<T>): Promise<T> {
  const notRegular = (st: Stats) => new AudioError(path, `${fileKind(st)}, not a regular file: not opened`);
  let handle: FileHandle | undefined;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw notRegular(st);
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const opened = await handle.stat();
    if (!opened.isFile()) throw notRegular(opened);
    return await use(handle, opened.size);
  } catch (e) {
    if (e instanceof AudioError) throw e;
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT' && hasReplacedBytes(path))
      throw new AudioError(path, 'cannot open: the file name is not valid UTF-8 (rename the file)');
    throw new AudioError(path, `cannot read file (${err.code ?? err.message})`);
  } finally {
    await handle?.close();
  }
}

async function readAt(handle: FileHandle, position: number, length: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(bytes, done, length - done, position + done);
    if (bytesRead === 0) return bytes.subarray(0, done); // the file shrank since its size was read
    done += bytesRead;
  }
  return bytes;
}

/**
 * Read an audio file (WAV, FLAC, MP3, Ogg/Opus) as mono float samples at its own sample rate,
 * within the bounds of ./limits.ts: linear WAV in blocks, other files whole up to a size limit.
 */
export async function readAudio(path: string): Promise<{ samples: Float32Array; sampleRate: number }> {
  return withRegularFile(path, async (handle, size) => {
    const head = await readAt(handle, 0, Math.min(size, READ_BLOCK_BYTES));
    if (sniffContainer(head, path) === 'wav') {
      const plan = planLinearWav(head, size, path);
      if (plan) {
        checkSampleRate(plan.sampleRate, path);
        if (plan.frames === 0) throw new AudioError(path, 'no audio samples');
        return { samples: await plan.readMono(handle), sampleRate: plan.sampleRate };
      }
    }
    if (size > MAX_WHOLE_FILE_BYTES) {
      throw new AudioError(
        path,
        `${(size / 2 ** 20).toFixed(0)} MiB: FLAC, MP3, Ogg and compressed WAV files are read whole, up to ${MAX_WHOLE_FILE_BYTES / 2 ** 20} MiB (split the file, or convert it to PCM WAV)`,
      );
    }
    const bytes = size <= head.length ? head : await readAt(handle, 0, size);
    // FLAC: mixed to mono as the frames are decoded; a compressed WAV: decoded whole, then mixed
    const audio =
      sniffContainer(bytes, path) === 'flac'
        ? validate(await decodeFlac(bytes, path, id3v2Length(bytes), { mono: true }), path)
        : await decodeAudio(bytes, path);
    return { samples: mixToMono(audio.channels), sampleRate: audio.sampleRate };
  });
}

/** Read an audio file (WAV, FLAC, MP3, Ogg/Opus) as mono float samples at 16 kHz (the input of `logMelSpectrogram`). */
export async function loadAudio16k(path: string): Promise<Float32Array> {
  const { samples, sampleRate } = await readAudio(path);
  return sampleRate === TARGET_SAMPLE_RATE ? samples : resample(samples, sampleRate, TARGET_SAMPLE_RATE);
}
