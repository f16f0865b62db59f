/**
 * MATPAC (arXiv 2502.12031), the model: its public face, exported by the package as `matpac`
 * (`import { matpac } from 'matpac-ts'`): configurations and presets, initialisation, the loss
 * and one training step, the log-mel front end, embeddings, and the official-name import/export
 * of the student encoder. Imports nothing from Node.
 */
export * from './config';
export * from './matpac';
export * from './embed';
export * from './frontend';
export * from './interop';
