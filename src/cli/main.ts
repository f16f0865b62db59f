/**
 * The `matpac` command line: train, ablate, embed, probe, logmel, trace, export, web, bench.
 *
 * Each command's work lives in its own file (src/cli/<command>.ts), imported only when the command
 * runs, so `matpac --help` answers at once. Errors a user can act on print one line,
 * `matpac: <message>` (one line per problem for a config), and exit with status 1 (2 for bad
 * arguments, 130 for a training run interrupted with Ctrl-C, 143 for one stopped with SIGTERM — both
 * after saving a checkpoint); a stack trace is shown only with MATPAC_DEBUG=1.
 */
import { Command, CommanderError, Option } from 'commander';
import { ConfigError } from '../../models/config';
import { outputError } from '../io/atomic-file';
import { VERSION } from '../version';
import { CliError, nonNegativeInt, oneLine, parseBytes, positiveInt, positiveNumber } from './args';

const CHECKPOINT_HELP =
  'a checkpoint of matpac train, an official PyTorch .pt/.pth (MATPAC, MATPAC++ _enconly), or an official-name .safetensors (matpac export)';
const HEADS_HELP =
  'attention heads of an official checkpoint (not stored in its tensors; default: the preset of its width, 12 for 768)';
const BACKEND_HELP =
  'engine backend: native (fastest on CPU), ref64 (float64 reference), gpujs (gpu.js, best mode found), gpujs-cpu, gpujs-webasm, gpujs-headlessgl';

const FOLLOW_LINKS_HELP =
  'also follow symbolic links that lead outside a data folder (links inside it are always followed; each real file is read once)';

