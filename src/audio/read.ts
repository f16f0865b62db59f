/**
 * Reading audio files from disk (Node): the bytes of a file, decoded by ./decode.ts (which works
 * on bytes and so runs in browsers too). Errors are `AudioError`s naming the file.
 */
import { readFile } from 'node:fs/promises';
import { AudioError, decodeAudio, decodeAudio16k, mixToMono } from './decode';

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new AudioError(path, `cannot read file (${err.code ?? err.message})`);
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
