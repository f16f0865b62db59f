/**
 * docs/extending.md's worked examples (docs/examples/*.ts) compile (tsconfig includes them) and
 * do what the guide says.
 */
import { describe, expect, it } from 'vitest';
import * as mp from '../src/index';
import { elementwiseExpr } from '../kernels/native/elementwise';
import { keyFromSeed } from '../src/random';
import { SOFTPLUS_EXPR, softplusRef64, softplusRules, softplusScalar } from '../docs/examples/softplus-primitive';
import { mlp, mlpInit, type MlpParams } from '../docs/examples/mlp-component';
import { registerExampleBackend } from '../docs/examples/f32-backend';
import { agree } from '../property-tests/conformance';

describe('add a primitive: softplus', () => {
  const xs = [-30, -3, -0.5, 0, 0.25, 2, 40];
  it('the ref64 kernel is stable and the native body matches it', () => {
    const ref = softplusRef64([Float64Array.from(xs)]);
    expect(ref[0]).toBeCloseTo(Math.exp(-30), 20);
    expect(ref[6]).toBe(40);
    const nat = elementwiseExpr(SOFTPLUS_EXPR, [Float32Array.from(xs)], [[xs.length]], [xs.length]);
    nat.forEach((v, i) => expect(Math.abs(v - ref[i])).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(ref[i]))));
  });
  it('the VJP rule matches central differences of the scalar definition', () => {
    mp.withBackend('ref64', () => {
      const x = mp.tensor(xs.slice(1, 6));
      const ct = mp.tensor([1, -2, 0.5, 3, 1]);
      const [g] = softplusRules.vjp(ct, [x], x, {}, [true]) as mp.Tensor[];
      const h = 1e-6;
      const ctv = ct.toArray();
      Array.from(x.toArray()).forEach((v, i) => {
        const fd = (softplusScalar(v + h) - softplusScalar(v - h)) / (2 * h);
        expect(g.toArray()[i]).toBeCloseTo(ctv[i] * fd, 7);
      });
      expect(softplusRules.shape([[2, 3]], {})).toEqual([2, 3]);
      expect(softplusRules.flops([[2, 3]], [2, 3], {})).toBe(18);
    });
  });
});

describe('add a model component: an MLP block', () => {
  it('keeps the shape and its gradient matches central differences (ref64)', () => {
    mp.withBackend('ref64', () => {
      const p = mlpInit(keyFromSeed(3), 4, 8);
      const x = mp.tensor(
        Array.from({ length: 12 }, (_, i) => Math.sin(i)),
        [3, 4],
      );
      expect(mlp(p, x).shape).toEqual([3, 4]);
      const loss = (q: MlpParams) => mp.sum(mp.square(mlp(q, x)));
      const [, g] = mp.valueAndGrad(loss)(p);
      const w = p.fc1.weight.toArray();
      const h = 1e-6;
      for (const i of [0, 5, 17]) {
        const shifted = (d: number) => {
          const v = Float64Array.from(w);
          v[i] += d;
          return loss({ ...p, fc1: { ...p.fc1, weight: mp.tensor(v, p.fc1.weight.shape) } }).item();
        };
        const fd = (shifted(h) - shifted(-h)) / (2 * h);
        expect(g.fc1.weight.toArray()[i]).toBeCloseTo(fd, 8);
      }
    });
  });
});

describe('add a backend: the conformance harness on ref64-rounded', () => {
  registerExampleBackend();
  agree('ref64-rounded', { atol: 1e-6, rtol: 1e-5 }, 3);
});
