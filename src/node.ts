/**
 * matpac-ts/node: everything in `matpac-ts` plus what needs Node — checkpoint files (atomic
 * writes), audio files, and the data renderer.
 *
 *   import { saveState, loadState, grad } from 'matpac-ts/node';
 */
export * from './index';
export {
  saveSafetensors,
  loadSafetensors,
  saveState,
  loadState,
  readMetadata,
  type SaveOptions,
  type LoadOptions,
  type LoadStateOptions,
} from './checkpoint/file';
export { decodeAudio, decodeAudio16k, AudioError, TARGET_SAMPLE_RATE, type DecodedAudio } from './audio/decode';
export { readAudio, loadAudio16k } from './audio/read';
export {
  loadLogMelDataset,
  listAudioFiles,
  listClassFolders,
  type LogMelDataset,
  type LogMelItem,
  type LoadLogMelOptions,
} from './data/dataset';
export { cropBatch, epochBatches, type Batch, type CropOptions } from './data/loader';
export { ensurePretrainSet, ensureProbeSet, renderPretrainSet, renderProbeSet, defaultCacheRoot } from './data/render';
export {
  parseTorchFile,
  readTorchFile,
  TorchFileError,
  type TorchStateDict,
  type HostTensor,
} from './interop/torch-load';
export { encodeTorchSave, type SaveTensor, type SaveTree } from './interop/torch-save';
