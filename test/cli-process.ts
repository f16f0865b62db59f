/**
 * How tests run `matpac` as a process: src/cli/run.ts from the sources through tsx's loader (by
 * absolute URL, so it resolves from any working folder). The installed bin runs the same file
 * compiled; test/package.test.ts covers that.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The CLI's process entry in the sources. */
export const RUN = join(fileURLToPath(new URL('..', import.meta.url)), 'src', 'cli', 'run.ts');
/** tsx's loader, for `node --import`. */
export const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
/** Arguments for `node` that run `matpac` (append the command's own). */
export const MATPAC_ARGS: readonly string[] = ['--import', TSX, RUN];
