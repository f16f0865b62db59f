/**
 * The browser-safe entry (src/index.ts) bundles with esbuild for `platform: 'browser'` as it is —
 * no Node built-ins to stub — and its compiled kernels are referenced the way bundlers copy them
 * as assets (`new URL('./x.wasm', import.meta.url)`).
 */
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe('browser bundle', () => {
  it('src/index.ts bundles for the browser with no Node built-ins', async () => {
    const r = await build({
      entryPoints: [`${ROOT}/src/index.ts`],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
      metafile: true,
    });
    expect(r.errors).toEqual([]);
    const inputs = Object.keys(r.metafile.inputs);
    expect(inputs.filter((f) => f.startsWith('node:') || /\/(checkpoint\/file|audio|data|cli)\//.test(f))).toEqual([]);
    const js = r.outputFiles[0].text;
    expect(js).not.toMatch(/^import [^\n]*["']node:/m);
    for (const wasm of [
      'matmul.wasm',
      'matmul-single.wasm',
      'matmul-fma.wasm',
      'matmul-fma-single.wasm',
      'rows.wasm',
      'rows-shared.wasm',
    ])
      expect(js).toContain(`new URL("./${wasm}", import.meta.url)`);
    // gpu.js is loaded lazily (a dynamic import), not at start-up
    expect(inputs.some((f) => f.includes('gpu.js'))).toBe(true);
  }, 60_000);
});
