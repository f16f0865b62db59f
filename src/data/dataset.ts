/**
 * Data sets on disk and their log-mels in memory.
 *
 * Layouts: any folder of audio files, searched recursively, for pre-training; a folder per class
 * (DIR/<label>/…/<file>.wav) for probes — a file's label is the first folder of its path under DIR.
 * Each file is decoded, mixed to mono, resampled to 16 kHz and turned into MATPAC's normalised log-mel
 * once; crops for training are then slices of those (see ./loader.ts). Files that cannot be used
 * (AudioError: empty, truncated, not audio, NaN, …) or are too short are skipped and reported, and
 * loading goes on with the rest.
 */
import { readdir, stat } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import { logMelSpectrogram, type LogMel } from '../../models/frontend';
import { AudioError } from '../audio/audio-error';
import { loadAudio16k } from '../audio/decode';

/** File extensions read as audio (case-insensitive). */
export const AUDIO_EXTENSIONS: readonly string[] = ['.wav', '.flac', '.mp3', '.ogg', '.opus'];

const isAudioFile = (name: string) => AUDIO_EXTENSIONS.includes(extname(name).toLowerCase());

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** All audio files under `dir` (recursively, following symbolic links, skipping hidden entries), sorted by path. */
export async function listAudioFiles(dir: string): Promise<string[]> {
  if (!(await isDirectory(dir))) throw new Error(`${dir}: not a folder`);
  const found: string[] = [];
  const walk = async (folder: string): Promise<void> => {
    const entries = await readdir(folder, { withFileTypes: true });
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const path = join(folder, entry.name);
      const isLink = entry.isSymbolicLink();
      if (entry.isDirectory() || (isLink && (await isDirectory(path)))) await walk(path);
      else if ((entry.isFile() || isLink) && isAudioFile(entry.name)) found.push(path);
    }
  };
  await walk(dir);
  return found.sort();
}

/** Names of the sub-folders of `dir` that hold at least one audio file (the classes of a probe set), sorted. */
export async function listClassFolders(dir: string): Promise<string[]> {
  const files = await listAudioFiles(dir);
  const classes = new Set<string>();
  for (const file of files) {
    const parts = relative(dir, file).split(sep);
    if (parts.length > 1) classes.add(parts[0]);
  }
  return [...classes].sort();
}

/** One usable file: its path, its class (first folder under the data set root, if any) and its log-mel. */
export interface LogMelItem {
  file: string;
  label?: string;
  logmel: LogMel;
}

/** A file that was left out, and why (one line). */
export interface SkippedFile {
  file: string;
  reason: string;
}

export interface LoadLogMelOptions {
  /** Files with fewer log-mel frames are skipped (MATPAC skips clips shorter than its 608-frame crop). Default 1. */
  minFrames?: number;
  /** Called for each skipped file as it is found. */
  onSkip?: (skipped: SkippedFile) => void;
  /** Called after each file with (files done, files in all). */
  onProgress?: (done: number, total: number) => void;
}

export interface LogMelDataset {
  items: LogMelItem[];
  skipped: SkippedFile[];
  /** The distinct labels of `items`, sorted (empty for a flat folder). */
  labels: string[];
}

/** Decode every audio file under `dir` into MATPAC's normalised log-mel, skipping (and reporting) bad or short ones. */
export async function loadLogMelDataset(dir: string, opts: LoadLogMelOptions = {}): Promise<LogMelDataset> {
  const minFrames = opts.minFrames ?? 1;
  const files = await listAudioFiles(dir);
  const items: LogMelItem[] = [];
  const skipped: SkippedFile[] = [];
  const skip = (file: string, reason: string) => {
    const s = { file, reason };
    skipped.push(s);
    opts.onSkip?.(s);
  };
  for (let i = 0; i < files.length; i++) {
    const file = files[i];
    try {
      const logmel = logMelSpectrogram(await loadAudio16k(file));
      if (logmel.nFrames < minFrames) {
        skip(file, `too short: ${logmel.nFrames} log-mel frames < ${minFrames}`);
      } else {
        const parts = relative(dir, file).split(sep);
        items.push(parts.length > 1 ? { file, label: parts[0], logmel } : { file, logmel });
      }
    } catch (e) {
      if (!(e instanceof AudioError)) throw e;
      skip(file, e.problem);
    }
    opts.onProgress?.(i + 1, files.length);
  }
  const labels = [...new Set(items.flatMap((it) => (it.label === undefined ? [] : [it.label])))].sort();
  return { items, skipped, labels };
}

/** A one-line summary of skipped files for the caller to print, e.g. "skipped 2 of 40 files: a.wav (empty file), …". */
export function describeSkipped(skipped: readonly SkippedFile[], total: number, maxListed = 5): string {
  if (skipped.length === 0) return `skipped 0 of ${total} files`;
  const listed = skipped.slice(0, maxListed).map((s) => `${s.file} (${s.reason})`);
  const more = skipped.length > maxListed ? `, and ${skipped.length - maxListed} more` : '';
  return `skipped ${skipped.length} of ${total} files: ${listed.join(', ')}${more}`;
}
