/**
 * The pre-training pool: an endless, seeded stream of clips that looks like the world — speech,
 * music, percussion, procedural textures, and mixtures of them with level and noise variation —
 * rendered shard by shard, so a run sees new audio as it goes instead of a few hundred clips again
 * and again.
 *
 * Shard s of a config is a pure function of (config, s): its clips are allocated to the sources in
 * the configured proportions (largest remainders: each source gets ⌊p·n⌋ or ⌈p·n⌉ of the n clips),
 * shuffled, and each is planned from foldIn(key(seed), s) and its index. A clip that fails to render
 * is left out and reported (`ShardError`), and the rest of the shard is kept.
 *
 * Sources never overlap the development sets (src/data/devsets.ts): the pool speaks no English and
 * uses half of eSpeak's voice variants, plays MuseScore General (the dev sets use other SoundFonts),
 * and draws textures from its own synthesis families (test/pool.test.ts checks all of this).
 */
import { foldIn, keyFromSeed, permutationHost, type Key } from '../../random';
import { between, intIn, pick, streamDrawer } from '../draw';
import { devSources } from '../devsets';
import type { SoundBankName } from '../render';
import { addAtRelativeLevel, noise, normalisePeak, reverb, SR, type NoiseColour } from './mix';
import { ALL_PROGRAMS, newSynth, planMusic, planPercussion, renderMusic } from './music';
import { planSpeechSession, POOL_LANGUAGES, POOL_VARIANTS, renderSpeechSession } from './speech';
import { POOL_TEXTURE_FAMILIES, renderTexture, type PoolTextureFamily } from './textures';

export const POOL_SOURCES = ['speech', 'music', 'percussion', 'textures', 'mixtures'] as const;
export type PoolSource = (typeof POOL_SOURCES)[number];
type PlainSource = Exclude<PoolSource, 'mixtures'>;

export interface PoolConfig {
  seed: number;
  /** Seconds per clip. */
  clipSec: number;
  /** Clips per shard. */
  shardClips: number;
  /** Relative weights of the sources (normalised to fractions). */
  proportions: Record<PoolSource, number>;
  soundBank: SoundBankName;
  programs: number[];
  languages: string[];
  variants: string[];
  textureFamilies: PoolTextureFamily[];
  /** Clips cut from one speech session. */
  clipsPerSession: number;
}

export const DEFAULT_POOL_CONFIG: Readonly<PoolConfig> = {
  seed: 1,
  clipSec: 4,
  shardClips: 96,
  proportions: { speech: 0.3, music: 0.25, percussion: 0.1, textures: 0.2, mixtures: 0.15 },
  soundBank: 'MSBasic',
  programs: [...ALL_PROGRAMS],
  languages: [...POOL_LANGUAGES],
  variants: [...POOL_VARIANTS],
  textureFamilies: [...POOL_TEXTURE_FAMILIES],
  clipsPerSession: 8,
};

export function resolvePoolConfig(opts: Partial<PoolConfig> = {}): PoolConfig {
  const cfg: PoolConfig = {
    ...DEFAULT_POOL_CONFIG,
    ...opts,
    proportions: { ...DEFAULT_POOL_CONFIG.proportions, ...opts.proportions },
  };
  const problems: string[] = [];
  if (!Number.isSafeInteger(cfg.seed)) problems.push(`seed must be an integer, got ${cfg.seed}`);
  if (!(cfg.clipSec > 0 && cfg.clipSec <= 60)) problems.push(`clipSec must be in (0, 60], got ${cfg.clipSec}`);
  if (!Number.isInteger(cfg.shardClips) || cfg.shardClips < 1)
    problems.push(`shardClips must be a positive integer, got ${cfg.shardClips}`);
  if (!Number.isInteger(cfg.clipsPerSession) || cfg.clipsPerSession < 1)
    problems.push(`clipsPerSession must be a positive integer, got ${cfg.clipsPerSession}`);
  for (const s of POOL_SOURCES)
    if (!(cfg.proportions[s] >= 0)) problems.push(`proportions.${s} must be ≥ 0, got ${cfg.proportions[s]}`);
  for (const k of Object.keys(cfg.proportions))
    if (!(POOL_SOURCES as readonly string[]).includes(k))
      problems.push(`proportions.${k}: unknown source (known: ${POOL_SOURCES.join(', ')})`);
  if (POOL_SOURCES.every((s) => !(cfg.proportions[s] > 0)))
    problems.push('proportions: at least one source needs a positive weight');
  for (const [name, list] of [
    ['programs', cfg.programs],
    ['languages', cfg.languages],
    ['variants', cfg.variants],
    ['textureFamilies', cfg.textureFamilies],
  ] as const)
    if (list.length === 0) problems.push(`${name} must not be empty`);
  // the development sets' sources stay out of the pool
  const dev = devSources();
  const overlap = (name: string, pool: readonly string[], held: readonly string[]) => {
    const both = pool.filter((x) => held.includes(x));
    if (both.length) problems.push(`${name}: ${both.join(', ')} belong to the development sets (src/data/devsets.ts)`);
  };
  overlap('languages', cfg.languages, dev.languages);
  overlap('variants', cfg.variants, dev.variants);
  overlap('soundBank', [cfg.soundBank], dev.soundBanks);
  overlap('textureFamilies', cfg.textureFamilies, dev.textureFamilies);
  if (problems.length) throw new Error(`pool config: ${problems.join('; ')}`);
  return cfg;
}

