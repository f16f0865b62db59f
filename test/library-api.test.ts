/**
 * The package's public surface: what `matpac-ts` and `matpac-ts/node` export, the asynchronous
 * read-back beside the synchronous one, the version constant, and where the data cache goes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as mp from '../src/index';
import * as node from '../src/node';
import { defaultCacheRoot } from '../src/data/render';

describe('public API', () => {
  it('`.` exports the engine, tracing, checkpoint bytes and the model; `./node` adds the files', () => {
    for (const name of [
      'grad',
      'valueAndGrad',
      'tensor',
      'trace',
      'formatTrace',
      'encodeState',
      'decodeState',
      'encodeSafetensors',
      'decodeSafetensors',
      'embed',
      'logMelSpectrogram',
      'exportStudentEncoder',
      'importStudentEncoder',
      'useBackend',
      'loadGpujs',
      'createTrainState',
    ])
      expect(typeof (mp as Record<string, unknown>)[name], name).toBe('function');
    expect(typeof mp.matpac.initTrainState).toBe('function');
    expect(typeof mp.matpac.trainStep).toBe('function');
    for (const name of [
      'saveState',
      'loadState',
      'saveSafetensors',
      'loadSafetensors',
      'readMetadata',
      'readAudio',
      'ensurePretrainSet',
    ])
      expect(typeof (node as Record<string, unknown>)[name], name).toBe('function');
    expect('saveState' in mp).toBe(false);
    expect(node.grad).toBe(mp.grad); // one engine, one backend registry
  });

  it('trace works on a user function, outputs included', () => {
    const { result, trace } = mp.trace((p: { w: mp.Tensor }) => mp.sum(mp.square(p.w)), { w: mp.tensor([1, 2]) });
    expect(result.item()).toBe(5);
    expect(mp.formatTrace(trace)).toMatch(/square/);
  });

  it('VERSION is package.json version', () => {
    expect(mp.VERSION).toBe(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version);
  });
});

describe('asynchronous read-back', () => {
  for (const backend of ['native', 'ref64', 'gpujs-cpu']) {
    it(`toArrayAsync equals toArray on ${backend}`, async () => {
      const x = mp.withBackend(backend, () => mp.exp(mp.tensor([0, 1, -2, 0.5])));
      const sync = x.toArray();
      const pending = x.toArrayAsync();
      expect(pending).toBeInstanceOf(Promise);
      expect(Array.from(await pending)).toEqual(Array.from(sync));
    });
  }
});

describe('data cache folder', () => {
  it('MATPAC_DATA_CACHE, then MATPAC_CACHE, then XDG_CACHE_HOME, then the platform cache folder', () => {
    expect(defaultCacheRoot({ MATPAC_DATA_CACHE: '/d', MATPAC_CACHE: '/c' }, 'linux', '/h')).toBe('/d');
    expect(defaultCacheRoot({ MATPAC_CACHE: '/c', XDG_CACHE_HOME: '/x' }, 'linux', '/h')).toBe(join('/c', 'data'));
    expect(defaultCacheRoot({ XDG_CACHE_HOME: '/x' }, 'linux', '/h')).toBe(join('/x', 'matpac-ts', 'data'));
    expect(defaultCacheRoot({}, 'linux', '/h')).toBe(join('/h', '.cache', 'matpac-ts', 'data'));
    expect(defaultCacheRoot({}, 'darwin', '/h')).toBe(join('/h', 'Library', 'Caches', 'matpac-ts', 'data'));
  });
});
