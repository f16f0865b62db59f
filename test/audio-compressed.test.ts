/**
 * MP3 and Ogg/Opus input (fixtures made by scripts/make_audio_fixtures.sh with ffmpeg: 0.6 s of a
 * 440 Hz tone then a 1 kHz tone), and one clear line for what cannot be decoded.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AudioError, decodeAudio, sniffContainer } from '../src/audio/decode';
import { loadAudio16k } from '../src/audio/read';

const DIR = join(__dirname, 'fixtures', 'audio');
const bytes = (name: string) => new Uint8Array(readFileSync(join(DIR, name)));

/** The dominant frequency of x (16 kHz) among the candidates, by correlation with sinusoids. */
function dominant(x: Float32Array, candidates: number[]): number {
  const power = (f: number) => {
    let c = 0;
    let s = 0;
    x.forEach(
      (v, i) => (
        (c += v * Math.cos((2 * Math.PI * f * i) / 16000)),
        (s += v * Math.sin((2 * Math.PI * f * i) / 16000))
      ),
    );
    return c * c + s * s;
  };
  return candidates.reduce((a, b) => (power(b) > power(a) ? b : a));
}

async function expectRefusal(data: Uint8Array, re: RegExp): Promise<void> {
  const e = await decodeAudio(data, 'x').catch((err) => err);
  expect(e).toBeInstanceOf(AudioError);
  expect((e as Error).message).not.toMatch(/\n/);
  expect((e as Error).message).toMatch(re);
}

describe('compressed audio input', () => {
  it.each(['tone.mp3', 'tone.opus', 'stereo44k.mp3'])('%s decodes to the signal it was made from', async (name) => {
    const b = bytes(name);
    expect(sniffContainer(b, name)).toBe(name.endsWith('.opus') ? 'ogg' : 'mp3');
    const x = await loadAudio16k(join(DIR, name));
    // 0.6 s at 16 kHz, give or take codec padding that the decoders do not remove exactly
    expect(Math.abs(x.length - 9600)).toBeLessThan(1200);
    expect(dominant(x.subarray(800, 4000), [440, 1000])).toBe(440);
    expect(dominant(x.subarray(5600, 8800), [440, 1000])).toBe(1000);
    const peak = x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(peak).toBeGreaterThan(0.3); // 0.5, or 0.5·√½ on each channel of the stereo upmix
    expect(peak).toBeLessThan(0.75);
  });

  it('keeps the channels and the rate of the file', async () => {
    const a = await decodeAudio(bytes('stereo44k.mp3'), 's');
    expect(a.channels).toHaveLength(2);
    expect(a.sampleRate).toBe(44100);
    const o = await decodeAudio(bytes('tone.opus'), 'o');
    expect(o.sampleRate).toBe(48000);
  });

  it('damaged or unsupported files: one line naming the problem', async () => {
    const opus = bytes('tone.opus');
    await expectRefusal(
      opus.slice(0, 60),
      /^x: (Ogg\/Opus stream holds no decodable audio|corrupt Ogg\/Opus|not a readable Ogg\/Opus)/,
    );
    const vorbis = opus.slice();
    vorbis.set([0x01, ...Array.from('vorbis', (c) => c.charCodeAt(0))], 27 + vorbis[26]);
    await expectRefusal(vorbis, /^x: Ogg file with Vorbis audio: only Ogg\/Opus is supported \(convert with: ffmpeg/);
    const mp3 = bytes('tone.mp3');
    const garbage = mp3.slice();
    for (let i = 200; i < garbage.length; i++) garbage[i] = (i * 37) & 0xff;
    await expectRefusal(
      garbage.slice(0, 400),
      /^x: (MP3 stream holds no decodable audio|corrupt MP3|not a readable MP3)/,
    );
  });
});
