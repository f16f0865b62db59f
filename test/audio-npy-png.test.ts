/** .npy writing/reading and the log-mel PNG rendering (colour maps, orientation, patch mask overlay). */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeNpy, encodeNpy, readNpy, writeLogMelNpy } from '../src/audio/npy';
import { colormap, logMelImage, maskFromIndices, renderLogMelPng, writeLogMelPng } from '../src/audio/png';

const dir = mkdtempSync(join(tmpdir(), 'matpac-npy-png-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('.npy', () => {
  it('writes the NumPy 1.0 layout: magic, 64-byte aligned header, little-endian float32 data', () => {
    const data = Float32Array.from({ length: 80 * 3 }, (_, i) => i / 7 - 5);
    const bytes = encodeNpy(data, [80, 3]);
    expect(Array.from(bytes.subarray(0, 8))).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    const headerLength = bytes[8] | (bytes[9] << 8);
    expect((10 + headerLength) % 64).toBe(0);
    const header = new TextDecoder().decode(bytes.subarray(10, 10 + headerLength));
    expect(header.trimEnd()).toBe("{'descr': '<f4', 'fortran_order': False, 'shape': (80, 3), }");
    expect(header.endsWith('\n')).toBe(true);
    expect(bytes.length).toBe(10 + headerLength + 4 * data.length);
    const view = new DataView(bytes.buffer, 10 + headerLength);
    expect(view.getFloat32(4 * 17, true)).toBe(data[17]);
  });

  it('round-trips through a file, including 1-D and empty shapes', async () => {
    const lm = { data: Float32Array.from({ length: 80 * 5 }, (_, i) => Math.sin(i)), nMels: 80, nFrames: 5 };
    const path = join(dir, 'x.npy');
    await writeLogMelNpy(path, lm);
    const back = await readNpy(path);
    expect(back.shape).toEqual([80, 5]);
    expect(back.data).toEqual(lm.data);
    expect(decodeNpy(encodeNpy(new Float32Array([1, 2, 3]), [3]))).toEqual({
      data: new Float32Array([1, 2, 3]),
      shape: [3],
    });
    expect(decodeNpy(encodeNpy(new Float32Array(0), [80, 0])).shape).toEqual([80, 0]);
  });

  it('rejects a shape that does not match the data', () => {
    expect(() => encodeNpy(new Float32Array(10), [80, 1])).toThrow(/shape/);
  });
});

describe('colour maps', () => {
  // Entries 0, 128 and 255 of matplotlib's 256-entry viridis and magma tables (_cm_listed.py), ×255.
  const table = {
    viridis: [
      [0, [0.267004, 0.004874, 0.329415]],
      [128 / 255, [0.127568, 0.566949, 0.550556]],
      [1, [0.993248, 0.906157, 0.143936]],
    ],
    magma: [
      [0, [0.001462, 0.000466, 0.013866]],
      [128 / 255, [0.716387, 0.214982, 0.47529]],
      [1, [0.987053, 0.991438, 0.749504]],
    ],
  } as const;
  for (const name of ['viridis', 'magma'] as const) {
    it(`${name} stays within 6/255 of matplotlib's table`, () => {
      for (const [t, rgb] of table[name]) {
        const got = colormap(name, t);
        for (let c = 0; c < 3; c++) expect(Math.abs(got[c] - rgb[c] * 255)).toBeLessThanOrEqual(6);
      }
    });
  }

  it('is monotonic in lightness (viridis: r+g+b grows with t) and clamps outside [0, 1]', () => {
    let previous = -1;
    for (let i = 0; i <= 20; i++) {
      const [r, g, b] = colormap('viridis', i / 20);
      const lightness = 0.2126 * r + 0.7152 * g + 0.0722 * b;
      expect(lightness).toBeGreaterThan(previous);
      previous = lightness;
    }
    expect(colormap('viridis', -3)).toEqual(colormap('viridis', 0));
    expect(colormap('viridis', 7)).toEqual(colormap('viridis', 1));
  });
});

describe('log-mel picture', () => {
  // 32 mel rows × 48 frames: the lowest band bright, everything else dark.
  const nMels = 32;
  const nFrames = 48;
  const data = new Float32Array(nMels * nFrames).fill(-2);
  for (let t = 0; t < nFrames; t++) data[t] = 3;
  const lm = { data, nMels, nFrames };
  const pixel = (img: { width: number; rgba: Uint8Array }, x: number, y: number) =>
    Array.from(img.rgba.subarray((y * img.width + x) * 4, (y * img.width + x) * 4 + 4));

  it('puts low frequencies at the bottom, time left to right, scaled by `scale`', () => {
    const img = logMelImage(lm, { scale: 3 });
    expect([img.width, img.height]).toEqual([nFrames * 3, nMels * 3]);
    expect(pixel(img, 10, img.height - 1)).toEqual([...colormap('viridis', 1), 255]);
    expect(pixel(img, 10, 0)).toEqual([...colormap('viridis', 0), 255]);
  });

  it('shades masked 16×16 patches darker than visible ones', () => {
    // 2 frequency × 3 time patches, frequency-major; mask the middle time patch of the lowest band (index 1).
    const mask = maskFromIndices(6, [1]);
    expect(Array.from(mask)).toEqual([0, 1, 0, 0, 0, 0]);
    const plain = logMelImage(lm, { scale: 2 });
    const shaded = logMelImage(lm, { scale: 2, mask });
    const y = plain.height - 2; // the bright lowest band, second pixel row (the first is a grid line)
    const sum = (p: number[]) => p[0] + p[1] + p[2];
    const masked = pixel(shaded, 2 * 20 + 1, y);
    const visible = pixel(shaded, 2 * 5 + 1, y);
    expect(sum(masked)).toBeLessThan(0.5 * sum(pixel(plain, 2 * 20 + 1, y)));
    expect(visible).toEqual(pixel(plain, 2 * 5 + 1, y));
    expect(() => logMelImage(lm, { mask: new Uint8Array(5) })).toThrow(/mask has 5 entries, expected 2×3/);
  });

  it('encodes as a PNG that decodes to the same pixels', async () => {
    const mask = maskFromIndices(6, [0, 4]);
    const img = logMelImage(lm, { scale: 2, mask, colormap: 'magma' });
    const path = join(dir, 'x.png');
    await writeLogMelPng(path, lm, { scale: 2, mask, colormap: 'magma' });
    const png = PNG.sync.read(readFileSync(path));
    expect([png.width, png.height]).toEqual([img.width, img.height]);
    expect(new Uint8Array(png.data)).toEqual(img.rgba);
    expect(renderLogMelPng(lm, { scale: 2, mask, colormap: 'magma' })).toEqual(new Uint8Array(readFileSync(path)));
  });
});
