/**
 * Development probe sets: labelled sets of kinds of sound the pre-training pool (src/data/pool/)
 * does not contain, from sources kept apart from it, each clip a target sound with a distractor and
 * background noise — so a linear probe on them measures what pre-training learned about audio, not
 * about its own clips.
 *
 *   spoken-digits      "zero" … "nine" in English (the pool speaks no English), with the eSpeak
 *                      voice variants the pool does not use, random rate and pitch
 *   instrument-family  NSynth's 11 instrument families played from FluidR3Mono (the pool plays
 *                      MuseScore General): single notes and short repeated figures
 *   pitch-class        the 12 pitch classes (C … B) on melodic programs of TimGM6mb, any octave
 *   sound-events       six procedural event families the pool never synthesises (src/data/dev-textures.ts)
 *
 * Distractors: a development texture for the first three, a TimGM6mb note for sound-events,
 * 15 to 5 dB below the target's level while it sounds; then white, pink or brown noise 15–35 dB below.
 * Clips last 3 s (spoken digits 1 s). Each set is a folder
 * per class (DIR/<class>/<file>.wav, 16 kHz 16-bit) with labels.jsonl and manifest.json, rendered on
 * first use into the data cache (as the bundled probe set, src/data/render.ts). Clip (class c, i) is
 * planned from (seed, set, c, i) alone; a set is rendered whole, in a fixed order, with synthesisers of
 * its own, so a config always gives the same bytes.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { encodeWav16 } from '../audio/wav';
import { foldIn, keyFromSeed, type Key } from '../random';
import {
  DEV_TEXTURE_FAMILIES,
  devNoise,
  randomDevTexture,
  renderDevTexture,
  type DevTextureFamily,
} from './dev-textures';
import { between, intIn, pick, streamDrawer } from './draw';
import { pitchRange, PROBE_FAMILIES, PROBE_FAMILY_NAMES } from './instruments';
import { ESPEAK_VARIANTS, speakSsml, xmlText } from './pool/espeak';
import { activeRms, addInto, dbToGain, normalisePeak, rms, SR } from './pool/mix';
import { newSynth, renderMusic } from './pool/music';
import { defaultCacheRoot, ensureRendered, type NoteEvent, type SoundBankName } from './render';

export const DEV_SET_NAMES = ['spoken-digits', 'instrument-family', 'pitch-class', 'sound-events'] as const;
export type DevSetName = (typeof DEV_SET_NAMES)[number];

/** English: every eSpeak English voice (the pool has none). */
export const DEV_LANGUAGES: readonly string[] = [
  'en-us',
  'en-gb',
  'en-029',
  'en-gb-scotland',
  'en-gb-x-rp',
  'en-us-nyc',
  'en-gb-x-gbclan',
  'en-gb-x-gbcwmd',
];
/** The voice variants the pool does not use. */
export const DEV_VARIANTS: readonly string[] = ESPEAK_VARIANTS.filter((_, i) => i % 2 === 1);
export const DEV_SOUND_BANKS: readonly SoundBankName[] = ['FluidR3Mono', 'TimGM6mb'];
export { DEV_TEXTURE_FAMILIES };

const DIGITS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
const PITCH_CLASSES = ['C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B'];
/** Melodic programs for pitch classes: piano … pipe (0–79), less timpani and orchestra hit. */
const PITCHED_PROGRAMS = Array.from({ length: 80 }, (_, i) => i).filter((p) => p !== 47 && p !== 55);

export function devSetClasses(name: DevSetName): readonly string[] {
  switch (name) {
    case 'spoken-digits':
      return DIGITS;
    case 'instrument-family':
      return PROBE_FAMILY_NAMES;
    case 'pitch-class':
      return PITCH_CLASSES;
    case 'sound-events':
      return DEV_TEXTURE_FAMILIES;
  }
}

export interface DevSetConfig {
  seed: number;
  clipsPerClass: number;
  /** Seconds per clip; default `DEV_SET_SECONDS` of the set. */
  durationSec?: number;
}

export const DEFAULT_DEV_SET_CONFIG: Readonly<DevSetConfig> = { seed: 7, clipsPerClass: 30 };
/** Clip length of each set: a spoken digit lasts 0.3–0.6 s, so its clips are 1 s (it fills a third of one). */
export const DEV_SET_SECONDS: Readonly<Record<DevSetName, number>> = {
  'spoken-digits': 1,
  'instrument-family': 3,
  'pitch-class': 3,
  'sound-events': 3,
};
/**
 * Bumped whenever a change here or in the renderers these sets call changes the rendered bytes (part of
 * the cache key). 4: eSpeak's noise no longer seeded from the clock (src/data/pool/espeak.ts).
 */
