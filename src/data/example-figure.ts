/**
 * The pictures of docs/frontend.md: the log-mel of one rendered note (a trumpet C4 from the bundled
 * SoundFont), plain and with a MATPAC-style random patch mask (70% of the 16×16 patches masked).
 *
 *   npx tsx src/data/example-figure.ts [OUT_DIR]      (default: docs/img)
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { logMelSpectrogram } from '../../models/frontend';
import { maskFromIndices, writeLogMelPng } from '../audio/png';
import { keyFromSeed, permutationHost } from '../random';
import { createSynth, loadSoundBank, PROJECT_ROOT, renderClip, type ClipSpec } from './render';

const PATCH = 16;
const MASK_RATIO = 0.7;

/** Write logmel-example.png and logmel-mask-example.png into `outDir`; returns their paths. */
export async function renderExampleFigures(outDir: string): Promise<string[]> {
  const clip: ClipSpec = {
    file: 'example.wav',
    kind: 'note',
    program: 56, // trumpet
    family: 'brass',
    pitch: 60,
    notes: [{ pitch: 60, velocity: 101, onSec: 0.25, offSec: 3.0 }],
    durationSec: 4,
  };
  const synth = await createSynth(await loadSoundBank('MSBasic'));
  const { samples } = renderClip(synth, clip);
  synth.destroySynthProcessor();
  const lm = logMelSpectrogram(samples);

  const nPatches = Math.floor(lm.nMels / PATCH) * Math.floor(lm.nFrames / PATCH);
  const order = permutationHost(keyFromSeed(1337), nPatches);
  const masked = order.slice(Math.round(nPatches * (1 - MASK_RATIO)));
  const mask = maskFromIndices(nPatches, masked);

  await mkdir(outDir, { recursive: true });
  const plain = join(outDir, 'logmel-example.png');
  const withMask = join(outDir, 'logmel-mask-example.png');
  await writeLogMelPng(plain, lm, { scale: 2 });
  await writeLogMelPng(withMask, lm, { scale: 2, mask });
  return [plain, withMask];
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outDir = resolve(process.argv[2] ?? join(PROJECT_ROOT, 'docs', 'img'));
  for (const path of await renderExampleFigures(outDir)) process.stdout.write(`${path}\n`);
}
