/**
 * metrics.jsonl: one JSON object per training step, appended as the run goes.
 *
 * A line is appended with one write after its step and before that step's checkpoint, so a crash or
 * a full disk can leave at most the last line torn (no newline at its end). On --resume the file is
 * read back up to the checkpoint's step: a torn last line is dropped (said once), lines from the
 * checkpoint's step on are dropped (the resumed run writes them again), a line that is not a
 * metrics row, or one from another run, stops the resume with one line naming the file and the line.
 * The kept lines are written back atomically. An append that fails (ENOSPC) cuts the file back to
 * its last whole line and fails with one line naming the file.
 */
import { closeSync, existsSync, fstatSync, ftruncateSync, openSync, readFileSync } from 'node:fs';
import { writeAllSync } from '../fault-injection';
import { CliError, say, shown } from './common';
import { writeFileAtomic } from '../io/atomic-file';
import { ioMessage } from './run-folder';

export interface MetricsRow {
  step: number;
  /** The run id (run-folder.ts); absent in runs written before it existed. */
  run?: string;
  /** Numbers, and lists of numbers (e.g. MATPAC++'s tokens won per head). */
  [metric: string]: number | number[] | string | undefined;
}

/** One line of metrics.jsonl as a row, or why it is not one. */
export function parseMetricsLine(line: string): MetricsRow | string {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    return `not JSON (${(e as Error).message.slice(0, 80)})`;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const row = v as Record<string, unknown>;
  if (!Number.isSafeInteger(row.step) || (row.step as number) < 0)
    return `"step" is ${JSON.stringify(row.step)?.slice(0, 40)}, not a step number`;
  if (row.run !== undefined && typeof row.run !== 'string') return '"run" is not a string';
  const isNum = (x: unknown) => typeof x === 'number' || x === null; // null: JSON's NaN/±Inf
  for (const [k, x] of Object.entries(row))
    if (k !== 'run' && !isNum(x) && !(Array.isArray(x) && x.every(isNum)))
      return `"${k.slice(0, 40)}" is not a number or a list of numbers`;
  return row as MetricsRow;
}

/**
 * The rows of `path` before `step` (the checkpoint's), checked to belong to run `runId`, with the
 * file rewritten to hold just them. A torn last line is repaired.
 */
export function metricsBefore(path: string, step: number, runId: string | undefined): MetricsRow[] {
  if (!existsSync(path)) return [];
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CliError(`${shown(path)}: cannot read (${ioMessage(e)})`);
  }
  const lines = text.split('\n');
  const last = lines.pop()!; // '' when the file ends with a newline
  if (last !== '')
    say(
      `matpac: ${shown(path)}: dropped a torn last line (${Buffer.byteLength(last)} bytes, no newline: a write was cut short)`,
    );
  const rows: MetricsRow[] = [];
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    const row = parseMetricsLine(line);
    if (typeof row === 'string') throw new CliError(`${shown(path)}: line ${i + 1} is not a metrics row: ${row}`);
    if (row.step >= step) return;
    if (runId !== undefined && row.run !== runId)
      throw new CliError(
        `${shown(path)}: line ${i + 1} belongs to another run (run ${row.run ?? 'without an id'}, this run is ${runId}): the folder mixes two runs`,
      );
    rows.push(row);
  });
  const have = new Set(rows.map((r) => r.step));
  if (have.size !== step)
    say(
      `matpac: ${shown(path)}: holds ${have.size} of the ${step} steps before the checkpoint (the loss plot has gaps)`,
    );
  writeFileAtomic(path, rows.map((r) => JSON.stringify(r) + '\n').join(''));
  return rows;
}

/** Appends rows to metrics.jsonl, one write per line; a failed write leaves the file at its last whole line. */
export class MetricsWriter {
  private fd: number;

  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'a');
    } catch (e) {
      throw new CliError(`${shown(path)}: cannot open for writing (${ioMessage(e)})`);
    }
  }

  append(row: { step: number }): void {
    let size = 0;
    try {
      size = fstatSync(this.fd).size;
      writeAllSync(this.fd, Buffer.from(JSON.stringify(row) + '\n', 'utf8'), null, this.path);
    } catch (e) {
      try {
        ftruncateSync(this.fd, size);
      } catch {
        /* the resume repairs it */
      }
      throw new CliError(`${shown(this.path)}: cannot write step ${row.step}'s metrics (${ioMessage(e)})`);
    }
  }

  close(): void {
    try {
      closeSync(this.fd);
    } catch {
      /* closed */
    }
  }
}
