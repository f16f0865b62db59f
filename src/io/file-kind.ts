/**
 * What kind of file system entry a path is, in words, for messages about entries that are not
 * regular files (and so are never opened: a FIFO would block the reader forever).
 */
import type { Stats } from 'node:fs';

/** 'a FIFO', 'a socket', 'a folder', … for a `stat` result that is not a regular file. */
export function fileKind(st: Stats): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/** True when a name read back from the file system was not valid UTF-8 (Node replaced bytes by U+FFFD). */
export const hasReplacedBytes = (name: string): boolean => name.includes('\uFFFD');
