/**
 * MATPAC's audio front end: 16 kHz mono waveform → normalised log-mel spectrogram [80, T].
 *
 * What it computes (all in float64, output rounded to float32):
 *
 *   frames      x_t[n] = s[t·H + n],                    n = 0..N−1,  t = 0..T−1,  T = 1 + ⌊(L − N)/H⌋
 *               (no centring, no padding: torchaudio `center=False`; L = number of samples)
 *   window      w[n] = ½ − ½·cos(2πn/N)                  periodic Hann, as `torch.hann_window(N)`
 *   power STFT  P[k, t] = |Σ_n w[n]·x_t[n]·e^(−2πi·kn/N)|²,   k = 0..N/2 (201 bins)
 *   mel filters M[m, k] (torchaudio `melscale_fbanks`, mel_scale="slaney", norm="slaney"):
 *       slaney mel:  mel(f) = 3f/200                          for f < 1000 Hz
 *                    mel(f) = 15 + 27·ln(f/1000)/ln(6.4)      for f ≥ 1000 Hz
 *       band edges:  f_j = mel⁻¹(mel(f_min) + j·(mel(f_max) − mel(f_min))/(n_mels + 1)), j = 0..n_mels+1
 *       bin freqs:   φ_k = k·(sr/2)/(N/2)
 *       triangle:    M[m, k] = max(0, min((φ_k − f_m)/(f_{m+1} − f_m), (f_{m+2} − φ_k)/(f_{m+2} − f_{m+1})))
 *       area norm:   M[m, k] ← M[m, k] · 2/(f_{m+2} − f_m)
 *   mel power   E[m, t] = Σ_k M[m, k]·P[k, t]
 *   log         ℓ[m, t] = ln(E[m, t] + ε),   ε = 1.1920929e−7 (`torch.finfo(torch.float32).eps`)
 *   normalise   y[m, t] = (ℓ[m, t] − μ)/σ,   μ = −7.056, σ = 4.193
 *
 * with sr = 16000, N = n_fft = win_length = 400 (25 ms), H = hop = 160 (10 ms), f_min = 50, f_max = 8000,
 * n_mels = 80.
 *
 * Sources (read, not copied):
 *  - MATPAC official code, aurianworld/matpac: `training_matpac/data_preprocessing/resample_and_lms.py`
 *    (class `logMelSpectrogram`, a wrapper of `torchaudio.transforms.MelSpectrogram` with the settings
 *    above and `log_offset=torch.finfo().eps`), `training_matpac/data/logmel_dataset.py` (the
 *    (x − lms_mean)/lms_std standardisation with −7.056 / 4.193), `inference_matpac/matpac/model.py`.
 *  - torchaudio `functional.spectrogram`, `melscale_fbanks`, `_hz_to_mel`, `_mel_to_hz`,
 *    `_create_triangular_filterbank` (pytorch/audio, src/torchaudio/functional/functional.py).
 *  - M2D (nttcslab/m2d), whose front end MATPAC inherits except for centring (M2D uses center=True).
 *
 * The DFT of length 400 (not a power of two) is computed with Bluestein's chirp-z algorithm on top of
 * fft.js's radix-4 FFT of length 1024; two real frames share one complex transform. The test
 * (test/audio-frontend.test.ts) checks every stage against a direct O(N²) DFT and the slaney formulas
 * written again independently in float64.
 */
import FFT from 'fft.js';

/** Sample rate the front end expects, in Hz. */
export const SAMPLE_RATE = 16000;
/** FFT length and window length in samples (25 ms). */
export const N_FFT = 400;
/** Hop between frames in samples (10 ms). */
export const HOP_LENGTH = 160;
/** Number of one-sided frequency bins, N_FFT/2 + 1. */
export const N_FREQS = N_FFT / 2 + 1;
/** Number of mel bands. */
export const N_MELS = 80;
/** Lowest and highest mel band edges in Hz. */
export const F_MIN = 50;
/** See F_MIN. */
export const F_MAX = 8000;
/** Offset added before the log: float32 machine epsilon, 2^−23 (`torch.finfo().eps`). */
export const LOG_OFFSET = 2 ** -23;
/** Global standardisation of the log-mel used by MATPAC/M2D: y = (x − LMS_MEAN)/LMS_STD. */
export const LMS_MEAN = -7.056;
/** See LMS_MEAN. */
export const LMS_STD = 4.193;

