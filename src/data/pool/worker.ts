/**
 * Worker thread of the pool renderer (started by ./stream.ts through ./worker-entry.mjs): renders
 * the shards it is asked for, one at a time, and posts back their log-mels.
 */
import { parentPort } from 'node:worker_threads';
import { renderShardLogMels, type ShardRequest } from './stream';

if (!parentPort) throw new Error('src/data/pool/worker.ts runs as a worker thread');
const port = parentPort;
port.on('message', (req: ShardRequest) => {
  void renderShardLogMels(req.cfg, req.shard).then(
    (result) =>
      port.postMessage(
        { ok: true, result },
        result.items.map((it) => it.logmel.data.buffer as ArrayBuffer),
      ),
    (e: unknown) => port.postMessage({ ok: false, shard: req.shard, message: (e as Error).message ?? String(e) }),
  );
});
