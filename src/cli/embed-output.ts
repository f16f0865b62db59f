/**
 * Where `matpac embed` puts its embeddings: JSON lines on standard output as each file is done, or
 * the `--out` file in the format its extension names (./embed-formats.ts), written once at the end
 * atomically (src/io/atomic-file.ts): a run that fails or embeds nothing leaves any existing file as
 * it was.
 */
import { embedFormatOf, encodeEmbeddings, jsonLine, sidePath, type FileEmbedding } from './embed-formats';
import { statSync } from 'node:fs';
import { outputError, writeFileAtomic } from '../io/atomic-file';

const isFolder = (p: string): boolean => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

export interface EmbeddingOutput {
  /** Add one file's embedding. */
  add(e: FileEmbedding): void;
  /** Everything is there: write the file. */
  finish(): void;
  /** Nothing (more) will be written: leave any existing file as it was. */
  abort(): void;
}

/** Open the output of an embed run: `out` (a file; its format checked at once), or standard output when undefined. */
export function openEmbeddingOutput(out: string | undefined): EmbeddingOutput {
  if (out === undefined)
    return { add: (e) => void process.stdout.write(jsonLine(e)), finish: () => {}, abort: () => {} };
  if (isFolder(out)) throw outputError(out, Object.assign(new Error('is a folder'), { code: 'EISDIR' }));
  const format = embedFormatOf(out);
  let items: FileEmbedding[] = [];
  return {
    add: (e) => void items.push(e),
    finish: () => {
      const { main, side } = encodeEmbeddings(format, items);
      writeFileAtomic(out, main);
      if (side) writeFileAtomic(sidePath(out, side.suffix), side.text);
    },
    abort: () => void (items = []),
  };
}
