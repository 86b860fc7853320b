import { UnsupportedOptionError } from '../index.js';
import { ownData } from '../integration/index.js';

/*
 * Every options object a repository method takes is read exactly once, into a snapshot of its
 * own enumerable data properties, before anything else happens: an option the repository does
 * not understand (a misspelt flag, a raw `ConditionExpression`, an operator it does not
 * implement) is a typed error before any request, never silently ignored. Caller objects are
 * treated as hostile: inherited properties are not options (a polluted prototype adds none),
 * and accessors or symbol keys, which could answer differently on a second read or hide from
 * the check, are refused without being called.
 */

/** A checked options object: own enumerable data properties, read once. @internal */
export type OptionSnapshot = Readonly<Record<string, unknown>>;

const NO_OPTIONS: OptionSnapshot = Object.freeze(Object.create(null) as Record<string, unknown>);

/**
 * The snapshot of `value` (`undefined` → no options), refusing keys not in `allowed`.
 * @param where - what the object is, for messages (`save options`, `condition`...).
 * @param allowed - the keys it may have, or `'any'` for a map keyed by field names (the caller
 *   checks the names).
 * @throws TypeError when `value` is not an object; UnsupportedOptionError for an unknown key, a
 *   symbol key or an accessor property (named in the message, never its value).
 * @example
 * ```ts
 * const o = optionSnapshot('save options', options, ['ifAbsent', 'condition', 'returnOld']);
 * ```
 * @internal
 */
export function optionSnapshot(
  where: string,
  value: unknown,
  allowed: readonly string[] | 'any',
): OptionSnapshot {
  if (value === undefined) return NO_OPTIONS;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${where}: expected an object`);
  }
  // One ownKeys and one descriptor per key: a Proxy or getter is never asked twice.
  const snapshot = ownData(
    value,
    (why, key) => {
      throw new UnsupportedOptionError(
        why === 'symbol'
          ? `${where}: symbol keys are not options`
          : `${where}: "${key}" is an accessor property; pass plain data properties`,
      );
    },
    {
      symbols: 'refuse',
      check: (key) => {
        if (allowed !== 'any' && !allowed.includes(key)) {
          throw new UnsupportedOptionError(
            `${where}: "${printable(key)}" is not supported (expected ${list(allowed)}); ` +
              'nothing was sent',
          );
        }
      },
    },
  );
  return Object.freeze(snapshot);
}

/**
 * Refuse arguments beyond a method's declared ones (an options object a method does not take
 * would otherwise be ignored). `undefined` is accepted as "not given".
 * @throws UnsupportedOptionError naming the method.
 * @internal
 */
export function noMoreArguments(method: string, extra: readonly unknown[]): void {
  if (extra.some((x) => x !== undefined)) {
    throw new UnsupportedOptionError(
      `${method}: takes no further arguments (no options); nothing was sent`,
    );
  }
}

/**
 * A boolean option: `undefined` → `false`; anything but a boolean is an error, never "off".
 * @throws TypeError naming the option.
 * @internal
 */
export function flag(where: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new TypeError(`${where}: expected a boolean`);
  return value;
}

/** A key as it may be printed: short, no control characters (it is caller data). */
function printable(key: string): string {
  const clean = key.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 40 ? `${clean.slice(0, 40)}…` : clean;
}

function list(allowed: readonly string[]): string {
  return allowed.length === 0 ? 'no options' : allowed.join(', ');
}