/** How many of `n` clips each source gets: ⌊w·n⌋, then the largest remainders (ties in source order). */
export function allocate(n: number, proportions: Record<PoolSource, number>): Record<PoolSource, number> {
  const total = POOL_SOURCES.reduce((a, s) => a + proportions[s], 0);
  const exact = POOL_SOURCES.map((s) => (proportions[s] / total) * n);
  const counts = exact.map(Math.floor);
  let left = n - counts.reduce((a, b) => a + b, 0);
  const order = POOL_SOURCES.map((_, i) => i).sort((a, b) => exact[b] - counts[b] - (exact[a] - counts[a]) || a - b);
  for (const i of order) if (left-- > 0) counts[i]++;
  return Object.fromEntries(POOL_SOURCES.map((s, i) => [s, counts[i]])) as Record<PoolSource, number>;
}

/** What one clip of a shard is made of (what the separation test reads). */
export interface ClipPlan {
  source: PoolSource;
  /** Components: one for a plain clip, 2–3 for a mixture. */
  parts: PartPlan[];
}

export type PartPlan =
  | { source: 'speech'; session: number; clip: number; language: string; variant: string }
  | { source: 'music' | 'percussion'; soundBank: SoundBankName; programs: number[]; key: Key }
  | { source: 'textures'; family: PoolTextureFamily; key: Key };

export interface ShardPlan {
  shard: number;
  clips: ClipPlan[];
  sessions: ReturnType<typeof planSpeechSession>[];
}

const shardKey = (cfg: PoolConfig, shard: number) => foldIn(foldIn(keyFromSeed(cfg.seed), 0x9001), shard);

/** Plan shard `shard`: the sources of its clips in the configured proportions, in a shuffled order. */
export function planShard(cfg: PoolConfig, shard: number): ShardPlan {
  const key = shardKey(cfg, shard);
  const counts = allocate(cfg.shardClips, cfg.proportions);
  const sources: PoolSource[] = POOL_SOURCES.flatMap((s) => Array<PoolSource>(counts[s]).fill(s));
  const order = permutationHost(foldIn(key, 1), sources.length);
  const speechSlots: { clip: number; part: number }[] = [];
  const clips: ClipPlan[] = [];
  const plain = (src: PlainSource, draw: () => number, k: Key, clip: number, part: number): PartPlan => {
    if (src === 'speech') {
      speechSlots.push({ clip, part });
      return { source: 'speech', session: -1, clip: -1, language: '', variant: '' };
    }
    if (src === 'music') return { source: 'music', soundBank: cfg.soundBank, programs: cfg.programs, key: k };
    if (src === 'percussion') return { source: 'percussion', soundBank: cfg.soundBank, programs: cfg.programs, key: k };
    return { source: 'textures', family: pick(draw(), cfg.textureFamilies), key: k };
  };
  const plainSources = POOL_SOURCES.filter((s): s is PlainSource => s !== 'mixtures' && cfg.proportions[s] > 0);
  for (let i = 0; i < sources.length; i++) {
    const source = sources[order[i]];
    const k = foldIn(foldIn(key, 2), i);
    const draw = streamDrawer(foldIn(k, 0));
    if (source !== 'mixtures') clips.push({ source, parts: [plain(source, draw, foldIn(k, 1), i, 0)] });
    else {
      const n = intIn(draw(), 2, 3);
      const parts = Array.from({ length: n }, (_, p) =>
        plain(pick(draw(), plainSources), draw, foldIn(k, 1 + p), i, p),
      );
      clips.push({ source, parts });
    }
  }
  // speech parts are cut from sessions of clipsPerSession clips each
  const sessions: ShardPlan['sessions'] = [];
  const sessionDraw = streamDrawer(foldIn(key, 3));
  speechSlots.forEach(({ clip, part }, j) => {
    const session = Math.floor(j / cfg.clipsPerSession);
    if (session === sessions.length)
      sessions.push(
        planSpeechSession(
          sessionDraw,
          Math.ceil(cfg.clipsPerSession * cfg.clipSec * 0.55),
          cfg.languages,
          cfg.variants,
        ),
      );
    const s = sessions[session];
    clips[clip].parts[part] = {
      source: 'speech',
      session,
      clip: j % cfg.clipsPerSession,
      language: s.language,
      variant: s.variant,
    };
  });
  return { shard, clips, sessions };
}

