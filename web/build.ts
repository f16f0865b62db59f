/**
 * Builds the page into web/dist/ with esbuild: main.js (UI), worker.js (the engine, as an ES
 * module worker), the WebAssembly kernels the native backend loads beside its module
 * (`new URL('./x.wasm', import.meta.url)`), index.html and style.css. The VJP rules the explorer
 * shows are the source text of each entry of PRIMITIVES in src/primitives.ts, cut out here.
 *
 * The bundles target `platform: 'browser'` with no stubs: everything they import must be
 * browser-safe (no `node:*`).
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package folder: the first folder above this file holding web/index.html (this file also runs compiled, from dist/web/). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'web', 'index.html'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('the web page sources (web/index.html) are not in this package');
    dir = up;
  }
  return dir;
}

export const ROOT = packageRoot();
export const WEB_DIR = join(ROOT, 'web');
export const DIST = join(WEB_DIR, 'dist');

/** Each primitive's entry of the PRIMITIVES table, as source text. */
export function vjpRuleSources(
  source = readFileSync(join(ROOT, 'src', 'primitives.ts'), 'utf8'),
): Record<string, string> {
  const lines = source.split('\n');
  const start = lines.findIndex((l) => l.startsWith('export const PRIMITIVES'));
  const out: Record<string, string> = {};
  let name: string | null = null;
  let buf: string[] = [];
  let comments: string[] = []; // comment lines between entries belong to the next one
  const flush = () => {
    if (name) out[name] = buf.join('\n').replace(/^\n+/, '').replace(/,\s*$/, '');
  };
  for (let i = start + 1; i < lines.length && !lines[i].startsWith('};'); i++) {
    const line = lines[i];
    const m = /^ {2}([A-Za-z0-9]+): /.exec(line);
    if (m) {
      flush();
      name = m[1];
      buf = [...comments];
      comments = [];
    }
    if (/^ {2}\/\//.test(line) || line.trim() === '') comments.push(line.slice(2));
    else if (name) buf.push(line.slice(2));
  }
  flush();
  return out;
}

/** Newest modification time under the folders the page is made from. */
function newestSource(): number {
  let newest = 0;
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.name === 'dist' || e.name === 'node_modules') continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const d of ['web', 'src', 'models', 'kernels', 'property-tests']) walk(join(ROOT, d));
  return newest;
}

/** Whether web/dist is missing or older than its sources. */
export function pageIsStale(): boolean {
  const stamp = join(DIST, 'main.js');
  return !existsSync(stamp) || statSync(stamp).mtimeMs < newestSource();
}

/** Build the page (into a temporary folder, then renamed over web/dist). */
export async function buildPage(opts: { minify?: boolean } = {}): Promise<string> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch {
    throw new Error('the page is not built and esbuild is not installed: run `npm install` in the matpac-ts folder');
  }
  const tmp = `${DIST}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const result = await esbuild.build({
    entryPoints: { main: join(WEB_DIR, 'src', 'main.ts'), worker: join(WEB_DIR, 'src', 'worker.ts') },
    outdir: tmp,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    // wavefile's "module" entry has no default export; its "main" (UMD) is what Node loads too
    mainFields: ['browser', 'main', 'module'],
    target: 'es2022',
    minify: opts.minify ?? false,
    sourcemap: true,
    logLevel: 'silent',
    define: { __VJP_RULES__: JSON.stringify(vjpRuleSources()) },
  });
  if (result.errors.length) throw new Error(`building the page failed: ${result.errors[0].text}`);
  for (const f of ['index.html', 'style.css']) copyFileSync(join(WEB_DIR, f), join(tmp, f));
  const wasmDir = join(ROOT, 'kernels', 'native');
  for (const f of readdirSync(wasmDir)) if (f.endsWith('.wasm')) copyFileSync(join(wasmDir, f), join(tmp, f));
  rmSync(DIST, { recursive: true, force: true });
  renameSync(tmp, DIST);
  return DIST;
}
