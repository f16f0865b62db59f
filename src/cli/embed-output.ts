/**
 * Where `matpac embed` puts its embeddings: JSON lines {"file", "embedding"} on standard output, or
 * in the `--out` file, written atomically (src/io/atomic-file.ts): an existing file is replaced only
 * when the run has embedded something, and is never emptied by a run that fails.
 */
import { createAtomicFile } from '../io/atomic-file';

export interface EmbeddingOutput {
  /** Add one file's embedding. */
  add(file: string, embedding: Float32Array): void;
  /** Everything is written: put the file in place. */
  finish(): void;
  /** Nothing (more) will be written: leave any existing file as it was. */
  abort(): void;
}

/** Open the output of an embed run: `out` (a file), or standard output when undefined. */
export function openEmbeddingOutput(out: string | undefined): EmbeddingOutput {
  const line = (file: string, embedding: Float32Array) => JSON.stringify({ file, embedding: Array.from(embedding) }) + '\n';
  if (out === undefined) return { add: (file, e) => void process.stdout.write(line(file, e)), finish: () => {}, abort: () => {} };
  const target = createAtomicFile(out);
  return { add: (file, e) => target.write(line(file, e)), finish: () => target.commit(), abort: () => target.abort() };
}