/** A clip that could not be rendered, and why. */
export interface ShardError {
  shard: number;
  clip: number;
  source: PoolSource;
  message: string;
}

export interface RenderedClip {
  /** Index of the clip in its shard. */
  index: number;
  source: PoolSource;
  /** One line: what the clip is (for messages and file names). */
  detail: string;
  samples: Float32Array;
}

const describePart = (p: PartPlan): string =>
  p.source === 'speech'
    ? `speech ${p.language}+${p.variant}`
    : p.source === 'textures'
      ? `texture ${p.family}`
      : `${p.source} ${p.soundBank}`;

/** Render one shard; clips that fail are reported in `errors` and left out. */
export async function renderShard(
  cfg: PoolConfig,
  shard: number,
): Promise<{ clips: RenderedClip[]; errors: ShardError[] }> {
  const plan = planShard(cfg, shard);
  const n = Math.round(cfg.clipSec * SR);
  const sessionAudio = new Map<number, Float32Array[] | Error>();
  for (let s = 0; s < plan.sessions.length; s++) {
    try {
      sessionAudio.set(s, await renderSpeechSession(plan.sessions[s], cfg.clipsPerSession, cfg.clipSec));
    } catch (e) {
      sessionAudio.set(s, e as Error);
    }
  }
  let synth: ReturnType<typeof newSynth> | undefined; // one per shard (see newSynth)
  const renderPart = async (p: PartPlan): Promise<Float32Array> => {
    if (p.source === 'speech') {
      const audio = sessionAudio.get(p.session)!;
      if (audio instanceof Error) throw audio;
      return audio[p.clip].slice();
    }
    const draw = streamDrawer(p.key);
    if (p.source === 'textures') return renderTexture(p.family, cfg.clipSec, draw);
    const music = p.source === 'music' ? planMusic(draw, cfg.clipSec, p.programs) : planPercussion(draw, cfg.clipSec);
    synth ??= newSynth(p.soundBank);
    return renderMusic(music, await synth);
  };
  const clips: RenderedClip[] = [];
  const errors: ShardError[] = [];
  for (let i = 0; i < plan.clips.length; i++) {
    const c = plan.clips[i];
    const detail =
      c.source === 'mixtures' ? `mixture of ${c.parts.map(describePart).join(' + ')}` : describePart(c.parts[0]);
    try {
      const draw = streamDrawer(foldIn(foldIn(shardKey(cfg, shard), 4), i));
      let y = await renderPart(c.parts[0]);
      if (c.source === 'mixtures') {
        for (let p = 1; p < c.parts.length; p++)
          addAtRelativeLevel(y, await renderPart(c.parts[p]), between(draw(), -12, 3), 0);
        if (draw() < 0.7)
          addAtRelativeLevel(
            y,
            noise(n, pick<NoiseColour>(draw(), ['white', 'pink', 'brown']), draw),
            -between(draw(), 0, 30),
          );
        if (draw() < 0.3) y = reverb(y, between(draw(), 0.2, 1.2), between(draw(), 0.1, 0.5), draw);
      } else if (draw() < 0.25)
        addAtRelativeLevel(
          y,
          noise(n, pick<NoiseColour>(draw(), ['white', 'pink', 'brown']), draw),
          -between(draw(), 10, 40),
        );
      normalisePeak(y, between(draw(), 0.05, 0.95));
      for (let t = 0; t < y.length; t++) if (!Number.isFinite(y[t])) throw new Error(`non-finite sample at ${t}`);
      clips.push({ index: i, source: c.source, detail, samples: y });
    } catch (e) {
      errors.push({ shard, clip: i, source: c.source, message: `${detail}: ${(e as Error).message}` });
    }
  }
  return { clips, errors };
}

/** One line for a rendering error: "pool shard 3 clip 17 (speech): …". */
export const describeShardError = (e: ShardError): string =>
  `pool shard ${e.shard} clip ${e.clip} (${e.source}): ${e.message}`;
