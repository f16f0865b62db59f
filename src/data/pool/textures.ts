/**
 * Procedural sound textures of the pre-training pool: environmental-sound-like signals built from a
 * few synthesis families, each drawn with random parameters from a key.
 *
 *   noise-band  band-pass filtered noise (white/pink/brown), centre fixed or gliding, with a slow
 *               amplitude envelope (wind, surf, hiss, rumble)
 *   impacts     struck objects: a short noise click exciting 1–5 exponentially damped modes, at
 *               random or periodic times (knocks, drops, taps)
 *   chirps      frequency sweeps (linear or exponential, up or down, 1–4 harmonics), repeated
 *   fm-tones    two-operator FM notes (carrier:modulator ratio, decaying index) in a sequence
 *   am-tones    harmonic tones with tremolo (amplitude modulation) and vibrato
 *
 * Any of them may be placed in a synthetic room (a reverberant tail, src/data/pool/mix.ts). The
 * development sets use other families (src/data/dev-textures.ts); the two lists must not meet.
 */
import { between, intIn, pick } from '../draw';
import { addInto, addMode, bandpass, fadeEnds, noise, normalisePeak, reverb, SR, type NoiseColour } from './mix';

export const POOL_TEXTURE_FAMILIES = ['noise-band', 'impacts', 'chirps', 'fm-tones', 'am-tones'] as const;
export type PoolTextureFamily = (typeof POOL_TEXTURE_FAMILIES)[number];

const logBetween = (u: number, lo: number, hi: number) => lo * (hi / lo) ** u;

function noiseBand(n: number, draw: () => number): Float32Array {
  const colour = pick<NoiseColour>(draw(), ['white', 'pink', 'brown']);
  const f0 = logBetween(draw(), 80, 6000);
  const f1 = draw() < 0.5 ? f0 : logBetween(draw(), 80, 6000);
  const q = logBetween(draw(), 0.5, 12);
  const y = bandpass(noise(n, colour, draw), (i) => f0 * (f1 / f0) ** (i / n), q);
  // slow envelope: a sum of two low-frequency sinusoids
  const r1 = between(draw(), 0.05, 1.5);
  const r2 = between(draw(), 0.2, 4);
  const p1 = 2 * Math.PI * draw();
  const p2 = 2 * Math.PI * draw();
  const depth = draw();
  for (let i = 0; i < n; i++) {
    const t = i / SR;
    y[i] *= 1 - (0.5 * depth * (2 + Math.sin(2 * Math.PI * r1 * t + p1) + Math.sin(2 * Math.PI * r2 * t + p2))) / 2;
  }
  return y;
}

function impacts(n: number, draw: () => number): Float32Array {
  const y = new Float32Array(n);
  const periodic = draw() < 0.4;
  const rate = logBetween(draw(), 0.8, 10); // hits per second
  const modes = intIn(draw(), 1, 5);
  const base = logBetween(draw(), 60, 4000);
  const ratios = Array.from({ length: modes }, (_, m) => (m === 0 ? 1 : between(draw(), 1.2, 6.5)));
  const decay = logBetween(draw(), 0.01, 0.6);
  let t = draw() * 0.3;
  for (let hit = 0; hit < 64 && t < n / SR; hit++) {
    const at = Math.floor(t * SR);
    const amp = between(draw(), 0.3, 1);
    for (let m = 0; m < modes; m++)
      addMode(y, at, base * ratios[m], decay / (1 + 0.5 * m), amp / (1 + m), 2 * Math.PI * draw());
    const click = noise(Math.round(0.004 * SR), 'white', draw);
    fadeEnds(click, 0.001);
    addInto(y, click, 0.3 * amp, at);
    t += periodic ? 1 / rate : -Math.log(1 - draw()) / rate;
  }
  return y;
}

