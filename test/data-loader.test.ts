/** Data sets on disk (listing, labels, skipping bad files) and batches of random crops. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import wavefile from 'wavefile';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logMelSpectrogram } from '../models/frontend';
import { loadAudio16k } from '../src/audio/read';
import {
  describeSkipped,
  listAudioFiles,
  listClassFolders,
  loadLogMelDataset,
  type LogMelItem,
  type SkippedFile,
} from '../src/data/dataset';
import { cropBatch, epochBatches, type HasLogMel } from '../src/data/loader';
import { keyFromSeed } from '../src/random';

const root = mkdtempSync(join(tmpdir(), 'matpac-data-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function toneWav(freq: number, seconds: number, sampleRate: number, channels = 1, bits = '16'): Uint8Array {
  const n = Math.round(seconds * sampleRate);
  const scale = bits === '32f' ? 1 : 2 ** (Number(bits) - 1) - 1;
  const ch = Array.from({ length: channels }, (_, c) =>
    Array.from({ length: n }, (_, i) =>
      Math.round(0.3 * scale * Math.sin((2 * Math.PI * freq * (c + 1) * i) / sampleRate)),
    ),
  );
  const wav = new wavefile.WaveFile();
  wav.fromScratch(channels, sampleRate, bits, channels === 1 ? ch[0] : ch);
  return wav.toBuffer();
}

const put = (rel: string, bytes: Uint8Array | string) => {
  const path = join(root, rel);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, bytes);
  return path;
};

beforeAll(() => {
  // Two classes, nested sub-folder, mixed formats and rates, plus files that must be skipped.
  put('set/flute/a.wav', toneWav(880, 1.0, 16000));
  put('set/flute/deeper/b.WAV', toneWav(660, 1.2, 44100, 2));
  put('set/organ/c.wav', toneWav(220, 0.8, 22050, 1, '24'));
  put('set/organ/d.wav', toneWav(330, 0.9, 48000, 2, '32'));
  put('set/organ/empty.wav', '');
  put('set/organ/notes.txt', 'not audio, not listed');
  put('set/organ/fake.wav', 'RIFF? no, just text');
  put('set/organ/short.wav', toneWav(440, 0.1, 16000));
  put('set/.hidden/e.wav', toneWav(440, 1, 16000));
  put('set/toplevel.flac', 'not really flac');
});

describe('listing', () => {
  it('finds audio files recursively, sorted, by extension (case-insensitive), skipping hidden folders', async () => {
    const files = await listAudioFiles(join(root, 'set'));
    expect(files.map((f) => f.slice(root.length + 5))).toEqual([
      'flute/a.wav',
      'flute/deeper/b.WAV',
      'organ/c.wav',
      'organ/d.wav',
      'organ/empty.wav',
      'organ/fake.wav',
      'organ/short.wav',
      'toplevel.flac',
    ]);
  });

  it('lists class folders', async () => {
    expect(await listClassFolders(join(root, 'set'))).toEqual(['flute', 'organ']);
  });

  it('says when the folder does not exist', async () => {
    await expect(listAudioFiles(join(root, 'nope'))).rejects.toThrow(/nope: not a folder/);
  });
});

describe('loadLogMelDataset', () => {
  it('keeps good files with their labels, skips bad and short ones with a reason, and reports them', async () => {
    const seen: SkippedFile[] = [];
    const progress: number[] = [];
    const ds = await loadLogMelDataset(join(root, 'set'), {
      minFrames: 50,
      onSkip: (s) => seen.push(s),
      onProgress: (d) => progress.push(d),
    });
    expect(ds.items.map((it) => [it.file.slice(root.length + 5), it.label])).toEqual([
      ['flute/a.wav', 'flute'],
      ['flute/deeper/b.WAV', 'flute'],
      ['organ/c.wav', 'organ'],
      ['organ/d.wav', 'organ'],
    ]);
    expect(ds.labels).toEqual(['flute', 'organ']);
    expect(ds.skipped).toEqual(seen);
    expect(ds.skipped.map((s) => [s.file.slice(root.length + 5), s.reason])).toEqual([
      ['organ/empty.wav', 'empty file (0 bytes)'],
      ['organ/fake.wav', 'RIFF file is not WAVE'],
      ['organ/short.wav', 'too short: 8 log-mel frames < 50'],
      ['toplevel.flac', expect.stringMatching(/not a WAV, FLAC, MP3 or Ogg\/Opus file/)],
    ]);
    expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(describeSkipped(ds.skipped, 8, 2)).toMatch(
      /^skipped 4 of 8 files: .*empty\.wav \(empty file \(0 bytes\)\), .*fake\.wav .*, and 2 more$/,
    );
  });

  it('computes each log-mel from the 16 kHz mono signal', async () => {
    const ds = await loadLogMelDataset(join(root, 'set', 'flute'));
    const b = ds.items.find((it) => it.file.endsWith('b.WAV'))!;
    expect(b.label).toBe('deeper'); // labels are the first folder under the root given
    const expected = logMelSpectrogram(await loadAudio16k(b.file));
    expect(b.logmel.nFrames).toBe(1 + Math.floor((Math.ceil((16000 * 1.2 * 44100) / 44100) - 400) / 160));
    expect(b.logmel.data).toEqual(expected.data);
    expect(ds.items.find((it) => it.file.endsWith('a.wav'))!.label).toBeUndefined();
  });
});

describe('crops', () => {
  /** Items whose log-mel values encode (item, band, frame), so every crop can be traced back. */
  const fake = (nFrames: number, id: number): HasLogMel => ({
    logmel: {
      data: Float32Array.from(
        { length: 80 * nFrames },
        (_, i) => id * 1e6 + Math.floor(i / nFrames) * 1000 + (i % nFrames),
      ),
      nMels: 80,
      nFrames,
    },
  });
  const items = [fake(300, 0), fake(100, 1), fake(64, 2), fake(500, 3)];

  it('gives [B, 80, T] row-major slices of the log-mels', () => {
    const batch = cropBatch(items, keyFromSeed(1), 6, 96);
    expect(batch.shape).toEqual([6, 80, 96]);
    expect(batch.data.length).toBe(6 * 80 * 96);
    for (let b = 0; b < 6; b++) {
      const { item, start } = batch.sources[b];
      expect(items[item].logmel.nFrames).toBeGreaterThanOrEqual(96);
      expect(start).toBeGreaterThanOrEqual(0);
      expect(start + 96).toBeLessThanOrEqual(items[item].logmel.nFrames);
      for (const m of [0, 41, 79]) {
        for (const t of [0, 95]) expect(batch.data[(b * 80 + m) * 96 + t]).toBe(item * 1e6 + m * 1000 + start + t);
      }
    }
  });

  it('is reproducible from its key and changes with it', () => {
    const a = cropBatch(items, keyFromSeed(5), 8, 64);
    const b = cropBatch(items, keyFromSeed(5), 8, 64);
    const c = cropBatch(items, keyFromSeed(6), 8, 64);
    expect(a.data).toEqual(b.data);
    expect(a.sources).toEqual(b.sources);
    expect(c.sources).not.toEqual(a.sources);
  });

  it('skips clips shorter than the crop by default, pads them (left-aligned, 0) on request', () => {
    const skipped = cropBatch(items, keyFromSeed(2), 64, 128);
    expect(new Set(skipped.sources.map((s) => s.item))).toEqual(new Set([0, 3]));
    const padded = cropBatch(items, keyFromSeed(2), 64, 128, { short: 'pad' });
    const row = padded.sources.findIndex((s) => s.item === 2);
    expect(row).toBeGreaterThanOrEqual(0);
    expect(padded.sources[row].start).toBe(0);
    expect(padded.data[(row * 80 + 3) * 128 + 63]).toBe(2e6 + 3000 + 63);
    expect(padded.data[(row * 80 + 3) * 128 + 64]).toBe(0);
    expect(() => cropBatch(items, keyFromSeed(2), 4, 600)).toThrow(/no clip has the 600 frames/);
  });

  it('draws crop starts over the whole range', () => {
    const starts = new Set<number>();
    for (let s = 0; s < 40; s++)
      for (const src of cropBatch([items[1]], keyFromSeed(s), 8, 96).sources) starts.add(src.start);
    expect(starts).toEqual(new Set([0, 1, 2, 3, 4])); // 100 − 96 + 1 possible starts
  });

  it('epochBatches visits every eligible clip once per epoch', () => {
    const many = Array.from({ length: 23 }, (_, i) => fake(100 + i, i));
    const batches = [...epochBatches(many, keyFromSeed(3), 5, 100, { dropLast: false })];
    expect(batches.map((b) => b.shape[0])).toEqual([5, 5, 5, 5, 3]);
    const seen = batches.flatMap((b) => b.sources.map((s) => s.item)).sort((a, b) => a - b);
    expect(seen).toEqual(Array.from({ length: 23 }, (_, i) => i));
    expect([...epochBatches(many, keyFromSeed(3), 5, 100)].length).toBe(4);
    const again = [...epochBatches(many, keyFromSeed(3), 5, 100)];
    expect(again[2].data).toEqual(batches[2].data);
  });

  it('works on loaded items', async () => {
    const ds = await loadLogMelDataset(join(root, 'set'), { minFrames: 50 });
    const items: LogMelItem[] = ds.items;
    const batch = cropBatch(items, keyFromSeed(0), 3, 48);
    expect(batch.shape).toEqual([3, 80, 48]);
    expect(batch.data.every(Number.isFinite)).toBe(true);
  });
});
