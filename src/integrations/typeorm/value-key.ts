import { createHmac, randomBytes } from 'node:crypto';

/*
 * Equality of field values without keeping them: a keyed digest (a key of this process only) of
 * a canonical encoding. The subscriber uses it to leave unchanged sealed values out of an
 * update, and a sealed column's transformer to answer TypeORM's change check. Internal.
 */

const KEY = randomBytes(32);

function canonical(value: unknown, depth: number): string | undefined {
  if (depth > 32) return undefined;
  switch (typeof value) {
    case 'string':
      // Quoted: a string's own commas and brackets never read as structure.
      return `s${JSON.stringify(value)}`;
    case 'number':
      return Object.is(value, -0) ? 'n-0' : `n${String(value)}`;
    case 'bigint':
      return `b${value.toString()}`;
    case 'boolean':
      return value ? 't' : 'f';
    case 'object':
      break;
    default:
      return undefined;
  }
  if (value === null) return 'z';
  if (value instanceof Date) {
    const t = value.getTime();
    return Number.isNaN(t) ? undefined : `d${t}`;
  }
  if (value instanceof Uint8Array) return `x${Buffer.from(value).toString('hex')}`;
  if (Array.isArray(value)) {
    const parts = value.map((v: unknown) => canonical(v, depth + 1));
    return parts.includes(undefined) ? undefined : `a[${parts.join(',')}]`;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return undefined;
  const parts: string[] = [];
  for (const key of Object.keys(value).sort()) {
    const d = Object.getOwnPropertyDescriptor(value, key);
    if (d === undefined || !('value' in d)) return undefined;
    const inner = canonical(d.value, depth + 1);
    if (inner === undefined) return undefined;
    parts.push(`${JSON.stringify(key)}:${inner}`);
  }
  return `o{${parts.join(',')}}`;
}

/**
 * A digest equal for equal values (strings, numbers, bigints, booleans, dates, bytes, plain JSON
 * objects and arrays), or undefined for anything else (never equal to anything).
 */
export function valueKey(value: unknown): string | undefined {
  const text = canonical(value, 0);
  return text === undefined ? undefined : createHmac('sha256', KEY).update(text).digest('hex');
}

/** Whether two values are equal by {@link valueKey}. */
export function sameValue(a: unknown, b: unknown): boolean {
  const k = valueKey(a);
  return k !== undefined && k === valueKey(b);
}
