/**
 * The General MIDI instrument table the bundled data sets are drawn from: the 16 GM families of 8
 * programs each, a playable pitch range per program (roughly the real instrument's range, so that
 * the SoundFont's recorded samples are not stretched far from where they were recorded), and the
 * NSynth-like instrument families used as the classes of the probe set.
 */

/** The 16 General MIDI program families, in program order (family f holds programs 8f .. 8f+7). */
export const GM_FAMILIES = [
  'piano',
  'chromatic_percussion',
  'organ',
  'guitar',
  'bass',
  'strings',
  'ensemble',
  'brass',
  'reed',
  'pipe',
  'synth_lead',
  'synth_pad',
  'synth_effects',
  'ethnic',
  'percussive',
  'sound_effects',
] as const;

export type GmFamily = (typeof GM_FAMILIES)[number];

/** GM family of a program number 0..127. */
export function gmFamily(program: number): GmFamily {
  return GM_FAMILIES[Math.floor(program / 8)];
}

/**
 * Probe classes: the 11 instrument families of NSynth (Engel et al., 2017), each mapped to the GM
 * programs that belong to it.
 */
export const PROBE_FAMILIES = {
  keyboard: [0, 1, 2, 3, 4, 5, 6, 7],
  mallet: [8, 9, 10, 11, 12, 13],
  organ: [16, 17, 18, 19, 20],
  guitar: [24, 25, 26, 27, 28, 29, 30],
  bass: [32, 33, 34, 35, 36, 37, 38, 39],
  string: [40, 41, 42, 43, 44, 45, 48, 49],
  brass: [56, 57, 58, 59, 60, 61],
  reed: [64, 65, 66, 67, 68, 69, 70, 71],
  flute: [72, 73, 74, 75, 77, 79],
  synth_lead: [80, 81, 82, 83, 84, 86, 87],
  vocal: [52, 53, 54, 85],
} as const satisfies Record<string, readonly number[]>;

export type ProbeFamily = keyof typeof PROBE_FAMILIES;
export const PROBE_FAMILY_NAMES = Object.keys(PROBE_FAMILIES) as ProbeFamily[];

/** Default MIDI pitch range [low, high] of each GM family. */
const FAMILY_RANGE: Record<GmFamily, readonly [number, number]> = {
  piano: [33, 96],
  chromatic_percussion: [60, 96],
  organ: [36, 84],
  guitar: [40, 79],
  bass: [28, 55],
  strings: [36, 84],
  ensemble: [36, 84],
  brass: [41, 79],
  reed: [48, 81],
  pipe: [60, 96],
  synth_lead: [36, 84],
  synth_pad: [36, 84],
  synth_effects: [36, 84],
  ethnic: [50, 84],
  percussive: [48, 84],
  sound_effects: [48, 72],
};

/** Programs whose instrument range differs from its family's default. */
const PROGRAM_RANGE: Readonly<Record<number, readonly [number, number]>> = {
  6: [41, 89], // harpsichord
  7: [36, 84], // clavinet
  9: [72, 105], // glockenspiel
  11: [53, 89], // vibraphone
  12: [45, 96], // marimba
  13: [65, 105], // xylophone
  14: [60, 77], // tubular bells
  15: [48, 84], // dulcimer
  21: [53, 89], // accordion
  22: [60, 84], // harmonica
  31: [52, 84], // guitar harmonics
  38: [28, 60], // synth bass 1
  39: [28, 60], // synth bass 2
  40: [55, 96], // violin
  41: [48, 84], // viola
  42: [36, 72], // cello
  43: [28, 55], // contrabass
  46: [36, 96], // harp
  47: [40, 55], // timpani
  52: [48, 79], // choir aahs
  53: [48, 79], // voice oohs
  54: [48, 84], // synth voice
  55: [48, 72], // orchestra hit
  56: [55, 82], // trumpet
  57: [40, 72], // trombone
  58: [28, 58], // tuba
  59: [55, 82], // muted trumpet
  60: [41, 77], // french horn
  62: [36, 84], // synth brass 1
  63: [36, 84], // synth brass 2
  64: [56, 87], // soprano sax
  65: [49, 81], // alto sax
  66: [44, 76], // tenor sax
  67: [36, 69], // baritone sax
  68: [58, 91], // oboe
  69: [52, 81], // english horn
  70: [34, 72], // bassoon
  71: [50, 91], // clarinet
  72: [74, 102], // piccolo
  76: [60, 84], // blown bottle
  77: [55, 84], // shakuhachi
  78: [72, 96], // whistle
  79: [60, 84], // ocarina
  85: [48, 79], // solo vox
  104: [48, 77], // sitar
  108: [60, 84], // kalimba
  109: [55, 79], // bagpipe
  110: [55, 96], // fiddle
  112: [72, 96], // tinker bell
  113: [60, 80], // agogo
  114: [52, 84], // steel drums
  115: [60, 80], // woodblock
  116: [36, 60], // taiko drum
  117: [40, 70], // melodic tom
  118: [36, 72], // synth drum
};

/** Playable MIDI pitch range [low, high] (inclusive) of a GM program. */
export function pitchRange(program: number): readonly [number, number] {
  if (!Number.isInteger(program) || program < 0 || program > 127)
    throw new Error(`pitchRange: GM program must be 0..127, got ${program}`);
  return PROGRAM_RANGE[program] ?? FAMILY_RANGE[gmFamily(program)];
}

/** Programs 0..119: every melodic GM program except the "sound effects" family (120–127). */
export const PRETRAIN_PROGRAMS: readonly number[] = Array.from({ length: 120 }, (_, i) => i);
