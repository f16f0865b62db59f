/**
 * Fault injection for the robustness tests (test/faults.test.ts): the files a training run writes
 * (checkpoints, metrics.jsonl, config.json, run.json, loss.svg) are written through `writeAllSync`,
 * which is plain `writeSync` unless a fault is armed. A fault makes byte N of what this process
 * writes to one kind of file the first that does not get written:
 *
 *   kill     the bytes before it are written, then the process is killed (SIGKILL, as kill -9 or a
 *            crash at that instant)
 *   enospc   the bytes before it are written, then the write fails with ENOSPC (a full disk)
 *   a callback (tests, in-process): runs at that instant, e.g. to copy the run folder as a kill
 *            would leave it; the write then completes
 *
 * Armed from the environment, read once: MATPAC_FAULT=<kill|enospc>:<checkpoint|metrics|other|any>:<N>
 * (e.g. `kill:metrics:150`), or in-process with `armWriteFault`. Bytes are counted per kind over
 * the whole process, from 0.
 */
import { writeSync } from 'node:fs';
import { basename } from 'node:path';

export type FileKind = 'checkpoint' | 'metrics' | 'other';
export type FaultAction = 'kill' | 'enospc' | ((file: string) => void);

export interface WriteFault {
  kind: FileKind | 'any';
  /** The fault strikes before byte `atByte` (0-based) of this kind is written. */
  atByte: number;
  action: FaultAction;
}

export function fileKind(path: string): FileKind {
  const name = basename(path);
  if (name.includes('.safetensors')) return 'checkpoint';
  if (name.startsWith('metrics.jsonl')) return 'metrics';
  return 'other';
}

function fromEnv(spec: string | undefined): WriteFault[] {
  if (!spec) return [];
  const m = /^(kill|enospc):(checkpoint|metrics|other|any):(\d+)$/.exec(spec.trim());
  if (!m) throw new Error(`MATPAC_FAULT=${spec}: expected <kill|enospc>:<checkpoint|metrics|other|any>:<byte>`);
  return [{ action: m[1] as 'kill' | 'enospc', kind: m[2] as FileKind | 'any', atByte: Number(m[3]) }];
}

let faults: WriteFault[] = fromEnv(process.env.MATPAC_FAULT);
const written: Record<FileKind | 'any', number> = { checkpoint: 0, metrics: 0, other: 0, any: 0 };

/** Arm faults for this process (replacing any), and restart the byte counts. `[]` disarms. */
export function armWriteFault(...f: WriteFault[]): void {
  faults = f;
  for (const k of Object.keys(written) as (keyof typeof written)[]) written[k] = 0;
}

/** Bytes written so far per kind of file (since the start or the last armWriteFault). */
export const bytesWritten = (): Readonly<Record<FileKind | 'any', number>> => ({ ...written });

export function enospc(path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOSPC: no space left on device, write '${path}'`), {
    code: 'ENOSPC',
    errno: -28,
    syscall: 'write',
    path,
  });
}

/** Write all of `buf` to `fd` at `position` (null: the file's current position), through any armed fault. */
export function writeAllSync(fd: number, buf: Uint8Array, position: number | null, path: string): void {
  let len = buf.byteLength;
  let strike: WriteFault | undefined;
  const kind = fileKind(path);
  for (const f of faults) {
    // the earliest fault within this write strikes first
    const before = f.kind === 'any' ? written.any : written[kind];
    if ((f.kind === 'any' || f.kind === kind) && f.atByte >= before && f.atByte - before < len) {
      len = f.atByte - before;
      strike = f;
    }
  }
  written[kind] += len;
  written.any += len;
  let off = 0;
  while (off < len) off += writeSync(fd, buf, off, len - off, position === null ? null : position + off);
  if (!strike) return;
  faults = faults.filter((f) => f !== strike);
  if (strike.action === 'kill') process.kill(process.pid, 'SIGKILL');
  if (strike.action === 'enospc') throw enospc(path);
  if (typeof strike.action === 'function') {
    strike.action(path);
    writeAllSync(fd, buf.subarray(len), position === null ? null : position + len, path);
  }
}
