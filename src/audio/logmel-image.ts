/**
 * Log-mel spectrograms as RGBA pictures: time left to right, low frequencies at the bottom,
 * a perceptual colour map, and optionally the MATPAC patch mask drawn over it (masked 16×16 patches
 * shaded dark, visible ones left bright, patch borders drawn thin). Pure: used by ./png.ts (files)
 * and by the web page (a canvas).
 *
 * Colour maps: matplotlib's viridis and magma (van der Walt & Smith, 2015), evaluated with Matt
 * Zucker's published degree-6 polynomial fits (shadertoy.com/view/WlfXRN), which stay within 6/255
 * of matplotlib's 256-entry tables (checked against a few table entries in the tests).
 */
export type ColormapName = 'viridis' | 'magma';

type Poly = readonly (readonly [number, number, number])[];

// Coefficients c0..c6 of r, g, b(t) = Σ c_i t^i.
const VIRIDIS: Poly = [
  [0.2777273272234177, 0.005407344544966578, 0.3340998053353061],
  [0.1050930431085774, 1.404613529898575, 1.384590162594685],
  [-0.3308618287255563, 0.214847559468213, 0.09509516302823659],
  [-4.634230498983486, -5.799100973351585, -19.33244095627987],
  [6.228269936347081, 14.17993336680509, 56.69055260068105],
  [4.776384997670288, -13.74514537774601, -65.35303263337234],
  [-5.435455855934631, 4.645852612178535, 26.3124352495832],
];

const MAGMA: Poly = [
  [-0.002136485053939582, -0.000749655052795221, -0.005386127855323933],
  [0.2516605407371642, 0.6775232436837668, 2.494026599312351],
  [8.353717279216625, -3.577719514958484, 0.3144679030132573],
  [-27.66873308576866, 14.26473078096533, -13.64921318813922],
  [52.17613981234068, -27.94360607168351, 12.94416944238394],
  [-50.76852536473588, 29.04658282127291, 4.23415299384598],
  [18.65570506591883, -11.48977351997711, -5.601961508734096],
];

/** Colour of t ∈ [0, 1] (clamped) as 8-bit [r, g, b]. */
export function colormap(name: ColormapName, t: number): [number, number, number] {
  const c = name === 'viridis' ? VIRIDIS : MAGMA;
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0));
  const rgb: [number, number, number] = [0, 0, 0];
  for (let ch = 0; ch < 3; ch++) {
    let v = c[6][ch];
    for (let i = 5; i >= 0; i--) v = v * x + c[i][ch];
    rgb[ch] = Math.round(255 * Math.min(1, Math.max(0, v)));
  }
  return rgb;
}

/** A spectrogram-like image source: row-major [nMels, nFrames], row 0 = lowest frequency. */
export interface LogMelLike {
  data: Float32Array;
  nMels: number;
  nFrames: number;
}

export interface LogMelImageOptions {
  colormap?: ColormapName;
  /** Pixels per time-frequency cell (integer ≥ 1). Default 2. */
  scale?: number;
  /** Values mapped to the ends of the colour map; default: the data's min and max. */
  vmin?: number;
  vmax?: number;
  /**
   * Patch mask, one entry per patch in frequency-major order (index = f·nTimePatches + t, f = 0 the
   * lowest band); truthy = masked. Its length must be ⌊nMels/patch⌋·⌊nFrames/patch⌋.
   */
  mask?: ArrayLike<number | boolean>;
  /** Patch side in cells. Default 16. */
  patchSize?: number;
}

/** An RGBA picture, row-major from the top-left corner. */
export interface RgbaImage {
  width: number;
  height: number;
  rgba: Uint8Array;
}

const MASK_SHADE = [24, 24, 24] as const; // colour masked patches are blended toward
const MASK_ALPHA = 0.7;
const GRID_COLOUR = [255, 255, 255] as const;
const GRID_ALPHA = 0.35;

