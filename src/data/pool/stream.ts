/**
 * The pool as training batches: shards rendered ahead of need in a worker thread, so rendering runs
 * beside training and never stalls the training loop's progress display (it only waits when the
 * renderer falls behind, and says so).
 *
 * Determinism does not depend on timing: batch t crops clips from the shards of a window that is a
 * function of t only — shard s(t) = ⌊t·B / (shardClips·reuse)⌋ and the `window − 1` before it — with
 * the key foldIn(key, t). So every clip is seen about `reuse` times (a crop each) before the window
 * moves past it, later steps see new audio, and a resumed run sees the same batches as an
 * uninterrupted one.
 */
import { Worker } from 'node:worker_threads';
import { logMelSpectrogram, type LogMel } from '../../../models/frontend';
import { foldIn, type Key } from '../../random';
import { cropBatch, type Batch } from '../loader';
import { describeShardError, renderShard, type PoolConfig, type PoolSource, type ShardError } from './pool';

export interface PoolItem {
  file: string;
  source: PoolSource;
  logmel: LogMel;
}

export interface ShardResult {
  shard: number;
  items: PoolItem[];
  errors: ShardError[];
  /** Seconds the renderer spent on this shard (audio and log-mels). */
  renderSec: number;
}

export interface ShardRequest {
  cfg: PoolConfig;
  shard: number;
}

/** Render a shard and turn its clips into MATPAC's log-mels (what the worker thread runs). */
export async function renderShardLogMels(cfg: PoolConfig, shard: number): Promise<ShardResult> {
  const t0 = performance.now();
  const { clips, errors } = await renderShard(cfg, shard);
  const items = clips.map((c) => ({
    file: `pool shard ${shard} clip ${c.index} (${c.detail})`,
    source: c.source,
    logmel: logMelSpectrogram(c.samples),
  }));
  return { shard, items, errors, renderSec: (performance.now() - t0) / 1000 };
}

export interface ProducerOptions {
  /** Shards rendered beyond the one asked for (default 2). */
  ahead?: number;
  /** Render in this thread instead of a worker (tests; slower training). */
  inline?: boolean;
  /** Called once per clip that failed to render, with one line. */
  onError?: (line: string) => void;
}

/** Renders shards in order, ahead of need, in a worker thread. */
export class ShardProducer {
  private readonly shards = new Map<number, Promise<ShardResult>>();
  private worker?: Worker;
  private queue: { shard: number; resolve: (r: ShardResult) => void; reject: (e: Error) => void }[] = [];
  private busy = false;
  /** Total seconds spent rendering, and shards rendered. */
  renderSec = 0;
  rendered = 0;

  constructor(
    readonly cfg: PoolConfig,
    private readonly opts: ProducerOptions = {},
  ) {}

  /** Shard `shard` (rendering it and the next `ahead` if not done or under way). */
  get(shard: number): Promise<ShardResult> {
    for (let s = shard; s <= shard + (this.opts.ahead ?? 2); s++) this.request(s);
    return this.shards.get(shard)!;
  }

  /** Forget shards below `shard` (their memory is freed). */
  release(shard: number): void {
    for (const s of [...this.shards.keys()]) if (s < shard) this.shards.delete(s);
  }

  close(): void {
    void this.worker?.terminate();
    this.worker = undefined;
  }

