/**
 * The stated bounds of the audio reader, so that no file, however large or hostile, makes it allocate
 * without limit:
 *  - linear (PCM / float) WAV files are read in blocks straight into their mono mix: memory is 4 bytes
 *    per frame of the mix plus one block, whatever the channel count and bit depth (a 2-minute
 *    6-channel 96 kHz 24-bit file of 207 MB needs 46 MB);
 *  - FLAC files are read whole, up to MAX_WHOLE_FILE_BYTES, and decoded in batches of frames straight
 *    into the mono mix (the file plus 4 bytes per frame); compressed WAV (A-law, µ-law, IMA-ADPCM)
 *    files are read and decoded whole, up to the same size;
 *  - no file may hold more than MAX_AUDIO_FRAMES frames (samples per channel), checked from its header
 *    before anything is allocated.
 */

/** Frames (samples per channel) per file: 2^28, about 93 minutes at 48 kHz, 4.7 hours at 16 kHz. */
export const MAX_AUDIO_FRAMES = 2 ** 28;

/** FLAC and compressed WAV files larger than this (512 MiB) are refused. */
export const MAX_WHOLE_FILE_BYTES = 512 * 2 ** 20;

/** Bytes read at a time from a linear WAV file, and the most of a file's start read to find its header. */
export const READ_BLOCK_BYTES = 2 ** 20;

/** The one-line problem for a file with more frames than MAX_AUDIO_FRAMES. */
export const tooLong = (frames: number, sampleRate: number): string =>
  `too long: ${frames} frames (${(frames / sampleRate / 60).toFixed(1)} min) exceed the limit of ${MAX_AUDIO_FRAMES} frames per file (${(MAX_AUDIO_FRAMES / sampleRate / 60).toFixed(0)} min at ${sampleRate} Hz); split the file`;
