/**
 * `matpac web [--port N] [--data DIR]`: serve the web page (web/, built with esbuild when missing
 * or older than its sources) on 127.0.0.1, with the training clips it trains on.
 *
 * The clips are the bundled pre-training set (rendered on first use, as `matpac train` does) or
 * --data, decoded and turned into log-mels once here by the CLI's data code and handed to the page
 * as one pack (src/data/pack.ts) — in the order `matpac train` reads them, so the page trains on
 * the same batches. Nothing is fetched from the internet. Responses carry COOP/COEP headers so
 * the page is cross-origin isolated (shared memory for threaded WebAssembly).
 */
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, relative, resolve, sep } from 'node:path';
import { describeSkipped, loadLogMelDataset } from '../data/dataset';
import { packLogMels } from '../data/pack';
import { ensurePretrainSet } from '../data/render';
import { CliError, progressCallback, say, shown } from './common';

export interface WebOptions {
  port: number;
  data?: string;
  /** Print nothing but errors (tests). */
  quiet?: boolean;
  /**
   * Serve with COOP/COEP headers (default): the page is cross-origin isolated, so the wasm
   * backend may use worker threads. `false`: single-threaded wasm (bench/web-step.ts compares).
   */
  isolation?: boolean;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.map': 'application/json',
  '.json': 'application/json',
};

interface Pack {
  index: string;
  blob: Buffer;
}

/** The clips as a pack: every usable file under `dir` (minimum one frame; the page drops those too short for its crop). */
async function packClips(dir: string, quiet: boolean): Promise<Pack> {
  const ds = await loadLogMelDataset(dir, {
    onProgress: quiet ? undefined : progressCallback('reading audio', 'files'),
  });
  const total = ds.items.length + ds.skipped.length;
  if (ds.skipped.length && !quiet) say(`matpac: ${describeSkipped(ds.skipped, total)}`);
  if (!ds.items.length) throw new CliError(`${dir}: no usable audio (${total} files)`);
  const { index, blob } = packLogMels(ds.items.map((it) => ({ name: relative(dir, it.file), logmel: it.logmel })));
  return {
    index: JSON.stringify({ ...index, source: shown(dir) }),
    blob: Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength),
  };
}

/**
 * A docs page as HTML: the markdown text as it is (preformatted), each heading an anchor with
 * GitHub's id (lower case, spaces → '-', punctuation dropped), so the explorer's links land on it.
 */
export function markdownPage(md: string): string {
  const escape = (t: string) => t.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!);
  const slug = (t: string) =>
    t
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
  const body = md
    .split('\n')
    .map((l) => {
      const h = /^(#{1,6}) (.*)$/.exec(l);
      return h ? `<b id="${escape(slug(h[2]))}">${escape(l)}</b>` : escape(l);
    })
    .join('\n');
  return `<!doctype html><meta charset="utf-8"><title>matpac-ts docs</title><pre style="white-space: pre-wrap; font: 14px/1.5 ui-monospace, monospace; max-width: 100ch; margin: 16px auto">${body}</pre>`;
}

/** Start the server; resolves once it listens. */
export async function startWebServer(
  opts: WebOptions,
): Promise<{ url: string; server: Server; close: () => Promise<void> }> {
  if (opts.port > 65535) throw new CliError(`--port: ${opts.port} is not a port (0-65535)`);
  const { buildPage, DIST, pageIsStale, ROOT } = await import('../../web/build');
  if (opts.data !== undefined && !(existsSync(opts.data) && statSync(opts.data).isDirectory()))
    throw new CliError(`${opts.data}: no such folder`);
  if (pageIsStale()) {
    if (!opts.quiet) say('building the page (esbuild)…');
    try {
      await buildPage();
    } catch (e) {
      throw new CliError((e as Error).message);
    }
  }
  const dataDir = opts.data ?? (await ensurePretrainSet({ quiet: opts.quiet }));
  const pack = await packClips(dataDir, opts.quiet ?? false);
  const docs = join(ROOT, 'docs');

  const server = createServer((req, res) => {
    const headers: Record<string, string> = { 'Cache-Control': 'no-store' };
    if (opts.isolation !== false)
      Object.assign(headers, {
        'Cross-Origin-Opener-Policy': 'same-origin',
        'Cross-Origin-Embedder-Policy': 'require-corp',
      });
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, headers).end();
      return;
    }
    if (path === '/data/pretrain.json') {
      res.writeHead(200, { ...headers, 'Content-Type': 'application/json' }).end(pack.index);
      return;
    }
    if (path === '/data/pretrain.bin') {
      res
        .writeHead(200, {
          ...headers,
          'Content-Type': 'application/octet-stream',
          'Content-Length': pack.blob.byteLength,
        })
        .end(pack.blob);
      return;
    }
    // static files: the built page, and the docs the explorer links to
    const [base, rel] = path.startsWith('/docs/')
      ? [docs, path.slice('/docs/'.length)]
      : [DIST, path === '/' ? 'index.html' : path.slice(1)];
    const file = resolve(base, rel);
    if (!(file === base || file.startsWith(base + sep)) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    if (base === docs && extname(file) === '.md') {
      res
        .writeHead(200, { ...headers, 'Content-Type': 'text/html; charset=utf-8' })
        .end(markdownPage(readFileSync(file, 'utf8')));
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      fail(
        e.code === 'EADDRINUSE'
          ? new CliError(`port ${opts.port} is in use on 127.0.0.1 (choose another with --port)`)
          : e,
      ),
    );
    server.listen(opts.port, '127.0.0.1', () => ok());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  const url = `http://127.0.0.1:${port}/`;
  return { url, server, close: () => new Promise<void>((r) => server.close(() => r())) };
}

export async function webCommand(opts: WebOptions): Promise<void> {
  const { url } = await startWebServer(opts);
  process.stdout.write(
    `matpac web: the page is at ${url} (training clips from ${opts.data ? shown(opts.data) : 'the bundled pre-training set'}; Ctrl-C to stop)\n`,
  );
  await new Promise(() => {}); // serve until interrupted
}
