/**
 * No runtime import cycle among the engine's modules (src/, kernels/, models/). A cycle makes the
 * load order decide which module sees the other's bindings as undefined — the layering the
 * engine keeps (core ← ops ← fused ← primitives ← autodiff users; docs/extending.md) must stay
 * a DAG. Type-only imports (`import type`, `export type`, or every specifier marked `type`) are
 * erased at compile time and do not count; any other import or re-export does, conservatively
 * (even one the compiler would elide because its bindings are only used as types).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '..');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return tsFiles(p);
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

/** Relative module specifiers a file imports at run time. */
export function runtimeImports(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const out: string[] = [];
  const re =
    /(?:^|;|\n)\s*(import|export)\s+(type\s+)?([^'";]*?)\s*from\s*['"]([^'"]+)['"]|(?:^|;|\n)\s*import\s*['"]([^'"]+)['"]/g;
  for (let m = re.exec(code); m; m = re.exec(code)) {
    if (m[5]) {
      out.push(m[5]); // side-effect import
      continue;
    }
    if (m[2]) continue; // import type / export type
    const clause = m[3];
    const braces = /^\{([\s\S]*)\}$/.exec(clause.trim());
    if (braces) {
      const specs = braces[1]
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
      if (specs.length && specs.every((x) => x.startsWith('type '))) continue;
    }
    out.push(m[4]);
  }
  return out.filter((s) => s.startsWith('.'));
}

function resolveModule(from: string, spec: string): string | null {
  const base = resolve(dirname(from), spec);
  for (const c of [base, `${base}.ts`, join(base, 'index.ts')]) {
    try {
      if (statSync(c).isFile()) return c;
    } catch {
      // try the next candidate
    }
  }
  return null;
}

/** Every cycle (as a list of files) in the graph, one per strongly connected component. */
export function findCycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const sccs: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (graph.get(v) ?? []).includes(v)) sccs.push(comp.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return sccs;
}

describe('import graph', () => {
  it('the parser sees runtime imports and skips type-only ones', () => {
    const src = [
      "import type { A } from './a';",
      "import { type B, type C } from './b';",
      "import { D, type E } from './d';",
      "export { F } from './f';",
      "export type { G } from './g';",
      "export * from './h';",
      "import './side';",
      "import * as op from './ops';",
      "// import { X } from './commented';",
      "import fc from 'fast-check';",
    ].join('\n');
    expect(runtimeImports(src)).toEqual(['./d', './f', './h', './side', './ops']);
  });

  it('finds a cycle when there is one', () => {
    const g = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
    ]);
    expect(findCycles(g)).toEqual([['a', 'b', 'c']]);
    expect(
      findCycles(
        new Map([
          ['a', ['b']],
          ['b', []],
        ]),
      ),
    ).toEqual([]);
  });

  it('src/, kernels/ and models/ have no runtime import cycle', () => {
    const files = ['src', 'kernels', 'models'].flatMap((d) => tsFiles(join(ROOT, d)));
    const graph = new Map<string, string[]>();
    for (const f of files) {
      const deps = runtimeImports(readFileSync(f, 'utf8'))
        .map((s) => resolveModule(f, s))
        .filter((p): p is string => p !== null);
      graph.set(f, deps);
    }
    const cycles = findCycles(graph).map((c) => c.map((f) => relative(ROOT, f)).join(' → '));
    expect(cycles).toEqual([]);
  });
});
