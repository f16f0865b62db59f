/**
 * Decoders: WAV files written with wavefile (and by hand for WAVE_FORMAT_EXTENSIBLE) and FLAC files
 * written by a small test encoder are read back exactly, in several bit depths, rates and channel
 * counts; broken files give one-line AudioErrors naming the file.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import wavefile from 'wavefile';
import { afterAll, describe, expect, it } from 'vitest';
import { AudioError, decodeAudio, mixToMono } from '../src/audio/decode';
import { loadAudio16k, readAudio } from '../src/audio/read';
import { resample } from '../src/audio/resample';
import { keyFromSeed, randintHost } from '../src/random';

// ── A minimal FLAC encoder (for writing test files; the project only decodes FLAC) ──────────────────
/*
 * A STREAMINFO block and fixed-size frames of VERBATIM subframes
 * (samples stored uncompressed), with the CRC-8 and CRC-16 that decoders check. Only bit depths that
 * are multiples of 8, so that every field stays byte-aligned. Format: https://xiph.org/flac/format.html
 */

function crc8(bytes: ArrayLike<number>): number {
  let crc = 0;
  for (let i = 0; i < bytes.length; i++) {
    crc ^= bytes[i];
    for (let b = 0; b < 8; b++) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff;
  }
  return crc;
}