  private request(shard: number): void {
    if (this.shards.has(shard)) return;
    const p = new Promise<ShardResult>((resolve, reject) => this.queue.push({ shard, resolve, reject }));
    p.catch(() => {}); // a failure is reported to whoever awaits get()
    this.shards.set(shard, p);
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length) {
        const job = this.queue.shift()!;
        try {
          const r = this.opts.inline ? await renderShardLogMels(this.cfg, job.shard) : await this.inWorker(job.shard);
          this.renderSec += r.renderSec;
          this.rendered++;
          for (const e of r.errors) this.opts.onError?.(describeShardError(e));
          job.resolve(r);
        } catch (e) {
          job.reject(e as Error);
        }
      }
    } finally {
      this.busy = false;
    }
  }

  private inWorker(shard: number): Promise<ShardResult> {
    if (!this.worker) {
      this.worker = new Worker(rendererEntry());
      this.worker.unref();
    }
    const w = this.worker;
    // the thread keeps the process alive only while it works for us
    w.ref();
    return new Promise((resolve, reject) => {
      const onMessage = (m: { ok: true; result: ShardResult } | { ok: false; shard: number; message: string }) => {
        w.off('error', onError);
        w.unref();
        if (m.ok) resolve(m.result);
        else reject(new Error(`pool shard ${m.shard}: ${m.message}`));
      };
      const onError = (e: Error) => {
        w.off('message', onMessage);
        this.worker = undefined;
        reject(new Error(`pool renderer thread failed: ${e.message}`));
      };
      w.once('message', onMessage);
      w.once('error', onError);
      w.postMessage({ cfg: this.cfg, shard } satisfies ShardRequest);
    });
  }
}

export interface PoolBatchOptions {
  batchSize: number;
  cropFrames: number;
  /** Crops drawn per clip, on average, before the window moves on (default 12). */
  reuse?: number;
  /** Shards in the window (default 2). */
  window?: number;
  /** Applied to each clip's log-mel before cropping (e.g. keeping the model's number of mel bands). */
  mapLogMel?: (lm: LogMel) => LogMel;
}

/** Training batches from the pool (see the file comment). */
export class PoolBatches {
  readonly reuse: number;
  readonly window: number;
  /** Seconds the last `batch` calls waited for the renderer, in all. */
  waitedSec = 0;

  constructor(
    readonly producer: ShardProducer,
    private readonly key: Key,
    private readonly opts: PoolBatchOptions,
  ) {
    this.reuse = opts.reuse ?? 12;
    this.window = opts.window ?? 2;
    if (!(this.reuse > 0)) throw new Error(`pool: reuse must be positive, got ${this.reuse}`);
    if (!Number.isInteger(this.window) || this.window < 1)
      throw new Error(`pool: window must be a positive integer, got ${this.window}`);
  }

  /** The newest shard of step t's window. */
  shardOf(step: number): number {
    return Math.floor((step * this.opts.batchSize) / (this.producer.cfg.shardClips * this.reuse));
  }

  /** Clips rendered over a run of `steps` steps. */
  clipsFor(steps: number): number {
    return (this.shardOf(Math.max(0, steps - 1)) + 1) * this.producer.cfg.shardClips;
  }

  async batch(step: number): Promise<Batch & { files: string[] }> {
    const newest = this.shardOf(step);
    const first = Math.max(0, newest - this.window + 1);
    const t0 = performance.now();
    const shards = await Promise.all(
      Array.from({ length: newest - first + 1 }, (_, i) => this.producer.get(first + i)),
    );
    this.waitedSec += (performance.now() - t0) / 1000;
    this.producer.release(first);
    const map = this.opts.mapLogMel ?? ((lm: LogMel) => lm);
    const items = shards.flatMap((s) => s.items.map((it) => ({ file: it.file, logmel: map(it.logmel) })));
    if (!items.length)
      throw new Error(`pool: shards ${first}–${newest} hold no usable clip (every clip failed to render)`);
    const b = cropBatch(items, foldIn(this.key, step), this.opts.batchSize, this.opts.cropFrames, { short: 'pad' });
    return { ...b, files: b.sources.map((s) => items[s.item].file) };
  }
}

/**
 * The renderer thread's module: the compiled ./worker.js in the built package (dist/), or, when
 * this module runs from its TypeScript source (tests, tsx), ./worker-entry.mjs, which registers
 * tsx in the thread first.
 */
function rendererEntry(): URL {
  return import.meta.url.endsWith('.js')
    ? new URL('./worker.js', import.meta.url)
    : new URL('./worker-entry.mjs', import.meta.url);
}
