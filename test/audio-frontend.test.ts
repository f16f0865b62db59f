/**
 * The log-mel front end against an independent float64 implementation written here from the
 * definitions (not from models/frontend.ts):
 *  - window: sin²(πn/N), which equals the periodic Hann ½ − ½cos(2πn/N) of torch.hann_window;
 *  - STFT: a direct O(N²) DFT of every frame, with angles reduced mod N;
 *  - mel filters: the slaney mel scale written as mel(f) = 3f/200 below 1 kHz and
 *    15 + log_{6.4^(1/27)}(f/1000) above, triangles written piecewise (rising edge, falling edge),
 *    scaled by 2/(upper − lower) (slaney area normalisation);
 *  - ln(E + 2^−23), then (x + 7.056)/4.193.
 */
import { describe, expect, it } from 'vitest';
import {
  F_MAX,
  F_MIN,
  HOP_LENGTH,
  LMS_MEAN,
  LMS_STD,
  LOG_OFFSET,
  N_FFT,
  N_FREQS,
  N_MELS,
  hannWindow,
  hzToMelSlaney,
  logMelSpectrogram,
  melFilterbank,
  melSpectrogram,
  melToHzSlaney,
  numFrames,
  powerSpectrogram,
} from '../models/frontend';
import { keyFromSeed, normalHost } from '../src/random';

// ── Independent reference ────────────────────────────────────────────────────────────────────────

const refMel = (f: number) => (f < 1000 ? (3 * f) / 200 : 15 + Math.log(f / 1000) / (Math.log(6.4) / 27));
const refHz = (mel: number) => (mel < 15 ? (200 * mel) / 3 : 1000 * 6.4 ** ((mel - 15) / 27));

function refFilterbank(): number[][] {
  const mMin = refMel(F_MIN);
  const mMax = refMel(F_MAX);
  const edges = Array.from({ length: N_MELS + 2 }, (_, j) => refHz(mMin + (j / (N_MELS + 1)) * (mMax - mMin)));
  const bins = Array.from({ length: N_FREQS }, (_, k) => (8000 * k) / (N_FREQS - 1));
  return Array.from({ length: N_MELS }, (_, m) => {
    const [lower, centre, upper] = [edges[m], edges[m + 1], edges[m + 2]];
    return bins.map((f) => {
      let tri = 0;
      if (f > lower && f <= centre) tri = (f - lower) / (centre - lower);
      else if (f > centre && f < upper) tri = (upper - f) / (upper - centre);
      return (tri * 2) / (upper - lower);
    });
  });
}

function refPowerFrames(x: Float64Array): number[][] {
  const T = x.length < N_FFT ? 0 : Math.floor((x.length - N_FFT) / HOP_LENGTH) + 1;
  const w = Array.from({ length: N_FFT }, (_, n) => Math.sin((Math.PI * n) / N_FFT) ** 2);
  const frames: number[][] = [];
  for (let t = 0; t < T; t++) {
    const row: number[] = [];
    for (let k = 0; k < N_FREQS; k++) {
      let re = 0;
      let im = 0;
      for (let n = 0; n < N_FFT; n++) {
        const v = w[n] * x[t * HOP_LENGTH + n];
        const angle = (2 * Math.PI * ((k * n) % N_FFT)) / N_FFT;
        re += v * Math.cos(angle);
        im -= v * Math.sin(angle);
      }
      row.push(re * re + im * im);
    }
    frames.push(row);
  }
  return frames;
}

function refLogMel(x: Float64Array): { values: number[][]; T: number } {
  const fb = refFilterbank();
  const frames = refPowerFrames(x);
  const values = fb.map((filter) =>
    frames.map((p) => {
      let e = 0;
      for (let k = 0; k < N_FREQS; k++) e += filter[k] * p[k];
      return (Math.log(e + 2 ** -23) + 7.056) / 4.193;
    }),
  );
  return { values, T: frames.length };
}

