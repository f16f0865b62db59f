/**
 * Music for the pre-training pool, played from a General MIDI SoundFont with spessasynth
 * (src/data/render.ts `renderParts`):
 *
 *   music       one to three parts on programs drawn from all 128 GM programs: a single note, a
 *               melody (a random walk on a major/minor/pentatonic scale), a chord progression (block
 *               or arpeggiated), or a small ensemble (bass line + chords + melody)
 *   percussion  drum-kit patterns on the GM percussion channel (kick/snare/hi-hat grooves with
 *               fills and random kit pieces, 1–2 bars at 70–180 bpm), sometimes with a bass line
 *
 * Pitches stay inside each program's playable range (src/data/instruments.ts). The development sets
 * use other SoundFonts (src/data/devsets.ts).
 */
import type { BasicSoundBank, SpessaSynthProcessor } from 'spessasynth_core';
import { between, intIn, pick } from '../draw';
import { pitchRange } from '../instruments';
import { createSynth, loadSoundBank, renderParts, type NoteEvent, type Part, type SoundBankName } from '../render';

const SCALES = [
  [0, 2, 4, 5, 7, 9, 11],
  [0, 2, 3, 5, 7, 8, 10],
  [0, 2, 4, 7, 9],
  [0, 3, 5, 7, 10],
  [0, 2, 3, 5, 7, 9, 10],
];
const DRUM_CHANNEL = 9;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

export type MusicKind = 'note' | 'melody' | 'chords' | 'ensemble';

export interface MusicPlan {
  kind: MusicKind | 'percussion';
  parts: Part[];
  durationSec: number;
}

/** A part at a level: its velocities scaled by `level` (a channel-volume change would glide from the previous clip's value). */
const atLevel = (notes: NoteEvent[], level: number): NoteEvent[] =>
  notes.map((n) => ({ ...n, velocity: Math.max(1, Math.round(n.velocity * level)) }));

const clampTo = (p: number, [lo, hi]: readonly [number, number]) => {
  let q = p;
  while (q < lo) q += 12;
  while (q > hi) q -= 12;
  return Math.min(hi, Math.max(lo, q));
};

function scaleOf(draw: () => number, program: number) {
  const scale = pick(draw(), SCALES);
  const range = pitchRange(program);
  const root = intIn(draw(), range[0], Math.max(range[0], range[1] - 12));
  const at = (degree: number) =>
    clampTo(
      root + 12 * Math.floor(degree / scale.length) + scale[((degree % scale.length) + scale.length) % scale.length],
      range,
    );
  return { at, range };
}

function melody(draw: () => number, program: number, durationSec: number, beat: number): NoteEvent[] {
  const { at } = scaleOf(draw, program);
  const notes: NoteEvent[] = [];
  let t = r3(draw() * beat);
  let degree = intIn(draw(), 0, 7);
  const legato = between(draw(), 0.5, 1);
  while (t < durationSec - 0.1 && notes.length < 48) {
    const len = beat * pick(draw(), [0.25, 0.5, 0.5, 1, 1, 1.5, 2]);
    if (draw() > 0.1)
      notes.push({
        pitch: at(degree),
        velocity: intIn(draw(), 45, 120),
        onSec: r3(t),
        offSec: r3(Math.min(durationSec, t + len * legato)),
      });
    degree += pick(draw(), [-3, -2, -1, -1, 0, 1, 1, 2, 3, 4]);
    t += len;
  }
  return notes;
}

function chords(draw: () => number, program: number, durationSec: number, beat: number): NoteEvent[] {
  const { at } = scaleOf(draw, program);
  const notes: NoteEvent[] = [];
  const arpeggio = draw() < 0.4;
  const chordLen = beat * pick(draw(), [1, 2, 4]);
  const size = intIn(draw(), 2, 4);
  for (let t = r3(draw() * 0.3); t < durationSec - 0.1; t += chordLen) {
    const rootDegree = pick(draw(), [0, 3, 4, 5, 1, 2, 6]);
    const velocity = intIn(draw(), 45, 115);
    for (let k = 0; k < size; k++) {
      const on = arpeggio ? t + (k * chordLen) / size : t;
      notes.push({
        pitch: at(rootDegree + 2 * k),
        velocity,
        onSec: r3(on),
        offSec: r3(Math.min(durationSec, t + chordLen * 0.95)),
      });
    }
  }
  return notes;
}

