/**
 * Reading audio files from disk (Node): the bytes of a file, decoded by ./decode.ts (which works
 * on bytes and so runs in browsers too). Errors are `AudioError`s naming the file.
 */
import { constants, type Stats } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { fileKind, hasReplacedBytes } from '../io/file-kind';
import { AudioError, decodeAudio, decodeAudio16k, mixToMono } from './decode';

/**
 * The bytes of a regular file. Anything else (a FIFO, a device, a folder) is refused before it is
 * opened — a FIFO would block the read forever — and again after (opened non-blocking), in case the
 * path changed in between.
 */
async function readBytes(path: string): Promise<Uint8Array> {
  const notRegular = (st: Stats) => new AudioError(path, `${fileKind(st)}, not a regular file: not opened`);
  let handle: FileHandle | undefined;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw notRegular(st);
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const opened = await handle.stat();
    if (!opened.isFile()) throw notRegular(opened);
    return new Uint8Array(await handle.readFile());
  } catch (e) {
    if (e instanceof AudioError) throw e;
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT' && hasReplacedBytes(path)) throw new AudioError(path, 'cannot open: the file name is not valid UTF-8 (rename the file)');
    throw new AudioError(path, `cannot read file (${err.code ?? err.message})`);
  } finally {
    await handle?.close();
  }
}

/** Read a WAV or FLAC file as mono float samples at its own sample rate. */
export async function readAudio(path: string): Promise<{ samples: Float32Array; sampleRate: number }> {
  const audio = await decodeAudio(await readBytes(path), path);
  return { samples: mixToMono(audio.channels), sampleRate: audio.sampleRate };
}

/** Read a WAV or FLAC file as mono float samples at 16 kHz (the input of `logMelSpectrogram`). */
export async function loadAudio16k(path: string): Promise<Float32Array> {
  return decodeAudio16k(await readBytes(path), path);
}
