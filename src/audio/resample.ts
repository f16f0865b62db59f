/**
 * Band-limited resampling with a Kaiser-windowed sinc, the math of torchaudio's
 * `functional.resample(..., resampling_method="sinc_interp_kaiser")` (pytorch/audio,
 * src/torchaudio/functional/functional.py: `_get_sinc_resample_kernel`, `_apply_sinc_resample_kernel`),
 * which MATPAC's preprocessing calls with lowpass_filter_width 64, rolloff 0.9475937167399596 and
 * beta 14.769656459379492 (aurianworld/matpac, training_matpac/data_preprocessing/resample_and_lms.py).
 *
 * With g = gcd(orig, new), p = orig/g, q = new/g, the ideal reconstruction x(τ) = Σ_i x[i]·sinc(τ − i)
 * (τ in input samples) is low-pass filtered at base = min(p, q)·rolloff (in units of 1/g Hz) and
 * sampled at τ = j·p/q. Output sample y[n·q + φ] (phase φ = 0..q−1) is a dot product of the input
 * around n·p with the phase's filter
 *   h_φ[i] = (base/p) · sinc(t) · I0(β·√(1 − (t/W)²)) / I0(β),
 *   t = clamp(base·((i − width)/p − φ/q), −W, W),   i = 0 .. 2·width + p − 1,
 * where W = lowpass_filter_width (number of sinc zero crossings kept on each side),
 * width = ⌈W·p/base⌉, and sinc(t) = sin(πt)/(πt). The input is zero-padded by `width` samples on the
 * left (and enough on the right), and the output is cut to ⌈q·L/p⌉ samples.
 *
 * Everything is computed in float64; the result is rounded to float32.
 */

/** Parameters of the windowed-sinc low-pass filter. */
export interface ResampleOptions {
  /** Number of zero crossings of the sinc kept on each side (torchaudio `lowpass_filter_width`). */
  lowpassFilterWidth: number;
  /** Cut-off as a fraction of the lower Nyquist frequency. */
  rolloff: number;
  /** Kaiser window shape parameter. */
  beta: number;
}

/** The settings of MATPAC's preprocessing (and torchaudio's documented "kaiser_best"). */
export const MATPAC_RESAMPLE: ResampleOptions = {
  lowpassFilterWidth: 64,
  rolloff: 0.9475937167399596,
  beta: 14.769656459379492,
};

/** Modified Bessel function of the first kind, order 0: Σ_k ((x/2)^k / k!)², summed to float64 precision. */
export function besselI0(x: number): number {
  const half = x / 2;
  let term = 1;
  let sum = 1;
  for (let k = 1; k < 500; k++) {
    term *= (half / k) * (half / k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** The polyphase filters of a resampling from `origFreq` to `newFreq` Hz. */
export interface ResampleKernel {
  /** Input step per output block (orig/g). */
  p: number;
  /** Output samples per block (new/g). */
  q: number;
  /** Left zero-padding of the input, in samples. */
  width: number;
  /** Filter length, 2·width + p. */
  taps: number;
  /** Filters row-major [q, taps]: phase φ's filter is kernel[φ·taps .. (φ+1)·taps). */
  kernel: Float64Array;
  /**
   * Per phase, the taps [first[φ], last[φ]) inside the window (|t| < W). The others hold the
   * window's edge value, sinc(±W)·w(±W) ≈ 1e-16 · 4e-6 (torchaudio keeps them; their sum changes
   * an output by ~1e-19 relative), so they are skipped.
   */
  first: Int32Array;
  last: Int32Array;
}

/** Build the Kaiser-windowed sinc filters (torchaudio's `_get_sinc_resample_kernel`, in float64). */
export function sincResampleKernel(
  origFreq: number,
  newFreq: number,
  opts: ResampleOptions = MATPAC_RESAMPLE,
): ResampleKernel {
  if (!Number.isInteger(origFreq) || !Number.isInteger(newFreq) || origFreq <= 0 || newFreq <= 0) {
    throw new Error(`resample: sample rates must be positive integers, got ${origFreq} → ${newFreq}`);
  }
  const { lowpassFilterWidth: w, rolloff, beta } = opts;
  if (!(w > 0)) throw new Error(`resample: lowpassFilterWidth must be positive, got ${w}`);
  const g = gcd(origFreq, newFreq);
  const p = origFreq / g;
  const q = newFreq / g;
  const base = Math.min(p, q) * rolloff;
  const width = Math.ceil((w * p) / base);
  const taps = 2 * width + p;
  const kernel = new Float64Array(q * taps);
  const i0Beta = besselI0(beta);
  const scale = base / p;
  const first = new Int32Array(q).fill(taps);
  const last = new Int32Array(q);
  for (let phase = 0; phase < q; phase++) {
    for (let i = 0; i < taps; i++) {
      let t = ((i - width) / p - phase / q) * base;
      if (Math.abs(t) < w) {
        first[phase] = Math.min(first[phase], i);
        last[phase] = i + 1;
      }
      t = Math.max(-w, Math.min(w, t));
      const r = t / w;
      const window = besselI0(beta * Math.sqrt(Math.max(0, 1 - r * r))) / i0Beta;
      const sinc = t === 0 ? 1 : Math.sin(Math.PI * t) / (Math.PI * t);
      kernel[phase * taps + i] = sinc * window * scale;
    }
  }
  return { p, q, width, taps, kernel, first, last };
}

/** Apply precomputed filters (torchaudio's `_apply_sinc_resample_kernel`): output length ⌈q·L/p⌉. */
export function applyResampleKernel(x: Float32Array | Float64Array, k: ResampleKernel): Float32Array {
  const { p, q, width, taps, kernel, first, last } = k;
  const n = x.length;
  const outLength = Math.ceil((q * n) / p);
  const y = new Float32Array(outLength);
  for (let o = 0; o < outLength; o++) {
    const block = Math.floor(o / q);
    const phase = o - block * q;
    const start = block * p - width; // input index under filter tap 0
    const iLo = Math.max(first[phase], -start);
    const iHi = Math.min(last[phase], n - start);
    const h = phase * taps;
    let acc = 0;
    for (let i = iLo; i < iHi; i++) acc += x[start + i] * kernel[h + i];
    y[o] = acc;
  }
  return y;
}

/** Resample `x` from `origFreq` to `newFreq` Hz (a copy when the rates are equal). */
export function resample(
  x: Float32Array,
  origFreq: number,
  newFreq: number,
  opts: ResampleOptions = MATPAC_RESAMPLE,
): Float32Array {
  if (origFreq === newFreq) return x.slice();
  return applyResampleKernel(x, sincResampleKernel(origFreq, newFreq, opts));
}