export const DEV_SET_VERSION = 4;

const setKey = (cfg: DevSetConfig, name: DevSetName): Key =>
  foldIn(foldIn(keyFromSeed(cfg.seed), 0xde7), DEV_SET_NAMES.indexOf(name));
const clipKey = (cfg: DevSetConfig, name: DevSetName, c: number, i: number): Key =>
  foldIn(foldIn(setKey(cfg, name), c), i);

/** A held note (or a note repeated 2–4 times) of `program` at `pitch`, starting in the first 0.6 s. */
function notePattern(draw: () => number, pitch: number, durationSec: number): NoteEvent[] {
  const repeats = draw() < 0.6 ? 1 : intIn(draw(), 2, 4);
  const start = between(draw(), 0, 0.6);
  const len = (durationSec - start - 0.2) / repeats;
  const velocity = intIn(draw(), 50, 120);
  return Array.from({ length: repeats }, (_, r) => ({
    pitch,
    velocity,
    onSec: Math.round((start + r * len) * 1000) / 1000,
    offSec: Math.round((start + r * len + len * between(draw(), 0.5, 0.95)) * 1000) / 1000,
  }));
}

/** The synthesisers of one set's rendering, made on first use (one per SoundFont; see newSynth). */
type Synths = (bank: SoundBankName) => ReturnType<typeof newSynth>;

function synthsOfOneSet(): Synths {
  const made = new Map<SoundBankName, ReturnType<typeof newSynth>>();
  return (bank) => {
    if (!made.has(bank)) made.set(bank, newSynth(bank));
    return made.get(bank)!;
  };
}

/** The target sound of clip (c, i) of an instrument, pitch or event set, and what it is. */
async function renderTarget(
  name: Exclude<DevSetName, 'spoken-digits'>,
  c: number,
  draw: () => number,
  durationSec: number,
  synth: Synths,
): Promise<{ samples: Float32Array; info: Record<string, unknown> }> {
  if (name === 'sound-events')
    return {
      samples: renderDevTexture(DEV_TEXTURE_FAMILIES[c], durationSec, draw),
      info: { family: DEV_TEXTURE_FAMILIES[c] },
    };
  if (name === 'instrument-family') {
    const program = pick(draw(), PROBE_FAMILIES[PROBE_FAMILY_NAMES[c]]);
    const pitch = intIn(draw(), ...pitchRange(program));
    const notes = notePattern(draw, pitch, durationSec);
    return {
      samples: renderMusic(
        { kind: 'note', durationSec, parts: [{ channel: 0, program, notes }] },
        await synth('FluidR3Mono'),
      ),
      info: { program, pitch },
    };
  }
  const program = pick(draw(), PITCHED_PROGRAMS);
  const [lo, hi] = pitchRange(program);
  const candidates = Array.from({ length: hi - lo + 1 }, (_, k) => lo + k).filter((p) => p % 12 === c);
  const pitch = pick(draw(), candidates.length ? candidates : [12 * Math.floor(lo / 12) + 12 + c]);
  const notes = notePattern(draw, pitch, durationSec);
  return {
    samples: renderMusic(
      { kind: 'note', durationSec, parts: [{ channel: 0, program, notes }] },
      await synth('TimGM6mb'),
    ),
    info: { program, pitch },
  };
}

/** Runs of sound in `x` separated by at least `gapSec` of silence (|x| < 1e-3 over 10 ms frames). */
export function soundRuns(x: Float32Array, gapSec = 0.35): { start: number; end: number }[] {
  const frame = SR / 100;
  const runs: { start: number; end: number }[] = [];
  const gap = Math.round(gapSec * 100);
  let silent = Infinity;
  for (let f = 0; f * frame < x.length; f++) {
    let m = 0;
    for (let i = f * frame; i < Math.min(x.length, (f + 1) * frame); i++) m = Math.max(m, Math.abs(x[i]));
    if (m >= 1e-3) {
      if (silent >= gap || !runs.length) runs.push({ start: f * frame, end: (f + 1) * frame });
      else runs[runs.length - 1].end = (f + 1) * frame;
      silent = 0;
    } else silent++;
  }
  return runs;
}

/**
 * The spoken digits of one voice session: one SSML document says the digits of the session's clips
 * with long breaks between them, and the audio is split at the breaks (one eSpeak start-up per
 * session, not per digit); if the split does not give one run per digit, each is spoken alone.
 */
