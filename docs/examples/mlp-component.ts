/**
 * Worked example for docs/extending.md, "Add a model component": a two-layer MLP block in the
 * style of models/ — a params interface, an init from a key, a pure forward written with ops.
 *
 *   y = W₂·gelu(W₁x + b₁) + b₂        (PyTorch Linear layout: W [out, in])
 *
 * Gradient (what autodiff derives from the ops, nothing hand-written):
 *   dy/db₂ = 1, dy/dW₂ = gelu(h)ᵀ, dh = W₂ᵀ·dy ⊙ gelu'(h), dW₁ = dhᵀ·x, db₁ = Σ dh
 * test/extending-examples.test.ts checks shapes and the gradient against central differences.
 */
import * as mp from '../../src/index';
import type { Tensor } from '../../src/index';
import { normal } from '../../src/rng-tensor';
import { split, type Key } from '../../src/random';

export interface MlpParams {
  fc1: { weight: Tensor; bias: Tensor };
  fc2: { weight: Tensor; bias: Tensor };
}

/** Normal init, std 0.02 (models/init.ts has the project's inits). */
export function mlpInit(key: Key, dim: number, hidden: number): MlpParams {
  const [k1, k2] = split(key);
  return {
    fc1: { weight: normal(k1, [hidden, dim], 0.02), bias: mp.zeros([hidden]) },
    fc2: { weight: normal(k2, [dim, hidden], 0.02), bias: mp.zeros([dim]) },
  };
}

/** x [..., dim] → [..., dim]. */
export function mlp(p: MlpParams, x: Tensor): Tensor {
  return mp.linear(mp.gelu(mp.linear(x, p.fc1.weight, p.fc1.bias)), p.fc2.weight, p.fc2.bias);
}
