/**
 * The generated pre-training pool (src/data/pool/): deterministic from its seed, sources in the
 * configured proportions, nothing from the development sets' sources, rendering errors reported and
 * skipped, and batches that depend on the step only.
 */
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { DEV_LANGUAGES, DEV_SOUND_BANKS, DEV_TEXTURE_FAMILIES, DEV_VARIANTS, soundRuns } from '../src/data/devsets';
import {
  allocate,
  planShard,
  POOL_SOURCES,
  renderShard,
  resolvePoolConfig,
  type PoolConfig,
} from '../src/data/pool/pool';
import { speakSsml } from '../src/data/pool/espeak';
import { rms } from '../src/data/pool/mix';
import { POOL_LANGUAGES, POOL_VARIANTS } from '../src/data/pool/speech';
import { POOL_TEXTURE_FAMILIES } from '../src/data/pool/textures';
import { PoolBatches, ShardProducer } from '../src/data/pool/stream';
import { defaultTrainingData, POOL_DATA } from '../src/cli/train-data';
import { keyFromSeed } from '../src/random';

/** A small shard with every source: 12 clips, 2-s clips, sessions of 4 clips. */
const SMALL: Partial<PoolConfig> = { shardClips: 12, clipSec: 2, clipsPerSession: 4 };

describe('pool plan', () => {
  it('allocates n clips in the proportions (each source ⌊p·n⌋ or ⌈p·n⌉)', () => {
    const p = { speech: 0.3, music: 0.25, percussion: 0.1, textures: 0.2, mixtures: 0.15 };
    for (const n of [1, 7, 12, 96, 101]) {
      const c = allocate(n, p);
      expect(POOL_SOURCES.reduce((a, s) => a + c[s], 0)).toBe(n);
      for (const s of POOL_SOURCES) {
        expect(c[s]).toBeGreaterThanOrEqual(Math.floor(p[s] * n));
        expect(c[s]).toBeLessThanOrEqual(Math.ceil(p[s] * n));
      }
    }
    expect(allocate(10, { speech: 0, music: 1, percussion: 0, textures: 3, mixtures: 0 })).toEqual({
      speech: 0,
      music: 3,
      percussion: 0,
      textures: 7,
      mixtures: 0,
    });
  });

  it('gives every shard its sources in the configured proportions', () => {
    for (const proportions of [
      resolvePoolConfig().proportions,
      { speech: 1, music: 0, percussion: 1, textures: 2, mixtures: 0 },
    ]) {
      const cfg = resolvePoolConfig({ proportions });
      const want = allocate(cfg.shardClips, cfg.proportions);
      for (const s of [0, 1, 7]) {
        const got = Object.fromEntries(POOL_SOURCES.map((src) => [src, 0]));
        for (const c of planShard(cfg, s).clips) got[c.source]++;
        expect(got).toEqual(want);
      }
    }
  });

  it('is a function of (config, shard): same seed same plan, other seed or shard another', () => {
    const cfg = resolvePoolConfig();
    const strip = (x: unknown) => JSON.parse(JSON.stringify(x));
    expect(strip(planShard(cfg, 3))).toEqual(strip(planShard(cfg, 3)));
    expect(strip(planShard(cfg, 3))).not.toEqual(strip(planShard(cfg, 4)));
    expect(strip(planShard(cfg, 3))).not.toEqual(strip(planShard(resolvePoolConfig({ seed: 2 }), 3)));
  });

  it('keeps the development sets’ sources out: no English, no dev voice, no dev SoundFont, no dev texture family', () => {
    // the lists themselves
    expect(POOL_LANGUAGES.filter((l) => DEV_LANGUAGES.includes(l) || l.startsWith('en'))).toEqual([]);
    expect(POOL_VARIANTS.filter((v) => DEV_VARIANTS.includes(v))).toEqual([]);
    expect(POOL_TEXTURE_FAMILIES.filter((f) => (DEV_TEXTURE_FAMILIES as readonly string[]).includes(f))).toEqual([]);
    // every part of every clip of 40 shards of the default pool
    const cfg = resolvePoolConfig();
    let parts = 0;
    for (let s = 0; s < 40; s++) {
      for (const clip of planShard(cfg, s).clips) {
        for (const part of clip.parts) {
          parts++;
          if (part.source === 'speech') {
            expect(DEV_LANGUAGES).not.toContain(part.language);
            expect(DEV_VARIANTS).not.toContain(part.variant);
          } else if (part.source === 'textures') expect(DEV_TEXTURE_FAMILIES).not.toContain(part.family);
          else expect(DEV_SOUND_BANKS).not.toContain(part.soundBank);
        }
      }
    }
    expect(parts).toBeGreaterThan(40 * cfg.shardClips);
    // and a config that asks for them is refused, naming what overlaps
    expect(() => resolvePoolConfig({ languages: ['fr-fr', 'en-us'] })).toThrow(
      /languages: en-us belong to the development sets/,
    );
    expect(() => resolvePoolConfig({ soundBank: 'FluidR3Mono' })).toThrow(/soundBank: FluidR3Mono/);
    expect(() => resolvePoolConfig({ proportions: { speech: -1 } as PoolConfig['proportions'] })).toThrow(
      /proportions.speech must be ≥ 0/,
    );
  });
});