/** A test signal with noise, tones, a chirp, a loud part and a stretch of digital silence. */
function testSignal(nSamples: number): Float32Array {
  const noise = normalHost(keyFromSeed(7), nSamples);
  const x = new Float32Array(nSamples);
  for (let i = 0; i < nSamples; i++) {
    const t = i / 16000;
    const tones = 0.3 * Math.sin(2 * Math.PI * 440 * t) + 0.1 * Math.sin(2 * Math.PI * 3100.5 * t);
    const chirp = 0.2 * Math.sin(2 * Math.PI * (60 * t + 2500 * t * t));
    const quietNoise = 0.01 * noise[i];
    x[i] = i > nSamples * 0.8 ? 0 : tones + chirp + quietNoise;
  }
  return x;
}

// ── Tests ────────────────────────────────────────────────────────────────────────────────────────

describe('front-end constants (MATPAC / torchaudio settings)', () => {
  it('are the official values', () => {
    expect([N_FFT, HOP_LENGTH, N_MELS, F_MIN, F_MAX, N_FREQS]).toEqual([400, 160, 80, 50, 8000, 201]);
    expect(LOG_OFFSET).toBeCloseTo(1.1920929e-7, 13);
    expect([LMS_MEAN, LMS_STD]).toEqual([-7.056, 4.193]);
  });

  it('counts frames without centring: 1 + ⌊(L − 400)/160⌋', () => {
    expect([399, 400, 559, 560, 16000].map((n) => numFrames(n))).toEqual([0, 1, 1, 2, 98]);
  });
});

describe('periodic Hann window', () => {
  it('equals sin²(πn/N) and is periodic (w[0] = 0, w[N/2] = 1, symmetric about N/2)', () => {
    const w = hannWindow(N_FFT);
    for (let n = 0; n < N_FFT; n++) expect(Math.abs(w[n] - Math.sin((Math.PI * n) / N_FFT) ** 2)).toBeLessThan(1e-15);
    expect(w[0]).toBe(0);
    expect(w[200]).toBe(1);
    expect(Math.abs(w[1] - w[399])).toBeLessThan(1e-15);
  });
});

describe('slaney mel scale', () => {
  it('matches the reference and its anchor points', () => {
    for (const f of [0, 50, 200, 999.9, 1000, 1000.1, 2000, 4000, 8000]) {
      expect(hzToMelSlaney(f)).toBeCloseTo(refMel(f), 12);
      expect(melToHzSlaney(hzToMelSlaney(f))).toBeCloseTo(f, 8);
    }
    expect(hzToMelSlaney(1000)).toBeCloseTo(15, 12);
    expect(hzToMelSlaney(50)).toBeCloseTo(0.75, 12);
    expect(hzToMelSlaney(6400)).toBeCloseTo(42, 12); // 1000·6.4^(27/27) → 15 + 27
  });
});

describe('mel filterbank', () => {
  const fb = melFilterbank();
  const ref = refFilterbank();

  it('equals the slaney formulas to 1e-12', () => {
    let maxErr = 0;
    for (let m = 0; m < N_MELS; m++)
      for (let k = 0; k < N_FREQS; k++) maxErr = Math.max(maxErr, Math.abs(fb[m * N_FREQS + k] - ref[m][k]));
    expect(maxErr).toBeLessThan(1e-12);
  });

  it('has unit area (Σ_k M[m,k]·40 Hz ≈ 1) wherever a band spans many bins (the upper 20 bands, 7–14 bins)', () => {
    for (let m = 60; m < N_MELS; m++) {
      let area = 0;
      for (let k = 0; k < N_FREQS; k++) area += fb[m * N_FREQS + k] * 40;
      expect(Math.abs(area - 1)).toBeLessThan(0.02);
    }
  });

  it('has no empty band and no weight outside 50–8000 Hz', () => {
    for (let m = 0; m < N_MELS; m++) {
      const row = fb.subarray(m * N_FREQS, (m + 1) * N_FREQS);
      expect(Math.max(...row)).toBeGreaterThan(0);
    }
    for (let m = 0; m < N_MELS; m++) expect(fb[m * N_FREQS + 0]).toBe(0); // 0 Hz < 50 Hz
  });
});

