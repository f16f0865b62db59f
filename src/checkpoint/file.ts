/**
 * Checkpoint files (Node only): the byte format is ./codec.ts; this file reads and writes it.
 *
 * Writes are atomic: the file is written to a temporary name in the same directory, fsynced,
 * renamed over the destination, and the directory fsynced — so a crash at any moment leaves
 * either the previous checkpoint or the new one, never a torn file. Tensors are streamed one at a
 * time in both directions. Reads validate everything (in the codec) and fail with one line naming
 * the file (`CheckpointError`).
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Tensor } from '../core';
import { writeAllSync } from '../fault-injection';
import type { Hasher } from './sha256';
import {
  CheckpointError,
  encodeChunks,
  encodeStateChunks,
  namedEntries,
  parseHeader,
  readTensors,
  stateFrom,
  type Chunk,
  type DecodeOptions,
  type DecodeStateOptions,
  type Metadata,
  type SaveDtype,
} from './codec';

/** Options of saveSafetensors / saveState. */
export interface SaveOptions {
  /** Stored dtype: default F32 for float32 backends and F64 for float64 ones (ref64). */
  dtype?: SaveDtype;
  /**
   * Called after the temporary file is complete and fsynced, just before it is renamed over the
   * destination: a test hook for simulating a crash at the worst moment.
   */
  beforeRename?: (tmpPath: string) => void;
}

/** Options of loadSafetensors. */
export type LoadOptions = Pick<DecodeOptions, 'backend'>;
/** Options of loadState. */
export type LoadStateOptions<T> = Pick<DecodeStateOptions<T>, 'backend' | 'like'>;

/** node:crypto's SHA-256 (hardware accelerated; the portable one gives the same digests). */
const nodeSha256 = (): Hasher => {
  const h = createHash('sha256');
  return { update: (b) => void h.update(b), hex: () => h.digest('hex') };
};

// ---------------------------------------------------------------------------------------------
// writing

/** Write positioned chunks to `path` atomically (temporary file, fsync, rename, fsync of the directory). */
function writeAtomically(path: string, chunks: Iterable<Chunk>, opts: SaveOptions): void {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'w', 0o644);
    for (const { at, bytes } of chunks) writeAllSync(fd, bytes, at, tmp); // through the tests' fault hook
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    opts.beforeRename?.(tmp);
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== null) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    if (e instanceof CheckpointError || !(e instanceof Error) || !('code' in e)) throw e;
    throw new CheckpointError(path, `cannot write: ${e.message}`);
  }
  // make the rename itself durable
  try {
    const dfd = openSync(dirname(path), 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    /* some filesystems do not fsync directories */
  }
}

// ---------------------------------------------------------------------------------------------
// reading

function readExactly(fd: number, file: string, length: number, position: number): Uint8Array {
  const buf = new Uint8Array(length);
  let off = 0;
  while (off < length) {
    const n = readSync(fd, buf, off, length - off, position + off);
    if (n === 0) throw new CheckpointError(file, `truncated: unexpected end of file at byte ${position + off}`);
    off += n;
  }
  return buf;
}

/** Open `file` and run `body` with a reader over it and its size; always closes the file. */
function withFile<R>(
  file: string,
  body: (read: (length: number, position: number) => Uint8Array, size: number) => R,
): R {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    throw new CheckpointError(file, `cannot open: ${(e as Error).message}`);
  }
  try {
    return body((length, position) => readExactly(fd, file, length, position), fstatSync(fd).size);
  } finally {
    closeSync(fd);
  }
}

function readFile(file: string, opts: LoadOptions): { tensors: Map<string, Tensor>; metadata: Metadata } {
  return withFile(file, (read, size) => {
    const parsed = parseHeader(read, size, file);
    return { tensors: readTensors(read, parsed, file, { ...opts, hasher: nodeSha256 }), metadata: parsed.metadata };
  });
}

// ---------------------------------------------------------------------------------------------
// the public functions

/** Write `named` tensors and string metadata as a .safetensors file (atomically). */
export function saveSafetensors(
  path: string,
  named: Record<string, Tensor>,
  metadata: Metadata = {},
  opts: SaveOptions = {},
): void {
  writeAtomically(
    path,
    encodeChunks(namedEntries(named), metadata, { dtype: opts.dtype, name: path, hasher: nodeSha256 }).chunks,
    opts,
  );
}

/**
 * Read a .safetensors file (written here or by PyTorch/safetensors). F32, F16 and BF16 load as
 * float32 values, F64 and integer/bool dtypes as float64 values, then go to the backend.
 */
export function loadSafetensors(
  path: string,
  opts: LoadOptions = {},
): { tensors: Record<string, Tensor>; metadata: Metadata } {
  const { tensors, metadata } = readFile(path, opts);
  return { tensors: Object.fromEntries(tensors), metadata };
}

/** The header's `__metadata__` alone (reads only the header; validates the file's layout). */
export function readMetadata(path: string): Metadata {
  return withFile(path, (read, size) => parseHeader(read, size, path).metadata);
}

/**
 * Save a whole tree — tensors as safetensors entries named by their paths, everything else in
 * `__metadata__.tree` (see ./codec.ts) — atomically. `metadata` adds the caller's own string
 * entries (e.g. `{ config: JSON.stringify(cfg) }`); reserved keys are refused.
 */
export function saveState(path: string, state: unknown, metadata: Metadata = {}, opts: SaveOptions = {}): void {
  writeAtomically(
    path,
    encodeStateChunks(state, metadata, { dtype: opts.dtype, name: path, hasher: nodeSha256 }).chunks,
    opts,
  );
}

/** Load a tree written by saveState, with its original structure, onto the chosen backend. */
export function loadState<T = unknown>(path: string, opts: LoadStateOptions<T> = {}): T {
  return stateFrom(readFile(path, opts), path, opts.like);
}

export { CheckpointError, type Metadata, type SaveDtype } from './codec';
