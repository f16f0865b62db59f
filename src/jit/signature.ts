/**
 * The cache key of a jitted call: the arguments' tree structure, every tensor's shape and
 * backend, and the value of every other leaf (numbers, strings, booleans, small arrays: they are
 * static — a different value traces again, as JAX's static arguments).
 */
import { Tensor } from '../core';
import { fmt } from '../shape';

const ids = new WeakMap<object, number>();
let nextId = 0;
const identity = (o: object): number => {
  let id = ids.get(o);
  if (id === undefined) ids.set(o, (id = nextId++));
  return id;
};

export function signature(value: unknown): string {
  if (value instanceof Tensor) return `T${fmt(value.shape)}@${value.backend.name}`;
  if (value === null) return 'null';
  switch (typeof value) {
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
    case 'undefined':
      return String(value);
    case 'bigint':
      return `${value}n`;
    case 'function':
    case 'symbol':
      return `#${typeof value === 'function' ? identity(value) : String(value)}`;
  }
  if (Array.isArray(value)) return `[${value.map(signature).join(',')}]`;
  if (ArrayBuffer.isView(value)) {
    const a = value as unknown as ArrayLike<number>;
    return a.length <= 64 ? `${value.constructor.name}(${Array.from(a).join(',')})` : `#${identity(value)}`;
  }
  const o = value as Record<string, unknown>;
  if (Object.getPrototypeOf(o) !== Object.prototype && Object.getPrototypeOf(o) !== null) return `#${identity(o)}`;
  return `{${Object.keys(o)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${signature(o[k])}`)
    .join(',')}}`;
}
