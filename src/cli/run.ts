/**
 * The `matpac` process: runs the CLI on this process's arguments and exits with its status.
 * bin/matpac.mjs imports it compiled (dist/src/cli/run.js); tests and `npm run matpac` run it
 * from the sources with tsx.
 */
import { guardStandardStreams, main } from './main';

guardStandardStreams();
const code = await main(process.argv.slice(2));
process.exitCode = code;
// A backend may hold native handles (GL contexts, worker threads) that keep Node alive after the
// work is done; leave a moment for output to drain, then exit.
setTimeout(() => process.exit(code), 500).unref();
