/**
 * gpu.js matmul kernels: batched, NumPy-broadcast batch axes, optional transposes of either
 * operand, one output element per thread.
 *
 * Variants (chosen by the backend; see bench/kernels-gpujs.bench.ts for the measurements):
 * - 'naive': one multiply-add per loop iteration;
 * - 'unroll4': the K loop unrolled by four with running pointers (no index multiplications in
 *   the loop) and four independent partial sums — the blocking that is available to a fragment
 *   shader, which has no shared memory: fewer loop trips and a longer dependency-free body.
 * Long inner dimensions are split (split-K): the kernel computes S partial products over
 * K-chunks of at most MATMUL_MAX_K into an [S, ...out] buffer that a sum pass then reduces. This
 * keeps every loop well below llvmpipe's 65,535-iteration limit, and gives a GPU S times more
 * threads for products with a small output and a long K (weight gradients).
 */
import { broadcastShapes, broadcastStrides, type Shape } from '../../src/shape';
import { collapse, indexVars, type KernelSource, linear, lit, prod } from './common';

export type MatmulVariant = 'naive' | 'unroll4';

/** Longest K one kernel loops over before the product is split. */
export const MATMUL_MAX_K = 4096;

export interface MatmulPlan {
  batch: number[];
  M: number;
  K: number;
  N: number;
  /** Number of K-chunks (1: no split). */
  S: number;
  /** Chunk length along K. */
  KC: number;
}

export function planMatmul(as: Shape, bs: Shape, transA: boolean, transB: boolean): MatmulPlan {
  const [ar, ac] = as.slice(-2);
  const [br, bc] = bs.slice(-2);
  const M = transA ? ac : ar;
  const K = transA ? ar : ac;
  const N = transB ? br : bc;
  const batch = broadcastShapes('matmul (batch dims)', [as.slice(0, -2), bs.slice(0, -2)]);
  const S = Math.max(1, Math.ceil(K / MATMUL_MAX_K));
  // chunks of a split product are a multiple of 4 long (the unrolled kernel's group)
  const KC = S === 1 ? K : Math.ceil(Math.ceil(K / S) / 4) * 4;
  return { batch, M, K, N, S, KC };
}

/**
 * The kernel for `plan`: output [S, ...batch, M, N] (S = 1: just the product). K = 0 is the
 * caller's business (the product is zeros).
 */
/**
 * With `bias` (one chunk of K only, S = 1) the kernel takes a third argument c of length N and
 * returns op(A)·op(B) + c[n]: the `linear` primitive's bias, fused (no second kernel, no
 * intermediate texture).
 */
export function matmulKernel(
  as: Shape,
  bs: Shape,
  transA: boolean,
  transB: boolean,
  plan: MatmulPlan,
  variant: MatmulVariant,
  bias = false,
): KernelSource {
  const { batch, M, K, N, S, KC } = plan;
  if (bias && S !== 1) throw new Error('matmulKernel: a fused bias needs an unsplit K (S = 1)');
  const aMat = as[as.length - 1] * as[as.length - 2];
  const bMat = bs[bs.length - 1] * bs[bs.length - 2];
  const aSt = broadcastStrides(as.slice(0, -2), batch).map((v) => v * aMat);
  const bSt = broadcastStrides(bs.slice(0, -2), batch).map((v) => v * bMat);
  const {
    dims: bd,
    strides: [abs, bbs],
  } = collapse(batch, [aSt, bSt]);
  // element strides of op(A)[m, k] and op(B)[k, n]
  const [am, ak] = transA ? [1, M] : [K, 1];
  const [bk, bn] = transB ? [1, K] : [N, 1];
  const { code, vars } = indexVars([S, ...bd, M, N]);
  const vs = vars[0];
  const vb = vars.slice(1, 1 + bd.length);
  const vm = vars[1 + bd.length];
  const vn = vars[2 + bd.length];
  const aBase = linear([...vb.map((v, d): [string | null, number] => [v, abs[d]]), [vm, am], [vs, KC * ak]]);
  const bBase = linear([...vb.map((v, d): [string | null, number] => [v, bbs[d]]), [vn, bn], [vs, KC * bk]]);
  const ragged = S > 1 && K % KC !== 0; // the last chunk is short
  const lines = [`let pa = ${aBase};`, `let pb = ${bBase};`];
  const at = (p: string, j: number, st: number) => (j === 0 ? p : `${p} + ${lit(j * st)}`);
  const term = (j: number) => `a[${at('pa', j, ak)}] * b[${at('pb', j, bk)}]`;
  const step = (j: number) => `pa = pa + ${lit(j * ak)}; pb = pb + ${lit(j * bk)};`;
  if (variant === 'naive' || KC < 8) {
    lines.push('let acc = 0;');
    const body = `acc = acc + ${term(0)};\n${step(1)}`;
    lines.push(`for (let k = 0; k < ${KC}; k++) {`);
    lines.push(ragged ? `if (${vs} * ${KC} + k < ${K}) {\n${body}\n}` : body);
    lines.push('}');
    lines.push(`return acc${bias ? ` + c[${linear([[vn, 1]])}]` : ''};`);
  } else {
    const U = 4;
    const trips = Math.floor(KC / U);
    lines.push('let acc0 = 0;', 'let acc1 = 0;', 'let acc2 = 0;', 'let acc3 = 0;');
    const group = `acc0 = acc0 + ${term(0)};\nacc1 = acc1 + ${term(1)};\nacc2 = acc2 + ${term(2)};\nacc3 = acc3 + ${term(3)};\n${step(U)}`;
    if (!ragged) {
      lines.push(`for (let k = 0; k < ${trips}; k++) {\n${group}\n}`);
      for (let j = 0; j < KC - trips * U; j++) lines.push(`acc${j} = acc${j} + ${term(j)};`);
    } else {
      // KC is a multiple of U (planMatmul); only the last chunk is short: whole groups while
      // they fit inside K, then at most U − 1 single steps
      lines.push(`let kp = ${vs} * ${KC};`);
      lines.push(`for (let k = 0; k < ${trips}; k++) {\nif (kp + ${U} <= ${K}) {\n${group}\nkp = kp + ${U};\n}\n}`);
      // (the tail stays inside this chunk: only the last chunk ends before a whole group)
      lines.push(`const kend = ${vs} * ${KC} + ${KC};`);
      lines.push(
        `for (let r = 0; r < ${U - 1}; r++) {\nif (kp < ${K} && kp < kend) {\nacc0 = acc0 + ${term(0)};\n${step(1)}\nkp = kp + 1;\n}\n}`,
      );
    }
    lines.push(`return (acc0 + acc1) + (acc2 + acc3)${bias ? ` + c[${linear([[vn, 1]])}]` : ''};`);
  }
  const loopMax = KC;
  return {
    source: `function(a, b${bias ? ', c' : ''}) {\n${code}${lines.join('\n')}\n}`,
    n: S * prod(batch) * M * N,
    loopMax,
  };
}

/**
 * The variant per gpu.js kernel class, from bench/kernels-gpujs.bench.ts (bench/RESULTS.md):
 * unroll4 is 15–45% faster in cpu mode (fewer loop trips in translated JS), naive is 10–15%
 * faster in webasm (its f32x4 lowering handles the plain loop better). GL modes were not
 * measurable here; unroll4 (independent accumulators, a quarter of the loop trips) is the usual
 * choice for fragment shaders.
 */
export function defaultMatmulVariant(kernelClass: string): MatmulVariant {
  return kernelClass === 'WebAssemblyKernel' ? 'naive' : 'unroll4';
}
