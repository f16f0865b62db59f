/**
 * The one error type of the audio front end: a file that cannot be used as audio. Its message is one
 * line, "<file>: <problem>", ready to be printed as is (e.g. "a.wav: truncated: data chunk declares
 * 32000 bytes, 1204 present").
 */
export class AudioError extends Error {
  override readonly name = 'AudioError';
  constructor(
    /** The file (or other source name) that could not be read. */
    readonly file: string,
    /** What is wrong with it, without the file name. */
    readonly problem: string,
  ) {
    super(`${file}: ${oneLine(problem)}`);
  }
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}
