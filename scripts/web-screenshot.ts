/**
 * The README's picture of the web page: `micro` trained for its 30 steps on WebGL2 (headless
 * Chromium, Mesa llvmpipe), the trace explored at a backward node with its gradient checked.
 *
 *   npx tsx scripts/web-screenshot.ts [out.png]     (default docs/img/web-page.png)
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startWebServer } from '../src/cli/web';
import { ensurePretrainSet } from '../src/data/render';
import type { MatpacStatus } from '../web/src/main';

const out = process.argv[2] ?? 'docs/img/web-page.png';
const exe = [process.env.MATPAC_CHROMIUM, '/usr/lib/chromium/chromium', '/usr/bin/chromium'].find(
  (p): p is string => !!p && existsSync(p),
);
if (!exe) throw new Error('no Chromium: apt-get install chromium');
const data = await ensurePretrainSet({
  clips: 16,
  durationSec: 4,
  cacheRoot: join(mkdtempSync(join(tmpdir(), 'matpac-shot-')), 'cache'),
  quiet: true,
});
const server = await startWebServer({ port: 0, data, quiet: true });
const browser = await chromium.launch({
  executablePath: exe,
  args: ['--use-gl=angle', '--use-angle=gl-egl', '--ignore-gpu-blocklist', '--no-sandbox', '--disable-dev-shm-usage'],
});
const page = await browser.newPage({ viewport: { width: 1240, height: 900 } });
const status = () => page.evaluate(() => (window as unknown as { matpacStatus: MatpacStatus }).matpacStatus);
const until = async (pred: (s: MatpacStatus) => boolean) => {
  for (let s = await status(); !pred(s); s = await status()) {
    if (s.error) throw new Error(s.error);
    await new Promise((r) => setTimeout(r, 200));
  }
};
await page.goto(`${server.url}?preset=micro&backend=webgl2&autostart=1`);
await until((s) => s.done);
await page.click('#backendcheck');
await until((s) => !!s.backendCheck);
await page.click('#trace');
await until((s) => (s.traceLength ?? 0) > 0);
await page.locator('#trace-list .eq.bwd', { hasText: '= layerNormalizeVjp' }).first().click();
await page.click('#gradcheck');
await until((s) => !!s.gradcheck);
await page.locator('#trace-list .eq.sel').scrollIntoViewIfNeeded();
await page.screenshot({ path: out, fullPage: true });
console.log(`${out}: ${(await status()).step} steps on ${(await status()).renderer}`);
await browser.close();
await server.close();
