/**
 * What the CLI's commands share: the error a user can act on and option parsers (./args.ts,
 * re-exported), choosing a backend, finding audio files in folders, and small output helpers.
 */
import { statSync } from 'node:fs';
import { relative, resolve, sep } from 'node:path';
import cliProgress from 'cli-progress';
import { AUDIO_EXTENSIONS, listAudioFiles, type WalkOptions } from '../data/dataset';
import { getBackend, listBackends, setBackend } from '../index';

import { CliError, oneLine } from './args';

export { CliError, nonNegativeInt, oneLine, parseBytes, positiveInt, positiveNumber } from './args';

// ── backends ─────────────────────────────────────────────────────────────────────────────────────

/** Make `name` the engine's default backend and return its one-line description. */
export function useBackend(name: string): string {
  // the gpu.js backends are registered by src/index.ts beside native and ref64
  const known = listBackends();
  if (!known.includes(name)) throw new CliError(`unknown backend '${name}' (available: ${known.join(', ')})`);
  try {
    setBackend(name);
    return getBackend().describe();
  } catch (e) {
    throw new CliError(`backend '${name}' could not start: ${oneLine((e as Error).message)}`);
  }
}

// ── files ────────────────────────────────────────────────────────────────────────────────────────

/** Files named on the command line: audio files as given, folders expanded to the audio files inside (see `listAudioFiles`). */
export async function expandAudioPaths(paths: readonly string[], walk: WalkOptions = {}): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new CliError(`${p}: no such file or folder`);
    }
    if (st.isDirectory()) {
      const found = await listAudioFiles(p, walk);
      if (!found.length) throw new CliError(`${p}: no audio files (${AUDIO_EXTENSIONS.join(', ')}) in this folder`);
      out.push(...found);
    } else out.push(p);
  }
  return out;
}

/** Require that `path` exists as a file. */
export function requireFile(path: string, what: string): string {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new CliError(`${path}: ${what} not found`);
  }
  if (!st.isFile()) throw new CliError(`${path}: ${what} is not a file`);
  return path;
}

/** A path for messages: relative to the working directory when it lies below it, else absolute. */
export function shown(p: string): string {
  const abs = resolve(p);
  const rel = relative(process.cwd(), abs);
  return rel && !rel.startsWith('..') && !rel.startsWith(sep) ? rel : abs;
}

/** Messages to the user go to stderr; data (JSON lines, tables asked for) to stdout. */
export const say = (msg: string): void => void process.stderr.write(msg + '\n');

/** A progress bar on stderr when it is a terminal; silent otherwise. */
export function progressBar(
  title: string,
  total: number,
  unit: string,
): { tick: (n?: number) => void; stop: () => void } {
  if (!process.stderr.isTTY || total <= 1) return { tick: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${title} |{bar}| {value}/{total} ${unit} | {duration_formatted} elapsed, eta {eta_formatted}`,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return { tick: (n = 1) => bar.increment(n), stop: () => bar.stop() };
}

/** An `onProgress(done, total)` callback that draws a bar, made on the first call (when the total is known). */
export function progressCallback(title: string, unit: string): (done: number, total: number) => void {
  let bar: ReturnType<typeof progressBar> | undefined;
  return (done, total) => {
    bar ??= progressBar(title, total, unit);
    bar.tick();
    if (done === total) bar.stop();
  };
}
