/** The bundled data sets rendered from the GM SoundFont: plans, determinism, file format, caching. */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import wavefile from 'wavefile';
import { afterAll, describe, expect, it } from 'vitest';
import { listClassFolders } from '../src/data/dataset';
import { pitchRange, PROBE_FAMILIES, PROBE_FAMILY_NAMES } from '../src/data/instruments';
import {
  createSynth,
  DEFAULT_PRETRAIN_CONFIG,
  DEFAULT_PROBE_CONFIG,
  ensurePretrainSet,
  ensureProbeSet,
  loadSoundBank,
  planPretrainClips,
  planProbeClips,
  renderClip,
  renderPretrainSet,
  renderProbeSet,
} from '../src/data/render';

const root = mkdtempSync(join(tmpdir(), 'matpac-render-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Every file under a folder, as relative path → bytes. */
function snapshot(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

const tiny = { clips: 3, durationSec: 0.5, quiet: true } as const;

describe('clip plans', () => {
  const pool = planPretrainClips({ ...DEFAULT_PRETRAIN_CONFIG });
  const probe = planProbeClips({ ...DEFAULT_PROBE_CONFIG });

  it('default sizes: 600 pool clips of 4 s; 11 NSynth families × 30 probe clips', () => {
    expect(pool.length).toBe(600);
    expect(pool.every((c) => c.durationSec === 4)).toBe(true);
    expect(probe.length).toBe(11 * 30);
    expect(new Set(probe.map((c) => c.family))).toEqual(new Set(PROBE_FAMILY_NAMES));
  });

  it('draws many programs across families, with notes inside each program range, and some phrases', () => {
    expect(new Set(pool.map((c) => c.program)).size).toBeGreaterThan(90);
    expect(new Set(pool.map((c) => c.family)).size).toBe(15);
    for (const clip of [...pool, ...probe]) {
      const [lo, hi] = pitchRange(clip.program);
      for (const n of clip.notes) {
        expect(n.pitch).toBeGreaterThanOrEqual(lo);
        expect(n.pitch).toBeLessThanOrEqual(hi);
        expect(n.velocity).toBeGreaterThanOrEqual(40);
        expect(n.velocity).toBeLessThanOrEqual(127);
        expect(n.onSec).toBeGreaterThanOrEqual(0);
        expect(n.offSec).toBeGreaterThan(n.onSec);
        expect(n.offSec).toBeLessThanOrEqual(clip.durationSec);
      }
    }
    const phrases = pool.filter((c) => c.kind === 'phrase');
    expect(phrases.length / pool.length).toBeGreaterThan(0.15);
    expect(phrases.length / pool.length).toBeLessThan(0.35);
    expect(phrases.some((c) => c.notes.length > 3)).toBe(true);
  });

  it('probe classes use their own programs', () => {
    for (const clip of probe)
      expect((PROBE_FAMILIES as Record<string, readonly number[]>)[clip.family]).toContain(clip.program);
    expect(probe.every((c) => c.file.startsWith(`${c.family}/`))).toBe(true);
  });

  it('holds the probe set out of the pool: no (program, pitch, velocity) note in both', () => {
    const notes = (clips: typeof pool) =>
      new Set(clips.flatMap((c) => c.notes.map((n) => `${c.program}/${n.pitch}/${n.velocity}`)));
    const inPool = notes(pool);
    for (const n of notes(probe)) expect(inPool.has(n)).toBe(false);
  });

  it('clip i depends only on (seed, i)', () => {
    const short = planPretrainClips({ ...DEFAULT_PRETRAIN_CONFIG, clips: 10 });
    expect(short).toEqual(pool.slice(0, 10));
    const other = planPretrainClips({ ...DEFAULT_PRETRAIN_CONFIG, clips: 10, seed: 99 });
    expect(other).not.toEqual(short);
  });
});

describe('rendering', () => {
  it('a clip does not depend on what the synthesiser rendered before', async () => {
    const synth = await createSynth(await loadSoundBank('MSBasic'));
    const [a, b] = planPretrainClips({ ...DEFAULT_PRETRAIN_CONFIG, clips: 2, durationSec: 0.5 });
    const alone = renderClip(synth, a).samples;
    renderClip(synth, b);
    const after = renderClip(synth, a).samples;
    expect(after).toEqual(alone);
    synth.destroySynthProcessor();
  });

  it('same seed → identical bytes; another seed → different clips', async () => {
    await renderPretrainSet({ ...tiny, seed: 7, outDir: join(root, 'a') });
    await renderPretrainSet({ ...tiny, seed: 7, outDir: join(root, 'b') });
    await renderPretrainSet({ ...tiny, seed: 8, outDir: join(root, 'c') });
    const a = snapshot(join(root, 'a'));
    const b = snapshot(join(root, 'b'));
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    for (const [name, bytes] of a) expect(bytes.equals(b.get(name)!)).toBe(true);
    expect(a.size).toBe(3 + 2); // clips, labels.jsonl, manifest.json
    const c = snapshot(join(root, 'c'));
    expect(c.get('labels.jsonl')!.equals(a.get('labels.jsonl')!)).toBe(false);
  });

  it('writes 16 kHz mono 16-bit WAV files of the requested length that are not silent, with labels', () => {
    const dir = join(root, 'a');
    const labels = readFileSync(join(dir, 'labels.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(labels.length).toBe(3);
    for (const label of labels) {
      expect(Object.keys(label)).toEqual(
        expect.arrayContaining(['file', 'family', 'program', 'programName', 'pitch', 'notes']),
      );
      const wav = new wavefile.WaveFile();
      wav.fromBuffer(readFileSync(join(dir, label.file)));
      const fmt = wav.fmt as { numChannels: number; sampleRate: number; bitsPerSample: number; audioFormat: number };
      expect([fmt.numChannels, fmt.sampleRate, fmt.bitsPerSample, fmt.audioFormat]).toEqual([1, 16000, 16, 1]);
      const samples = wav.getSamples(false, Int16Array) as unknown as Int16Array;
      expect(samples.length).toBe(8000);
      expect(Math.max(...Array.from(samples, Math.abs))).toBeGreaterThan(100);
      expect(typeof label.programName).toBe('string');
    }
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({
      name: 'pretrain',
      clips: 3,
      audioSec: 1.5,
      config: { seed: 7, clips: 3, durationSec: 0.5 },
    });
  });

  it('renders the probe set as one folder per class', async () => {
    const dir = join(root, 'probe');
    const summary = await renderProbeSet({
      families: ['flute', 'bass'],
      clipsPerClass: 2,
      durationSec: 0.3,
      quiet: true,
      outDir: dir,
    });
    expect(summary.clips).toBe(4);
    expect(await listClassFolders(dir)).toEqual(['bass', 'flute']);
    expect(readdirSync(join(dir, 'flute')).length).toBe(2);
  });
});

describe('on-disk cache', () => {
  it('renders on first use into <root>/<name>-<hash>, then reuses it', async () => {
    const cacheRoot = join(root, 'cache');
    const dir = await ensurePretrainSet({ ...tiny, cacheRoot });
    expect(relative(cacheRoot, dir)).toMatch(/^pretrain-[0-9a-f]{12}$/);
    const stamp = statSync(join(dir, 'manifest.json')).mtimeMs;
    expect(await ensurePretrainSet({ ...tiny, cacheRoot })).toBe(dir);
    expect(statSync(join(dir, 'manifest.json')).mtimeMs).toBe(stamp);
    const other = await ensurePretrainSet({ ...tiny, seed: 3, cacheRoot });
    expect(other).not.toBe(dir);
    const probe = await ensureProbeSet({
      families: ['reed'],
      clipsPerClass: 1,
      durationSec: 0.3,
      quiet: true,
      cacheRoot,
    });
    expect(relative(cacheRoot, probe)).toMatch(/^probe-[0-9a-f]{12}$/);
    expect(readdirSync(cacheRoot).filter((n) => n.includes('.partial-'))).toEqual([]);
  });
});