/** Paint a log-mel as RGBA pixels (the pure part of `renderLogMelPng`). */
export function logMelImage(lm: LogMelLike, opts: LogMelImageOptions = {}): RgbaImage {
  const { data, nMels, nFrames } = lm;
  if (data.length !== nMels * nFrames)
    throw new Error(`logMelImage: data has ${data.length} values, expected ${nMels}×${nFrames}`);
  const scale = opts.scale ?? 2;
  if (!Number.isInteger(scale) || scale < 1)
    throw new Error(`logMelImage: scale must be a positive integer, got ${scale}`);
  const cmap = opts.colormap ?? 'viridis';
  let lo = opts.vmin ?? Infinity;
  let hi = opts.vmax ?? -Infinity;
  if (opts.vmin === undefined || opts.vmax === undefined) {
    for (const v of data) {
      if (!Number.isFinite(v)) continue;
      if (opts.vmin === undefined) lo = Math.min(lo, v);
      if (opts.vmax === undefined) hi = Math.max(hi, v);
    }
  }
  const range = hi > lo ? hi - lo : 1;

  const patch = opts.patchSize ?? 16;
  const fPatches = Math.floor(nMels / patch);
  const tPatches = Math.floor(nFrames / patch);
  const mask = opts.mask;
  if (mask !== undefined && mask.length !== fPatches * tPatches) {
    throw new Error(
      `logMelImage: mask has ${mask.length} entries, expected ${fPatches}×${tPatches} = ${fPatches * tPatches} patches`,
    );
  }

  const width = nFrames * scale;
  const height = nMels * scale;
  const rgba = new Uint8Array(width * height * 4);
  for (let m = 0; m < nMels; m++) {
    for (let t = 0; t < nFrames; t++) {
      let [r, g, b] = colormap(cmap, (data[m * nFrames + t] - lo) / range);
      const fp = Math.floor(m / patch);
      const tp = Math.floor(t / patch);
      const inPatch = mask !== undefined && fp < fPatches && tp < tPatches;
      if (inPatch && mask[fp * tPatches + tp]) {
        r = r * (1 - MASK_ALPHA) + MASK_SHADE[0] * MASK_ALPHA;
        g = g * (1 - MASK_ALPHA) + MASK_SHADE[1] * MASK_ALPHA;
        b = b * (1 - MASK_ALPHA) + MASK_SHADE[2] * MASK_ALPHA;
      }
      for (let dy = 0; dy < scale; dy++) {
        // Row m (frequency) goes up from the bottom of the picture.
        const y = height - 1 - (m * scale + dy);
        for (let dx = 0; dx < scale; dx++) {
          const x = t * scale + dx;
          // Patch borders: the first pixel row/column of each patch (drawn only when zoomed, so cells stay visible).
          const onGrid = inPatch && scale >= 2 && ((m % patch === 0 && dy === 0) || (t % patch === 0 && dx === 0));
          const a = onGrid ? GRID_ALPHA : 0;
          const o = (y * width + x) * 4;
          rgba[o] = Math.round(r * (1 - a) + GRID_COLOUR[0] * a);
          rgba[o + 1] = Math.round(g * (1 - a) + GRID_COLOUR[1] * a);
          rgba[o + 2] = Math.round(b * (1 - a) + GRID_COLOUR[2] * a);
          rgba[o + 3] = 255;
        }
      }
    }
  }
  return { width, height, rgba };
}

/** A patch mask (1 = masked) of `nPatches` entries from the indices of the masked patches. */
export function maskFromIndices(nPatches: number, maskedIndices: ArrayLike<number>): Uint8Array {
  const mask = new Uint8Array(nPatches);
  for (let i = 0; i < maskedIndices.length; i++) {
    const idx = maskedIndices[i];
    if (!Number.isInteger(idx) || idx < 0 || idx >= nPatches)
      throw new Error(`maskFromIndices: index ${idx} outside 0..${nPatches - 1}`);
    mask[idx] = 1;
  }
  return mask;
}
