/**
 * Horizontal fusion's kernel: one expression (src/fused.ts source) over several independent
 * members in one call — jit's batches (src/jit/batch.ts) of the same optimizer, EMA or
 * gradient-norm pass over every parameter, as PyTorch's multi-tensor ("foreach") kernels do.
 *
 * Every input of a member is either as long as the member (read contiguously) or one value
 * (read once); `pattern` says which, per input ('c' / 'b'), and is the same for every member.
 *   map:      out_mj[i] = expr_j(x0[i], x1[i], …)     (a Float32Array of n_m elements per member and
 *                                                      expression: multi-output groups write several)
 *   sum, max: out_m[0] = Σ / max over i of expr(…)    (one expression; float64 accumulation, as reduce-expr.ts)
 */
import { HELPER_NAMES, scalarHelpers } from '../../src/fused';
import { erf32 } from '../../src/math';
import { allocF32 } from './alloc';

export type BatchKind = 'map' | 'sum' | 'max';
type Loop = (ins: Float32Array[][], outs: Float32Array[][], ns: number[]) => void;

const HELPERS = scalarHelpers(erf32);
const cache = new Map<string, Loop>();
const UNROLL = 4;

function generate(kind: BatchKind, exprs: string[], pattern: string): Loop {
  const expr = exprs[0];
  const xs = [...pattern].map((_, k) => k);
  const read = (k: number, u: string) => (pattern[k] === 'b' ? `v${k}` : `a${k}[i${u}]`);
  const value = (u: string) => `{ ${xs.map((k) => `const x${k} = ${read(k, u)};`).join(' ')} `;
  const step = (u: string) =>
    kind === 'map'
      ? `${value(u)}${exprs.map((e, j) => `out${j}[i${u}] = ${e};`).join(' ')} }`
      : kind === 'sum'
        ? `${value(u)}r = r + ${expr}; }`
        : `${value(u)}const v = ${expr}; if (v > r || v !== v) r = v; }`;
  const unrolled = Array.from({ length: UNROLL }, (_, u) => step(` + ${u}`)).join(' ');
  return new Function(
    ...HELPER_NAMES,
    `return function(list, outs, ns) {
      for (let m = 0; m < ns.length; m++) {
        const ins = list[m]; const n = ns[m];
        ${kind === 'map' ? exprs.map((_, j) => `const out${j} = outs[m][${j}];`).join(' ') : 'const out = outs[m][0];'}
        ${xs.map((k) => (pattern[k] === 'b' ? `const v${k} = ins[${k}][0];` : `const a${k} = ins[${k}];`)).join(' ')}
        let r = ${kind === 'max' ? '-Infinity' : '0'};
        let i = 0;
        for (; i + ${UNROLL - 1} < n; i += ${UNROLL}) { ${unrolled} }
        for (; i < n; i++) { ${step('')} }
        ${kind === 'map' ? '' : 'out[0] = r;'}
      }
    }`,
  )(...HELPER_NAMES.map((h) => HELPERS[h])) as Loop;
}

/**
 * `exprs` over every member in one call; each input of a member has n elements or one. Returns
 * each member's outputs, one per expression (`sum` and `max` take one expression).
 */
export function fusedBatch(
  kind: BatchKind,
  exprs: string[],
  members: { inputs: Float32Array[]; n: number }[],
): Float32Array[][] {
  if (kind !== 'map' && exprs.length !== 1) throw new RangeError(`fusedBatch: a ${kind} takes one expression`);
  const first = members[0];
  const pattern = first.inputs.map((a) => (a.length === first.n && first.n > 1 ? 'c' : 'b')).join('');
  for (const m of members)
    m.inputs.forEach((a, k) => {
      const want = pattern[k] === 'c' ? m.n : 1;
      if (a.length !== want || (pattern[k] === 'c' && m.n <= 1))
        throw new RangeError(`fusedBatch: input ${k} of a member has ${a.length} elements, expected ${want}`);
    });
  const key = `${kind}|${pattern}|${exprs.join(' ; ')}`;
  let loop = cache.get(key);
  if (!loop) {
    if (cache.size >= 1024) cache.clear();
    cache.set(key, (loop = generate(kind, exprs, pattern)));
  }
  const outs = members.map((m) => exprs.map(() => allocF32(kind === 'map' ? m.n : 1)));
  loop(
    members.map((m) => m.inputs),
    outs,
    members.map((m) => m.n),
  );
  return outs;
}
