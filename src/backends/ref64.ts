/**
 * The float64 reference backend: the plainest possible implementation of every primitive, on
 * Float64Array, with generic N-d index loops and no fast paths. It is the ground truth the other
 * backends are property-tested against, and the backend the gradient properties run on (central
 * differences need float64).
 */
import type { Backend, KernelTable } from '../backend';
import { erf } from '../math';
import { compileScalar, scalarHelpers } from '../fused';
import { matmulDims } from '../primitives';
import { broadcastStrides, size, stridesOf, type Shape } from '../shape';

type F64 = Float64Array;

/** Visit every multi-index of `shape` in row-major order. */
function forEachIndex(shape: Shape, f: (idx: number[], flat: number) => void): void {
  const n = size(shape);
  const idx = new Array<number>(shape.length).fill(0);
  for (let flat = 0; flat < n; flat++) {
    f(idx, flat);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}
const dot = (idx: number[], st: number[]) => idx.reduce((acc, v, i) => acc + v * st[i], 0);

function unary(f: (x: number) => number) {
  return ([x]: unknown[]): F64 => (x as F64).map(f);
}
/** Scalar functions of fused expressions, by source (float64 helpers: src/fused.ts). */
const F64_HELPERS = scalarHelpers(erf);
const fusedFns = new Map<string, (...v: number[]) => number>();

function nary(f: (...v: number[]) => number) {
  return (inputs: unknown[], shapes: Shape[], out: Shape): F64 => {
    const res = new Float64Array(size(out));
    const st = shapes.map((s) => broadcastStrides(s, out));
    const ins = inputs as F64[];
    forEachIndex(out, (idx, flat) => {
      res[flat] = f(...ins.map((a, k) => a[dot(idx, st[k])]));
    });
    return res;
  };
}
function reduce(init: number, f: (acc: number, v: number) => number) {
  return ([x]: unknown[], [s]: Shape[], out: Shape): F64 => {
    const res = new Float64Array(size(out)).fill(init);
    const ost = stridesOf(out).map((v, i) => (out[i] === 1 && s[i] !== 1 ? 0 : v));
    forEachIndex(s, (idx, flat) => {
      const o = dot(idx, ost);
      res[o] = f(res[o], (x as F64)[flat]);
    });
    return res;
  };
}

/** Apply f to each row of the last axis. */
function rowwise(f: (rows: F64[], out: F64) => void) {
  return (inputs: unknown[], [s]: Shape[]): F64 => {
    const d = s[s.length - 1];
    const n = size(s);
    const res = new Float64Array(n);
    for (let o = 0; o < n; o += d)
      f(
        (inputs as F64[]).map((x) => x.subarray(o, o + d)),
        res.subarray(o, o + d),
      );
    return res;
  };
}
const rowMean = (r: F64) => r.reduce((a, b) => a + b, 0) / r.length;
/** (x − μ)/√(σ² + eps) per row. */
const normalizeRows = (eps: number) =>
  rowwise(([x], out) => {
    const mu = rowMean(x);
    const s = 1 / Math.sqrt(rowMean(x.map((v) => (v - mu) ** 2)) + eps);
    x.forEach((v, i) => (out[i] = (v - mu) * s));
  });
const Phi = (x: number) => 0.5 * (1 + erf(x / Math.SQRT2));
const phi = (x: number) => Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);