describe('the default run', () => {
  it('trains on the pool where speech can be rendered (test/optional-speech.test.ts: where it cannot)', async () => {
    expect(await defaultTrainingData()).toBe(POOL_DATA);
  });
});

describe('pool rendering', () => {
  it('renders a shard with every source, the same bytes twice', async () => {
    const cfg = resolvePoolConfig({ ...SMALL, seed: 5 });
    const a = await renderShard(cfg, 0);
    const b = await renderShard(cfg, 0);
    expect(a.errors).toEqual([]);
    expect(a.clips.length).toBe(12);
    const want = allocate(12, cfg.proportions);
    for (const s of POOL_SOURCES) expect(a.clips.filter((c) => c.source === s).length).toBe(want[s]);
    for (let i = 0; i < a.clips.length; i++) {
      expect(a.clips[i].samples.length).toBe(2 * 16000);
      expect(Buffer.from(a.clips[i].samples.buffer).equals(Buffer.from(b.clips[i].samples.buffer))).toBe(true);
      expect(rms(a.clips[i].samples), a.clips[i].detail).toBeGreaterThan(1e-4);
    }
  }, 120_000);

  it('speaks the same samples at any time, from any program path (eSpeak seeds its breath noise from the clock)', async () => {
    const say = (voice: string) => speakSsml(voice, '<speak>tralala 42</speak>', { rate: 117, pitch: 77 });
    const clock = vi.spyOn(Date, 'now');
    const program = process.argv[1];
    try {
      for (const voice of ['af+sandro', 'en-gb-scotland+victor']) {
        clock.mockReturnValue(Date.UTC(2026, 0, 1));
        process.argv[1] = '/one/run.js';
        const a = await say(voice);
        clock.mockReturnValue(Date.UTC(2026, 0, 1, 0, 0, 7));
        process.argv[1] = '/another/folder/run.mjs';
        const b = await say(voice);
        expect(rms(a)).toBeGreaterThan(1e-3);
        expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer)), voice).toBe(true);
      }
    } finally {
      clock.mockRestore();
      process.argv[1] = program;
    }
  }, 60_000);

  it('reports clips that fail to render and keeps the others', async () => {
    const cfg = resolvePoolConfig({
      ...SMALL,
      languages: ['xx-no-such-language'],
      proportions: { speech: 1, music: 0, percussion: 0, textures: 1, mixtures: 0 },
    });
    const r = await renderShard(cfg, 0);
    expect(r.errors.length).toBe(6);
    for (const e of r.errors) {
      expect(e.source).toBe('speech');
      expect(e.message).toMatch(/xx-no-such-language/);
    }
    expect(r.clips.map((c) => c.source)).toEqual(Array(6).fill('textures'));
  }, 60_000);

  it('splits spoken words at silences', () => {
    const x = new Float32Array(16000 * 3);
    for (const [a, b] of [
      [0.1, 0.4],
      [0.5, 0.6],
      [1.2, 1.5],
      [2.5, 2.9],
    ])
      for (let i = a * 16000; i < b * 16000; i++) x[i] = Math.sin(i / 5);
    expect(soundRuns(x, 0.35).map((r) => [r.start / 160, r.end / 160])).toEqual([
      [10, 60],
      [120, 150],
      [250, 290],
    ]);
  });
});

describe('pool batches', () => {
  it('depend on the step only: a fresh producer started at step 5, in the renderer thread, gives the same batches', async () => {
    const cfg = resolvePoolConfig({ ...SMALL, variants: ['sandro'] }); // a voice with breath noise
    const opts = { batchSize: 4, cropFrames: 64, reuse: 2 };
    const first = new PoolBatches(new ShardProducer(cfg, { inline: true, ahead: 0 }), keyFromSeed(9), opts);
    const thread = new ShardProducer(cfg);
    const later = new PoolBatches(thread, keyFromSeed(9), opts);
    onTestFinished(() => thread.close());
    expect([0, 5, 6, 7, 12].map((t) => first.shardOf(t))).toEqual([0, 0, 1, 1, 2]);
    const seen = new Set<string>();
    for (let t = 0; t < 8; t++) {
      const b = await first.batch(t);
      expect(b.shape).toEqual([4, 80, 64]);
      b.files.forEach((f) => seen.add(f.split(' (')[0]));
      if (t >= 5) expect(Buffer.from((await later.batch(t)).data.buffer).equals(Buffer.from(b.data.buffer))).toBe(true);
    }
    // later steps reach new shards
    expect([...seen].some((f) => f.startsWith('pool shard 1 '))).toBe(true);
  }, 120_000);
});
