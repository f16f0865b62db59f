/**
 * Output files written atomically: the bytes go to a temporary file beside the target
 * (`<file>.tmp-<pid>-<random>`, the pattern the checkpoint writer uses too), are flushed to disk, and
 * the temporary file is renamed over the target only once everything is written. A reader sees the
 * old file or the new one, never a torn or empty one; a failed write (disk full, a folder in the way,
 * …) leaves the old file as it was and removes the temporary one.
 *
 * A target that exists and is not a regular file (/dev/null, /dev/stdout, a named pipe) cannot be
 * replaced by a rename: it is written to directly. A symbolic link is followed, so the file it points
 * to is replaced, not the link.
 *
 * Every failure is an `OutputError` whose message is one line naming the file.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeAllSync } from '../fault-injection';

/** A file that could not be written: `<file>: <problem>`, one line. */
export class OutputError extends Error {
  override readonly name = 'OutputError';
  constructor(
    readonly file: string,
    readonly problem: string,
    /** The system error code behind it (ENOSPC, ENOENT, …), if any. */
    readonly code?: string,
  ) {
    super(`${file}: ${problem}`);
  }
}

/** The one-line `OutputError` for a failed write of `file`. */
export function outputError(file: string, e: unknown): OutputError {
  if (e instanceof OutputError) return e;
  const err = e as NodeJS.ErrnoException;
  const code = err.code;
  const problem: Record<string, string> = {
    ENOENT: `cannot write: the folder ${dirname(file)} does not exist`,
    ENOTDIR: `cannot write: ${dirname(file)} is not a folder`,
    EISDIR: 'cannot write: it is a folder (give a file name)',
    ENOSPC: 'cannot write: no space left on the device (disk full); an existing file was left as it was',
    EDQUOT: 'cannot write: disk quota exceeded; an existing file was left as it was',
    EFBIG: 'cannot write: file too large for the file system',
    EACCES: 'cannot write: permission denied',
    EPERM: 'cannot write: operation not permitted',
    EROFS: 'cannot write: read-only file system',
  };
  return new OutputError(file, (code && problem[code]) ?? `cannot write (${code ?? err.message})`, code);
}

/** A path for a temporary file beside `file`. */
export const tempPathFor = (file: string): string => `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;

/** An output file being written. */
export interface AtomicFile {
  /** The file as named by the caller. */
  readonly path: string;
  /** Append bytes, or text as UTF-8. */
  write(chunk: string | Uint8Array): void;
  /** Flush to disk and put the new file in place of the old one. */
  commit(): void;
  /** Give up: the temporary file is removed and the target left as it was. Safe to call at any time, more than once. */
  abort(): void;
}

/** Where the bytes finally go, and whether a rename can put them there. */
function resolveTarget(path: string): { target: string; direct: boolean } {
  let st;
  try {
    st = statSync(path); // follows links
  } catch {
    return { target: path, direct: false }; // a new file (a missing folder shows when the temporary file is made)
  }
  if (st.isDirectory()) throw new OutputError(path, 'cannot write: it is a folder (give a file name)', 'EISDIR');
  return { target: realpathSync(path), direct: !st.isFile() };
}

/**
 * Start writing `path`. The temporary file is made at once, so a missing folder, a folder named as
 * the file or a permission problem is reported before any work is done.
 */
export function createAtomicFile(path: string): AtomicFile {
  const { target, direct } = resolveTarget(path);
  const tmp = direct ? target : tempPathFor(target);
  let fd: number | null;
  try {
    fd = openSync(tmp, direct ? 'w' : 'wx', 0o644);
  } catch (e) {
    throw outputError(path, e);
  }
  let finished = false;
  const abort = () => {
    if (fd !== null) {
      try {
        closeSync(fd);
      } catch {
        // already failing: the first error is the one reported
      }
      fd = null;
    }
    if (!finished && !direct) {
      try {
        rmSync(tmp, { force: true });
      } catch {
        // nothing more can be done; a stale temporary file is named by its pid
      }
    }
    finished = true;
  };
  const open = () => {
    if (fd === null) throw new OutputError(path, 'internal: written after it was closed');
    return fd;
  };
  return {
    path,
    write(chunk) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      const handle = open();
      try {
        writeAllSync(handle, bytes, null, tmp); // writeSync, through the tests' fault hook
      } catch (e) {
        abort();
        throw outputError(path, e);
      }
    },
    commit() {
      const handle = open();
      try {
        if (!direct) fsyncSync(handle);
        closeSync(handle);
        fd = null;
        if (!direct) renameSync(tmp, target);
        finished = true;
      } catch (e) {
        abort();
        throw outputError(path, e);
      }
    },
    abort,
  };
}

/** Write a whole file atomically (see the top of this file). */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const file = createAtomicFile(path);
  file.write(data);
  file.commit();
}
