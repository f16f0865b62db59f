/** Example-based tests of the engine's transforms, errors and trace. */
import { describe, expect, it } from 'vitest';
import * as mp from '../src/index';
import { trace, formatTrace } from '../src/trace';

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-9) => {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(tol * (1 + Math.abs(b[i])));
};

describe('transforms over parameter trees', () => {
  it('valueAndGrad with hasAux returns the aux value undifferentiated', () => {
    mp.withBackend('ref64', () => {
      const params = { w: mp.tensor([1, 2, 3]), nested: [{ b: mp.tensor(0.5) }] };
      const f = (p: typeof params) => {
        const y = mp.add(mp.sum(mp.square(p.w)), p.nested[0].b);
        return [y, { y2: mp.mul(y, 2), note: 'hi' }] as [mp.Tensor, { y2: mp.Tensor; note: string }];
      };
      const [[value, aux], g] = mp.valueAndGrad(f, { hasAux: true })(params);
      expect(value.item()).toBeCloseTo(14.5);
      expect(aux.y2.item()).toBeCloseTo(29);
      expect(aux.note).toBe('hi');
      close(g.w.toArray(), [2, 4, 6]);
      expect(g.nested[0].b.item()).toBe(1);
    });
  });
  it('stopGradient blocks gradients; unused leaves get zeros', () => {
    mp.withBackend('ref64', () => {
      const g = mp.grad((p: { a: mp.Tensor; b: mp.Tensor }) => mp.sum(mp.mul(mp.stopGradient(p.a), p.a)))({
        a: mp.tensor([3]),
        b: mp.tensor([1, 1]),
      });
      close(g.a.toArray(), [3]);
      close(g.b.toArray(), [0, 0]);
    });
  });
  it('grad of grad of grad: d³/dx³ sin-free polynomial x⁴ = 24x', () => {
    mp.withBackend('ref64', () => {
      const f = (x: mp.Tensor) => mp.sum(mp.pow(x, 4));
      const d1 = (x: mp.Tensor) => mp.sum(mp.grad(f)(x));
      const d2 = (x: mp.Tensor) => mp.sum(mp.grad(d1)(x));
      close(
        mp
          .grad(d2)(mp.tensor([0.5, -2]))
          .toArray(),
        [12, -48],
      );
    });
  });
  it('nested grads do not confuse perturbations (d/dx x·(d/dy x+y) = 1)', () => {
    mp.withBackend('ref64', () => {
      // the inner derivative d/dy (x + y) is 1 whatever x is, so the outer derivative is 1
      const g = mp.grad((x: mp.Tensor) =>
        mp.sum(mp.mul(x, mp.grad((y: mp.Tensor) => mp.sum(mp.add(x, y)))(mp.tensor(1)))),
      );
      close(g(mp.tensor(3)).toArray(), [1]);
    });
  });
  it('vjp of a vector function matches the Jacobian transpose', () => {
    mp.withBackend('ref64', () => {
      const [y, pull] = mp.vjp((x: mp.Tensor) => mp.mul(x, x), mp.tensor([1, 2]));
      close(y.toArray(), [1, 4]);
      close(pull(mp.tensor([1, 10])).toArray(), [2, 40]);
    });
  });
});

describe('errors name the op, the shapes and the parameter path', () => {
  it('matmul mismatch', () => {
    const p = { layer: { weight: mp.zeros([4, 5]) } };
    expect(() => mp.grad((q: typeof p) => mp.sum(mp.matmul(mp.zeros([2, 3]), q.layer.weight)))(p)).toThrow(
      /matmul: inner dimensions differ: \[2,3\] × \[4,5\].*layer\.weight/,
    );
  });
  it('broadcast mismatch', () => {
    expect(() => mp.add(mp.zeros([2, 3]), mp.zeros([4]))).toThrow(/add: shapes \[2,3\] and \[4\] cannot be broadcast/);
  });
  it('reshape size mismatch and out-of-range gather', () => {
    expect(() => mp.reshape(mp.zeros([2, 3]), [4])).toThrow(/reshape: cannot reshape \[2,3\]/);
    expect(() => mp.gather(mp.zeros([3, 2]), mp.tensor([5]), 0)).toThrow(/gather: index 5 out of range/);
  });
  it('grad of a non-scalar function', () => {
    expect(() => mp.grad((x: mp.Tensor) => mp.mul(x, 2))(mp.zeros([3]))).toThrow(/must return a scalar/);
  });
});

describe('trace', () => {
  it('prints the graph of a small MLP loss and of its gradient, with kernel and FLOP counts', () => {
    const params = {
      l1: { weight: mp.ones([8, 4]), bias: mp.zeros([8]) },
      l2: { weight: mp.ones([2, 8]), bias: mp.zeros([2]) },
    };
    const x = mp.ones([16, 4]);
    const loss = (p: typeof params) =>
      mp.mean(mp.square(mp.linear(mp.gelu(mp.linear(x, p.l1.weight, p.l1.bias)), p.l2.weight, p.l2.bias)));
    const fwd = trace(loss, params).trace;
    const bwd = trace(mp.grad(loss), params).trace;
    const text = formatTrace(bwd);
    expect(text).toContain('l1.weight:f32[8,4]');
    // a Linear with a bias is one fused primitive (matmul + bias)
    expect(text).toMatch(/linear const0 l1\.weight l1\.bias/);
    expect(fwd.equations.filter((e) => e.prim === 'linear')).toHaveLength(2);
    expect(fwd.equations.filter((e) => e.prim === 'matmul')).toHaveLength(0);
    // backward: two matmuls per layer (dW, dx) except the input gradient of the first layer
    expect(bwd.equations.filter((e) => e.prim === 'linear').length).toBe(2);
    expect(bwd.equations.filter((e) => e.prim === 'matmul').length).toBe(3);
    expect(fwd.flops).toBe(
      2 * 16 * 4 * 8 +
        16 * 8 +
        (2 * 16 * 8 * 2 + 16 * 2) +
        fwd.equations.filter((e) => e.prim !== 'linear').reduce((a, e) => a + e.flops, 0),
    );
    expect(bwd.kernels.size).toBeGreaterThan(fwd.kernels.size);
  });
});

