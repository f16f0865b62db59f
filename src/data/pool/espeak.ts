/**
 * Speech from eSpeak NG (the `espeak-ng` npm package: the espeak-ng command line compiled to
 * WebAssembly, with its voice data embedded; GPL-3.0, used as a separate program that writes WAV).
 *
 * Each call runs the program once in a fresh WebAssembly instance (the module is compiled once per
 * process): `-m` reads SSML, so one call speaks a whole session of phrases — prosody (rate, pitch)
 * changing per phrase, breaks between them — and the instance start-up (≈ 0.3–1 s, mostly
 * creating the embedded voice files) is paid once per session, not per word. The 22.05 kHz output
 * is resampled to 16 kHz with the project's resampler.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { decodeWav } from '../../audio/wav';
import { applyResampleKernel, sincResampleKernel, type ResampleKernel } from '../../audio/resample';

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

function load() {
  loaded ??= (async () => {
    const require = createRequire(import.meta.url);
    const main = require.resolve('espeak-ng');
    const factory = ((await import(main)) as { default: EspeakFactory }).default;
    const wasm = await WebAssembly.compile(readFileSync(join(main, '..', 'espeak-ng.wasm')));
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
export async function speakSsml(voice: string, ssml: string, opts: { rate?: number; pitch?: number; maxSec?: number } = {}): Promise<Float32Array> {
  const { factory, wasm } = await load();
  const errors: string[] = [];
  const args = ['-m', '-v', voice, '-s', String(Math.round(opts.rate ?? 175)), '-p', String(Math.round(opts.pitch ?? 50)), '-w', '/out.wav', ssml];
  // The instance creates hundreds of embedded files and probes paths that do not exist; each probe
  // builds an Error whose stack trace is most of the start-up time. Nothing reads those stacks.
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  let mod: EspeakModule;
  try {
    mod = await factory({
      arguments: args,
      print: () => {},
      printErr: (s: string) => void (s.includes('program exited') || errors.push(s.trim())),
      instantiateWasm: (imports: WebAssembly.Imports, done: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void) => {
        void WebAssembly.instantiate(wasm, imports).then((instance) => done(instance, wasm));
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
  const wav = decodeWav(bytes, `espeak-ng ${voice}`);
  if (wav.sampleRate !== ESPEAK_SAMPLE_RATE) throw new Error(`espeak-ng (voice ${voice}): unexpected sample rate ${wav.sampleRate}`);
  const keep = opts.maxSec === undefined ? Infinity : Math.ceil((opts.maxSec + 0.01) * ESPEAK_SAMPLE_RATE);
  const mono = wav.channels[0].subarray(0, keep);
  if (mono.length === 0) throw new Error(`espeak-ng (voice ${voice}) wrote an empty file${errors.length ? `: ${errors.join(' ').trim()}` : ''}`);
  kernel ??= sincResampleKernel(ESPEAK_SAMPLE_RATE, 16000);
  return applyResampleKernel(mono, kernel);
}

/** Escape text for an SSML element. */
export const xmlText = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