function buildProgram(): Command {
  const program = new Command('matpac')
    .description('MATPAC self-supervised audio representations on a from-scratch autodiff engine')
    .version(VERSION, '-V, --version')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      // commander's errors come as "error: <what>\n(Did you mean …?)": make them one line.
      outputError: (str, write) => write(`matpac: ${oneLine(str.replace(/^error: /, ''))}\n`),
    });
  const sub = (name: string) => program.command(name).exitOverride().configureOutput(program.configureOutput());

  sub('train')
    .description('pre-train MATPAC (default: the tiny preset on the generated pool, rendered as training goes)')
    .option(
      '--preset <name|file>',
      'tiny (default), tiny-pp (MATPAC++), small, base, or a JSON config file (a whole config, or {"extends": "tiny", …changed fields})',
    )
    .option(
      '--data <dir|pool>',
      'folder of audio files to train on, searched recursively, or "pool": the generated pool of speech, music, percussion, textures and mixtures, new audio every few steps (default: the pool; the bundled pre-training set where speech cannot be rendered)',
    )
    .option('--follow-links', FOLLOW_LINKS_HELP)
    .addOption(
      new Option('--steps <n>', "number of optimizer steps (default: the preset's)")
        .argParser(positiveInt)
        .conflicts('minutes'),
    )
    .addOption(
      new Option('--minutes <m>', 'train for this much wall-clock time instead of a step count').argParser(
        positiveNumber,
      ),
    )
    .option('--batch <b>', "clips per batch (default: the preset's)", positiveInt)
    .option('--seed <s>', 'random seed (initialisation, masks, crops)', nonNegativeInt)
    .option(
      '--mcl <n>',
      "MATPAC++: n multiple-choice prediction heads in place of the predictor's output projection (official: 5; 0 = MATPAC)",
      nonNegativeInt,
    )
    .option('--out <dir>', 'run folder (default: runs/<preset>-<date>-<time>)')
    .option(
      '--resume',
      'continue the run in --out (default: the latest run in runs/) from its last checkpoint, bit-identically',
    )
    .option('--stop-at <step>', 'stop after this step (with a checkpoint); --resume continues', positiveInt)
    .option(
      '--checkpoint-every <n>',
      'keep a numbered checkpoint every n steps (default: a tenth of the run)',
      positiveInt,
    )
    .option('--no-jit', 'run the training step op by op instead of compiled by jit (for comparison)')
    .option('--backend <name>', BACKEND_HELP, 'native')
    .option('--no-probe', 'skip the linear probe at the end')
    .option('--probe-data <dir>', 'folder-per-class set for the probe at the end (default: the bundled probe set)')
    .option(
      '--no-probe-suite',
      'probe only the probe set at the end, not also the development sets (kinds of sound the generated pool lacks; see matpac probe --suite)',
    )
    .option(
      '--max-memory <size>',
      "refuse configs whose estimated memory exceeds this (e.g. 8G; default: the machine's memory)",
      parseBytes,
    )
    .action(async (opts) => (await import('./train')).trainCommand(opts));

  sub('ablate')
    .description(
      'what each part buys: train L_pred only, MATPAC and MATPAC++ with the same seeds, data and steps, probe each, and write a mean ± std table and a bar chart',
    )
    .option('--preset <name|file>', 'the base preset (default: tiny)')
    .option('--steps <n>', "optimizer steps per run (default: the preset's)", positiveInt)
    .option('--seeds <s>', 'seeds per variant (seed, seed + 1, …)', positiveInt, 3)
    .option(
      '--out <dir>',
      'output folder (default: runs/ablate-<preset>-<steps>); an interrupted ablation continues there',
    )
    .option('--data <dir>', 'folder of audio files to train on (default: the bundled pre-training set)')
    .option('--probe-data <dir>', 'folder-per-class set to probe on (default: the bundled probe set)')
    .option('--folds <k>', 'probe folds', positiveInt, 5)
    .option('--backend <name>', BACKEND_HELP, 'native')
    .action(async (opts) => (await import('./ablate')).ablateCommand(opts));

  sub('embed')
    .description(
      'embeddings of audio files (the official 3840-d time-pooled vector for base), as JSON lines {"file", "embedding"}, .npy or .npz',
    )
    .requiredOption('--checkpoint <file>', CHECKPOINT_HELP)
    .option(
      '--out <file>',
      'write here instead of stdout: F.jsonl, F.npz (embeddings, files) or F.npy (+ F.files.txt), by extension',
    )
    .option(
      '--frames',
      'one embedding per 160-ms patch column with its timestamp in ms (HEAR convention) instead of the time mean',
    )
    .option('--layers', "every encoder layer's output (as the official model's layer results), not only the last")
    .addOption(
      new Option(
        '--mode <mode>',
        "official inference mode: precise (the paper's) or fast (whole 6.08-s chunks, padding included)",
      )
        .choices(['precise', 'fast'])
        .default('precise'),
    )
    .option('--heads <n>', HEADS_HELP, positiveInt)
    .option(
      '--max-memory <size>',
      "refuse models whose estimated memory exceeds this (e.g. 8G; default: the machine's memory)",
      parseBytes,
    )
    .option('--follow-links', FOLLOW_LINKS_HELP)
    .option('--backend <name>', BACKEND_HELP, 'native')
    .argument('<path...>', 'audio files (.wav, .flac, .mp3, .ogg/.opus) or folders of them')
    .action(async (paths, opts) => (await import('./embed')).embedCommand(paths, opts));

  sub('probe')
    .description(
      'linear probe on a folder-per-class data set (DIR/<class>/*.wav): accuracy over stratified folds and a confusion matrix',
    )
    .option('--checkpoint <file>', CHECKPOINT_HELP)
    .option('--heads <n>', HEADS_HELP, positiveInt)
    .option('--json', 'print the report as JSON (accuracy, folds, confusion matrix) instead of text')
    .option('--data <dir>', 'folder with one subfolder of audio files per class (default: the bundled probe set)')
    .option('--folds <k>', 'number of stratified folds', positiveInt, 5)
    .option('--follow-links', FOLLOW_LINKS_HELP)
    .option(
      '--random-init',
      "probe the same architecture untrained: the initialisation the checkpoint's run started from",
    )
    .addOption(
      new Option(
        '--baseline <kind>',
        'probe simple features instead of a model: logmel = per-band mean and std of the log-mel',
      ).choices(['logmel']),
    )
    .option('--preset <name|file>', 'architecture for --random-init without --checkpoint (default: tiny)')
    .option('--seed <s>', 'seed of the random fold assignment', nonNegativeInt, 0)
    .option(
      '--max-memory <size>',
      "refuse models whose estimated memory exceeds this (e.g. 8G; default: the machine's memory)",
      parseBytes,
    )
    .option('--backend <name>', BACKEND_HELP, 'native')
    .addOption(
      new Option(
        '--suite',
        'probe every development set (kinds of sound the generated pool lacks) with --checkpoint (if given), its random init and log-mel statistics, in one table',
      ).conflicts(['data', 'baseline', 'randomInit']),
    )
    .option('--sets <names>', 'with --suite: comma-separated development sets (default: all)')
    .option('--dev-clips <n>', 'with --suite: clips per class of the development sets (default 30)', positiveInt)
    .option('--suite-json <file>', 'with --suite: also write the table as JSON')
    .action(async (opts) =>
      opts.suite
        ? (await import('./probe-suite')).probeSuiteCommand({ ...opts, json: opts.suiteJson })
        : (await import('./probe')).probeCommand(opts),
    );

  sub('logmel')
    .description("MATPAC's normalised log-mel spectrogram of an audio file, as .npy [80, T] (and a picture)")
    .argument('<file>', 'an audio file (.wav, .flac, .mp3, .ogg/.opus)')
    .requiredOption('--out <file.npy>', 'where to write the array')
    .option('--png <file.png>', 'also write a picture of it')
    .action(async (file, opts) => (await import('./logmel')).logmelCommand(file, opts));

  sub('trace')
    .description('print the primitive graph of the MATPAC loss and its gradient, with kernel and FLOP counts')
    .option('--preset <name|file>', 'tiny, small, base, or a JSON config file', 'tiny')
    .option('--batch <b>', 'clips in the traced batch', positiveInt, 1)
    .option('--lines <n>', 'print at most n equations (0: only the counts)', nonNegativeInt)
    .option('--jit', 'print the plan jit compiles instead: fused groups, views, launches, bytes moved, peak memory')
    .option('--json', 'print the counts (launches, distinct kernels, FLOPs) as JSON instead of the graph')
    .option('--backend <name>', BACKEND_HELP, 'native')
    .action(async (opts) => (await import('./trace')).traceCommand(opts));

  sub('export')
    .description(
      "write a checkpoint's encoder under the official PyTorch names (matpac_wrapper loads it), as .safetensors or .pt",
    )
    .requiredOption('--checkpoint <file>', CHECKPOINT_HELP)
    .requiredOption('--out <file>', 'encoder.safetensors or encoder.pt (torch.load(..., weights_only=True) reads it)')
    .option(
      '--full',
      "the whole training state (student, EMA teacher, heads, centre) under the official trainer's names",
    )
    .option('--heads <n>', HEADS_HELP, positiveInt)
    .action(async (opts) => (await import('./export')).exportCommand(opts));
  sub('web')
    .description(
      'serve the web page on 127.0.0.1: train MATPAC on your GPU (WebGL2) in a browser, explore its math, exchange checkpoints with the CLI',
    )
    .option('--port <n>', 'port to listen on (0: any free port)', nonNegativeInt, 8080)
    .option('--data <dir>', 'folder of audio files to train on (default: the bundled pre-training set)')
    .action(async (opts) => (await import('./web')).webCommand(opts));

  sub('bench')
    .description('run the benchmark suite (bench/*.bench.ts), or those whose names contain NAME')
    .argument('[name...]', 'run only these benchmarks')
    .option('--list', 'list the benchmarks instead of running them')
    .option('--quick', 'fewer samples per benchmark: a smoke run, not figures to report')
    .action(async (names, opts) => (await import('./bench')).benchCommand(names, opts));

  // --max-memory (train, embed, probe) sets the limit the memory estimate is checked against
  program.hook('preAction', async (_program, action) =>
    (await import('./memory-check')).setMemoryLimit(action.opts().maxMemory),
  );
  return program;
}