describe('power STFT', () => {
  it('equals a direct DFT of every frame (relative error < 1e-9)', () => {
    const x = testSignal(400 + 160 * 12);
    const got = powerSpectrogram(x);
    const ref = refPowerFrames(Float64Array.from(x));
    expect(got.nFrames).toBe(13);
    let scale = 0;
    for (const row of ref) for (const v of row) scale = Math.max(scale, v);
    let maxErr = 0;
    for (let t = 0; t < ref.length; t++) {
      for (let k = 0; k < N_FREQS; k++) maxErr = Math.max(maxErr, Math.abs(got.data[k * got.nFrames + t] - ref[t][k]));
    }
    expect(maxErr / scale).toBeLessThan(1e-9);
  });

  it('puts a bin-centred tone in its bin with the expected power (A·ΣW/2)²', () => {
    const f = 40 * 25; // bin 25
    const x = Float64Array.from({ length: 400 }, (_, n) => Math.cos((2 * Math.PI * f * n) / 16000));
    const { data, nFrames } = powerSpectrogram(x);
    expect(nFrames).toBe(1);
    // Σ w[n] = N/2 for the periodic Hann window, and a unit cosine puts half its amplitude in bin 25.
    expect(Math.abs(data[25] / (200 / 2) ** 2 - 1)).toBeLessThan(1e-12);
    expect(data[20] / data[25]).toBeLessThan(1e-20);
  });
});

describe('normalised log-mel', () => {
  it('matches the float64 reference to ≤ 1e-4 in log space (≈1e-6 in practice)', () => {
    const x = testSignal(16000 + 400); // 101 frames, including a silent tail
    const got = logMelSpectrogram(x);
    const ref = refLogMel(Float64Array.from(x));
    expect(got.nMels).toBe(80);
    expect(got.nFrames).toBe(ref.T);
    expect(got.data.length).toBe(80 * ref.T);
    let maxErr = 0;
    for (let m = 0; m < N_MELS; m++) {
      for (let t = 0; t < ref.T; t++)
        maxErr = Math.max(maxErr, Math.abs(got.data[m * got.nFrames + t] - ref.values[m][t]));
    }
    expect(maxErr).toBeLessThan(1e-4);
    expect(maxErr).toBeLessThan(1e-5); // float32 rounding of values of order 1
  });

  it('maps digital silence to (ln ε + 7.056)/4.193', () => {
    const { data } = logMelSpectrogram(new Float32Array(800));
    const expected = (Math.log(2 ** -23) + 7.056) / 4.193;
    for (const v of data) expect(v).toBeCloseTo(expected, 5);
  });

  it('is row-major [80, T] with row 0 the lowest band: a 1 kHz tone peaks in the band centred nearest 1 kHz', () => {
    const x = Float32Array.from({ length: 4000 }, (_, n) => Math.sin((2 * Math.PI * 1000 * n) / 16000));
    const lm = logMelSpectrogram(x);
    const t = 5;
    let best = 0;
    for (let m = 1; m < N_MELS; m++) if (lm.data[m * lm.nFrames + t] > lm.data[best * lm.nFrames + t]) best = m;
    const mMin = refMel(F_MIN);
    const centres = Array.from({ length: N_MELS }, (_, m) =>
      refHz(mMin + ((m + 1) / (N_MELS + 1)) * (refMel(F_MAX) - mMin)),
    );
    const nearest = centres.reduce((b, c, m) => (Math.abs(c - 1000) < Math.abs(centres[b] - 1000) ? m : b), 0);
    expect(Math.abs(best - nearest)).toBeLessThanOrEqual(1);
  });

  it('mel power is the filterbank applied to the power spectrogram', () => {
    const x = testSignal(2000);
    const mel = melSpectrogram(x);
    const pow = powerSpectrogram(x);
    const fb = melFilterbank();
    const m = 37;
    const t = 3;
    let e = 0;
    for (let k = 0; k < N_FREQS; k++) e += fb[m * N_FREQS + k] * pow.data[k * pow.nFrames + t];
    expect(mel.data[m * mel.nFrames + t]).toBeCloseTo(e, 12);
  });

  it('gives 0 frames for a waveform shorter than one window', () => {
    const lm = logMelSpectrogram(new Float32Array(399));
    expect(lm.nFrames).toBe(0);
    expect(lm.data.length).toBe(0);
  });
});
