#!/usr/bin/env node
// The `matpac` command: registers tsx's TypeScript loader in this process, then runs the CLI
// written in TypeScript (src/cli/main.ts). Installed by npm as the package's "bin".
import { register } from 'tsx/esm/api';

register();
const { main, guardStandardStreams } = await import(new URL('../src/cli/main.ts', import.meta.url).href);
guardStandardStreams();
const code = await main(process.argv.slice(2));
process.exitCode = code;
// A backend may hold native handles (GL contexts, worker threads) that keep Node alive after the
// work is done; leave a moment for output to drain, then exit.
setTimeout(() => process.exit(code), 500).unref();
