/**
 * Small helpers for planning rendered clips from counter-based random keys: a cursor of uniform
 * draws, and picking an element, an integer or a number in a range from one draw. Every data set
 * the project renders (src/data/render.ts, src/data/pool/, src/data/devsets.ts) plans each clip from
 * (seed, clip index) alone with these, so a config always gives the same clips.
 */
import { foldIn, uniformHost, type Key } from '../random';

/** Uniform draws in [0, 1) from a key, consumed in order (a local cursor over `uniformHost`). */
export function drawer(key: Key, n = 96): () => number {
  const u = uniformHost(key, n);
  let i = 0;
  return () => {
    if (i >= n) throw new Error('render: ran out of random draws for a clip');
    return u[i++];
  };
}

/**
 * An unbounded stream of uniform draws in [0, 1) from a key (blocks of 4096 from foldIn(key, block)),
 * for synthesis that needs one draw per sample (noise).
 */
export function streamDrawer(key: Key): () => number {
  let block = -1;
  let u: Float64Array = new Float64Array(0);
  let i = 0;
  return () => {
    if (i >= u.length) {
      u = uniformHost(foldIn(key, ++block), 4096);
      i = 0;
    }
    return u[i++];
  };
}

/** The element of `xs` a uniform draw `u` falls on. */
export const pick = <T>(u: number, xs: readonly T[]): T => xs[Math.min(xs.length - 1, Math.floor(u * xs.length))];
/** An integer in [lo, hi] (inclusive) from a uniform draw. */
export const intIn = (u: number, lo: number, hi: number): number =>
  lo + Math.min(hi - lo, Math.floor(u * (hi - lo + 1)));
/** A number in [lo, hi) from a uniform draw. */
export const between = (u: number, lo: number, hi: number): number => lo + u * (hi - lo);
