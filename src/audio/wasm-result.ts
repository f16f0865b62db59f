/**
 * What the wasm-audio-decoders family (@wasm-audio-decoders/flac, mpg123-decoder, ogg-opus-decoder)
 * returns, turned into our DecodedAudio or one AudioError line: no samples, or frames the decoder
 * reported as bad, make the file unusable. The decoders also print problems on console.error while
 * they run; those lines are collected (the decoding call is synchronous up to its first await) and
 * used as the detail of the message instead of reaching the terminal.
 */
import { AudioError } from './audio-error';
import type { DecodedAudio } from './wav';

export interface WasmDecoded {
  channelData: Float32Array[];
  samplesDecoded: number;
  sampleRate: number;
  errors: { message: string }[];
}

/** Run `decode` with console.error/warn captured; a thrown error becomes "not a readable <format> file". */
export async function runDecoder<D extends WasmDecoded>(
  name: string,
  format: string,
  decode: () => D | Promise<D>,
): Promise<{ decoded: D; logged: string[] }> {
  const logged: string[] = [];
  const { error, warn } = console;
  let pending: D | Promise<D>;
  try {
    console.error = console.warn = (...args: unknown[]) => void logged.push(args.map(String).join(' '));
    try {
      pending = decode();
    } finally {
      console.error = error;
      console.warn = warn;
    }
    return { decoded: await pending, logged };
  } catch (e) {
    throw new AudioError(name, `not a readable ${format} file (${(e as Error).message})`);
  }
}

/** ` (first problem)` from the decoder's errors or its captured console lines, or '' when it reported none. */
export function problemDetail(decoded: WasmDecoded, logged: string[]): string {
  const firstProblem = decoded.errors[0]?.message ?? logged[0];
  return firstProblem === undefined ? '' : ` (${firstProblem.replace(/\s+/g, ' ').trim()})`;
}

/** Check a decoder's result and keep its channels. */
export function checkedAudio(name: string, format: string, decoded: WasmDecoded, logged: string[]): DecodedAudio {
  const detail = problemDetail(decoded, logged);
  if (decoded.samplesDecoded === 0 || decoded.channelData.length === 0)
    throw new AudioError(name, `${format} stream holds no decodable audio${detail}`);
  if (decoded.errors.length > 0)
    throw new AudioError(name, `corrupt ${format}: ${decoded.errors.length} bad frame(s)${detail}`);
  return {
    channels: decoded.channelData.map((c) => c.subarray(0, decoded.samplesDecoded)),
    sampleRate: decoded.sampleRate,
  };
}