/** A music clip: a note, a melody, chords, or an ensemble of 2–3 parts, on random GM programs. */
export function planMusic(draw: () => number, durationSec: number, programs: readonly number[]): MusicPlan {
  const kind = pick<MusicKind>(draw(), ['note', 'melody', 'melody', 'chords', 'ensemble', 'ensemble']);
  const beat = 60 / between(draw(), 60, 180);
  const program = pick(draw(), programs);
  if (kind === 'note') {
    const pitch = intIn(draw(), ...pitchRange(program));
    const on = r3(draw() * 0.5);
    return {
      kind,
      durationSec,
      parts: [
        {
          channel: 0,
          program,
          notes: [
            {
              pitch,
              velocity: intIn(draw(), 40, 127),
              onSec: on,
              offSec: r3(on + between(draw(), 0.2, durationSec - on)),
            },
          ],
        },
      ],
    };
  }
  if (kind === 'melody')
    return { kind, durationSec, parts: [{ channel: 0, program, notes: melody(draw, program, durationSec, beat) }] };
  if (kind === 'chords')
    return { kind, durationSec, parts: [{ channel: 0, program, notes: chords(draw, program, durationSec, beat) }] };
  const parts: Part[] = [
    { channel: 0, program, notes: atLevel(melody(draw, program, durationSec, beat), between(draw(), 0.55, 1.0)) },
  ];
  const chordProgram = pick(draw(), programs);
  parts.push({
    channel: 1,
    program: chordProgram,
    notes: atLevel(chords(draw, chordProgram, durationSec, beat), between(draw(), 0.39, 0.87)),
  });
  if (draw() < 0.6) {
    const bass = intIn(draw(), 32, 39);
    parts.push({
      channel: 2,
      program: bass,
      notes: atLevel(melody(draw, bass, durationSec, beat * 2), between(draw(), 0.47, 0.94)),
    });
  }
  return { kind, durationSec, parts };
}

const KICKS = [35, 36];
const SNARES = [38, 40, 37, 39];
const HATS = [42, 44, 46, 51, 53, 59];
const OTHERS = [
  41, 43, 45, 47, 48, 50, 49, 52, 55, 57, 54, 56, 58, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 73, 74, 75, 76, 77,
  80, 81,
];

/** A drum pattern (plus, sometimes, a bass line) on the GM percussion channel. */
export function planPercussion(draw: () => number, durationSec: number): MusicPlan {
  const beat = 60 / between(draw(), 70, 180);
  const step = beat / pick(draw(), [2, 4, 3]);
  const steps = Math.floor(durationSec / step);
  const kick = pick(draw(), KICKS);
  const snare = pick(draw(), SNARES);
  const hat = pick(draw(), HATS);
  const extra = [pick(draw(), OTHERS), pick(draw(), OTHERS)];
  const pattern = Array.from({ length: 16 }, () => draw());
  const notes: NoteEvent[] = [];
  const density = between(draw(), 0.2, 0.9);
  for (let s = 0; s < steps; s++) {
    const t = r3(s * step + (draw() - 0.5) * 0.01 * step + 0.02);
    const off = r3(t + 0.1);
    const ph = s % 16;
    if (ph % 8 === 0 || pattern[ph] < 0.15)
      notes.push({ pitch: kick, velocity: intIn(draw(), 80, 127), onSec: t, offSec: off });
    if (ph % 8 === 4 || pattern[ph] > 0.9)
      notes.push({ pitch: snare, velocity: intIn(draw(), 70, 127), onSec: t, offSec: off });
    if (draw() < density) notes.push({ pitch: hat, velocity: intIn(draw(), 40, 110), onSec: t, offSec: off });
    if (draw() < 0.12)
      notes.push({ pitch: pick(draw(), extra), velocity: intIn(draw(), 50, 120), onSec: t, offSec: off });
  }
  const parts: Part[] = [{ channel: DRUM_CHANNEL, program: 0, notes }];
  if (draw() < 0.3) {
    const bass = intIn(draw(), 32, 39);
    parts.push({
      channel: 0,
      program: bass,
      notes: atLevel(melody(draw, bass, durationSec, beat), between(draw(), 0.47, 0.87)),
    });
  }
  return { kind: 'percussion', durationSec, parts };
}

const banks = new Map<SoundBankName, Promise<BasicSoundBank>>();

/**
 * A new synthesiser on a shipped SoundFont (the SoundFont is parsed once per process). What a
 * synthesiser plays depends on how long it has been running (its LFOs run on its own clock), so a
 * set of clips is rendered with a synthesiser of its own, in a fixed order: a shard of the pool, a
 * development set.
 */
export async function newSynth(bank: SoundBankName): Promise<SpessaSynthProcessor> {
  let b = banks.get(bank);
  if (!b) {
    b = loadSoundBank(bank);
    banks.set(bank, b);
  }
  return createSynth(await b);
}

/** Render a music or percussion plan. */
export function renderMusic(plan: MusicPlan, synth: SpessaSynthProcessor): Float32Array {
  return renderParts(synth, plan.parts, plan.durationSec).samples;
}

/** Every GM program, 0..127. */
export const ALL_PROGRAMS: readonly number[] = Array.from({ length: 128 }, (_, i) => i);
