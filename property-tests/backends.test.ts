/**
 * Every backend agrees with the float64 reference on every primitive and composite.
 * Inputs are rounded to float32 first, so both sides see the same numbers; the tolerance is
 * per backend: |out − ref| ≤ atol + rtol·|ref| (native: float32 storage with float64 arithmetic
 * inside each kernel → a few ulps per op).
 */
import { describe } from 'vitest';
import { agree, TOLERANCES } from './conformance';

describe('native backend agrees with the float64 reference', () => {
  agree('native', TOLERANCES.native);
});
