/**
 * Parameter trees (JAX's pytrees): nested plain objects and arrays whose leaves are tensors.
 * Non-tensor leaves (numbers, strings, booleans, null) are carried along untouched and get no
 * gradient. Object keys are visited in sorted order, so flattening is deterministic and the
 * paths (`student.blocks.0.attn.qkv.weight`) are stable names — they are the checkpoint format.
 */
import { Tensor } from './core';

/** A nested structure of objects and arrays with tensors (and other values) as leaves. */
export type Tree<L = Tensor> = L | readonly Tree<L>[] | { readonly [key: string]: Tree<L> };

export interface Flat<T> {
  leaves: Tensor[];
  paths: string[];
  /** Rebuild a tree of the same structure from new leaves. */
  rebuild<L>(leaves: L[]): T extends Tensor ? L : T;
}

const isPlainObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Tensor) && !ArrayBuffer.isView(x);

/** The tensor leaves of a tree in a fixed order (object keys sorted), with their '.'-joined paths and `rebuild`, which puts new leaves back into the same structure. */
export function flatten<T>(tree: T, prefix = ''): Flat<T> {
  const leaves: Tensor[] = [];
  const paths: string[] = [];
  const visit = (node: unknown, path: string): void => {
    if (node instanceof Tensor) {
      leaves.push(node);
      paths.push(path);
    } else if (Array.isArray(node)) node.forEach((c, i) => visit(c, path ? `${path}.${i}` : String(i)));
    else if (isPlainObject(node)) for (const k of Object.keys(node).sort()) visit(node[k], path ? `${path}.${k}` : k);
  };
  visit(tree, prefix);
  const rebuild = <L>(newLeaves: L[]): unknown => {
    let i = 0;
    const build = (node: unknown): unknown => {
      if (node instanceof Tensor) return newLeaves[i++];
      if (Array.isArray(node)) return node.map(build);
      if (isPlainObject(node)) {
        const out: Record<string, unknown> = {};
        for (const k of Object.keys(node).sort()) out[k] = build(node[k]);
        return out;
      }
      return node;
    };
    const r = build(tree);
    if (i !== newLeaves.length) throw new Error(`tree rebuild: expected ${i} leaves, got ${newLeaves.length}`);
    return r;
  };
  return { leaves, paths, rebuild: rebuild as Flat<T>['rebuild'] };
}

/** The tensor leaves of a tree, in flatten's order. */
export const leaves = (tree: unknown): Tensor[] => flatten(tree).leaves;

/** Map `f` over the tensor leaves of one or more trees of the same structure. */
export function treeMap<T>(f: (...xs: Tensor[]) => Tensor, tree: T, ...rest: unknown[]): T {
  const a = flatten(tree);
  const others = rest.map((r) => flatten(r));
  for (const [k, o] of others.entries())
    if (o.leaves.length !== a.leaves.length || o.paths.some((p, i) => p !== a.paths[i]))
      throw new Error(
        `treeMap: tree ${k + 1} does not have the structure of the first (${o.leaves.length} vs ${a.leaves.length} leaves; first difference at ${o.paths.find((p, i) => p !== a.paths[i]) ?? a.paths[o.leaves.length]})`,
      );
  return a.rebuild(a.leaves.map((l, i) => f(l, ...others.map((o) => o.leaves[i])))) as T;
}

/** Like treeMap, with the leaf's path as first argument. */
export function treeMapWithPath<T>(f: (path: string, ...xs: Tensor[]) => Tensor, tree: T, ...rest: unknown[]): T {
  const a = flatten(tree);
  const others = rest.map((r) => flatten(r));
  return a.rebuild(a.leaves.map((l, i) => f(a.paths[i], l, ...others.map((o) => o.leaves[i])))) as T;
}

/** The leaves with their paths, as a record (the checkpoint view of a tree). */
export function toNamed(tree: unknown, prefix = ''): Record<string, Tensor> {
  const { leaves: ls, paths } = flatten(tree, prefix);
  return Object.fromEntries(paths.map((p, i) => [p, ls[i]]));
}

/** The number of values in all tensor leaves of a tree (e.g. a parameter count). */
export const treeSize = (tree: unknown): number => leaves(tree).reduce((acc, t) => acc + t.size, 0);