function crc16(bytes: ArrayLike<number>): number {
  let crc = 0;
  for (let i = 0; i < bytes.length; i++) {
    crc ^= bytes[i] << 8;
    for (let b = 0; b < 8; b++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x8005) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** FLAC's UTF-8-like coding of the frame number. */
function utf8Number(n: number): number[] {
  if (n < 0x80) return [n];
  if (n < 0x800) return [0xc0 | (n >> 6), 0x80 | (n & 0x3f)];
  if (n < 0x10000) return [0xe0 | (n >> 12), 0x80 | ((n >> 6) & 0x3f), 0x80 | (n & 0x3f)];
  throw new Error('utf8Number: frame number too large for this test encoder');
}

/** Encode integer channels (values within the signed `bitsPerSample` range) as a FLAC file. */
function encodeFlacVerbatim(
  channels: Int32Array[],
  sampleRate: number,
  bitsPerSample: 8 | 16 | 24,
  blockSize = 1024,
): Uint8Array {
  const nCh = channels.length;
  const total = channels[0].length;
  const out: number[] = [0x66, 0x4c, 0x61, 0x43]; // "fLaC"
  // Metadata block header: last block, type 0 (STREAMINFO), length 34.
  out.push(0x80, 0, 0, 34);
  const info = new Uint8Array(34);
  const v = new DataView(info.buffer);
  v.setUint16(0, Math.min(blockSize, Math.max(16, total)));
  v.setUint16(2, blockSize);
  // min/max frame size 0 = unknown (bytes 4..9)
  // 20 bits sample rate, 3 bits channels−1, 5 bits bps−1, 36 bits total samples
  info[10] = (sampleRate >> 12) & 0xff;
  info[11] = (sampleRate >> 4) & 0xff;
  info[12] = ((sampleRate & 0x0f) << 4) | ((nCh - 1) << 1) | ((bitsPerSample - 1) >> 4);
  info[13] = (((bitsPerSample - 1) & 0x0f) << 4) | Math.floor(total / 2 ** 32);
  v.setUint32(14, total >>> 0);
  // MD5 left zero (= not computed)
  out.push(...info);

  const bytesPerSample = bitsPerSample / 8;
  for (let start = 0, frame = 0; start < total; start += blockSize, frame++) {
    const n = Math.min(blockSize, total - start);
    // Block size: code 0111 (16-bit value at the end of the header); sample rate: code 1101 (16-bit
    // value in Hz at the end), or 1100 (8-bit value in kHz) when it does not fit; explicit sample size.
    const rateCode = sampleRate < 65536 ? 0b1101 : 0b1100;
    const rateBytes = rateCode === 0b1101 ? [(sampleRate >> 8) & 0xff, sampleRate & 0xff] : [sampleRate / 1000];
    const sizeCode = { 8: 0b001, 16: 0b100, 24: 0b110 }[bitsPerSample];
    const header = [
      0xff,
      0xf8,
      (0b0111 << 4) | rateCode,
      ((nCh - 1) << 4) | (sizeCode << 1),
      ...utf8Number(frame),
      ((n - 1) >> 8) & 0xff,
      (n - 1) & 0xff,
      ...rateBytes,
    ];
    header.push(crc8(header));
    const body: number[] = [...header];
    for (const ch of channels) {
      body.push(0b00000010); // VERBATIM, no wasted bits
      for (let i = start; i < start + n; i++) {
        const s = ch[i];
        for (let b = bytesPerSample - 1; b >= 0; b--) body.push((s >> (8 * b)) & 0xff);
      }
    }
    const crc = crc16(body);
    body.push((crc >> 8) & 0xff, crc & 0xff);
    out.push(...body);
  }
  return Uint8Array.from(out);
}

const dir = mkdtempSync(join(tmpdir(), 'matpac-audio-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, bytes: Uint8Array) => {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
};

/** Random integer channels spanning the full signed range of `bits`. */
function randomInts(channels: number, n: number, bits: number, seed: number): Int32Array[] {
  const lo = -(2 ** (bits - 1));
  const hi = 2 ** (bits - 1);
  return Array.from({ length: channels }, (_, c) => {
    const v = randintHost(keyFromSeed(seed * 10 + c), n, lo, hi);
    v[0] = lo; // include both extremes
    v[1] = hi - 1;
    return v;
  });
}

function wavBytes(channels: ArrayLike<number>[], sampleRate: number, bitDepth: string): Uint8Array {
  const wav = new wavefile.WaveFile();
  wav.fromScratch(
    channels.length,
    sampleRate,
    bitDepth,
    channels.length === 1 ? Array.from(channels[0]) : channels.map((c) => Array.from(c)),
  );
  return wav.toBuffer();
}

/** A WAVE_FORMAT_EXTENSIBLE file written by hand (wavefile does not write float as extensible). */
function extensibleWav(
  interleaved: Uint8Array,
  channels: number,
  sampleRate: number,
  bits: number,
  subformat: 1 | 3,
): Uint8Array {
  const fmtSize = 40;
  const out = new Uint8Array(12 + 8 + fmtSize + 8 + interleaved.length);
  const v = new DataView(out.buffer);
  const ascii = (o: number, s: string) => [...s].forEach((ch, i) => (out[o + i] = ch.charCodeAt(0)));
  ascii(0, 'RIFF');
  v.setUint32(4, out.length - 8, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  v.setUint32(16, fmtSize, true);
  v.setUint16(20, 0xfffe, true);
  v.setUint16(22, channels, true);
  v.setUint32(24, sampleRate, true);
  v.setUint32(28, (sampleRate * channels * bits) / 8, true);
  v.setUint16(32, (channels * bits) / 8, true);
  v.setUint16(34, bits, true);
  v.setUint16(36, 22, true); // cbSize
  v.setUint16(38, bits, true); // valid bits
  v.setUint32(40, channels === 2 ? 3 : 4, true); // channel mask
  // Subformat GUID: data1 = format code, then the fixed tail 0000-0010-8000-00aa00389b71.
  v.setUint32(44, subformat, true);
  out.set([0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71], 48);
  ascii(60, 'data');
  v.setUint32(64, interleaved.length, true);
  out.set(interleaved, 68);
  return out;
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe('WAV round trips (written with wavefile)', () => {
  const cases = [
    { bits: '8', channels: 1, rate: 8000 },
    { bits: '16', channels: 1, rate: 16000 },
    { bits: '16', channels: 2, rate: 22050 },
    { bits: '24', channels: 1, rate: 44100 },
    { bits: '24', channels: 2, rate: 11025 },
    { bits: '32', channels: 2, rate: 48000 },
  ] as const;
  for (const { bits, channels, rate } of cases) {
    it(`${bits}-bit, ${channels} channel(s), ${rate} Hz: integers v read as v/2^(b−1), channels averaged`, async () => {
      const b = Number(bits);
      const ints = randomInts(channels, 1000, b, b + channels);
      // 8-bit WAV stores unsigned bytes v + 128.
      const stored = b === 8 ? ints.map((c) => c.map((v) => v + 128)) : ints;
      const path = file(`pcm${bits}-${channels}-${rate}.wav`, wavBytes(stored, rate, bits));
      const { samples, sampleRate } = await readAudio(path);
      expect(sampleRate).toBe(rate);
      const expected = Float64Array.from(
        { length: 1000 },
        (_, i) => ints.reduce((s, c) => s + c[i] / 2 ** (b - 1), 0) / channels,
      );
      expect(maxAbsDiff(samples, expected)).toBeLessThan(1e-7);
    });
  }

  it('32-bit float WAV (stereo) is read as stored', async () => {
    const left = Float32Array.from({ length: 500 }, (_, i) => Math.sin(i / 7) * 0.9);
    const right = Float32Array.from({ length: 500 }, (_, i) => Math.cos(i / 5) * 0.5);
    const { samples, sampleRate } = await readAudio(file('f32.wav', wavBytes([left, right], 32000, '32f')));
    expect(sampleRate).toBe(32000);
    expect(maxAbsDiff(samples, mixToMono([left, right]))).toBe(0);
  });

  it('WAVE_FORMAT_EXTENSIBLE: 24-bit PCM and 32-bit float subformats', async () => {
    const ints = [-8388608, 8388607, 12345, -1, 0, 4194304];
    const pcm = new Uint8Array(ints.length * 3);
    ints.forEach((v, i) => pcm.set([v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff], 3 * i));
    const a = await readAudio(file('ext24.wav', extensibleWav(pcm, 1, 44100, 24, 1)));
    expect(Array.from(a.samples)).toEqual(ints.map((v) => Math.fround(v / 2 ** 23)));

    const floats = new Float32Array([0.25, -0.5, 0.125, 1, -1, 0.75]); // stereo: 3 frames
    const b = await readAudio(file('extf32.wav', extensibleWav(new Uint8Array(floats.buffer), 2, 16000, 32, 3)));
    expect(Array.from(b.samples)).toEqual([-0.125, 0.5625, -0.125]);
  });
});

describe('FLAC round trips', () => {
  for (const { bits, channels, rate } of [
    { bits: 16, channels: 2, rate: 44100 },
    { bits: 24, channels: 1, rate: 48000 },
    { bits: 24, channels: 2, rate: 16000 },
    { bits: 8, channels: 1, rate: 8000 },
  ] as const) {
    it(`${bits}-bit, ${channels} channel(s), ${rate} Hz: exact integers, the very same floats as the WAV reader`, async () => {
      const ints = randomInts(channels, 16000, bits, 100 + bits + channels);
      const flac = await decodeAudio(encodeFlacVerbatim(ints, rate, bits, 1024), 'x.flac');
      expect(flac.sampleRate).toBe(rate);
      expect(flac.channels.length).toBe(channels);
      for (let c = 0; c < channels; c++) {
        expect(flac.channels[c].length).toBe(16000);
        expect(Array.from(flac.channels[c], (v) => Math.round(v * 2 ** (bits - 1)))).toEqual(Array.from(ints[c]));
      }
      const stored = bits === 8 ? ints.map((c) => c.map((v) => v + 128)) : ints;
      const wav = await decodeAudio(wavBytes(stored, rate, String(bits)), 'x.wav');
      // bit for bit (docs/frontend.md says so): no sample may differ, not even by one float32 step
      for (let c = 0; c < channels; c++) expect(flac.channels[c]).toEqual(wav.channels[c]);
    });
  }
});

describe('loadAudio16k', () => {
  it('returns 16 kHz input unchanged and resamples other rates with the Kaiser sinc', async () => {
    const ints = randomInts(2, 4410, 16, 5);
    const path16 = file('in16k.wav', wavBytes(ints, 16000, '16'));
    expect(await loadAudio16k(path16)).toEqual((await readAudio(path16)).samples);

    const path44 = file('in44k.wav', wavBytes(ints, 44100, '16'));
    const y = await loadAudio16k(path44);
    expect(y.length).toBe(Math.ceil((16000 * 4410) / 44100));
    expect(y).toEqual(resample((await readAudio(path44)).samples, 44100, 16000));
  });
});

describe('bad input gives one line naming the file and the problem', () => {
  const goodWav = wavBytes([Array.from({ length: 1000 }, (_, i) => (i * 37) % 2000)], 16000, '16');
  const goodFlac = encodeFlacVerbatim(randomInts(1, 5000, 16, 9), 16000, 16, 1024);
  const corruptFlac = goodFlac.slice();
  corruptFlac.fill(0x55, 3000, 3040); // inside the second frame: its checksum fails, later frames are sound
  const nanWav = wavBytes([[0.1, 0.2, 0.3, NaN, 0.5]], 16000, '32f');
  const infWav = wavBytes([[0.1, -Infinity]], 16000, '32f');
  const headerOnly = wavBytes([[]], 16000, '16');
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty.wav', new Uint8Array(0), /empty file/],
    [
      'text.wav',
      new TextEncoder().encode('this is not audio at all\n'),
      /not a WAV, FLAC, MP3 or Ogg\/Opus file \(first bytes: 74 68 69 73/,
    ],
    ['truncated.wav', goodWav.subarray(0, 1000), /truncated: data chunk declares 2000 bytes, 956 present/],
    ['odd.wav', goodWav.subarray(0, goodWav.length - 1), /truncated/],
    ['riff-stub.wav', goodWav.subarray(0, 8), /truncated/],
    ['no-data.wav', headerOnly, /no audio samples/],
    ['nan.wav', nanWav, /NaN sample at index 3 of channel 0/],
    ['inf.wav', infWav, /infinite sample at index 1/],
    [
      'truncated.flac',
      goodFlac.subarray(0, goodFlac.length - 500),
      /truncated FLAC: the file ends inside the frame at byte \d+ \(decoded 4096 of 5000 samples\)$/,
    ],
    ['corrupt.flac', corruptFlac, /corrupt FLAC: bytes \d+–\d+ hold no frame whose checksum matches$/],
    ['metadata-cut.flac', goodFlac.subarray(0, 20), /truncated FLAC: the file ends inside its metadata blocks$/],
    ['stub.flac', goodFlac.subarray(0, 60), /truncated FLAC: the file ends inside its first frame/],
  ];
  for (const [name, bytes, problem] of cases) {
    it(name, async () => {
      const path = file(name, bytes);
      const error = await readAudio(path).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(AudioError);
      const message = (error as AudioError).message;
      expect(message.startsWith(`${path}: `)).toBe(true);
      expect(message).not.toMatch(/\n/);
      expect(message).toMatch(problem);
      expect((error as AudioError).file).toBe(path);
    });
  }

  it('a missing file', async () => {
    const path = join(dir, 'does-not-exist.wav');
    await expect(readAudio(path)).rejects.toThrow(`${path}: cannot read file (ENOENT)`);
  });
});

describe('paths that are not regular files', () => {
  it('a FIFO is refused without blocking', { timeout: 10_000 }, async () => {
    const fifo = join(dir, 'pipe.wav');
    execFileSync('mkfifo', [fifo]);
    await expect(readAudio(fifo)).rejects.toThrow(`${fifo}: a FIFO, not a regular file: not opened`);
  });

  it('a folder is refused', async () => {
    await expect(readAudio(dir)).rejects.toThrow(`${dir}: a folder, not a regular file: not opened`);
  });

  it('a name that was not valid UTF-8 says so, not "no such file"', async () => {
    writeFileSync(
      Buffer.concat([Buffer.from(join(dir, 'caf')), Buffer.from([0xe9]), Buffer.from('.wav')]),
      new Uint8Array(10),
    );
    const name = readdirSync(dir).find((n) => n.startsWith('caf'))!;
    await expect(readAudio(join(dir, name))).rejects.toThrow(
      /caf\uFFFD\.wav: cannot open: the file name is not valid UTF-8 \(rename the file\)$/,
    );
  });
});

describe('FLAC scaling', () => {
  it('FLAC and WAV give the same float for every 16-bit integer and for 24-bit integers across the whole range', async () => {
    for (const [bits, step] of [
      [16, 1],
      [24, 61],
    ] as const) {
      const max = 2 ** (bits - 1);
      const ints = new Int32Array(Math.ceil((2 * max) / step));
      for (let i = 0; i < ints.length; i++) ints[i] = -max + i * step;
      ints[ints.length - 1] = max - 1;
      const flac = await decodeAudio(encodeFlacVerbatim([ints], 16000, bits, 4096), 'all.flac');
      const wav = await decodeAudio(wavBytes([ints], 16000, String(bits)), 'all.wav');
      let wrong = 0;
      for (let i = 0; i < ints.length; i++)
        if (flac.channels[0][i] !== wav.channels[0][i] || wav.channels[0][i] !== ints[i] / max) wrong++;
      expect(wrong, `${bits}-bit: samples that differ`).toBe(0);
    }
  });
});

describe('RF64', () => {
  /** The RIFF file `riff` (fmt then data, as wavefile writes it) rewritten as RF64 with a ds64 chunk, as libsndfile writes big files. */
  function toRf64(riff: Uint8Array, trailer = new Uint8Array(0)): Uint8Array {
    const view = new DataView(riff.buffer, riff.byteOffset, riff.byteLength);
    const fmtSize = view.getUint32(16, true);
    const fmt = riff.subarray(12, 20 + fmtSize);
    const dataSize = view.getUint32(20 + fmtSize + 4, true);
    const samples = riff.subarray(20 + fmtSize + 8, 20 + fmtSize + 8 + dataSize);
    const out = new Uint8Array(12 + 36 + fmt.length + 8 + samples.length + trailer.length);
    const v = new DataView(out.buffer);
    out.set(new TextEncoder().encode('RF64'), 0);
    v.setUint32(4, 0xffffffff, true);
    out.set(new TextEncoder().encode('WAVEds64'), 8);
    v.setUint32(16, 28, true);
    v.setBigUint64(20, BigInt(out.length - 8), true); // RIFF size
    v.setBigUint64(28, BigInt(samples.length), true); // data size
    v.setBigUint64(36, BigInt(samples.length / 2), true); // sample count
    v.setUint32(44, 0, true); // table length
    out.set(fmt, 48);
    const d = 48 + fmt.length;
    out.set(new TextEncoder().encode('data'), d);
    v.setUint32(d + 4, 0xffffffff, true);
    out.set(samples, d + 8);
    out.set(trailer, d + 8 + samples.length);
    return out;
  }

  it('reads the sizes from the ds64 chunk (data chunk size 0xFFFFFFFF), with or without chunks after the data', async () => {
    const ints = randomInts(2, 3000, 16, 77);
    const riff = wavBytes(ints, 22050, '16');
    const expected = await decodeAudio(riff, 'x.wav');
    for (const trailer of [
      new Uint8Array(0),
      new Uint8Array([...new TextEncoder().encode('LIST'), 4, 0, 0, 0, 1, 2, 3, 4]),
    ]) {
      const rf64 = await decodeAudio(toRf64(riff, trailer), 'big.wav');
      expect(rf64.sampleRate).toBe(22050);
      expect(rf64.channels).toEqual(expected.channels);
    }
  });

  it('a cut-off RF64 file is still reported as truncated, with the ds64 size', async () => {
    const rf64 = toRf64(wavBytes(randomInts(1, 1000, 16, 78), 16000, '16'));
    await expect(decodeAudio(rf64.subarray(0, rf64.length - 100), 'cut.wav')).rejects.toThrow(
      'cut.wav: truncated: data chunk declares 2000 bytes, 1900 present',
    );
  });
});

describe('large files (bounds of src/audio/limits.ts)', () => {
  /** A PCM WAV of random sample words (any bytes are valid 24-bit samples), written fast. */
  function randomWav(channels: number, rate: number, bits: number, frames: number): Uint8Array {
    const blockAlign = channels * (bits / 8);
    const out = new Uint8Array(44 + frames * blockAlign);
    const v = new DataView(out.buffer);
    out.set(new TextEncoder().encode('RIFF'), 0);
    v.setUint32(4, out.length - 8, true);
    out.set(new TextEncoder().encode('WAVEfmt '), 8);
    v.setUint32(16, 16, true);
    v.setUint16(20, 1, true);
    v.setUint16(22, channels, true);
    v.setUint32(24, rate, true);
    v.setUint32(28, rate * blockAlign, true);
    v.setUint16(32, blockAlign, true);
    v.setUint16(34, bits, true);
    out.set(new TextEncoder().encode('data'), 36);
    v.setUint32(40, frames * blockAlign, true);
    for (let i = 44; i < out.length; i += 65536) out.set(randomBytes(Math.min(65536, out.length - i)), i);
    return out;
  }

  it('a multi-channel WAV read block by block gives exactly the mono mix of the whole-file decoder', async () => {
    const bytes = randomWav(6, 96000, 24, 2 * 96000); // 3.5 MB: several 1 MiB blocks
    const whole = await decodeAudio(bytes, 'six.wav');
    const streamed = await readAudio(file('six.wav', bytes));
    expect(streamed.sampleRate).toBe(96000);
    expect(streamed.samples).toEqual(mixToMono(whole.channels));
  });

  it('a multi-channel FLAC mixed to mono as it decodes gives exactly the mono mix of its channels, with or without a declared total', async () => {
    const bytes = encodeFlacVerbatim(randomInts(3, 20000, 24, 33), 48000, 24, 4096);
    const expected = mixToMono((await decodeAudio(bytes, 'three.flac')).channels);
    const unknownTotal = bytes.slice();
    unknownTotal[8 + 13] &= 0xf0; // STREAMINFO total samples = 0: "unknown"
    unknownTotal.fill(0, 8 + 14, 8 + 18);
    for (const [name, b] of [
      ['three.flac', bytes],
      ['no-total.flac', unknownTotal],
    ] as const) {
      const r = await readAudio(file(name, b));
      expect(r.sampleRate).toBe(48000);
      expect(r.samples).toEqual(expected);
    }
  });

  it('reading a 10 s 6-channel 96 kHz 24-bit WAV (17 MB) takes about its mono mix (4 MB) of memory, not the whole file several times', () => {
    const path = file('big.wav', randomWav(6, 96000, 24, 10 * 96000));
    const script = `
      const { readAudio } = await import(${JSON.stringify(new URL('../src/audio/read.ts', import.meta.url).href)});
      const before = process.resourceUsage().maxRSS;
      const { samples } = await readAudio(${JSON.stringify(path)});
      console.log(JSON.stringify({ grewKiB: process.resourceUsage().maxRSS - before, n: samples.length }));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    const { grewKiB, n } = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { grewKiB: number; n: number };
    expect(n).toBe(960000);
    expect(grewKiB / 1024).toBeLessThan(32); // reading it whole took ~170 MB (bytes, a copy, float64 interleaved, channels)
  });

  it('files over the stated limits are refused from their header and size, before anything is allocated', async () => {
    // sparse files: the sizes are claimed, not written
    const flac = join(dir, 'huge.flac');
    writeFileSync(flac, encodeFlacVerbatim(randomInts(1, 100, 16, 3), 16000, 16, 1024));
    truncateSync(flac, 600 * 2 ** 20);
    await expect(readAudio(flac)).rejects.toThrow(
      `${flac}: 600 MiB: FLAC, MP3, Ogg and compressed WAV files are read whole, up to 512 MiB (split the file, or convert it to PCM WAV)`,
    );

    const wav = wavBytes([[1, 2]], 16000, '16');
    const frames = 2 ** 28 + 1;
    new DataView(wav.buffer, wav.byteOffset).setUint32(40, frames * 2, true); // the data chunk's size
    const long = join(dir, 'long.wav');
    writeFileSync(long, wav);
    truncateSync(long, 44 + frames * 2);
    await expect(readAudio(long)).rejects.toThrow(
      /long\.wav: too long: 268435457 frames \(279\.6 min\) exceed the limit of 268435456 frames per file \(280 min at 16000 Hz\); split the file$/,
    );
  });
});
