/**
 * Speech for the pre-training pool: sessions of eSpeak NG speech (src/data/pool/espeak.ts) in many
 * languages and voices, cut into clips.
 *
 * A session is one voice (language + variant, a base rate and pitch) saying a run of phrases, each
 * with its own prosody (rate and pitch changes) and a pause after it; the session's audio is cut into
 * consecutive clips. Phrases are numbers (which eSpeak reads as words of the session's language) and,
 * in languages written in the Latin alphabet, pseudo-words built from syllables, which eSpeak
 * pronounces with the language's rules. English, and half of the voice variants, are kept for the
 * development sets (src/data/devsets.ts) and never occur here.
 */
import { between, intIn, pick } from '../draw';
import { ESPEAK_VARIANTS, speakSsml, xmlText } from './espeak';
import { SR } from './mix';

/** Languages written in the Latin alphabet: phrases of numbers and pseudo-words. */
export const POOL_LATIN_LANGUAGES: readonly string[] = [
  'fr-fr',
  'de',
  'es',
  'it',
  'pt',
  'nl',
  'sv',
  'nb',
  'da',
  'fi',
  'pl',
  'cs',
  'sk',
  'hu',
  'ro',
  'hr',
  'sl',
  'tr',
  'id',
  'sw',
  'et',
  'lv',
  'lt',
  'eu',
  'ca',
  'cy',
  'ga',
  'is',
  'af',
  'eo',
  'la',
  'sq',
  'mt',
  'vi',
  'ms',
  'bs',
  'ia',
  'haw',
  'mi',
  'pt-br',
  'es-419',
];
/** Languages in other scripts: phrases of numbers only (eSpeak reads digits in the language). */
export const POOL_NUMBER_LANGUAGES: readonly string[] = [
  'ru',
  'el',
  'hi',
  'cmn',
  'ar',
  'ja',
  'ko',
  'he',
  'uk',
  'bg',
  'ta',
  'th',
  'fa',
  'bn',
  'ka',
  'hy',
];
export const POOL_LANGUAGES: readonly string[] = [...POOL_LATIN_LANGUAGES, ...POOL_NUMBER_LANGUAGES];
/** The voice variants of the pool: every other one of eSpeak's list (the rest are the development sets'). */
export const POOL_VARIANTS: readonly string[] = ESPEAK_VARIANTS.filter((_, i) => i % 2 === 0);

export interface SpeechPhrase {
  text: string;
  /** Prosody relative to the session's base, in percent. */
  ratePct: number;
  pitchPct: number;
  breakMs: number;
}

export interface SpeechSession {
  language: string;
  variant: string;
  /** Base rate, words per minute, and base pitch 0–99. */
  rate: number;
  pitch: number;
  phrases: SpeechPhrase[];
}

const ONSETS = [
  '',
  'b',
  'd',
  'f',
  'g',
  'k',
  'l',
  'm',
  'n',
  'p',
  'r',
  's',
  't',
  'v',
  'z',
  'ch',
  'sh',
  'br',
  'tr',
  'pl',
  'st',
  'kr',
  'gl',
  'j',
  'h',
];
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'a', 'e', 'o', 'ai', 'ou', 'ie', 'y'];
const CODAS = ['', '', '', 'n', 'r', 's', 'l', 'm', 't', 'k'];

function pseudoWord(draw: () => number): string {
  const syllables = intIn(draw(), 1, 4);
  let w = '';
  for (let s = 0; s < syllables; s++) w += pick(draw(), ONSETS) + pick(draw(), VOWELS) + pick(draw(), CODAS);
  return w;
}

function number(draw: () => number): string {
  return String(intIn(draw(), 0, pick(draw(), [9, 99, 999, 9999, 999999])));
}

/** Plan a session of `phrases` phrases in one of `languages`, with one of `variants`. */
export function planSpeechSession(
  draw: () => number,
  phrases: number,
  languages: readonly string[],
  variants: readonly string[],
): SpeechSession {
  const language = pick(draw(), languages);
  const latin = !POOL_NUMBER_LANGUAGES.includes(language);
  const out: SpeechPhrase[] = [];
  for (let p = 0; p < phrases; p++) {
    const tokens = intIn(draw(), 1, 5);
    const words: string[] = [];
    for (let w = 0; w < tokens; w++) words.push(latin && draw() < 0.7 ? pseudoWord(draw) : number(draw));
    out.push({
      text: words.join(' '),
      ratePct: Math.round(between(draw(), 70, 145)),
      pitchPct: Math.round(between(draw(), -35, 35)),
      breakMs: Math.round(between(draw(), 80, 900)),
    });
  }
  return {
    language,
    variant: pick(draw(), variants),
    rate: Math.round(between(draw(), 110, 230)),
    pitch: Math.round(between(draw(), 15, 85)),
    phrases: out,
  };
}

/** The SSML document of a session. */
export function sessionSsml(s: SpeechSession): string {
  const body = s.phrases
    .map(
      (p) =>
        `<prosody rate="${p.ratePct}%" pitch="${p.pitchPct >= 0 ? '+' : ''}${p.pitchPct}%">${xmlText(p.text)}</prosody><break time="${p.breakMs}ms"/>`,
    )
    .join('');
  return `<speak>${body}</speak>`;
}

/**
 * Speak a session and cut it into `clips` consecutive clips of `durationSec` (the last ones padded
 * with silence if the session is shorter).
 */
export async function renderSpeechSession(
  s: SpeechSession,
  clips: number,
  durationSec: number,
): Promise<Float32Array[]> {
  const audio = await speakSsml(`${s.language}+${s.variant}`, sessionSsml(s), {
    rate: s.rate,
    pitch: s.pitch,
    maxSec: clips * durationSec,
  });
  const n = Math.round(durationSec * SR);
  return Array.from({ length: clips }, (_, c) => {
    const clip = new Float32Array(n);
    clip.set(audio.subarray(Math.min(audio.length, c * n), Math.min(audio.length, (c + 1) * n)));
    return clip;
  });
}
