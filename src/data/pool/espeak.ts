/**
 * Speech from eSpeak NG (the `espeak-ng` npm package: the espeak-ng command line compiled to
 * WebAssembly, with its voice data embedded; GPL-3.0, used as a separate program that writes WAV).
 *
 * Each call runs the program once in a fresh WebAssembly instance (the module is compiled once per
 * process): `-m` reads SSML, so one call speaks a whole session of phrases — prosody (rate, pitch)
 * changing per phrase, breaks between them — and the instance start-up (≈ 0.3–1 s, mostly
 * creating the embedded voice files) is paid once per session, not per word. The 22.05 kHz output
 * (16-bit mono WAV) is resampled to 16 kHz with the project's resampler, with 16 zero crossings
 * instead of 64 (training data, not a measurement: 4× cheaper, and speech has little energy near
 * the cut-off).
 *
 * eSpeak seeds its noise generator (the breath noise of voices such as `+sandro` or `+victor`) from
 * the clock (`espeak_srand(time(NULL))` in speech.c), so the same call would give different samples
 * from one second to the next. The instance's wall clock is replaced by a fixed time derived from
 * the call's arguments (not from the program's path, which the glue code puts in front of them):
 * the same call gives the same samples in every process, from every folder, on every machine
 * (test/pool.test.ts).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { applyResampleKernel, MATPAC_RESAMPLE, sincResampleKernel, type ResampleKernel } from '../../audio/resample';

/** eSpeak NG's output rate. */
export const ESPEAK_SAMPLE_RATE = 22050;

/**
 * Voice variants shipped with espeak-ng's data (`espeak-ng --voices=variant`), less the Klatt ones
 * (this build has no Klatt synthesiser). Pool and development sets split them (src/data/devsets.ts).
 */
export const ESPEAK_VARIANTS: readonly string[] = (
  'adam Alex Alicia Andrea Andy Annie antonio aunty belinda benjamin boris caleb david Demonic Denis Diogo ed edward ' +
  'edward2 Gene Gene2 gustave announcer Henrique Hugo ian iven iven2 iven3 iven4 Jacky john kaukovalta Lee linda marcelo ' +
  'Marco Mario max Michael michel miguel Mike mike2 serious Nguyen pablo paul pedro quincy Reed RicishayMax RicishayMax2 ' +
  'RicishayMax3 rob robert robosoft robosoft2 robosoft3 robosoft4 robosoft5 robosoft6 robosoft7 robosoft8 steph steph2 ' +
  'steph3 Tweaky UniRobot zac anika anikaRobot AnxiousAndy fast f1 f2 f3 f4 f5 whisperf grandpa m1 m2 m3 m4 m5 m6 m7 m8 ' +
  'norbert sandro shelby travis victor whisper croak grandma'
).split(' ');

type EspeakModule = { FS: { readFile(path: string): Uint8Array } };
type EspeakFactory = (opts: Record<string, unknown>) => Promise<EspeakModule>;

let loaded: Promise<{ factory: EspeakFactory; wasm: WebAssembly.Module }> | undefined;

/** Where the optional `espeak-ng` package is, or why speech cannot be rendered (one line). */
function resolveEspeak(): { main: string } | { missing: string } {
  try {
    return { main: createRequire(import.meta.url).resolve('espeak-ng') };
  } catch {
    return {
      missing:
        'speech needs the optional package espeak-ng (GPL-3.0; npm installs it by default, but it is missing ' +
        'here, e.g. after `npm install --omit=optional`): npm install espeak-ng@1.0.2',
    };
  }
}

/** Why speech (the pool's speech and mixtures, the spoken-digits set) cannot be rendered here, if it cannot. */
export function speechUnavailable(): string | undefined {
  const r = resolveEspeak();
  return 'missing' in r ? r.missing : undefined;
}

function load() {
  loaded ??= (async () => {
    const r = resolveEspeak();
    if ('missing' in r) throw new Error(r.missing);
    const factory = ((await import(r.main)) as { default: EspeakFactory }).default;
    const wasm = await WebAssembly.compile(readFileSync(join(r.main, '..', 'espeak-ng.wasm')));
    return { factory, wasm };
  })();
  return loaded;
}

let kernel: ResampleKernel | undefined;

/**
 * Speak an SSML document with `voice` (a language, optionally `+variant`, e.g. `fr-fr+m3`) at a base
 * rate (words per minute) and pitch (0–99); returns 16 kHz mono samples (only the first `maxSec`
 * seconds, when given). Throws (one line) when
 * eSpeak reports an error or writes no audio.
 */
