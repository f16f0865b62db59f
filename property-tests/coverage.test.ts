/**
 * Coverage: a primitive registered without a gradient property or a backend property fails here.
 * (Adding a primitive to src/primitives.ts without VJP rules or kernels already fails to compile.)
 */
import { describe, expect, it } from 'vitest';
import { PRIM_NAMES } from '../src/primitives';
import { COMPOSITES, SPECS } from './specs';

describe('every primitive and composite is property-tested', () => {
  it('every primitive has a spec (used by the gradient and backend properties)', () => {
    const covered = new Set(SPECS.flatMap((s) => s.covers));
    const missing = PRIM_NAMES.filter((p) => !covered.has(p));
    expect(missing, `primitives without gradient/backend properties: ${missing.join(', ')}`).toEqual([]);
  });
  it('every composite has a spec', () => {
    const names = new Set(SPECS.map((s) => s.name));
    expect(COMPOSITES.filter((c) => !names.has(c))).toEqual([]);
  });
  it('the check itself detects a missing primitive', () => {
    const covered = new Set(SPECS.filter((s) => s.name !== 'erf').flatMap((s) => s.covers));
    expect(PRIM_NAMES.filter((p) => !covered.has(p))).toEqual(['erf']);
  });
});