/** A log-mel spectrogram, row-major [nMels, nFrames]: data[m·nFrames + t]. Row 0 is the lowest band. */
export interface LogMel {
  data: Float32Array;
  nMels: typeof N_MELS;
  nFrames: number;
}

/** Number of STFT frames for a signal of `nSamples` samples without centring (0 if shorter than a window). */
export function numFrames(nSamples: number, nFft = N_FFT, hop = HOP_LENGTH): number {
  return nSamples < nFft ? 0 : 1 + Math.floor((nSamples - nFft) / hop);
}

/** Periodic Hann window of length n, as `torch.hann_window(n)` (periodic=True): ½ − ½cos(2πi/n). */
export function hannWindow(n: number): Float64Array {
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n);
  return w;
}

// ── Slaney mel scale (torchaudio `_hz_to_mel` / `_mel_to_hz` with mel_scale="slaney") ──────────────

const SLANEY_F_SP = 200 / 3; // Hz per mel in the linear part
const SLANEY_MIN_LOG_HZ = 1000;
const SLANEY_MIN_LOG_MEL = SLANEY_MIN_LOG_HZ / SLANEY_F_SP; // 15
const SLANEY_LOGSTEP = Math.log(6.4) / 27;

/** Hz → slaney mel: linear below 1 kHz, logarithmic above. */
export function hzToMelSlaney(f: number): number {
  return f >= SLANEY_MIN_LOG_HZ
    ? SLANEY_MIN_LOG_MEL + Math.log(f / SLANEY_MIN_LOG_HZ) / SLANEY_LOGSTEP
    : f / SLANEY_F_SP;
}

/** Slaney mel → Hz, the inverse of `hzToMelSlaney`. */
export function melToHzSlaney(mel: number): number {
  return mel >= SLANEY_MIN_LOG_MEL
    ? SLANEY_MIN_LOG_HZ * Math.exp(SLANEY_LOGSTEP * (mel - SLANEY_MIN_LOG_MEL))
    : SLANEY_F_SP * mel;
}

/** Options of melFilterbank. */
export interface MelFilterbankOptions {
  nFreqs?: number;
  sampleRate?: number;
  nMels?: number;
  fMin?: number;
  fMax?: number;
}

/**
 * Slaney-scale, slaney-area-normalised triangular mel filterbank, row-major [nMels, nFreqs]
 * (the transpose of torchaudio's `melscale_fbanks(...)`, which is [n_freqs, n_mels]).
 */
export function melFilterbank(opts: MelFilterbankOptions = {}): Float64Array {
  const nFreqs = opts.nFreqs ?? N_FREQS;
  const sampleRate = opts.sampleRate ?? SAMPLE_RATE;
  const nMels = opts.nMels ?? N_MELS;
  const fMin = opts.fMin ?? F_MIN;
  const fMax = opts.fMax ?? F_MAX;

  // Bin centre frequencies: torch.linspace(0, sample_rate // 2, n_freqs).
  const nyquist = Math.floor(sampleRate / 2);
  const binHz = (k: number) => (nFreqs === 1 ? 0 : (k * nyquist) / (nFreqs - 1));
  // nMels + 2 band edges equally spaced on the mel scale.
  const melMin = hzToMelSlaney(fMin);
  const melMax = hzToMelSlaney(fMax);
  const edges = new Float64Array(nMels + 2);
  for (let j = 0; j < nMels + 2; j++) edges[j] = melToHzSlaney(melMin + ((melMax - melMin) * j) / (nMels + 1));

  const fb = new Float64Array(nMels * nFreqs);
  for (let m = 0; m < nMels; m++) {
    const lower = edges[m];
    const centre = edges[m + 1];
    const upper = edges[m + 2];
    const areaNorm = 2 / (upper - lower);
    for (let k = 0; k < nFreqs; k++) {
      const f = binHz(k);
      const rising = (f - lower) / (centre - lower);
      const falling = (upper - f) / (upper - centre);
      fb[m * nFreqs + k] = Math.max(0, Math.min(rising, falling)) * areaNorm;
    }
  }
  return fb;
}

