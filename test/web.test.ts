/**
 * The web page in a real browser: Debian's Chromium driven by playwright-core, with WebGL2 on
 * Mesa's llvmpipe (a software rasteriser: the CPU) through ANGLE — the flags of
 * /work/shared/browser-notes.md. Skipped when no Chromium is installed (CI installs it: .ci/run).
 *
 * One page trains `micro` for 10 steps on gpu.js `webgl2` from the automation hook, and then:
 * the backend really is WebGL2 (kernel classes, renderer), the losses equal `matpac train`'s
 * native run on the same clips and seed, the plots and the mask picture are drawn, a gradient on
 * WebGL2 matches float64, the explorer's gradient check passes for a correct rule and fails for a
 * broken one, a checkpoint downloaded from the page gives the CLI the page's embedding, and a
 * CLI checkpoint loaded into the page continues its run with the CLI's losses.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { train } from '../src/cli/train';
import { startWebServer } from '../src/cli/web';
import { ensurePretrainSet } from '../src/data/render';
import type { MatpacStatus } from '../web/src/main';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHROMIUM = [process.env.MATPAC_CHROMIUM, '/usr/lib/chromium/chromium', '/usr/bin/chromium'].find(
  (p): p is string => !!p && existsSync(p),
);
/** WebGL2 on Mesa llvmpipe without a GPU; --no-sandbox because CI runs as root. Never --disable-gpu. */
const FLAGS = [
  '--use-gl=angle',
  '--use-angle=gl-egl',
  '--ignore-gpu-blocklist',
  '--no-sandbox',
  '--disable-dev-shm-usage',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-extensions',
];
const STEPS = 10;
/**
 * Page (gpu.js WebGL2, float32 GLSL) vs Node (native SIMD wasm, float32): the kernels round
 * differently (GL transcendental functions are accurate to ~1e-6 relative, sums run in other
 * orders) and ten AdamW steps carry the differences on. Measured on llvmpipe: at most 1.5e-7
 * relative over the 10 losses; the tolerance leaves room for other GL implementations.
 */
const LOSS_RTOL = 1e-5;

let tmp = '';
let data = '';
let browser: Browser;
let page: Page;
let close: () => Promise<void> = async () => {};
const consoleErrors: string[] = [];

const status = (): Promise<MatpacStatus> =>
  page.evaluate(() => (window as unknown as { matpacStatus: MatpacStatus }).matpacStatus);
