/**
 * matpac-ts: the public API for Node and browsers (imports nothing from `node:*`; file
 * checkpoints, audio files and the data renderer are in `matpac-ts/node`).
 *
 *   import * as mp from 'matpac-ts';
 *   const loss = (p) => mp.mean(mp.square(mp.sub(mp.linear(x, p.w, p.b), y)));
 *   const [value, grads] = mp.valueAndGrad(loss)(params);
 *
 * The engine (./engine.ts): tensors, ops, transforms (grad, vjp, valueAndGrad), trees, backends,
 * random, optim, schedules, EMA. Added here: tracing, the training-state helpers, checkpoints as
 * bytes, and the MATPAC model (`matpac`, with its log-mel front end and embeddings also at the top).
 */
export * from './engine';
export { trace, formatTrace, formatFlops, type Trace, type TraceEquation } from './trace';
export {
  createTrainState,
  applyGradients,
  takeKey,
  runSteps,
  type TrainState,
  type TrainStep,
  type CreateTrainStateOptions,
} from './train-state';
export {
  CheckpointError,
  encodeSafetensors,
  decodeSafetensors,
  decodeMetadata,
  encodeState,
  decodeState,
  type Metadata,
  type SaveDtype,
  type EncodeOptions,
  type DecodeOptions,
  type DecodeStateOptions,
} from './checkpoint/codec';
export { VERSION } from './version';
export { matmulInfo, matmulStats, setMatmulConfig, type MatmulConfig } from '../kernels/native/matmul';
export { rowsInfo } from '../kernels/native/rows';
/** MATPAC, the model: configs and presets, initialisation, loss and train step, log-mel front end, embeddings, official-name import/export. */
export * as matpac from '../models/index';
export { embed, embedBatch, type EmbedOptions, type EncoderPart } from '../models/embed';
export { logMelSpectrogram, type LogMel } from '../models/frontend';
export { exportStudentEncoder, importStudentEncoder, exportTrainingState, inferEncoderConfig } from '../models/interop';
export { preset, type MatpacConfig } from '../models/config';
