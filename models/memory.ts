/**
 * Memory a MATPAC config needs, estimated from the config alone (no allocation), so that sizes a
 * machine cannot hold are refused in one line before anything is allocated (issue 16, item 6).
 *
 * Parameters (models/matpac.ts `parameterCounts`): the student θ,φ,ψ (S values), the teacher ξ,ω (T).
 * A training state holds S + T + 2S (AdamW's first and second moments, src/optim.ts); a step
 * allocates the next state (another S + T + 2S) and the gradient (S) before the previous state is
 * freed, with the clipped gradient, AdamW's update and the EMA's temporaries (≈ 4S in all).
 *
 * Activations: a step keeps every intermediate of the forward and backward pass until it ends
 * (src/core.ts `scope`). For a pre-LN transformer block on n tokens of width d, MLP ratio r and h
 * heads, forward + backward hold about
 *
 *     B·(a_lin·n·d + a_mlp·r·n·d + a_att·h·n²)   values,
 *
 * where the coefficients count the tensors each term stands for (layer norms, q/k/v and their
 * transposes, the attention scores and softmax, the MLP hidden and GELU, residuals; forward and
 * gradient) and were fitted to the native backend's allocations (test/memory.test.ts checks the
 * estimate stays within a factor of 2 of a measured step). The student encoder sees N_v + 1 tokens, the teacher
 * N_m + 1, the predictor N + 1; the heads map B·N_m rows through hidden, hidden, bottleneck and K
 * columns, twice (student and teacher).
 *
 * Inference (embed, probe): the student alone, and the encoder's forward on one crop of N + 1
 * tokens (no gradient: a third of the training coefficients).
 */
import { gridOf, maskCounts, type MatpacConfig } from './config';
import { parameterCounts } from './matpac';

/** float32 values. */
const BYTES = 4;

// values kept per (token · width) for a block, per (token · hidden) of the MLP, per (head · token²)
const A_LIN = 64;
const A_MLP = 10;
const A_ATT = 10;
/** Values kept per (row · column) of a head layer (linear, GELU or normalisation, and their gradients). */
const A_HEAD = 8;

export interface MemoryEstimate {
  /** Student, teacher and optimizer state, twice (the previous and the next state), and the gradient's trees. */
  state: number;
  /** Intermediates of one step (forward + backward), or of one forward for inference. */
  activations: number;
  total: number;
}

function blockValues(B: number, n: number, d: number, r: number, h: number, depth: number): number {
  return depth * B * (A_LIN * n * d + A_MLP * r * n * d + A_ATT * h * n * n);
}

/** Bytes one training step of `c` needs (see the top of this file). */
export function trainingMemory(c: MatpacConfig): MemoryEstimate {
  const p = parameterCounts(c);
  // two states, and the gradient with what clipping, AdamW and the EMA make of it (≈ 4 student-sized trees)
  const state = BYTES * (2 * (p.student + p.teacher + 2 * p.student) + 4 * p.student);
  const B = c.batchSize;
  const { N } = gridOf(c);
  const { nVisible, nMasked } = maskCounts(c, N);
  const e = c.encoder;
  const q = c.predictor;
  const { hiddenDim: H, bottleneckDim: bn, numClasses: K, layers } = c.head;
  const headCols = (layers - 1) * H + bn + K;
  const values =
    B * c.nMels * c.cropFrames * 4 + // the input, its patches and the embedded tokens
    blockValues(B, nVisible + 1, e.dim, e.mlpRatio, e.heads, e.depth) +
    blockValues(B, nMasked + 1, e.dim, e.mlpRatio, e.heads, e.depth) / 3 + // teacher: forward only
    blockValues(B, N + 1, q.dim, q.mlpRatio, q.heads, q.depth) +
    A_HEAD * B * nMasked * headCols * (4 / 3); // student head with gradient, teacher head forward
  const activations = BYTES * values;
  return { state, activations, total: state + activations };
}

/** Bytes embedding one crop with `c`'s student needs: its parameters and one encoder forward. */
export function inferenceMemory(c: MatpacConfig): MemoryEstimate {
  const p = parameterCounts(c);
  // the whole training state is read from the checkpoint (and checked) before the student is kept
  const state = BYTES * (p.student + p.teacher + 2 * p.student);
  const { N } = gridOf(c);
  const e = c.encoder;
  const activations =
    (BYTES * (c.nMels * c.cropFrames * 4 + blockValues(1, N + 1, e.dim, e.mlpRatio, e.heads, e.depth))) / 3;
  return { state, activations, total: state + activations };
}

/** Bytes as "1.2 GB" / "340 MB". */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return `${n} bytes`;
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return i === 0 ? `${Math.round(n)} bytes` : `${n < 10 ? n.toFixed(1) : Math.round(n)} ${units[i]}`;
}
