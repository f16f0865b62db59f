/**
 * Procedural sound events of the development sets — families the pre-training pool never draws
 * (its textures are in src/data/pool/textures.ts), so a probe on them measures transfer:
 *
 *   siren     a harmonic tone whose pitch sweeps slowly up and down (wail) or jumps (hi-lo)
 *   rain      dense random droplets: very short band-passed clicks at 50–400 per second
 *   engine    a low pulse train (firing rate 15–60 Hz) through a resonant body, with rpm drift
 *   birdsong  trains of fast whistled syllables (2–7 kHz, up/down sweeps with trills)
 *   alarm     a beeping square-ish tone (on/off at 2–8 Hz), one or two alternating pitches
 *   bubbles   short rising sinusoidal blips (resonant bubbles: 200–1500 Hz, 5–30 per second)
 */
import { between, intIn, pick } from './draw';
import { bandpass, fadeEnds, noise, normalisePeak, SR } from './pool/mix';

export const DEV_TEXTURE_FAMILIES = ['siren', 'rain', 'engine', 'birdsong', 'alarm', 'bubbles'] as const;
export type DevTextureFamily = (typeof DEV_TEXTURE_FAMILIES)[number];

const logBetween = (u: number, lo: number, hi: number) => lo * (hi / lo) ** u;

function siren(n: number, draw: () => number): Float32Array {
  const y = new Float32Array(n);
  const lo = logBetween(draw(), 400, 900);
  const hi = lo * between(draw(), 1.4, 2.2);
  const rate = between(draw(), 0.15, 3);
  const hilo = draw() < 0.4;
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const t = i / SR;
    const u = hilo ? Math.floor(2 * rate * t) % 2 : 0.5 - 0.5 * Math.cos(2 * Math.PI * rate * t);
    phase += (2 * Math.PI * (lo + (hi - lo) * u)) / SR;
    y[i] = Math.sin(phase) + 0.4 * Math.sin(2 * phase) + 0.2 * Math.sin(3 * phase);
  }
  return y;
}

function rain(n: number, draw: () => number): Float32Array {
  const y = new Float32Array(n);
  const rate = logBetween(draw(), 50, 400);
  const centre = logBetween(draw(), 1500, 6000);
  for (let t = 0; t < n / SR; t += -Math.log(1 - draw()) / rate) {
    const at = Math.floor(t * SR);
    const len = intIn(draw(), 20, 80);
    const amp = draw() ** 2;
    for (let i = 0; i < len && at + i < n; i++) y[at + i] += amp * (2 * draw() - 1) * Math.exp(-i / (len / 4));
  }
  return bandpass(y, centre, 0.7);
}

function engine(n: number, draw: () => number): Float32Array {
  const y = new Float32Array(n);
  const f0 = between(draw(), 15, 60);
  const drift = between(draw(), -0.3, 0.3);
  const body = logBetween(draw(), 120, 600);
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const t = i / SR;
    phase += (f0 * (1 + drift * (t / (n / SR)))) / SR;
    const frac = phase - Math.floor(phase);
    y[i] = Math.exp(-frac * 12) * (1 + 0.3 * (2 * draw() - 1));
  }
  return bandpass(y, body, 2);
}

function birdsong(n: number, draw: () => number): Float32Array {
  const y = new Float32Array(n);
  const base = logBetween(draw(), 2000, 5000);
  const sylLen = between(draw(), 0.03, 0.15);
  const gap = between(draw(), 0.02, 0.2);
  const sweep = between(draw(), -0.5, 0.5);
  const trill = between(draw(), 0, 40);
  let t = draw() * 0.3;
  while (t < n / SR) {
    const burst = intIn(draw(), 2, 8);
    for (let b = 0; b < burst && t < n / SR; b++) {
      const at = Math.floor(t * SR);
      const m = Math.round(sylLen * SR);
      const f = base * between(draw(), 0.85, 1.15);
      let phase = 0;
      for (let i = 0; i < m && at + i < n; i++) {
        const u = i / m;
        phase += (2 * Math.PI * f * (1 + sweep * u + 0.05 * Math.sin(2 * Math.PI * trill * u * sylLen))) / SR;
        y[at + i] += Math.sin(Math.PI * u) * (Math.sin(phase) + 0.2 * Math.sin(2 * phase));
      }
      t += sylLen + gap;
    }
    t += between(draw(), 0.2, 0.8);
  }
  return y;
}

function alarm(n: number, draw: () => number): Float32Array {
  const y = new Float32Array(n);
  const f1 = logBetween(draw(), 600, 3000);
  const f2 = draw() < 0.5 ? f1 : f1 * between(draw(), 0.6, 0.9);
  const rate = between(draw(), 2, 8);
  const duty = between(draw(), 0.3, 0.7);
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const t = i / SR;
    const cycle = rate * t;
    const on = cycle - Math.floor(cycle) < duty;
    phase += (2 * Math.PI * (Math.floor(cycle) % 2 ? f2 : f1)) / SR;
    y[i] = on ? Math.tanh(3 * Math.sin(phase)) : 0;
  }
  return y;
}

function bubbles(n: number, draw: () => number): Float32Array {
  const y = new Float32Array(n);
  const rate = between(draw(), 5, 30);
  for (let t = draw() * 0.2; t < n / SR; t += -Math.log(1 - draw()) / rate) {
    const at = Math.floor(t * SR);
    const f = logBetween(draw(), 200, 1500);
    const d = between(draw(), 0.01, 0.05);
    const rise = between(draw(), 0.5, 3);
    let phase = 0;
    for (let i = 0; i < 6 * d * SR && at + i < n; i++) {
      const s = i / SR;
      phase += (2 * Math.PI * f * (1 + ((rise * s) / d) * 0.1)) / SR;
      y[at + i] += Math.exp(-s / d) * Math.sin(phase);
    }
  }
  return y;
}

const RENDER: Record<DevTextureFamily, (n: number, draw: () => number) => Float32Array> = {
  siren,
  rain,
  engine,
  birdsong,
  alarm,
  bubbles,
};

/** One event clip of `durationSec`: the family's sound, faded in and out, at a random peak in [0.2, 0.9]. */
export function renderDevTexture(family: DevTextureFamily, durationSec: number, draw: () => number): Float32Array {
  const y = RENDER[family](Math.round(durationSec * SR), draw);
  fadeEnds(y, 0.02);
  normalisePeak(y, between(draw(), 0.2, 0.9));
  return y;
}

/** A distractor for the development sets: a random development family. */
export const randomDevTexture = (durationSec: number, draw: () => number): Float32Array =>
  renderDevTexture(pick(draw(), DEV_TEXTURE_FAMILIES), durationSec, draw);

/** Unit noise of a random colour (for the development sets' background). */
export const devNoise = (n: number, draw: () => number): Float32Array =>
  noise(n, pick(draw(), ['white', 'pink', 'brown'] as const), draw);