async function speakDigits(
  digits: { digit: number; ratePct: number; pitchPct: number }[],
  voice: string,
  rate: number,
  pitch: number,
): Promise<Float32Array[]> {
  const say = (d: (typeof digits)[number]) =>
    `<prosody rate="${d.ratePct}%" pitch="${d.pitchPct >= 0 ? '+' : ''}${d.pitchPct}%">${xmlText(DIGITS[d.digit])}</prosody>`;
  const audio = await speakSsml(
    voice,
    `<speak>${digits.map((d) => say(d) + '<break time="1200ms"/>').join('')}</speak>`,
    { rate, pitch },
  );
  const runs = soundRuns(audio);
  if (runs.length === digits.length) return runs.map((r) => audio.slice(r.start, r.end));
  const out: Float32Array[] = [];
  for (const d of digits) {
    const one = await speakSsml(voice, `<speak>${say(d)}</speak>`, { rate, pitch });
    const r = soundRuns(one);
    out.push(r.length ? one.slice(r[0].start, r[r.length - 1].end) : one);
  }
  return out;
}

/**
 * Add the distractor (15–5 dB below the target) and the noise (15–35 dB below), both relative to the
 * target's level while it sounds (`activeRms`: a 0.3-s word in a 3-s clip keeps its own level), then
 * set a random peak level (in place).
 */
function addDistractorAndNoise(y: Float32Array, distractor: Float32Array, draw: () => number): Record<string, number> {
  const distractorDb = between(draw(), -15, -5);
  const snrDb = between(draw(), 15, 35);
  const level = activeRms(y);
  const d = rms(distractor);
  if (level > 0 && d > 0) addInto(y, distractor, (level / d) * dbToGain(distractorDb));
  if (level > 0) addInto(y, devNoise(y.length, draw), level * dbToGain(-snrDb));
  normalisePeak(y, between(draw(), 0.3, 0.9));
  return { distractorDb: Math.round(distractorDb * 10) / 10, snrDb: Math.round(snrDb * 10) / 10 };
}

export interface DevClip {
  file: string;
  label: string;
  samples: Float32Array;
  info: Record<string, unknown>;
}

/** Render the clips of a development set (all classes, `clipsPerClass` each). */
export async function renderDevClips(name: DevSetName, config: DevSetConfig): Promise<DevClip[]> {
  const cfg = { ...config, durationSec: config.durationSec ?? DEV_SET_SECONDS[name] };
  const classes = devSetClasses(name);
  const n = Math.round(cfg.durationSec * SR);
  const clips: DevClip[] = [];
  const file = (label: string, i: number) =>
    `${label.replace('#', 'sharp')}/${name}_${label.replace('#', 'sharp')}_${String(i).padStart(4, '0')}.wav`;
  if (name === 'spoken-digits') {
    // session j holds clip j of every digit: one voice says all ten
    for (let i = 0; i < cfg.clipsPerClass; i++) {
      const sdraw = streamDrawer(foldIn(setKey(cfg, name), 1_000_000 + i));
      const voice = `${pick(sdraw(), DEV_LANGUAGES)}+${pick(sdraw(), DEV_VARIANTS)}`;
      const rate = Math.round(between(sdraw(), 90, 170));
      const pitch = Math.round(between(sdraw(), 15, 85));
      const plans = classes.map((_, c) => {
        const draw = streamDrawer(clipKey(cfg, name, c, i));
        return {
          digit: c,
          ratePct: Math.round(between(draw(), 75, 135)),
          pitchPct: Math.round(between(draw(), -30, 30)),
          draw,
        };
      });
      const spoken = await speakDigits(plans, voice, rate, pitch);
      for (let c = 0; c < classes.length; c++) {
        const draw = plans[c].draw;
        const y = new Float32Array(n);
        const word = spoken[c].subarray(0, n);
        addInto(y, word, 1, Math.floor(draw() * Math.max(0, n - word.length)));
        const levels = addDistractorAndNoise(y, randomDevTexture(cfg.durationSec, draw), draw);
        clips.push({
          file: file(classes[c], i),
          label: classes[c],
          samples: y,
          info: { voice, rate, pitch, ...levels },
        });
      }
    }
    return clips;
  }
  const synth = synthsOfOneSet();
  for (let c = 0; c < classes.length; c++) {
    for (let i = 0; i < cfg.clipsPerClass; i++) {
      const draw = streamDrawer(clipKey(cfg, name, c, i));
      const { samples, info } = await renderTarget(name, c, draw, cfg.durationSec, synth);
      const y = samples.slice();
      let distractor: Float32Array;
      if (name === 'sound-events') {
        const program = pick(draw(), PITCHED_PROGRAMS);
        const notes = notePattern(draw, intIn(draw(), ...pitchRange(program)), cfg.durationSec);
        distractor = renderMusic(
          { kind: 'note', durationSec: cfg.durationSec, parts: [{ channel: 0, program, notes }] },
          await synth('TimGM6mb'),
        );
      } else distractor = randomDevTexture(cfg.durationSec, draw);
      const levels = addDistractorAndNoise(y, distractor, draw);
      clips.push({ file: file(classes[c], i), label: classes[c], samples: y, info: { ...info, ...levels } });
    }
  }
  return clips;
}