/** Print an error as one line and return the exit status. */
export function reportError(e: unknown): number {
  // commander has printed its message already (bad arguments: status 2), or shown help/version (0)
  if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
  const err = e instanceof Error ? e : new Error(String(e));
  const internal =
    err instanceof TypeError ||
    err instanceof RangeError ||
    err instanceof ReferenceError ||
    err instanceof SyntaxError;
  // errors made of several complete lines (one per config problem) print one line each
  const problems = err instanceof CliError ? err.message.split('\n') : err instanceof ConfigError ? err.problems : null;
  if (problems) {
    for (const p of problems) process.stderr.write(`matpac: ${oneLine(p)}\n`);
    return (err as { exitCode?: number }).exitCode ?? 1;
  }
  const sys = err as NodeJS.ErrnoException;
  let msg = oneLine(err.message || String(e));
  if (sys.code === 'ENOENT' && sys.path) msg = `${sys.path}: no such file or folder`;
  else if (sys.code === 'EACCES' && sys.path) msg = `${sys.path}: permission denied`;
  else if ((sys.code === 'ENOSPC' || sys.code === 'EDQUOT') && sys.path)
    msg = `${sys.path}: cannot write (${sys.code === 'ENOSPC' ? 'no space left on device' : 'disk quota exceeded'})`;
  else if (internal)
    msg = `internal error: ${msg}${process.env.MATPAC_DEBUG ? '' : ' (run with MATPAC_DEBUG=1 for the stack trace)'}`;
  process.stderr.write(`matpac: ${msg}\n`);
  if (process.env.MATPAC_DEBUG && err.stack) process.stderr.write(err.stack + '\n');
  return (e as { exitCode?: number }).exitCode ?? 1;
}

/**
 * Errors of the standard streams, which Node would otherwise raise as an unhandled 'error' event with
 * a stack trace. Standard output closed early (`matpac embed DIR | head`): stop at once and quietly,
 * with status 141 as a Unix tool killed by SIGPIPE. Standard output failing otherwise (`> file` on a
 * full disk): one line on standard error, status 1. Standard error failing: go on without messages.
 */
export function guardStandardStreams(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(141);
    try {
      process.stderr.write(`matpac: ${outputError('standard output', e).message}\n`);
    } finally {
      process.exit(1);
    }
  });
  process.stderr.on('error', () => {});
}

/** Run the CLI on `argv` (without node and script) and return the exit status. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  if (!argv.length) {
    program.outputHelp();
    return 0;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    return reportError(e);
  }
}
