#!/usr/bin/env node
// The `matpac` command: runs the compiled CLI (dist/src/cli/main.js, built by `npm run build`, which
// `npm ci`/`npm install` run in a clone through `prepare`, and which the published package ships).
// Installed by npm as the package's "bin".
let main;
try {
  ({ main } = await import('../dist/src/cli/main.js'));
} catch (e) {
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' || !String(e.message).includes('dist')) throw e;
  process.stderr.write('matpac: the compiled CLI (dist/) is missing: run `npm run build` in the package folder (npm ci does it)\n');
  process.exit(1);
}
const code = await main(process.argv.slice(2));
process.exitCode = code;
// A backend may hold native handles (GL contexts, worker threads) that keep Node alive after the
// work is done; leave a moment for output to drain, then exit.
setTimeout(() => process.exit(code), 500).unref();