export async function speakSsml(
  voice: string,
  ssml: string,
  opts: { rate?: number; pitch?: number; maxSec?: number } = {},
): Promise<Float32Array> {
  const { factory, wasm } = await load();
  const errors: string[] = [];
  const args = [
    '-m',
    '-v',
    voice,
    '-s',
    String(Math.round(opts.rate ?? 175)),
    '-p',
    String(Math.round(opts.pitch ?? 50)),
    '-w',
    '/out.wav',
    ssml,
  ];
  // The instance creates hundreds of embedded files and probes paths that do not exist; each probe
  // builds an Error whose stack trace is most of the start-up time. Nothing reads those stacks.
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  // (the glue code puts the program's path in front of the arguments it is given: it gets a copy)
  const wallMs = fixedTimeMs(args);
  let mod: EspeakModule;
  try {
    mod = await factory({
      arguments: [...args],
      print: () => {},
      printErr: (s: string) => void (s.includes('program exited') || errors.push(s.trim())),
      instantiateWasm: (
        imports: WebAssembly.Imports,
        done: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void,
      ) => {
        const clock = { ...imports, env: { ...imports.env, emscripten_date_now: () => wallMs } };
        void WebAssembly.instantiate(wasm, clock).then((instance) => done(instance, wasm));
        return {};
      },
    });
  } finally {
    Error.stackTraceLimit = limit;
  }
  let bytes: Uint8Array;
  try {
    bytes = mod.FS.readFile('/out.wav');
  } catch {
    throw new Error(`espeak-ng (voice ${voice}) wrote no audio${errors.length ? `: ${errors.join(' ').trim()}` : ''}`);
  }
  const keep = opts.maxSec === undefined ? Infinity : Math.ceil((opts.maxSec + 0.01) * ESPEAK_SAMPLE_RATE);
  const mono = pcm16Mono(bytes, voice).subarray(0, keep);
  if (mono.length === 0)
    throw new Error(
      `espeak-ng (voice ${voice}) wrote an empty file${errors.length ? `: ${errors.join(' ').trim()}` : ''}`,
    );
  kernel ??= sincResampleKernel(ESPEAK_SAMPLE_RATE, 16000, { ...MATPAC_RESAMPLE, lowpassFilterWidth: 16 });
  return applyResampleKernel(mono, kernel);
}

/** The wall-clock time eSpeak sees: whole seconds from a 31-bit FNV-1a hash of its arguments. */
function fixedTimeMs(args: readonly string[]): number {
  let h = 0x811c9dc5;
  for (const ch of args.join('\0')) h = Math.imul(h ^ ch.codePointAt(0)!, 0x01000193) >>> 0;
  return (h >>> 1) * 1000;
}

/** The samples of eSpeak's WAV output (RIFF, 16-bit PCM mono at 22.05 kHz), as floats v/32768. */
function pcm16Mono(bytes: Uint8Array, voice: string): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (at: number) => String.fromCharCode(...bytes.subarray(at, at + 4));
  if (bytes.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE')
    throw new Error(`espeak-ng (voice ${voice}): output is not a WAV file`);
  let at = 12;
  let format: { channels: number; rate: number; bits: number } | undefined;
  while (at + 8 <= bytes.length) {
    const id = tag(at);
    const size = view.getUint32(at + 4, true);
    if (id === 'fmt ')
      format = {
        channels: view.getUint16(at + 10, true),
        rate: view.getUint32(at + 12, true),
        bits: view.getUint16(at + 22, true),
      };
    if (id === 'data') {
      if (!format || format.channels !== 1 || format.bits !== 16 || format.rate !== ESPEAK_SAMPLE_RATE)
        throw new Error(
          `espeak-ng (voice ${voice}): expected 16-bit mono ${ESPEAK_SAMPLE_RATE} Hz output, got ${JSON.stringify(format)}`,
        );
      // eSpeak may leave the size of a streamed data chunk unset: read to the end of the file
      const n = Math.floor(Math.min(size, bytes.length - at - 8) / 2);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getInt16(at + 8 + 2 * i, true) / 32768;
      return out;
    }
    at += 8 + size + (size & 1);
  }
  throw new Error(`espeak-ng (voice ${voice}): WAV output has no data chunk`);
}

/** Escape text for an SSML element. */
export const xmlText = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