const kernels: KernelTable = {
  gelu: unary((x) => x * Phi(x)),
  geluGrad: unary((x) => Phi(x) + x * phi(x)),
  softmax: rowwise(([x], out) => {
    const m = Math.max(...x);
    let z = 0;
    x.forEach((v, i) => (z += out[i] = Math.exp(v - m)));
    out.forEach((v, i) => (out[i] = v / z));
  }),
  layerNormalize: (inputs, shapes, _o, p) => normalizeRows(p.eps)(inputs, shapes),
  layerNorm: ([x, gamma, beta], [s], _o, p) => {
    const [y, g, b] = [normalizeRows(p.eps)([x], [s]), gamma as F64, beta as F64];
    for (let i = 0; i < y.length; i++) y[i] = y[i] * g[i % g.length] + b[i % g.length];
    return y;
  },
  layerNormalizeVjp: (inputs, shapes, _o, p) =>
    rowwise(([x, g], out) => {
      const mu = rowMean(x);
      const s = 1 / Math.sqrt(rowMean(x.map((v) => (v - mu) ** 2)) + p.eps);
      const xhat = x.map((v) => (v - mu) * s);
      const mg = rowMean(g);
      const mgx = rowMean(g.map((v, i) => v * xhat[i]));
      g.forEach((v, i) => (out[i] = s * (v - mg - xhat[i] * mgx)));
    })(inputs, shapes),
  neg: unary((x) => -x),
  exp: unary(Math.exp),
  log: unary(Math.log),
  sqrt: unary(Math.sqrt),
  rsqrt: unary((x) => 1 / Math.sqrt(x)),
  square: unary((x) => x * x),
  tanh: unary(Math.tanh),
  erf: unary(erf),
  add: nary((a, b) => a + b),
  sub: nary((a, b) => a - b),
  mul: nary((a, b) => a * b),
  div: nary((a, b) => a / b),
  pow: nary((a, b) => Math.pow(a, b)),
  maximum: nary((a, b) => (a > b || Number.isNaN(a) ? a : b)),
  minimum: nary((a, b) => (a < b || Number.isNaN(a) ? a : b)),
  greater: nary((a, b) => (a > b ? 1 : 0)),
  greaterEqual: nary((a, b) => (a >= b ? 1 : 0)),
  equal: nary((a, b) => (a === b ? 1 : 0)),
  where: nary((c, a, b) => (c !== 0 ? a : b)),
  sum: reduce(0, (acc, v) => acc + v),
  max: reduce(-Infinity, (acc, v) => (v > acc || Number.isNaN(v) ? v : acc)),
  reshape: ([x]) => (x as F64).slice(),
  transpose: ([x], [s], out, p) => {
    const res = new Float64Array(size(out));
    const ist = stridesOf(s);
    const st = p.perm.map((a) => ist[a]);
    forEachIndex(out, (idx, flat) => (res[flat] = (x as F64)[dot(idx, st)]));
    return res;
  },
  broadcast: ([x], [s], out) => {
    const res = new Float64Array(size(out));
    const st = broadcastStrides(s, out);
    forEachIndex(out, (idx, flat) => (res[flat] = (x as F64)[dot(idx, st)]));
    return res;
  },
  slice: ([x], [s], out, p) => {
    const res = new Float64Array(size(out));
    const st = stridesOf(s);
    forEachIndex(
      out,
      (idx, flat) =>
        (res[flat] = (x as F64)[
          dot(
            idx.map((v, i) => v + p.begin[i]),
            st,
          )
        ]),
    );
    return res;
  },
  pad: ([x], [s], out, p) => {
    const res = new Float64Array(size(out));
    const ost = stridesOf(out);
    forEachIndex(
      s,
      (idx, flat) =>
        (res[
          dot(
            idx.map((v, i) => v + p.lo[i]),
            ost,
          )
        ] = (x as F64)[flat]),
    );
    return res;
  },
  concat: (xs, shapes, out, p) => {
    const res = new Float64Array(size(out));
    const ost = stridesOf(out);
    let offset = 0;
    xs.forEach((x, k) => {
      forEachIndex(
        shapes[k],
        (idx, flat) =>
          (res[
            dot(
              idx.map((v, i) => (i === p.axis ? v + offset : v)),
              ost,
            )
          ] = (x as F64)[flat]),
      );
      offset += shapes[k][p.axis];
    });
    return res;
  },
  gather: ([x, idx], [s, is], out, p) => {
    const res = new Float64Array(size(out));
    const xst = stridesOf(s);
    const ist = stridesOf(is);
    forEachIndex(out, (o, flat) => {
      const row = (idx as F64)[dot(o.slice(0, p.axis + 1), ist)];
      checkIndex('gather', row, s[p.axis]);
      res[flat] = (x as F64)[
        dot(
          o.map((v, i) => (i === p.axis ? row : v)),
          xst,
        )
      ];
    });
    return res;
  },
  scatterAdd: ([src, idx], [s, is], out, p) => {
    const res = new Float64Array(size(out));
    const ost = stridesOf(out);
    const ist = stridesOf(is);
    forEachIndex(s, (o, flat) => {
      const row = (idx as F64)[dot(o.slice(0, p.axis + 1), ist)];
      checkIndex('scatterAdd', row, p.size);
      res[
        dot(
          o.map((v, i) => (i === p.axis ? row : v)),
          ost,
        )
      ] += (src as F64)[flat];
    });
    return res;
  },
  matmul: ([a, b], [as, bs], out, p) => {
    const { M, K, N, batch } = matmulDims(as, bs, p);
    const res = new Float64Array(size(out));
    const ast = broadcastStrides(as.slice(0, -2), batch).map((v) => v * as[as.length - 1] * as[as.length - 2]);
    const bst = broadcastStrides(bs.slice(0, -2), batch).map((v) => v * bs[bs.length - 1] * bs[bs.length - 2]);
    // strides of the (possibly transposed) operands: A(m,k), B(k,n)
    const [am, ak] = p.transA ? [1, M] : [K, 1];
    const [bk, bn] = p.transB ? [1, K] : [N, 1];
    forEachIndex(batch, (bi, bflat) => {
      const ao = dot(bi, ast);
      const bo = dot(bi, bst);
      for (let m = 0; m < M; m++)
        for (let n = 0; n < N; n++) {
          let acc = 0;
          for (let k = 0; k < K; k++) acc += (a as F64)[ao + m * am + k * ak] * (b as F64)[bo + k * bk + n * bn];
          res[bflat * M * N + m * N + n] = acc;
        }
    });
    return res;
  },
  fused: (inputs, shapes, out, p) => {
    let f = fusedFns.get(p.src);
    if (!f) fusedFns.set(p.src, (f = compileScalar(p.src, inputs.length, F64_HELPERS)));
    return nary(f)(inputs, shapes, out);
  },
  linear: ([x, w, b], [xs, ws], out) => {
    const [N, K] = ws;
    const rows = size(xs) / K;
    const res = new Float64Array(size(out));
    for (let r = 0; r < rows; r++)
      for (let n = 0; n < N; n++) {
        let acc = (b as F64)[n];
        for (let k = 0; k < K; k++) acc += (x as F64)[r * K + k] * (w as F64)[n * K + k];
        res[r * N + n] = acc;
      }
    return res;
  },
};

export function checkIndex(op: string, i: number, n: number): void {
  if (!(Number.isInteger(i) && i >= 0 && i < n)) throw new RangeError(`${op}: index ${i} out of range [0, ${n})`);
}

export function createRef64Backend(): Backend {
  return {
    name: 'ref64',
    precision: 'float64',
    describe: () => 'float64 reference (plain TypeScript loops)',
    upload: (data) => Float64Array.from(data),
    download: (buf) => (buf as F64).slice(),
    dispose: () => {},
    kernels,
    // the reference evaluates each output of a multi-output group on its own (same values)
    fusedMulti: (srcs, ins, inShapes, shape) =>
      srcs.map((src) => kernels.fused(ins, inShapes, shape, { src } as Parameters<typeof kernels.fused>[3])),
  };
}
