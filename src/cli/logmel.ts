/**
 * `matpac logmel FILE --out FILE.npy [--png FILE.png]`: MATPAC's normalised log-mel spectrogram of
 * one audio file, as a NumPy array [80, T] (float32) and optionally as a picture.
 */
import { loadAudio16k } from '../audio/read';
import { writeLogMelNpy } from '../audio/npy';
import { writeLogMelPng } from '../audio/png';
import { logMelSpectrogram, N_FFT, SAMPLE_RATE } from '../../models/frontend';
import { CliError, requireFile, say, shown } from './common';

export interface LogmelOptions {
  out: string;
  png?: string;
}

export async function logmelCommand(file: string, opts: LogmelOptions): Promise<void> {
  requireFile(file, 'audio file');
  const wave = await loadAudio16k(file);
  const lm = logMelSpectrogram(wave);
  if (lm.nFrames === 0)
    throw new CliError(
      `${file}: too short for one frame (${wave.length} samples at ${SAMPLE_RATE} Hz; ${N_FFT} needed)`,
    );
  await writeLogMelNpy(opts.out, lm);
  say(`log-mel [${lm.nMels}, ${lm.nFrames}] (${(wave.length / SAMPLE_RATE).toFixed(2)} s) → ${shown(opts.out)}`);
  if (opts.png) {
    await writeLogMelPng(opts.png, lm);
    say(`picture → ${shown(opts.png)}`);
  }
}
