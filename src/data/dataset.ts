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
import type { Stats } from 'node:fs';
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import { logMelSpectrogram, type LogMel } from '../../models/frontend';
import { AudioError } from '../audio/audio-error';
import { loadAudio16k } from '../audio/read';
import { fileKind, hasReplacedBytes } from '../io/file-kind';

/** File extensions read as audio (case-insensitive). */
export const AUDIO_EXTENSIONS: readonly string[] = ['.wav', '.flac', '.mp3', '.ogg', '.opus'];

const isAudioFile = (name: string) => AUDIO_EXTENSIONS.includes(extname(name).toLowerCase());

/** What a folder walk does with symbolic links, and where it reports what it leaves out. */
export interface WalkOptions {
  /** Also follow symbolic links whose target lies outside the folder searched (default: skip them, with a message). */
  followLinks?: boolean;
  /** Called for each entry left out: a dangling link, a link out of the folder, a loop, a FIFO or device, an unreadable folder, a second name of a file already found. */
  onSkip?: (skipped: SkippedFile) => void;
}

const errCode = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/**
 * All audio files under `dir`, searched recursively (hidden entries skipped), sorted by path.
 *
 * Each real file is listed once (files and folders are tracked by device and inode), so symbolic-link
 * loops end and a second name of a file is left out. Entries that are not symbolic links are walked
 * first and links after them, so a file is listed under its own folder rather than under a link to it.
 * Links that lead outside `dir` are not followed unless `followLinks` is set; FIFOs, sockets and devices
 * are never opened. Whatever is left out is passed to `onSkip` with the reason.
 */
export async function listAudioFiles(dir: string, opts: WalkOptions = {}): Promise<string[]> {
  let root: string;
  let rootStat: Stats;
  try {
    root = await realpath(dir);
    rootStat = await stat(root);
  } catch {
    throw new Error(`${dir}: not a folder`);
  }
  if (!rootStat.isDirectory()) throw new Error(`${dir}: not a folder`);
  const inside = (real: string) => real === root || real.startsWith(root.endsWith(sep) ? root : root + sep);
  const skip = (file: string, reason: string) => opts.onSkip?.({ file, reason });
  const seen = new Map<string, string>(); // device:inode → the path it was first reached by
  const found: string[] = [];
  const links: string[] = []; // symbolic links, followed once every other entry has been walked

  /** Record a file or folder; false (with a message) if it was reached before. */
  const firstVisit = (path: string, st: Stats, what: string): boolean => {
    const id = `${st.dev}:${st.ino}`;
    const earlier = seen.get(id);
    if (earlier === undefined) {
      seen.set(id, path);
      return true;
    }
    skip(path, `${what} already reached as ${earlier}`);
    return false;
  };

  const visit = async (path: string, st: Stats, viaLink: boolean): Promise<void> => {
    if (st.isDirectory()) {
      if (!firstVisit(path, st, viaLink ? 'symbolic link to a folder' : 'folder')) return;
      let entries;
      try {
        entries = await readdir(path, { withFileTypes: true });
      } catch (e) {
        skip(path, `cannot read folder (${errCode(e)}): skipped with everything in it`);
        return;
      }
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const entry of entries) {
        if (entry.name.startsWith('.')) continue;
        const child = join(path, entry.name);
        if (entry.isSymbolicLink()) links.push(child);
        else if (entry.isDirectory() || isAudioFile(entry.name)) {
          let childStat: Stats;
          try {
            childStat = await lstat(child);
          } catch (e) {
            const code = errCode(e);
            skip(
              child,
              code === 'ENOENT' && hasReplacedBytes(entry.name)
                ? 'the name is not valid UTF-8, so it cannot be opened by name (rename it)'
                : `cannot read (${code})`,
            );
            continue;
          }
          await visit(child, childStat, false);
        }
      }
    } else if (isAudioFile(path)) {
      if (!st.isFile()) skip(path, `${fileKind(st)}, not a regular file: not opened`);
      else if (firstVisit(path, st, 'same file')) found.push(path);
    }
  };

  await visit(dir, rootStat, false);
  while (links.length) {
    const link = links.shift()!;
    let real: string;
    let st: Stats;
    try {
      real = await realpath(link);
      st = await stat(real);
    } catch (e) {
      const code = errCode(e);
      skip(
        link,
        code === 'ELOOP'
          ? 'symbolic link loop'
          : code === 'ENOENT'
            ? 'dangling symbolic link (its target does not exist)'
            : `cannot follow symbolic link (${code})`,
      );
      continue;
    }
    if (!st.isDirectory() && !isAudioFile(link)) continue;
    if (!inside(real) && !opts.followLinks) {
      skip(link, `symbolic link leads outside ${dir} (to ${real}): not followed (--follow-links follows such links)`);
      continue;
    }
    await visit(link, st, true);
  }
  return found.sort();
}

/** Names of the sub-folders of `dir` that hold at least one audio file (the classes of a probe set), sorted. */
export async function listClassFolders(dir: string, opts: WalkOptions = {}): Promise<string[]> {
  const files = await listAudioFiles(dir, opts);
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

/** Options of loadLogMelDataset. */
export interface LoadLogMelOptions extends WalkOptions {
  /** Files with fewer log-mel frames are skipped (MATPAC skips clips shorter than its 608-frame crop). Default 1. */
  minFrames?: number;
  /** Called after each file with (files done, files in all). */
  onProgress?: (done: number, total: number) => void;
}

/** A folder of audio files as log-mels, with the files that were skipped and why. */
export interface LogMelDataset {
  items: LogMelItem[];
  skipped: SkippedFile[];
  /** The distinct labels of `items`, sorted (empty for a flat folder). */
  labels: string[];
}

/** Decode every audio file under `dir` into MATPAC's normalised log-mel, skipping (and reporting) bad or short ones. */
export async function loadLogMelDataset(dir: string, opts: LoadLogMelOptions = {}): Promise<LogMelDataset> {
  const minFrames = opts.minFrames ?? 1;
  const items: LogMelItem[] = [];
  const skipped: SkippedFile[] = [];
  const skip = (file: string, reason: string) => {
    const s = { file, reason };
    skipped.push(s);
    opts.onSkip?.(s);
  };
  const files = await listAudioFiles(dir, { followLinks: opts.followLinks, onSkip: (s) => skip(s.file, s.reason) });
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
