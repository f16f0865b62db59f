/**
 * The Kaiser-windowed sinc resampler: its Bessel function, its output against the band-limited
 * interpolation formula evaluated directly (sample by sample, in float64, written from torchaudio's
 * documented math rather than from the polyphase code), and its pass-band / stop-band behaviour on sines.
 */
import { describe, expect, it } from 'vitest';
import { besselI0, MATPAC_RESAMPLE, resample, sincResampleKernel } from '../src/audio/resample';
import { keyFromSeed, normalHost } from '../src/random';

const { lowpassFilterWidth: W, rolloff, beta } = MATPAC_RESAMPLE;

/** I0 by its integral form (1/π)∫₀^π e^(x cos θ) dθ; the trapezoid rule converges fast on this periodic integrand. */
function i0Integral(x: number): number {
  const n = 2000;
  let s = 0;
  for (let j = 0; j < n; j++) s += Math.exp(x * Math.cos((Math.PI * (j + 0.5)) / n));
  return s / n;
}

/**
 * y[o] = Σ_s x[s] · (c/orig) · sinc(c·(s/orig − o/new)) · kaiser, with c = min(orig, new)·rolloff (Hz) —
 * the ideal reconstruction low-passed at c/2 Hz and sampled at o/new seconds, truncated to W zero
 * crossings on each side by a Kaiser window I0(β√(1 − (u/W)²))/I0(β), u = c·(s/orig − o/new).
 */
function directResample(x: Float64Array, orig: number, next: number, outIndex: number): number {
  const c = Math.min(orig, next) * rolloff;
  let acc = 0;
  for (let s = 0; s < x.length; s++) {
    const u = c * (s / orig - outIndex / next);
    if (Math.abs(u) >= W) continue;
    const sinc = u === 0 ? 1 : Math.sin(Math.PI * u) / (Math.PI * u);
    const kaiser = i0Integral(beta * Math.sqrt(1 - (u / W) ** 2)) / i0Integral(beta);
    acc += x[s] * (c / orig) * sinc * kaiser;
  }
  return acc;
}

const sine = (f: number, sr: number, n: number, phase = 0) =>
  Float32Array.from({ length: n }, (_, i) => Math.sin(2 * Math.PI * f * (i / sr) + phase));

function rms(y: Float32Array, from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i++) s += y[i] * y[i];
  return Math.sqrt(s / (to - from));
}

describe('besselI0', () => {
  it('matches the integral form of I0 and known values', () => {
    for (const x of [0, 0.5, 1, 3, 7.5, beta, 20])
      expect(Math.abs(besselI0(x) / i0Integral(x) - 1)).toBeLessThan(1e-13);
    expect(besselI0(0)).toBe(1);
    expect(besselI0(1)).toBeCloseTo(1.2660658777520082, 14);
  });
});

describe('sincResampleKernel', () => {
  it('reduces the rates by their gcd and sizes the filters as torchaudio', () => {
    const k = sincResampleKernel(44100, 16000);
    expect([k.p, k.q]).toEqual([441, 160]);
    expect(k.width).toBe(Math.ceil((64 * 441) / (160 * rolloff))); // 187
    expect(k.taps).toBe(2 * k.width + 441);
    expect(k.kernel.length).toBe(160 * k.taps);
    const up = sincResampleKernel(8000, 16000);
    expect([up.p, up.q, up.width]).toEqual([1, 2, Math.ceil(64 / rolloff)]);
  });

  it('rejects non-integer or non-positive rates', () => {
    expect(() => sincResampleKernel(44100.5, 16000)).toThrow(/integers/);
    expect(() => sincResampleKernel(0, 16000)).toThrow(/positive/);
  });
});

describe('resample', () => {
  const noise = Float32Array.from(normalHost(keyFromSeed(3), 3000), (v) => 0.3 * v);

  for (const [orig, next] of [
    [44100, 16000],
    [48000, 16000],
    [22050, 16000],
    [8000, 16000],
    [11025, 16000],
  ] as const) {
    it(`${orig} → ${next} Hz equals the direct band-limited interpolation formula`, () => {
      const y = resample(noise, orig, next);
      expect(y.length).toBe(Math.ceil((next * noise.length) / orig));
      const x64 = Float64Array.from(noise);
      // Output points at the start (zero padding), in the middle, and at the end.
      for (const o of [0, 1, 7, Math.floor(y.length / 2), Math.floor(y.length / 2) + 3, y.length - 2, y.length - 1]) {
        expect(Math.abs(y[o] - directResample(x64, orig, next, o))).toBeLessThan(2e-6);
      }
    });
  }

  it('returns a copy when the rates are equal', () => {
    const y = resample(noise, 16000, 16000);
    expect(y).toEqual(noise);
    expect(y).not.toBe(noise);
  });

  it('passes tones below the cut-off unchanged (44.1 kHz → 16 kHz: 1 and 7 kHz within 1e-6)', () => {
    for (const f of [1000, 7000]) {
      const y = resample(sine(f, 44100, 44100), 44100, 16000);
      const ideal = sine(f, 16000, y.length);
      let err = 0;
      for (let i = 800; i < y.length - 800; i++) err = Math.max(err, Math.abs(y[i] - ideal[i]));
      expect(err).toBeLessThan(1e-6);
    }
  });

  it('removes tones above the new Nyquist frequency instead of aliasing them (below −120 dB)', () => {
    for (const [sr, f] of [
      [44100, 8200],
      [44100, 9000],
      [48000, 9000],
      [48000, 12000],
      [22050, 8500],
    ] as const) {
      const y = resample(sine(f, sr, sr, 0.3), sr, 16000);
      expect(rms(y, 800, y.length - 800)).toBeLessThan(Math.SQRT1_2 * 1e-6);
    }
  });

  it('rolls off between 7 kHz and 8.2 kHz around the cut-off 0.9476 × 8 kHz ≈ 7.58 kHz', () => {
    const gain = (f: number) => rms(resample(sine(f, 44100, 44100, 0.3), 44100, 16000), 800, 15200) / Math.SQRT1_2;
    expect(gain(7300)).toBeGreaterThan(0.9);
    expect(gain(7300)).toBeLessThan(0.999);
    expect(gain(7700)).toBeLessThan(0.5);
    expect(gain(7700)).toBeGreaterThan(0.01);
  });

  it('upsamples 8 kHz → 16 kHz without images (a 3 kHz tone stays a pure 3 kHz tone)', () => {
    const y = resample(sine(3000, 8000, 8000), 8000, 16000);
    expect(y.length).toBe(16000);
    const ideal = sine(3000, 16000, 16000);
    let err = 0;
    for (let i = 800; i < 15200; i++) err = Math.max(err, Math.abs(y[i] - ideal[i]));
    expect(err).toBeLessThan(1e-6);
  });
});
