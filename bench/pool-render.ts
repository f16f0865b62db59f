/**
 * How fast the generated pool renders (src/data/pool/), per source and for the default mix, in
 * clips per second — audio and log-mels, in this thread, as the renderer's worker thread does it —
 * against what training consumes: steps/s × batch / reuse clips per second (tiny: ≈ 3.6 × 32 / 12
 * ≈ 9.6 clips/s on the 2-core machine when nothing else runs).
 *
 *   npx tsx bench/pool-render.ts [clips per source] [steps/s of the run to compare with]
 */
import { DEFAULT_POOL_CONFIG, POOL_SOURCES, resolvePoolConfig, type PoolSource } from '../src/data/pool/pool';
import { renderShardLogMels } from '../src/data/pool/stream';

const clips = Number(process.argv[2] ?? 24);
const stepsPerSec = Number(process.argv[3] ?? 3.6);
const need = (stepsPerSec * 32) / 12;
const only = (s: PoolSource) =>
  Object.fromEntries(POOL_SOURCES.map((x) => [x, x === s ? 1 : 0])) as Record<PoolSource, number>;

// warm-up: the eSpeak module compiles, the SoundFont loads
await renderShardLogMels(
  resolvePoolConfig({ shardClips: 4, proportions: { speech: 1, music: 1, percussion: 1, textures: 1, mixtures: 0 } }),
  999,
);
console.log(`pool rendering, ${clips} clips of ${DEFAULT_POOL_CONFIG.clipSec} s per row (audio + log-mel, one thread)`);
const rows: [string, Record<PoolSource, number>][] = [
  ...POOL_SOURCES.map((s) => [s, only(s)] as [string, Record<PoolSource, number>]),
  ['default mix', DEFAULT_POOL_CONFIG.proportions],
];
for (const [name, proportions] of rows) {
  const r = await renderShardLogMels(resolvePoolConfig({ shardClips: clips, proportions }), 1);
  console.log(
    `${name.padEnd(12)} ${(r.items.length / r.renderSec).toFixed(1).padStart(6)} clips/s  (${r.renderSec.toFixed(1)} s, ${r.errors.length} errors)`,
  );
}
console.log(`training at ${stepsPerSec} steps/s × 32 crops, ~12 crops per clip, needs ${need.toFixed(1)} clips/s`);