// ── DFT of arbitrary length by Bluestein's algorithm on fft.js ──────────────────────────────────────

/**
 * A plan for the length-n DFT X[k] = Σ_j z[j]·e^(−2πi·jk/n) of a complex sequence, for any n, by
 * Bluestein's identity jk = (j² + k² − (k − j)²)/2:
 *   X[k] = c̄[k] · Σ_j (z[j]·c̄[j]) · c[k − j],   c[j] = e^(iπj²/n),
 * a linear convolution evaluated with a power-of-two FFT of size ≥ 2n − 1.
 */
interface BluesteinPlan {
  n: number;
  fft: FFT;
  /** c̄[j] = e^(−iπj²/n), interleaved re/im, length 2n. */
  chirp: Float64Array;
  /** FFT of the convolution kernel b[m] = c[m] for |m| < n (wrapped), interleaved, length 2M. */
  kernelSpectrum: Float64Array;
  // Work buffers, owned by the plan (a plan is local to one call of the functions below).
  a: Float64Array;
  spectrum: Float64Array;
  product: Float64Array;
  conv: Float64Array;
}

function makeBluesteinPlan(n: number): BluesteinPlan {
  let size = 1;
  while (size < 2 * n - 1) size *= 2;
  size = Math.max(size, 4);
  const fft = new FFT(size);
  const chirp = new Float64Array(2 * n);
  for (let j = 0; j < n; j++) {
    // j² mod 2n keeps the angle small, so cos/sin stay accurate for large j.
    const angle = (Math.PI * ((j * j) % (2 * n))) / n;
    chirp[2 * j] = Math.cos(angle);
    chirp[2 * j + 1] = -Math.sin(angle);
  }
  const kernel = new Float64Array(2 * size);
  for (let j = 0; j < n; j++) {
    const re = chirp[2 * j];
    const im = -chirp[2 * j + 1]; // c[j] = conj(c̄[j])
    kernel[2 * j] = re;
    kernel[2 * j + 1] = im;
    if (j > 0) {
      kernel[2 * (size - j)] = re;
      kernel[2 * (size - j) + 1] = im;
    }
  }
  const kernelSpectrum = new Float64Array(2 * size);
  fft.transform(kernelSpectrum, kernel);
  return {
    n,
    fft,
    chirp,
    kernelSpectrum,
    a: new Float64Array(2 * size),
    spectrum: new Float64Array(2 * size),
    product: new Float64Array(2 * size),
    conv: new Float64Array(2 * size),
  };
}

/** DFT of the complex sequence (re, im) of length plan.n; writes into out (interleaved, length 2n). */
function bluesteinDft(plan: BluesteinPlan, re: Float64Array, im: Float64Array, out: Float64Array): void {
  const { n, fft, chirp, kernelSpectrum, a, spectrum, product, conv } = plan;
  a.fill(0);
  for (let j = 0; j < n; j++) {
    const cr = chirp[2 * j];
    const ci = chirp[2 * j + 1];
    a[2 * j] = re[j] * cr - im[j] * ci;
    a[2 * j + 1] = re[j] * ci + im[j] * cr;
  }
  fft.transform(spectrum, a);
  for (let i = 0; i < product.length; i += 2) {
    const xr = spectrum[i];
    const xi = spectrum[i + 1];
    const kr = kernelSpectrum[i];
    const ki = kernelSpectrum[i + 1];
    product[i] = xr * kr - xi * ki;
    product[i + 1] = xr * ki + xi * kr;
  }
  fft.inverseTransform(conv, product);
  for (let k = 0; k < n; k++) {
    const cr = chirp[2 * k];
    const ci = chirp[2 * k + 1];
    const vr = conv[2 * k];
    const vi = conv[2 * k + 1];
    out[2 * k] = vr * cr - vi * ci;
    out[2 * k + 1] = vr * ci + vi * cr;
  }
}

