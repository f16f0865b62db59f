#!/usr/bin/env node
// The `matpac` command: runs the compiled CLI (dist/src/cli/run.js, built by `npm run build`, which
// `npm ci`/`npm install` run in a clone through `prepare`, and which the published package ships).
// Installed by npm as the package's "bin".
try {
  await import('../dist/src/cli/run.js');
} catch (e) {
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' || !String(e.message).includes('dist/src/cli/run.js')) throw e;
  process.stderr.write(
    'matpac: the compiled CLI (dist/) is missing: run `npm run build` in the package folder (npm ci does it)\n',
  );
  process.exit(1);
}