async function waitFor(what: string, pred: (s: MatpacStatus) => boolean, timeoutMs = 60_000): Promise<MatpacStatus> {
  const t0 = Date.now();
  for (;;) {
    const s = await status();
    if (s.error) throw new Error(`page error while waiting for ${what}: ${s.error}`);
    if (pred(s)) return s;
    if (Date.now() - t0 > timeoutMs)
      throw new Error(`timed out waiting for ${what} (status: ${JSON.stringify(s).slice(0, 300)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('matpac web: the server', () => {
  let url = '';
  let stop: () => Promise<void> = async () => {};
  let dir = '';
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'matpac-web-server-'));
    const clips = await ensurePretrainSet({ clips: 3, durationSec: 1, cacheRoot: join(dir, 'cache'), quiet: true });
    const server = await startWebServer({ port: 0, data: clips, quiet: true });
    url = server.url;
    stop = server.close;
  }, 120_000);
  afterAll(async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the built page on 127.0.0.1, cross-origin isolated', async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const r = await fetch(url);
    expect(r.status).toBe(200);
    expect(r.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    expect(await r.text()).toContain('<script type="module" src="main.js">');
    for (const f of ['main.js', 'worker.js', 'rows.wasm']) expect((await fetch(url + f)).status, f).toBe(200);
    expect((await fetch(url + 'rows.wasm')).headers.get('content-type')).toBe('application/wasm');
  });

  it('serves the training clips as a log-mel pack', async () => {
    const index = (await (await fetch(url + 'data/pretrain.json')).json()) as {
      nMels: number;
      items: { nFrames: number; offset: number }[];
    };
    const blob = await (await fetch(url + 'data/pretrain.bin')).arrayBuffer();
    expect(index.nMels).toBe(80);
    expect(index.items).toHaveLength(3);
    expect(blob.byteLength).toBe(4 * index.items.reduce((a, it) => a + 80 * it.nFrames, 0));
  });

  it('serves the docs with anchors, and nothing outside the page and the docs', async () => {
    const doc = await (await fetch(url + 'docs/primitives.md')).text();
    expect(doc).toContain('<b id="layernormalize">');
    for (const p of ['../package.json', '%2e%2e/package.json', 'docs/../../package.json', 'nope.js'])
      expect((await fetch(url + p)).status, p).toBe(404);
  });
});

describe.skipIf(!CHROMIUM)('the web page in Chromium (WebGL2 on llvmpipe)', () => {
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'matpac-web-'));
    data = await ensurePretrainSet({ clips: 8, durationSec: 1, cacheRoot: join(tmp, 'cache'), quiet: true });
    const server = await startWebServer({ port: 0, data, quiet: true });
    close = server.close;
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
    page = await browser.newPage({ acceptDownloads: true });
    page.on('console', (m) => void (m.type() === 'error' && consoleErrors.push(m.text())));
    page.on('pageerror', (e) => consoleErrors.push(`uncaught: ${e.message}`));
    await page.goto(`${server.url}?preset=micro&steps=${STEPS}&backend=webgl2&autostart=1`);
    await waitFor(`${STEPS} training steps`, (s) => s.done, 90_000);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('trains on real WebGL2 kernels (no silent CPU fall-back) and names the renderer', async () => {
    const s = await status();
    expect(s.backend).toBe('gpujs-webgl2');
    expect(s.kernelClasses).toEqual(['WebGL2Kernel']);
    expect(s.renderer).toMatch(/llvmpipe|SwiftShader|ANGLE/);
    expect(await page.textContent('#runs')).not.toMatch(/FALLBACK/);
  });

  it("gives the losses of `matpac train`'s native run on the same clips and seed", async () => {
    const s = await status();
    expect(s.losses).toHaveLength(STEPS);
    const out = join(tmp, 'node-run');
    await train({ preset: 'micro', steps: STEPS, data, out, backend: 'native', probe: false });
    const node = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { loss: number }).loss);
    expect(node).toHaveLength(STEPS);
    s.losses.forEach((l, i) =>
      expect(Math.abs(l - node[i]), `step ${i}: page ${l}, node ${node[i]}`).toBeLessThanOrEqual(
        LOSS_RTOL * Math.abs(node[i]),
      ),
    );
  });

  it('draws the loss curves and the masked input', async () => {
    const inked = (id: string) =>
      page.evaluate((id) => {
        const c = document.getElementById(id) as HTMLCanvasElement;
        const px = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        const colours = new Set<number>();
        for (let i = 0; i < px.length; i += 4)
          if (px[i + 3] > 0) colours.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]);
        return { width: c.width, colours: colours.size };
      }, id);
    const loss = await inked('chart-loss');
    expect(loss.width).toBeGreaterThan(100);
    expect(loss.colours).toBeGreaterThan(4); // axes, labels and three curves
    const mask = await inked('mask');
    expect(mask.width).toBeGreaterThan(0);
    expect(mask.colours).toBeGreaterThan(20);
    expect(await page.textContent('#mask-caption')).toMatch(/patches .* masked/);
  });

  it('computes gradients on WebGL2 that match the float64 reference', async () => {
    await page.click('#backendcheck');
    const s = await waitFor('the backend check', (s) => !!s.backendCheck);
    expect(s.backendCheck!.backend).toBe('gpujs-webgl2');
    expect(s.backendCheck!.maxRelErr).toBeLessThanOrEqual(1e-4);
    expect(s.backendCheck!.pass).toBe(true);
  });

  it("the explorer's gradient check passes for a correct rule and catches a broken one", async () => {
    await page.click('#trace');
    const s = await waitFor('the trace', (s) => (s.traceLength ?? 0) > 0);
    expect(s.traceLength).toBeGreaterThan(100);
    // a backward equation made by layer norm's VJP rule, and the forward equation it differentiates
    const row = page.locator('#trace-list .eq.bwd').first();
    await row.click();
    expect(await page.textContent('#trace-detail')).toMatch(/launched by the VJP rule of/);
    await page.locator('#trace-list .eq.fwd', { hasText: '= matmul' }).first().click();
    for (const perturb of [false, true]) {
      await page.setChecked('#perturb', perturb);
      await page.evaluate(() => delete (window as unknown as { matpacStatus: MatpacStatus }).matpacStatus.gradcheck);
      await page.click('#gradcheck');
      const r = (await waitFor('the gradient check', (s) => !!s.gradcheck)).gradcheck!;
      expect(r.prim).toBe('matmul');
      expect(r.perturbed).toBe(perturb);
      expect(r.pass, `analytic ${r.analytic}, numeric ${r.numeric}`).toBe(!perturb);
      expect(await page.textContent('#gradcheck-result')).toMatch(perturb ? /^FAIL/ : /^PASS/);
    }
  });

  it("a checkpoint downloaded from the page gives the CLI the page's embedding", async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#save')]);
    const ckpt = join(tmp, 'page.safetensors');
    await download.saveAs(ckpt);
    const clip = join(
      data,
      readdirSync(data).find((f) => f.endsWith('.wav') || f.endsWith('.flac'))!,
    );
    await page.setInputFiles('#audio', clip);
    const inPage = (await waitFor('the embedding', (s) => !!s.embedding)).embedding!;
    expect(inPage.step).toBe(STEPS);
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'matpac.mjs'), 'embed', '--checkpoint', ckpt, clip], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stderr).not.toMatch(/^matpac: (?!backend)/m);
    expect(r.status).toBe(0);
    const cli = (JSON.parse(r.stdout.trim().split('\n')[0]) as { embedding: number[] }).embedding;
    expect(cli).toHaveLength(inPage.values.length);
    cli.forEach((v, i) => expect(Math.abs(v - inPage.values[i])).toBeLessThanOrEqual(1e-4 + 1e-3 * Math.abs(v)));
  });

  it("continues a CLI run from its checkpoint with the CLI run's losses", async () => {
    const node = readFileSync(join(tmp, 'node-run', 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { loss: number }).loss);
    await page.setInputFiles('#load', join(tmp, 'node-run', 'checkpoint-000005.safetensors'));
    await waitFor('the loaded checkpoint', (s) => s.step === 5 && !s.done && s.losses.length === 0);
    await page.click('#resume');
    const s = await waitFor('the continued run', (s) => s.done);
    expect(s.losses).toHaveLength(STEPS - 5);
    s.losses.forEach((l, i) =>
      expect(Math.abs(l - node[5 + i]), `step ${5 + i}: page ${l}, node ${node[5 + i]}`).toBeLessThanOrEqual(
        LOSS_RTOL * Math.abs(node[5 + i]),
      ),
    );
  });

  it('logged no console errors', () => {
    expect(consoleErrors).toEqual([]);
  });
});
