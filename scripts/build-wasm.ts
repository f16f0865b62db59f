/**
 * Assemble the native backend's WebAssembly text kernels into the binaries the engine loads
 * (kernels/native/*.wasm, committed, so that sources run without a build and `wabt` is only a
 * development dependency):
 *
 *   matmul.wat → matmul.wasm              shared memory (threads: Node, cross-origin-isolated pages)
 *              → matmul-single.wasm       the same code on unshared memory (pages without isolation)
 *              → matmul-fma(-single).wasm the same two with fused multiply-adds (relaxed SIMD)
 *   rows.wat   → rows.wasm                its own unshared memory (operands copied in and out)
 *              → rows-shared.wasm         the same code on the kernels' shared memory (matmul's), where
 *                                         it reads and writes the backend's buffers in place
 *
 *   npx tsx scripts/build-wasm.ts           write the binaries
 *   npx tsx scripts/build-wasm.ts --check   fail if a binary differs from its source (CI: test/wasm-build.test.ts)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const DIR = new URL('../kernels/native/', import.meta.url);

interface Target {
  out: string;
  wat: string;
  features: Record<string, boolean>;
  edit?: (src: string) => string;
}

/** matmul.wat on unshared memory (pages that are not cross-origin isolated). */
function unshared(src: string): string {
  const shared = '(import "env" "memory" (memory 1 32768 shared))';
  if (!src.includes(shared)) throw new Error(`matmul.wat: expected the line ${shared}`);
  return src.replace(shared, '(import "env" "memory" (memory 1 32768))');
}

/**
 * matmul.wat with the microkernel's multiply-adds fused: `c + a*b` (f32x4.add of an f32x4.mul)
 * becomes relaxed-simd's `f32x4.relaxed_madd a b c`, one FMA instruction where the CPU has FMA
 * (every x86-64 since 2013, every ARM64). Loaded only where relaxed SIMD validates.
 */
function fused(src: string): string {
  const madd = /\(f32x4\.add \(local\.get (\$c\d\d)\) \(f32x4\.mul \(local\.get \$av\) \(local\.get (\$b\d)\)\)\)/g;
  const n = src.match(madd)?.length ?? 0;
  if (n !== 8) throw new Error(`matmul.wat: expected the microkernel's 8 multiply-adds, found ${n}`);
  return src.replace(madd, '(f32x4.relaxed_madd (local.get $av) (local.get $2) (local.get $1))');
}

/** rows.wat importing the kernels' shared memory (matmul.wat's: at most 32768 pages) instead of its own. */
function sharedRows(src: string): string {
  const own = '(import "env" "memory" (memory 1 65536))';
  if (!src.includes(own)) throw new Error(`rows.wat: expected the line ${own}`);
  return src.replace(own, '(import "env" "memory" (memory 1 32768 shared))');
}

const FMA = { simd: true, threads: true, relaxed_simd: true };

export const TARGETS: Target[] = [
  { out: 'matmul.wasm', wat: 'matmul.wat', features: { simd: true, threads: true } },
  { out: 'matmul-single.wasm', wat: 'matmul.wat', features: { simd: true, threads: true }, edit: unshared },
  { out: 'matmul-fma.wasm', wat: 'matmul.wat', features: FMA, edit: fused },
  { out: 'matmul-fma-single.wasm', wat: 'matmul.wat', features: FMA, edit: (src) => unshared(fused(src)) },
  { out: 'rows.wasm', wat: 'rows.wat', features: { simd: true } },
  { out: 'rows-shared.wasm', wat: 'rows.wat', features: { simd: true, threads: true }, edit: sharedRows },
];

type Wabt = {
  parseWat(
    name: string,
    src: string,
    features?: Record<string, boolean>,
  ): { toBinary(o: object): { buffer: Uint8Array }; destroy(): void };
};

/** Assemble every target: file name → bytes. */
export async function assemble(): Promise<Map<string, Uint8Array>> {
  const wabt = await (createRequire(import.meta.url)('wabt') as () => Promise<Wabt>)();
  const out = new Map<string, Uint8Array>();
  for (const t of TARGETS) {
    const src = readFileSync(new URL(t.wat, DIR), 'utf8');
    const mod = wabt.parseWat(t.wat, t.edit ? t.edit(src) : src, t.features);
    try {
      out.set(t.out, mod.toBinary({}).buffer.slice());
    } finally {
      mod.destroy();
    }
  }
  return out;
}

/** The committed binary's path. */
export const binaryPath = (name: string): string => fileURLToPath(new URL(name, DIR));

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [name, bytes] of await assemble()) {
    if (check) {
      let have: Uint8Array | null = null;
      try {
        have = readFileSync(binaryPath(name));
      } catch {
        /* missing */
      }
      if (!have || Buffer.compare(Buffer.from(have), Buffer.from(bytes)) !== 0) {
        console.error(`kernels/native/${name} is out of date: run npx tsx scripts/build-wasm.ts`);
        stale++;
      }
    } else {
      writeFileSync(binaryPath(name), bytes);
      console.log(`kernels/native/${name}: ${bytes.byteLength} bytes`);
    }
  }
  process.exitCode = stale ? 1 : 0;
}