function chirps(n: number, draw: () => number): Float32Array {
  const y = new Float32Array(n);
  const len = between(draw(), 0.05, 1.2);
  const gap = between(draw(), 0.02, 1);
  const fa = logBetween(draw(), 100, 5000);
  const fb = logBetween(draw(), 100, 5000);
  const exponential = draw() < 0.5;
  const harmonics = intIn(draw(), 1, 4);
  const m = Math.round(len * SR);
  for (let start = Math.floor(draw() * 0.3 * SR); start < n; start += m + Math.round(gap * SR)) {
    let phase = 0;
    for (let i = 0; i < m && start + i < n; i++) {
      const u = i / m;
      const f = exponential ? fa * (fb / fa) ** u : fa + (fb - fa) * u;
      phase += (2 * Math.PI * f) / SR;
      const env = Math.sin(Math.PI * u);
      let s = 0;
      for (let h = 1; h <= harmonics; h++) if (f * h < 0.45 * SR) s += Math.sin(h * phase) / h;
      y[start + i] += env * s;
    }
  }
  return y;
}

function fmTones(n: number, draw: () => number): Float32Array {
  const y = new Float32Array(n);
  const ratio = pick(draw(), [0.5, 1, 1.41, 2, 3, 3.5, 5, 7]);
  const index = between(draw(), 0.5, 8);
  const noteLen = between(draw(), 0.15, 1.5);
  const indexDecay = logBetween(draw(), 0.05, 2);
  const ampDecay = logBetween(draw(), 0.1, 3);
  let start = Math.floor(draw() * 0.2 * SR);
  for (let note = 0; note < 32 && start < n; note++) {
    const fc = logBetween(draw(), 80, 2000);
    const m = Math.round(noteLen * SR);
    for (let i = 0; i < m && start + i < n; i++) {
      const t = i / SR;
      const env = Math.min(1, t / 0.005) * Math.exp(-t / ampDecay);
      y[start + i] +=
        env *
        Math.sin(2 * Math.PI * fc * t + index * Math.exp(-t / indexDecay) * Math.sin(2 * Math.PI * fc * ratio * t));
    }
    start += m + Math.round(between(draw(), 0, 0.4) * SR);
  }
  return y;
}

function amTones(n: number, draw: () => number): Float32Array {
  const y = new Float32Array(n);
  const f0 = logBetween(draw(), 70, 1500);
  const harmonics = intIn(draw(), 1, 10);
  const rolloff = between(draw(), 0.5, 2);
  const tremRate = logBetween(draw(), 1, 40);
  const tremDepth = draw();
  const vibRate = between(draw(), 3, 8);
  const vibDepth = between(draw(), 0, 0.03);
  const on = Math.floor(draw() * 0.3 * n);
  const off = n - Math.floor(draw() * 0.3 * n);
  let phase = 0;
  for (let i = on; i < off; i++) {
    const t = i / SR;
    phase += (2 * Math.PI * f0 * (1 + vibDepth * Math.sin(2 * Math.PI * vibRate * t))) / SR;
    let s = 0;
    for (let h = 1; h <= harmonics; h++) if (f0 * h < 0.45 * SR) s += Math.sin(h * phase) / h ** rolloff;
    y[i] = s * (1 - tremDepth * 0.5 * (1 + Math.sin(2 * Math.PI * tremRate * t)));
  }
  fadeEnds(y.subarray(on, off), 0.01);
  return y;
}

const RENDER: Record<PoolTextureFamily, (n: number, draw: () => number) => Float32Array> = {
  'noise-band': noiseBand,
  impacts,
  chirps,
  'fm-tones': fmTones,
  'am-tones': amTones,
};

/**
 * One texture clip of `durationSec` from `family`: synthesised, in a room with probability
 * `roomProbability` (RT60 0.2–1.5 s, 20–60% wet), scaled to a random peak in [0.1, 0.9].
 */
export function renderTexture(
  family: PoolTextureFamily,
  durationSec: number,
  draw: () => number,
  roomProbability = 0.4,
): Float32Array {
  const n = Math.round(durationSec * SR);
  let y = RENDER[family](n, draw);
  if (draw() < roomProbability) y = reverb(y, between(draw(), 0.2, 1.5), between(draw(), 0.2, 0.6), draw);
  normalisePeak(y, between(draw(), 0.1, 0.9));
  return y;
}
