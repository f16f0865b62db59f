// Build the package into dist/ (run by `npm run build`, and by `prepare` on `npm ci`/`npm install`
// in a clone and on `npm pack`): plain Node, so it needs no tsx.
//
//   1. tsc -p tsconfig.build.json   ESM JavaScript + .d.ts for src/, kernels/, models/
//   2. relative import specifiers get their file's extension (`./core` → `./core.js`,
//      `../models/index` stays explicit): Node's ESM loader and TypeScript's node16 resolution
//      both need them, and the sources omit them (they are resolved by tsx/vitest/bundlers)
//   3. the compiled kernels (kernels/native/*.wasm, committed; scripts/build-wasm.ts) are copied
//      next to the JavaScript that loads them with `new URL('./x.wasm', import.meta.url)`
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = join(ROOT, 'dist');

function walk(dir) {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

rmSync(DIST, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: 'inherit' });
if (r.status !== 0) {
  console.error('build: tsc failed');
  process.exit(1);
}

// `from './x'`, `import './x'`, `import('./x')`, `export * from './x'`, and `import("./x")` types in .d.ts
const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]*)\2/g;
let rewritten = 0;
for (const file of walk(DIST)) {
  const dts = file.endsWith('.d.ts');
  if (!dts && !file.endsWith('.js')) continue;
  const src = readFileSync(file, 'utf8');
  const out = src.replace(SPECIFIER, (all, lead, q, spec) => {
    if (/\.(m?js|json|wasm)$/.test(spec)) return all;
    const base = join(dirname(file), spec);
    const ext = dts ? '.d.ts' : '.js';
    let to;
    if (existsSync(base + ext)) to = `${spec}.js`;
    else if (existsSync(join(base, `index${ext}`))) to = `${spec}/index.js`;
    else throw new Error(`build: ${relative(ROOT, file)}: cannot resolve '${spec}'`);
    rewritten++;
    return `${lead}${q}${to}${q}`;
  });
  if (out !== src) writeFileSync(file, out);
}

let wasm = 0;
for (const f of readdirSync(join(ROOT, 'kernels', 'native')).filter((f) => f.endsWith('.wasm'))) {
  copyFileSync(join(ROOT, 'kernels', 'native', f), join(DIST, 'kernels', 'native', f));
  wasm++;
}
console.log(`build: dist/ written (${rewritten} import specifiers made explicit, ${wasm} .wasm kernels copied)`);
