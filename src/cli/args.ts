/**
 * The CLI's error a user can act on (`CliError`) and its option parsers: kept apart from
 * ./common.ts so that `matpac --help` / `--version` start without loading the engine.
 */
import { InvalidArgumentError } from 'commander';

/** An error whose message is a complete, one-line explanation for the user (printed as `matpac: <message>`). */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

// ── option parsers (commander calls them with the raw string) ────────────────────────────────────

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1)
    throw new InvalidArgumentError('must be a positive integer.');
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n))
    throw new InvalidArgumentError('must be a non-negative integer.');
  return n;
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError('must be a positive number.');
  return n;
}

/** `--max-memory`: bytes, or a number with k/M/G/T (powers of 1000; KiB/MiB/GiB/TiB for powers of 1024). */
export function parseBytes(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(|b|k|kb|kib|m|mb|mib|g|gb|gib|t|tb|tib)\s*$/i.exec(value);
  if (!m) throw new InvalidArgumentError('must be a size such as 8G, 512M or 2GiB.');
  const unit = m[2].toLowerCase();
  const pow = 'bkmgt'.indexOf(unit[0] ?? 'b');
  const n = Number(m[1]) * (unit.includes('i') ? 1024 : 1000) ** Math.max(0, pow);
  if (!(n >= 1)) throw new InvalidArgumentError('must be at least 1 byte.');
  return n;
}

export const oneLine = (s: string): string => s.replace(/\s+/g, ' ').trim();