function resolveDevConfig(opts: Partial<DevSetConfig>): DevSetConfig {
  const cfg = { ...DEFAULT_DEV_SET_CONFIG, ...opts };
  if (!Number.isSafeInteger(cfg.seed)) throw new Error(`dev set: seed must be an integer, got ${cfg.seed}`);
  if (!Number.isInteger(cfg.clipsPerClass) || cfg.clipsPerClass < 1)
    throw new Error(`dev set: clipsPerClass must be a positive integer, got ${cfg.clipsPerClass}`);
  if (cfg.durationSec !== undefined && !(cfg.durationSec >= 1 && cfg.durationSec <= 30))
    throw new Error(`dev set: durationSec must be in [1, 30], got ${cfg.durationSec}`);
  return cfg.durationSec === undefined
    ? { seed: cfg.seed, clipsPerClass: cfg.clipsPerClass }
    : { seed: cfg.seed, clipsPerClass: cfg.clipsPerClass, durationSec: cfg.durationSec };
}

/** Render a development set into `outDir` (folder per class, labels.jsonl, manifest.json last). */
export async function renderDevSet(name: DevSetName, outDir: string, opts: Partial<DevSetConfig> = {}): Promise<void> {
  const cfg = resolveDevConfig(opts);
  const clips = await renderDevClips(name, cfg);
  for (const label of new Set(clips.map((c) => c.file.split('/')[0])))
    await mkdir(join(outDir, label), { recursive: true });
  for (const c of clips) await writeFile(join(outDir, c.file), encodeWav16(c.samples, SR));
  await writeFile(
    join(outDir, 'labels.jsonl'),
    clips.map((c) => JSON.stringify({ file: c.file, label: c.label, ...c.info })).join('\n') + '\n',
  );
  await writeFile(
    join(outDir, 'manifest.json'),
    JSON.stringify(
      {
        name,
        version: DEV_SET_VERSION,
        config: { ...cfg, durationSec: cfg.durationSec ?? DEV_SET_SECONDS[name] },
        clips: clips.length,
        classes: devSetClasses(name),
      },
      null,
      2,
    ) + '\n',
  );
}

/** The development set's folder in the data cache, rendered on first use. */
export async function ensureDevSet(
  name: DevSetName,
  opts: Partial<DevSetConfig> & { cacheRoot?: string; onRender?: () => void } = {},
): Promise<string> {
  if (!DEV_SET_NAMES.includes(name))
    throw new Error(`unknown development set "${name}" (known: ${DEV_SET_NAMES.join(', ')})`);
  const cfg = resolveDevConfig(opts);
  const hash = createHash('sha256')
    .update(
      JSON.stringify({
        name,
        version: DEV_SET_VERSION,
        cfg: { ...cfg, durationSec: cfg.durationSec ?? DEV_SET_SECONDS[name] },
      }),
    )
    .digest('hex')
    .slice(0, 12);
  return ensureRendered(join(resolve(opts.cacheRoot ?? defaultCacheRoot()), `dev-${name}-${hash}`), (dir) => {
    opts.onRender?.();
    return renderDevSet(name, dir, cfg);
  });
}

/** Every source the development sets draw from (what the pool must not use; test/pool.test.ts). */
export function devSources(): {
  languages: readonly string[];
  variants: readonly string[];
  soundBanks: readonly SoundBankName[];
  textureFamilies: readonly DevTextureFamily[];
} {
  return {
    languages: DEV_LANGUAGES,
    variants: DEV_VARIANTS,
    soundBanks: DEV_SOUND_BANKS,
    textureFamilies: DEV_TEXTURE_FAMILIES,
  };
}