describe('scope', () => {
  it('disposes intermediates but not the result (nor buffers the result shares)', async () => {
    const { registerBackend, withBackend, scope, getBackend } = await import('../src/core');
    const base = getBackend('native');
    const disposed: unknown[] = [];
    registerBackend('counting', () => ({ ...base, name: 'counting', dispose: (b: unknown) => void disposed.push(b) }));
    withBackend('counting', () => {
      const x = mp.tensor([1, 2, 3]);
      const out = scope(() => {
        const y = mp.mul(x, 2);
        const z = mp.exp(y);
        return { r: mp.reshape(mp.add(z, 1), [3, 1]), n: 5 };
      });
      // created inside: the constant 2, y, z, the constant 1, the sum (shared by the kept reshape)
      expect(disposed.length).toBe(4);
      expect(Array.from(out.r.toArray())[0]).toBeCloseTo(Math.exp(2) + 1, 4);
      expect(disposed).not.toContain(x.concrete().buffer);
    });
  });
  it('native buffers are recycled at the last dispose of their owners, never while a tensor outside the scope holds them', async () => {
    const { scope, withBackend, disposeTree } = await import('../src/core');
    const { allocF32, clearPool, releaseF32 } = await import('../kernels/native/alloc');
    withBackend('native', () => {
      clearPool();
      const param = mp.tensor([1, 2, 3, 4, 5, 6, 7]); // outside any scope: never disposed here
      const paramBuf = param.concrete().buffer as Float32Array;
      let tmp: Float32Array | null = null;
      scope(() => {
        mp.reshape(param, [7, 1]); // a view of param, disposed by the scope: must not free param
        const y = mp.mul(param, 2);
        tmp = y.concrete().buffer as Float32Array;
        mp.reshape(y, [1, 7]);
        mp.reshape(y, [7, 1]); // three tensors on y's array: freed once, after the last
        return null;
      });
      // y's array is back in the pool (it comes out of the next allocation of that length), param's is not
      const a = allocF32(7);
      const b = allocF32(7);
      expect(a === tmp || b === tmp).toBe(true);
      expect(a === paramBuf || b === paramBuf).toBe(false);
      expect(Array.from(param.toArray())).toEqual([1, 2, 3, 4, 5, 6, 7]);
      releaseF32(a);
      releaseF32(b);
      // disposeTree: a state leaf kept by the next state survives; the rest is recycled
      const old = { w: mp.add(param, 1), v: mp.add(param, 2) };
      const next = { w: old.w, u: mp.reshape(old.v, [7, 1]) };
      const oldV = old.v.concrete().buffer;
      disposeTree(old, next);
      expect(Array.from(next.w.toArray())).toEqual([2, 3, 4, 5, 6, 7, 8]);
      expect(Array.from(next.u.toArray())).toEqual([3, 4, 5, 6, 7, 8, 9]);
      expect(allocF32(7)).not.toBe(oldV);
      clearPool();
    });
  });
  it('a contiguous slice is a view on native: it keeps its array out of the pool until it is disposed too', async () => {
    const { scope, withBackend } = await import('../src/core');
    const { allocF32, clearPool, releaseF32 } = await import('../kernels/native/alloc');
    withBackend('native', () => {
      clearPool();
      let xBuf: Float32Array | null = null;
      const rows = scope(() => {
        const x = mp.add(mp.tensor([1, 2, 3, 4, 5, 6], [3, 2]), 0); // an intermediate, disposed by the scope
        xBuf = x.concrete().buffer as Float32Array;
        const r = mp.sliceAxis(mp.reshape(x, [3, 2]), 0, 1, 3); // rows 1..2: one contiguous range
        expect((r.concrete().buffer as Float32Array).buffer).toBe(xBuf.buffer); // no copy
        return r;
      });
      // x is disposed, but its array holds the kept rows: the pool must not hand it out
      const a = allocF32(6);
      expect(a).not.toBe(xBuf);
      a.fill(-1);
      expect(Array.from(rows.toArray())).toEqual([3, 4, 5, 6]);
      releaseF32(a);
      rows.concrete().dispose(); // the last owner: the array returns to the pool
      expect(allocF32(6)).toBe(xBuf);
      clearPool();
    });
  });
  it('disposeTree frees what the kept value does not reach, each buffer once', async () => {
    const { registerBackend, withBackend, disposeTree, getBackend } = await import('../src/core');
    const base = getBackend('native');
    const disposed: unknown[] = [];
    registerBackend('counting2', () => ({
      ...base,
      name: 'counting2',
      dispose: (b: unknown) => void disposed.push(b),
    }));
    withBackend('counting2', () => {
      const a = mp.tensor([1, 2]);
      const b = mp.tensor([3, 4]);
      const old = { a, b, view: mp.reshape(a, [2, 1]), again: [b] };
      const next = { a: mp.reshape(a, [1, 2]), c: mp.tensor([5]) };
      disposeTree(old, next);
      expect(disposed).toEqual([b.concrete().buffer]);
      disposeTree(next);
      expect(disposed.length).toBe(3);
    });
  });
});
