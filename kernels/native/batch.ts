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
import { allocF32, onShared } from './alloc';
import { runWasmLoop, type RowAccess } from './wasm-loop';
import { compileJob, jsChunks, jsParallel, runJsChunks } from './worker';

export type BatchKind = 'map' | 'sum' | 'max';
/** Elements [los[k], his[k]) of member ms[k], for every k (a map may split a member; a reduction runs whole members). */
type Loop = (ins: Float32Array[][], outs: Float32Array[][], ms: Int32Array, los: Int32Array, his: Int32Array) => void;
interface Segments {
  ms: Int32Array;
  los: Int32Array;
  his: Int32Array;
}
interface Compiled {
  loop: Loop;
  job: (args: { ins: Float32Array[][]; outs: Float32Array[][]; chunks: Segments[] }, c: number) => void;
  src: string;
}

const cache = new Map<string, Compiled>();
const UNROLL = 4;

function generate(kind: BatchKind, exprs: string[], pattern: string): Compiled {
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
  const loopSrc = `return function(list, outs, ms, los, his) {
      for (let k = 0; k < ms.length; k++) {
        const m = ms[k]; const ins = list[m]; const n = his[k];
        ${kind === 'map' ? exprs.map((_, j) => `const out${j} = outs[m][${j}];`).join(' ') : 'const out = outs[m][0];'}
        ${xs.map((k) => (pattern[k] === 'b' ? `const v${k} = ins[${k}][0];` : `const a${k} = ins[${k}];`)).join(' ')}
        let r = ${kind === 'max' ? '-Infinity' : '0'};
        let i = los[k];
        for (; i + ${UNROLL - 1} < n; i += ${UNROLL}) { ${unrolled} }
        for (; i < n; i++) { ${step('')} }
        ${kind === 'map' ? '' : 'out[0] = r;'}
      }
    }`;
  const job = `return function(args, c) { const s = args.chunks[c]; loop(args.ins, args.outs, s.ms, s.los, s.his); };`;
  return compileJob<Loop, Compiled['job']>(loopSrc, job);
}

/** Every member whole, one after the other. */
function whole(members: { n: number }[]): Segments {
  return {
    ms: Int32Array.from(members, (_, m) => m),
    los: new Int32Array(members.length),
    his: Int32Array.from(members, (m) => m.n),
  };
}

/** The members' elements cut into `chunks` runs of about equal length (a member may be split). */
function split(members: { n: number }[], total: number, chunks: number): Segments[] {
  const out: Segments[] = [];
  let m = 0;
  let i = 0;
  for (let c = 0; c < chunks; c++) {
    let left = c === chunks - 1 ? Infinity : Math.ceil(total / chunks);
    const ms: number[] = [];
    const los: number[] = [];
    const his: number[] = [];
    while (left > 0 && m < members.length) {
      const take = Math.min(left, members[m].n - i);
      ms.push(m);
      los.push(i);
      his.push(i + take);
      left -= take;
      i += take;
      if (i === members[m].n) {
        m++;
        i = 0;
      }
    }
    out.push({ ms: Int32Array.from(ms), los: Int32Array.from(los), his: Int32Array.from(his) });
  }
  return out;
}

/**
 * `exprs` over every member in one call; each input of a member has n elements or one. Returns
 * each member's outputs, one per expression (`sum` and `max` take one expression). A large map
 * runs in chunks on this thread and the worker (kernels/native/worker.ts).
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
  let c = cache.get(key);
  if (!c) {
    if (cache.size >= 1024) cache.clear();
    cache.set(key, (c = generate(kind, exprs, pattern)));
  }
  const total = members.reduce((t, m) => t + m.n, 0);
  const parallel = kind === 'map' && jsParallel(total);
  // (the worker writes its chunks in place: every output of a parallel map on shared memory)
  const outs = members.map((m) => exprs.map(() => allocF32(kind === 'map' ? m.n : 1, parallel)));
  // a map's members that lie in the kernels' memory run as WebAssembly loops (./wasm-loop.ts), the rest here
  const access = [...pattern] as RowAccess[];
  const rest = members
    .map((_, i) => i)
    .filter((i) => kind !== 'map' || !runWasmLoop(exprs, access, members[i].inputs, outs[i], 1, members[i].n));
  if (rest.length === 0) return outs;
  const left = rest.map((i) => members[i]);
  const ins = left.map((m) => m.inputs);
  const leftOuts = rest.map((i) => outs[i]);
  const leftTotal = left.reduce((t, m) => t + m.n, 0);
  if (parallel && jsParallel(leftTotal) && leftOuts.every((o) => o.every(onShared))) {
    const chunks = split(left, leftTotal, jsChunks());
    runJsChunks(`batch:${key}`, c.src, c.job, { ins, outs: leftOuts, chunks }, chunks.length);
  } else {
    const s = whole(left);
    c.loop(ins, leftOuts, s.ms, s.los, s.his);
  }
  return outs;
}
