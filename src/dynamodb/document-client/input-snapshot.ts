import { UnsupportedOptionError } from '../../index.js';

/*
 * One read of a command's input: everything the sealing checks is what the SDK sends, and a
 * caller cannot change it between the two (after `send()`, through a getter). All internal.
 */

const refuse = (why: string): never => {
  throw new UnsupportedOptionError(`document command input: ${why}`, {
    details: { field: '*.*' },
  });
};

/** How deep an input may nest (item values included): DynamoDB's own limit is 32. */
const MAX_DEPTH = 64;

/**
 * A deep copy of a command's input: plain objects and arrays copied (own enumerable data
 * properties only), values of other classes (bytes, sets, `NumberValue`) kept. Boxed
 * primitives (`new String(...)`), accessors, array holes and `__proto__` keys are refused:
 * the SDK would read them differently from the checks.
 * @throws UnsupportedOptionError naming what was refused (never a value).
 * @internal
 */
export function snapshotInput(value: unknown, depth = 0): unknown {
  if (depth > MAX_DEPTH) refuse(`it nests deeper than ${MAX_DEPTH} levels`);
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof String || value instanceof Number || value instanceof Boolean) {
    return refuse('a boxed primitive (new String(...)) is not a value: pass the primitive');
  }
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (let i = 0; i < value.length; i++) {
      const d = Object.getOwnPropertyDescriptor(value, i);
      if (d === undefined || !('value' in d)) refuse('an array has a hole or an accessor');
      out.push(snapshotInput(d!.value, depth + 1));
    }
    return out;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    if (key === '__proto__') refuse('a __proto__ key is not data');
    const d = Object.getOwnPropertyDescriptor(value, key)!;
    if (!('value' in d)) refuse(`${key} is an accessor, not a data property`);
    out[key] = snapshotInput(d.value, depth + 1);
  }
  return out;
}

/**
 * The table name a request names: a table ARN (`arn:aws:dynamodb:…:table/<name>`) names
 * `<name>`; anything but a string names none.
 * @internal
 */
export function tableNameOf(name: unknown): string | undefined {
  if (typeof name !== 'string') return undefined;
  const arn = /^arn:[^:]+:dynamodb:[^:]*:[^:]*:table\/([^/]+)$/.exec(name);
  return arn === null ? name : arn[1];
}
