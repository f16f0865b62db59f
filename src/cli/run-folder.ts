/**
 * A run folder belongs to one training process at a time, and its files to one run.
 *
 *   run.lock        {"pid", "host", "startedAt"} of the process that owns the folder, created with
 *                   link(2) (atomic, never torn, fails if present); removed when the run ends. A
 *                   lock whose pid is no longer running (kill -9, a crash, a power cut) is stale: the
 *                   next run takes it over and says so. A lock from another host is never guessed
 *                   stale (delete it by hand).
 *   run id          a hash of the run's config and data folder, stored in run.json (`runId`), in every
 *                   checkpoint's metadata (`run_id`) and in every metrics.jsonl line (`run`); --resume
 *                   refuses a folder whose files carry different ids. It is a function of what defines
 *                   the run, so a resumed run writes the same bytes as an uninterrupted one.
 *   *.tmp-PID-XXXX  files a killed write left (checkpoints and the small files here are written to a
 *                   temporary name, then renamed): removed on start when PID is no longer running.
 */
import { createHash, randomBytes } from 'node:crypto';
import { linkSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CliError, say, shown } from './common';

export const LOCK = 'run.lock';

interface LockInfo {
  pid: number;
  host: string;
  startedAt: string;
}

/** Whether process `pid` is running on this host (EPERM: it runs, under another user). */
export function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** An I/O error as a short phrase (a full disk said plainly). */
export const ioMessage = (e: unknown): string => {
  const err = e as NodeJS.ErrnoException;
  return err.code === 'ENOSPC'
    ? 'no space left on device'
    : err.code === 'EDQUOT'
      ? 'disk quota exceeded'
      : (err.message ?? String(e)).replace(/\s+/g, ' ');
};

function readLock(path: string): LockInfo | 'gone' | 'unreadable' {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'gone' : 'unreadable';
  }
  try {
    const l = JSON.parse(text) as LockInfo;
    if (Number.isSafeInteger(l.pid) && typeof l.host === 'string' && typeof l.startedAt === 'string') return l;
  } catch {
    /* not JSON */
  }
  return 'unreadable';
}

export interface RunLock {
  release(): void;
}

/**
 * Own `dir` (which must exist) for this process, or fail in one line naming the process that owns
 * it. A stale lock (its process is gone) is taken over with a message.
 */
export function lockRunFolder(dir: string): RunLock {
  const path = join(dir, LOCK);
  const mine: LockInfo = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
  const text = JSON.stringify(mine) + '\n';
  for (let attempt = 0; attempt < 5; attempt++) {
    const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      writeFileSync(tmp, text);
      linkSync(tmp, path); // atomic: fails with EEXIST when a lock is there
      return { release: releaser(path, text) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new CliError(`${shown(path)}: cannot create the run lock (${ioMessage(e)})`);
    } finally {
      try {
        unlinkSync(tmp);
      } catch {
        /* gone */
      }
    }
    const held = readLock(path);
    if (held === 'gone') continue; // released meanwhile: try again
    if (held === 'unreadable') {
      say(`matpac: ${shown(path)}: taking over an unreadable lock file`);
    } else if (held.host !== mine.host) {
      throw new CliError(
        `${shown(dir)} is in use by a matpac run on host ${held.host} (pid ${held.pid}, since ${held.startedAt}); if that run is gone, delete ${shown(path)}`,
      );
    } else if (pidAlive(held.pid)) {
      throw new CliError(
        `${shown(dir)} is in use by another matpac run (pid ${held.pid}, since ${held.startedAt}); wait for it to end or choose another --out (if pid ${held.pid} is not a matpac run, delete ${shown(path)})`,
      );
    } else
      say(
        `matpac: ${shown(dir)}: taking over the lock of pid ${held.pid} (since ${held.startedAt}), which is no longer running`,
      );
    try {
      unlinkSync(path);
    } catch {
      /* another process took it over first: the next link decides */
    }
  }
  throw new CliError(`${shown(path)}: could not take the run lock (other processes keep taking it)`);
}

function releaser(path: string, text: string): () => void {
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off('exit', release);
    try {
      if (readFileSync(path, 'utf8') === text) unlinkSync(path);
    } catch {
      /* already gone */
    }
  };
  process.on('exit', release); // also on process.exit (a second Ctrl-C)
  return release;
}

const TEMP = /\.tmp-(\d+)-[0-9a-f]+$/;

/** Remove the temporary files of killed writes in `dir` (those whose process is gone); returns their names. */
export function cleanStaleTemps(dir: string): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(dir)) {
    const m = TEMP.exec(name);
    if (!m || pidAlive(Number(m[1]))) continue;
    try {
      unlinkSync(join(dir, name));
      removed.push(name);
    } catch {
      /* gone meanwhile */
    }
  }
  return removed;
}

/** The run id: a hash of what defines the run (its config and its data folder). */
export function runIdOf(config: unknown, dataDir: string): string {
  return createHash('sha256').update(JSON.stringify(config)).update('\0').update(dataDir).digest('hex').slice(0, 16);
}

/** The fields where `b` differs from `a`, as "path a → b" (nested objects by dotted path). */
export function configChanges(a: unknown, b: unknown, path = ''): string[] {
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => configChanges(a[k], b[k], path ? `${path}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b)
    ? []
    : [`${path || '(whole config)'} ${JSON.stringify(a) ?? '(none)'} → ${JSON.stringify(b) ?? '(none)'}`];
}
