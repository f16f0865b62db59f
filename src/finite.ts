/**
 * Is every value of a tree of tensors finite? Asked of a training state after each update, so a
 * state holding NaN or ±Inf is never kept (or saved) as "last good".
 *
 * The cheap check: one sum per tensor, the sums concatenated and summed again, one read-back.
 * A sum is finite when every value it adds is (NaN and ±Inf propagate; +Inf and −Inf give NaN).
 * The converse fails only when finite values overflow float32 in the sum (a total beyond
 * 3.4·10³⁸), i.e. a state diverged anyway: such a state is reported as non-finite too.
 *
 * `firstNonFinite` finds which tensor it was (a host scan of every value: for messages only).
 */
import { scope, type Tensor } from './core';
import { concat, reshape, sum } from './ops';
import { flatten, leaves } from './tree';

/** A scalar tensor, finite iff every tensor of `tree` is (see above). */
export function finiteProbe(tree: unknown): Tensor | undefined {
  const ls = leaves(tree);
  if (!ls.length) return undefined;
  return sum(
    concat(
      ls.map((t) => reshape(sum(t), [1])),
      0,
    ),
  );
}

/** Whether every value of every tensor in `tree` is finite (one reduction per tensor, one read-back). */
export function allFinite(tree: unknown): boolean {
  return scope(() => {
    const probe = finiteProbe(tree);
    return probe === undefined || Number.isFinite(probe.item());
  });
}

/** The first tensor of `tree` (by path) holding a non-finite value, and how many it holds. */
export function firstNonFinite(tree: unknown, prefix = ''): { path: string; count: number } | undefined {
  const { leaves: ls, paths } = flatten(tree, prefix);
  for (let i = 0; i < ls.length; i++) {
    const data = ls[i].toArray();
    let count = 0;
    for (let j = 0; j < data.length; j++) if (!Number.isFinite(data[j])) count++;
    if (count) return { path: paths[i], count };
  }
  return undefined;
}

/** How many values of `tree`'s tensors are not finite (host scan). */
export function countNonFinite(tree: unknown): number {
  let n = 0;
  for (const t of leaves(tree)) {
    const data = t.toArray();
    for (let j = 0; j < data.length; j++) if (!Number.isFinite(data[j])) n++;
  }
  return n;
}
