/**
 * Why a caller's property cannot be read as plain data: a symbol key, an accessor (getter or
 * setter), or a non-enumerable ("hidden") property. @internal
 */
export type OwnDataRefusal = 'symbol' | 'accessor' | 'hidden';

/**
 * How {@link ownData} treats symbol keys and non-enumerable properties (default: skip both);
 * `check` sees every string key it keeps, before the property is read. @internal
 */
export interface OwnDataOptions {
  readonly symbols?: 'skip' | 'refuse';
  readonly hidden?: 'skip' | 'refuse';
  readonly check?: (key: string) => void;
}

/**
 * One read of a hostile object: a null-prototype copy of its own enumerable, string-keyed data
 * properties, one descriptor per key, so a getter never runs and a Proxy is never asked twice;
 * inherited (or polluted) properties are never read. `refuse` is called, and must throw, for
 * an accessor, and for symbol keys or non-enumerable properties when `options` say so.
 * @example
 * ```ts
 * const snapshot = ownData(value, (why, key) => {
 *   throw new TypeError(`${key}: ${why} properties are not data`);
 * });
 * ```
 *
 */
export function ownData(
  value: object,
  refuse: (reason: OwnDataRefusal, key: string) => never,
  options: OwnDataOptions = {},
): Record<string, unknown> {
  const out = Object.create(null) as Record<string, unknown>;
  for (const key of Reflect.ownKeys(value)) {
    const d = Reflect.getOwnPropertyDescriptor(value, key);
    if (d === undefined) continue;
    if (d.enumerable !== true) {
      if (options.hidden === 'refuse') refuse('hidden', String(key));
      continue;
    }
    if (typeof key === 'symbol') {
      if (options.symbols === 'refuse') refuse('symbol', String(key));
      continue;
    }
    options.check?.(key);
    if (!('value' in d)) refuse('accessor', key);
    out[key] = d.value;
  }
  return out;
}
