/**
 * `matpac trace [--preset tiny]`: the primitive graph of one MATPAC loss and its gradient, printed
 * like a jaxpr (src/trace.ts), with kernel launch and FLOP counts for the forward pass alone and
 * for forward + backward. With `--jit`, the compiled plan of the same computation (src/jit): fused
 * groups, views, launches, bytes moved and peak memory.
 */
import { matpacLossAux, initTrainState, type StudentParams } from '../../models/matpac';
import { formatPlan, jit, tensor, valueAndGrad, type Tensor } from '../index';
import { foldIn, keyFromSeed, normalHost, split } from '../random';
import { formatFlops, formatTrace, trace } from '../trace';
import { say, useBackend } from './common';
import { checkConfig, resolveConfig } from './model';

export interface TraceOptions {
  preset?: string;
  batch: number;
  lines?: number;
  json?: boolean;
  backend: string;
  jit?: boolean;
}

export async function traceCommand(opts: TraceOptions): Promise<void> {
  say(`backend: ${useBackend(opts.backend)}`);
  const config = checkConfig({ ...resolveConfig(opts.preset ?? 'tiny'), batchSize: opts.batch });
  const state = initTrainState(config);
  const shape = [opts.batch, config.nMels, config.cropFrames];
  const batch = tensor(
    Float32Array.from(
      normalHost(
        foldIn(keyFromSeed(config.seed), 1),
        shape.reduce((a, b) => a * b, 1),
      ),
    ),
    shape,
  );
  const key = split(state.key)[1];
  const teacher = { ...state.teacher, centre: state.centre, step: 0 };
  type Args = { student: StudentParams; teacher: typeof teacher; batch: Tensor };
  const args: Args = { student: state.student, teacher, batch };

  const forward = trace((a: Args) => matpacLossAux(a.student, a.teacher, a.batch, key, config), args).trace;
  const full = trace(
    (a: Args) => valueAndGrad(matpacLossAux, { hasAux: true })(a.student, a.teacher, a.batch, key, config),
    args,
  ).trace;

  const out = process.stdout;
  if (opts.json) {
    const counts = (t: typeof full) => ({
      launches: t.equations.length,
      distinctKernels: t.kernels.size,
      flops: t.flops,
    });
    out.write(
      JSON.stringify(
        {
          preset: config.name,
          batch: shape,
          forward: counts(forward),
          forwardBackward: counts(full),
          kernels: [...full.kernels.keys()],
        },
        null,
        2,
      ) + '\n',
    );
    return;
  }
  if (opts.jit) {
    const compiled = jit((a: Args) =>
      valueAndGrad(matpacLossAux, { hasAux: true })(a.student, a.teacher, a.batch, key, config),
    );
    compiled(args);
    out.write(`# MATPAC ${config.name}: loss and gradient of one batch [${shape.join(', ')}], compiled by jit\n`);
    out.write(formatPlan(compiled.lastPlan()!, { maxLines: opts.lines }) + '\n');
    return;
  }
  out.write(`# MATPAC ${config.name}: loss and gradient of one batch [${shape.join(', ')}]\n`);
  out.write(formatTrace(full, { maxLines: opts.lines }) + '\n');
  out.write(
    `forward:            ${forward.equations.length} launches, ${forward.kernels.size} distinct kernels, ${formatFlops(forward.flops)}\n` +
      `forward + backward: ${full.equations.length} launches, ${full.kernels.size} distinct kernels, ${formatFlops(full.flops)} ` +
      `(backward/forward FLOPs ${(full.flops / forward.flops - 1).toFixed(2)})\n`,
  );
}