/**
 * Power spectrogram |STFT|², row-major [nFreqs, nFrames] (k-major like torchaudio's output), float64.
 * Periodic Hann window of N_FFT, hop HOP_LENGTH, no centring. Two real frames are transformed at once
 * as z = x_a + i·x_b: X_a[k] = (Z[k] + conj Z[n−k])/2, X_b[k] = (Z[k] − conj Z[n−k])/(2i).
 */
export function powerSpectrogram(wave: Float32Array | Float64Array): {
  data: Float64Array;
  nFreqs: number;
  nFrames: number;
} {
  const n = N_FFT;
  const nFreqs = N_FREQS;
  const nFrames = numFrames(wave.length);
  const data = new Float64Array(nFreqs * nFrames);
  if (nFrames === 0) return { data, nFreqs, nFrames };

  const window = hannWindow(n);
  const plan = makeBluesteinPlan(n);
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  const z = new Float64Array(2 * n);

  for (let t = 0; t < nFrames; t += 2) {
    const hasSecond = t + 1 < nFrames;
    const offA = t * HOP_LENGTH;
    const offB = (t + 1) * HOP_LENGTH;
    for (let j = 0; j < n; j++) {
      re[j] = window[j] * wave[offA + j];
      im[j] = hasSecond ? window[j] * wave[offB + j] : 0;
    }
    bluesteinDft(plan, re, im, z);
    for (let k = 0; k < nFreqs; k++) {
      const kk = k === 0 ? 0 : n - k;
      const zr = z[2 * k];
      const zi = z[2 * k + 1];
      const wr = z[2 * kk];
      const wi = -z[2 * kk + 1]; // conj Z[n−k]
      // X_a = (Z + conj Z[n−k]) / 2
      const ar = 0.5 * (zr + wr);
      const ai = 0.5 * (zi + wi);
      data[k * nFrames + t] = ar * ar + ai * ai;
      if (hasSecond) {
        // X_b = (Z − conj Z[n−k]) / (2i)  →  re = (zi − wi)/2, im = −(zr − wr)/2
        const br = 0.5 * (zi - wi);
        const bi = -0.5 * (zr - wr);
        data[k * nFrames + t + 1] = br * br + bi * bi;
      }
    }
  }
  return { data, nFreqs, nFrames };
}

/** Mel power spectrogram E = M·P, row-major [N_MELS, nFrames], float64 (before the log). */
export function melSpectrogram(wave: Float32Array | Float64Array): {
  data: Float64Array;
  nMels: number;
  nFrames: number;
} {
  const power = powerSpectrogram(wave);
  const { nFreqs, nFrames } = power;
  const fb = melFilterbank();
  const data = new Float64Array(N_MELS * nFrames);
  for (let m = 0; m < N_MELS; m++) {
    // Each triangle is nonzero on a short run of bins; skip the zeros.
    let kLo = 0;
    while (kLo < nFreqs && fb[m * nFreqs + kLo] === 0) kLo++;
    let kHi = nFreqs - 1;
    while (kHi >= kLo && fb[m * nFreqs + kHi] === 0) kHi--;
    const row = m * nFrames;
    for (let k = kLo; k <= kHi; k++) {
      const weight = fb[m * nFreqs + k];
      const src = k * nFrames;
      for (let t = 0; t < nFrames; t++) data[row + t] += weight * power.data[src + t];
    }
  }
  return { data, nMels: N_MELS, nFrames };
}

/**
 * MATPAC's normalised log-mel spectrogram of a 16 kHz mono waveform: (ln(E + ε) − μ)/σ,
 * row-major [80, T] float32, T = 1 + ⌊(L − 400)/160⌋ (0 when L < 400).
 */
export function logMelSpectrogram(wave16k: Float32Array): LogMel {
  const mel = melSpectrogram(wave16k);
  const data = new Float32Array(mel.data.length);
  for (let i = 0; i < data.length; i++) data[i] = (Math.log(mel.data[i] + LOG_OFFSET) - LMS_MEAN) / LMS_STD;
  return { data, nMels: N_MELS, nFrames: mel.nFrames };
}
