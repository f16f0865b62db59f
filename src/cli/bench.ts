/**
 * `matpac bench [NAME…]`: run the benchmark suite, bench/*.bench.ts, one file after the other in
 * its own process (through tsx), with its output shown as it comes. `--quick` is passed on to each
 * file (fewer samples: a smoke run, not figures to report).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError, say } from './common';

/** The package root: the first folder above this file with a package.json (sources: the clone; compiled: above dist/). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

const ROOT = packageRoot();
export const BENCH_DIR = join(ROOT, 'bench');

/** The benchmark files, optionally only those whose name contains one of `filters`. */
export function benchFiles(filters: readonly string[] = []): string[] {
  const all = existsSync(BENCH_DIR)
    ? readdirSync(BENCH_DIR)
        .filter((f) => f.endsWith('.bench.ts'))
        .sort()
    : [];
  return filters.length ? all.filter((f) => filters.some((q) => f.includes(q))) : all;
}

function runOne(file: string, args: string[]): Promise<number> {
  const tsxCli = createRequire(import.meta.url).resolve('tsx/cli');
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [tsxCli, join(BENCH_DIR, file), ...args], { cwd: ROOT, stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolveRun(code ?? (signal ? 1 : 0)));
  });
}

export async function benchCommand(filters: string[], opts: { list?: boolean; quick?: boolean }): Promise<void> {
  const files = benchFiles(filters);
  if (!files.length) {
    const available = benchFiles();
    throw new CliError(
      available.length
        ? `no benchmark matches ${filters.join(', ')} (available: ${available.join(', ')})`
        : `no benchmarks found (bench/*.bench.ts): benchmarks run from a clone of the repository, with its dev dependencies (tsx)`,
    );
  }
  if (opts.list) {
    for (const f of files) process.stdout.write(f + '\n');
    return;
  }
  const failed: string[] = [];
  for (const f of files) {
    say(`── ${f}`);
    if ((await runOne(f, opts.quick ? ['--quick'] : [])) !== 0) failed.push(f);
  }
  if (failed.length) throw new CliError(`${failed.length} of ${files.length} benchmarks failed: ${failed.join(', ')}`);
}
