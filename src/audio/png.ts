/**
 * Log-mel spectrograms as PNG pictures (pngjs); the picture itself (colour map, patch mask) is
 * ./logmel-image.ts.
 */
import { PNG } from 'pngjs';
import { logMelImage, type LogMelImageOptions, type LogMelLike, type RgbaImage } from './logmel-image';
import { writeFileAtomic } from '../io/atomic-file';

export {
  colormap,
  logMelImage,
  maskFromIndices,
  type ColormapName,
  type LogMelImageOptions,
  type LogMelLike,
  type RgbaImage,
} from './logmel-image';

/** Encode an RGBA picture as PNG bytes. */
export function encodePng(image: RgbaImage): Uint8Array {
  const png = new PNG({ width: image.width, height: image.height });
  png.data.set(image.rgba);
  return new Uint8Array(PNG.sync.write(png));
}

/** A log-mel as PNG bytes. */
export function renderLogMelPng(lm: LogMelLike, opts: LogMelImageOptions = {}): Uint8Array {
  return encodePng(logMelImage(lm, opts));
}

/** Write a log-mel as a PNG file (atomically: a failed write leaves an existing file as it was). */
export async function writeLogMelPng(path: string, lm: LogMelLike, opts: LogMelImageOptions = {}): Promise<void> {
  writeFileAtomic(path, renderLogMelPng(lm, opts));
}
