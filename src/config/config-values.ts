import { isAbsolute, resolve } from 'node:path';

/*
 * Checks of configuration values shared by the configuration file and its provider section
 * (all internal): each error names the setting, never its value.
 */

/** `v` as a plain object, or a TypeError naming the setting. @internal */
export function object(v: unknown, name: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new TypeError(`${name}: expected an object`);
  }
  return v as Record<string, unknown>;
}

/** `v` as a non-empty string, or a TypeError naming the setting. @internal */
export function text(v: unknown, name: string): string {
  if (typeof v !== 'string' || v.length === 0) {
    throw new TypeError(`${name}: expected a non-empty string`);
  }
  return v;
}

/** `v` as a path, resolved against `baseDir` when relative. @internal */
export function path(v: unknown, name: string, baseDir: string): string {
  const p = text(v, name);
  return isAbsolute(p) ? p : resolve(baseDir, p);
}
