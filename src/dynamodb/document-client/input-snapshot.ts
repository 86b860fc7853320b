import { NumberValue } from '@aws-sdk/lib-dynamodb';
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
 * A deep copy of a command's input, made from one read of each object: plain objects and
 * arrays copied (own enumerable data properties only), and the value classes the document
 * client marshals copied through their intrinsic slots, never their (overridable) methods:
 * `Uint8Array` and `Buffer` (as a `Uint8Array`), `ArrayBuffer`, `Date` (an encrypted
 * attribute's value), `Set` and `NumberValue`.
 * Nothing the caller made is sent by reference. Any other object (a class instance, a subclass
 * of those), boxed primitives (`new String(...)`), accessors, array holes and
 * `__proto__` keys are refused: the SDK would read them differently from the checks.
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
  if (proto !== Object.prototype && proto !== null) return valueOfClass(value, proto, depth);
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

/** A copy of a value of one of the classes the document client marshals, or a refusal. */
function valueOfClass(value: object, proto: unknown, depth: number): unknown {
  if (proto === Uint8Array.prototype || proto === Buffer.prototype) {
    // The constructor copies through the typed array's internal slots.
    return new Uint8Array(value as Uint8Array);
  }
  if (proto === Date.prototype) {
    // An encrypted attribute's value may be a date (sealed before it is marshalled).
    return new Date(Date.prototype.getTime.call(value));
  }
  if (proto === ArrayBuffer.prototype) {
    return new Uint8Array(ArrayBuffer.prototype.slice.call(value, 0));
  }
  if (proto === Set.prototype) {
    const items = Array.from(Set.prototype.values.call(value as Set<unknown>));
    return new Set(items.map((item) => snapshotInput(item, depth + 1)));
  }
  if (proto === NumberValue.prototype) {
    const d = Object.getOwnPropertyDescriptor(value, 'value');
    if (d === undefined || !('value' in d) || typeof d.value !== 'string') {
      return refuse('a NumberValue without its string value');
    }
    return NumberValue.from(d.value);
  }
  return refuse(
    'an object of a class (not a plain object, array, Uint8Array, ArrayBuffer, Date, Set or NumberValue) is not a document value: pass plain objects',
  );
}
