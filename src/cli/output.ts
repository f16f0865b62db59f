/**
 * Writing a command's output file: all of its bytes at once, atomically (a temporary file in the
 * same folder, renamed over the destination), so that a failed or interrupted run never leaves a
 * half-written file under the name asked for. Every CLI output that is a file goes through here.
 */
import { renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { CliError, shown } from './common';

export function writeOutputFile(path: string, bytes: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* never created */
    }
    throw new CliError(`${shown(path)}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}
