import * as mp from './src/index';
import { preset } from './models/config';
import { initTrainState, makeTrainStep, trainStep } from './models/matpac';
import { trace } from './src/trace';
import { formatPlanStats } from './src/jit/format';
const name = process.argv[2] ?? 'tiny';
const c = preset(name);
const x = mp.tensor(new Float32Array(c.batchSize * c.nMels * c.cropFrames).map((_, i) => Math.sin(i)), [c.batchSize, c.nMels, c.cropFrames]);
let s = initTrainState(c);
[s] = trainStep(s, x, c);
const t = trace(([st, xx]: [typeof s, mp.Tensor]) => trainStep(st, xx, c), [s, x]);
let bytes = 0;
for (const e of t.trace.equations) bytes += 4 * (e.outShape.reduce((a, b) => a * b, 1) + e.inShapes.reduce((a, sh) => a + sh.reduce((p, q) => p * q, 1), 0));
const byOp = new Map<string, number>();
for (const e of t.trace.equations) byOp.set(e.prim, (byOp.get(e.prim) ?? 0) + 1);
console.log(`eager: ${t.trace.equations.length} launches, ${(bytes / 1e9).toFixed(3)} GB moved`, [...byOp].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([k, v]) => `${k}×${v}`).join(' '));
const js = makeTrainStep(c, { jit: true });
let st = s;
const times: number[] = [];
const etimes: number[] = [];
for (let i = 0; i < 6; i++) {
  const t0 = performance.now();
  const [n] = mp.scope(() => js(st, x));
  times.push(performance.now() - t0);
  const t1 = performance.now();
  mp.scope(() => trainStep(st, x, c));
  etimes.push(performance.now() - t1);
  mp.disposeTree([st], n);
  st = n;
}
console.log(formatPlanStats(js.lastPlan!()!.stats));
console.log('jit ms', times.map((v) => v.toFixed(0)).join(' '), 'eager ms', etimes.map((v) => v.toFixed(0)).join(' '), js.jitStats!());
const pl = js.lastPlan!()!;
const h = new Map<string, number>();
for (const s2 of pl.steps) if (!s2.view) h.set(s2.prim, (h.get(s2.prim) ?? 0) + 1);
console.log([...h].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}×${v}`).join(' '));
// time by prim
