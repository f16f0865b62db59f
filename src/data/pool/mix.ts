/**
 * Signal helpers shared by the pool's sources and the development sets: levels in dB, coloured
 * noise, adding one signal into another at a level or a signal-to-noise ratio, a synthetic room
 * (a reverberant tail by convolution with exponentially decaying noise), and peak normalisation.
 * Randomness comes in as explicit uniform draws (`() => number`), so every result is a function of
 * its key.
 */

export const SR = 16000;

export const dbToGain = (db: number): number => 10 ** (db / 20);

/** Root-mean-square level of `x` (0 for silence). */
export function rms(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return x.length ? Math.sqrt(s / x.length) : 0;
}

/** A standard normal draw from two uniforms (Box–Muller). */
export const gauss = (draw: () => number): number =>
  Math.sqrt(-2 * Math.log(1 - draw())) * Math.cos(2 * Math.PI * draw());

export type NoiseColour = 'white' | 'pink' | 'brown';

/**
 * n samples of unit-RMS noise of a colour: white; pink (−3 dB/octave, Paul Kellet's economy filter);
 * brown (−6 dB/octave, a leaky integral of white noise).
 */
export function noise(n: number, colour: NoiseColour, draw: () => number): Float32Array {
  const out = new Float32Array(n);
  let b0 = 0;
  let b1 = 0;
  let b2 = 0;
  let y = 0;
  for (let i = 0; i < n; i++) {
    const w = 2 * draw() - 1;
    if (colour === 'white') out[i] = w;
    else if (colour === 'pink') {
      b0 = 0.99765 * b0 + w * 0.099046;
      b1 = 0.963 * b1 + w * 0.2965164;
      b2 = 0.57 * b2 + w * 1.0526913;
      out[i] = b0 + b1 + b2 + w * 0.1848;
    } else {
      y = 0.995 * y + 0.1 * w;
      out[i] = y;
    }
  }
  const r = rms(out);
  if (r > 0) for (let i = 0; i < n; i++) out[i] /= r;
  return out;
}

/** Add `src` into `dst` from sample `at`, multiplied by `gain` (the part beyond `dst`'s end is dropped). */
export function addInto(dst: Float32Array, src: Float32Array, gain = 1, at = 0): void {
  const end = Math.min(dst.length, at + src.length);
  for (let i = Math.max(0, at); i < end; i++) dst[i] += gain * src[i - at];
}

/**
 * Add `other` into `x` so that its RMS is `db` dB relative to x's RMS (the level of a distractor,
 * or −SNR for noise). Adds nothing when either is silent.
 */
export function addAtRelativeLevel(x: Float32Array, other: Float32Array, db: number, at = 0): void {
  const rx = rms(x);
  const ro = rms(other);
  if (rx > 0 && ro > 0) addInto(x, other, (rx / ro) * dbToGain(db), at);
}

/**
 * A synthetic room: x convolved with a sparse impulse response of exponentially decaying random
 * taps (one every 3–9 ms, random sign; RT60 `rt60` seconds, at most 1 s), mixed wet/dry. At
 * the log-mel's 10 ms hop the sparse tail reads as a dense one, at a tenth of the cost.
 */
export function reverb(x: Float32Array, rt60: number, wet: number, draw: () => number): Float32Array {
  const irLen = Math.max(1, Math.round(Math.min(1, rt60) * SR));
  const taps: { at: number; g: number }[] = [];
  const decay = Math.log(1000) / (rt60 * SR);
  for (let t = Math.round(0.005 * SR); t < irLen; t += 48 + Math.floor(draw() * 96))
    taps.push({ at: t, g: (draw() < 0.5 ? -1 : 1) * Math.exp(-decay * t) });
  let energy = 0;
  for (const tap of taps) energy += tap.g * tap.g;
  const norm = energy > 0 ? 1 / Math.sqrt(energy) : 0;
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = (1 - wet) * x[i];
  for (const tap of taps) {
    const g = wet * tap.g * norm;
    for (let i = tap.at; i < x.length; i++) out[i] += g * x[i - tap.at];
  }
  return out;
}

/** Scale x in place to the given peak (nothing for silence); returns the gain used. */
export function normalisePeak(x: Float32Array, peak: number): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
  if (m === 0) return 1;
  const g = peak / m;
  for (let i = 0; i < x.length; i++) x[i] *= g;
  return g;
}

/** A raised-cosine fade in and out of `sec` seconds at both ends (in place). */
export function fadeEnds(x: Float32Array, sec: number): void {
  const n = Math.min(Math.floor(x.length / 2), Math.round(sec * SR));
  for (let i = 0; i < n; i++) {
    const g = 0.5 - 0.5 * Math.cos((Math.PI * i) / n);
    x[i] *= g;
    x[x.length - 1 - i] *= g;
  }
}

/**
 * A resonant band-pass filter (RBJ cookbook biquad, constant 0 dB peak gain) of centre `hz` and
 * quality `q`; `hzAt(i)` may move the centre per sample (coefficients are then recomputed every 32).
 */
export function bandpass(x: Float32Array, hz: number | ((i: number) => number), q: number): Float32Array {
  const out = new Float32Array(x.length);
  const centre = typeof hz === 'number' ? () => hz : hz;
  let b0 = 0;
  let b2 = 0;
  let a1 = 0;
  let a2 = 0;
  let x1 = 0;
  let x2 = 0;
  let y1 = 0;
  let y2 = 0;
  for (let i = 0; i < x.length; i++) {
    if (i % 32 === 0) {
      const w = (2 * Math.PI * Math.min(0.45 * SR, Math.max(20, centre(i)))) / SR;
      const alpha = Math.sin(w) / (2 * q);
      const a0 = 1 + alpha;
      b0 = alpha / a0;
      b2 = -alpha / a0;
      a1 = (-2 * Math.cos(w)) / a0;
      a2 = (1 - alpha) / a0;
    }
    const y = b0 * x[i] + b2 * x2 - a1 * y1 - a2 * y2;
    x2 = x1;
    x1 = x[i];
    y2 = y1;
    y1 = y;
    out[i] = y;
  }
  return out;
}

/** Add a decaying sinusoid (a mode of a struck object) into `dst` from sample `at`. */
export function addMode(dst: Float32Array, at: number, hz: number, decaySec: number, amp: number, phase = 0): void {
  const n = Math.min(dst.length - at, Math.round(decaySec * 7 * SR));
  const w = (2 * Math.PI * hz) / SR;
  const k = 1 / (decaySec * SR);
  for (let i = 0; i < n; i++) dst[at + i] += amp * Math.exp(-k * i) * Math.sin(w * i + phase);
}

/**
 * The level of a sound while it sounds: the RMS over the 10-ms frames whose energy is within 30 dB
 * of the loudest frame's (a short word in a long clip has a low clip RMS but this level is its own).
 */
export function activeRms(x: Float32Array): number {
  const frame = SR / 100;
  const energies: number[] = [];
  for (let f = 0; f * frame < x.length; f++) {
    let e = 0;
    const end = Math.min(x.length, (f + 1) * frame);
    for (let i = f * frame; i < end; i++) e += x[i] * x[i];
    energies.push(e / (end - f * frame));
  }
  const top = Math.max(0, ...energies);
  const loud = energies.filter((e) => e >= top * 1e-3);
  return loud.length ? Math.sqrt(loud.reduce((a, b) => a + b, 0) / loud.length) : 0;
}
