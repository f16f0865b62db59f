/**
 * The package as users get it: build dist/, `npm pack`, install the tarball into an empty project
 * (dependencies from npm's cache when it has them), and there — with no tsx anywhere — (a) plain
 * `node` imports { grad, tensor } from 'matpac-ts' and checks a gradient, (b) `tsc` type-checks a
 * file that uses the types, (c) the `matpac` bin answers --version.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const dir = mkdtempSync(join(tmpdir(), 'matpac-pack-'));
const app = join(dir, 'app');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (cmd: string, args: string[], cwd: string, timeout = 240_000) =>
  execFileSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    timeout,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
const npm = (args: string[], cwd: string) => run(process.platform === 'win32' ? 'npm.cmd' : 'npm', args, cwd);

let files: string[] = [];
beforeAll(() => {
  run(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], ROOT);
  const packed = JSON.parse(npm(['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT)) as {
    filename: string;
    files: { path: string }[];
  }[];
  files = packed[0].files.map((f) => f.path);
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  npm(['install', join(dir, packed[0].filename), '--prefer-offline', '--no-audit', '--no-fund'], app);
}, 400_000);

describe('the packed package', () => {
  it('holds the compiled library, the kernels, the bin and the licence — no tests, benches, CI or TypeScript sources', () => {
    for (const f of [
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'dist/src/node.js',
      'dist/kernels/native/matmul.wasm',
      'dist/kernels/native/matmul-single.wasm',
      'dist/kernels/native/matmul-fma.wasm',
      'dist/kernels/native/matmul-fma-single.wasm',
      'dist/kernels/native/rows.wasm',
      'dist/kernels/native/rows-shared.wasm',
      'bin/matpac.mjs',
      'LICENSE',
      'README.md',
    ])
      expect(files, f).toContain(f);
    expect(
      files.filter(
        (f) =>
          /^(test|bench|property-tests|\.ci|scripts|src|kernels|models|docs)\//.test(f) ||
          (f.endsWith('.ts') && !f.endsWith('.d.ts')),
      ),
    ).toEqual([]);
    expect(existsSync(join(app, 'node_modules', 'tsx')), 'tsx is not a runtime dependency').toBe(false);
    expect(existsSync(join(app, 'node_modules', 'wabt')), 'wabt is not a runtime dependency').toBe(false);
  });

  it('(a) plain node imports { grad, tensor } and computes a gradient', () => {
    writeFileSync(
      join(app, 'grad.mjs'),
      `import { grad, tensor, sum, mul, matmulInfo } from 'matpac-ts';
       const g = grad((x) => sum(mul(x, x)))(tensor([1, -2, 3]));
       const want = [2, -4, 6];
       if (g.toArray().some((v, i) => v !== want[i])) throw new Error('wrong gradient ' + g.toArray());
       const { saveState, loadState } = await import('matpac-ts/node');
       if (typeof saveState !== 'function' || typeof loadState !== 'function') throw new Error('matpac-ts/node');
       console.log('ok ' + matmulInfo().impl);`,
    );
    expect(run(process.execPath, ['grad.mjs'], app).trim()).toMatch(/^ok wasm-simd128/);
  });

  it('(b) tsc type-checks a TypeScript file that uses the types (node16 resolution)', () => {
    writeFileSync(
      join(app, 'use.ts'),
      `import { grad, tensor, sum, square, type Tensor, matpac, encodeState, decodeState } from 'matpac-ts';
       import { saveState } from 'matpac-ts/node';
       const f = (x: Tensor): Tensor => sum(square(x));
       const g: Tensor = grad(f)(tensor([1, 2, 3]));
       const cfg: matpac.MatpacConfig = matpac.preset('micro');
       const back = decodeState<{ w: Tensor }>(encodeState({ w: g }));
       export const n: number = back.w.size + cfg.nMels;
       export const save: (path: string, state: unknown) => void = saveState;
       // @ts-expect-error grad takes a function: an error here means the types resolved (not any)
       grad(3);`,
    );
    const tsconfig = {
      compilerOptions: {
        target: 'ES2022',
        module: 'nodenext',
        moduleResolution: 'nodenext',
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        lib: ['ES2022', 'DOM'],
        types: ['node'],
        typeRoots: [join(ROOT, 'node_modules', '@types')],
      },
      files: ['use.ts'],
    };
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify(tsconfig));
    expect(run(process.execPath, [TSC, '-p', '.'], app)).toBe('');
  });

  it('(c) the matpac bin runs compiled JavaScript', () => {
    const bin = join(app, 'node_modules', '.bin', process.platform === 'win32' ? 'matpac.cmd' : 'matpac');
    expect(run(bin, ['--version'], app).trim()).toBe(VERSION);
  });
});
