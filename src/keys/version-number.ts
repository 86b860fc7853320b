/**
 * The largest data-key version an envelope can name (a 32-bit field of format v1).
 * @example
 * ```ts
 * checkVersionNumber('version', version, 1, MAX_KEY_VERSION);
 * ```
 */
export const MAX_KEY_VERSION = 0xffffffff;

/**
 * Check that `value` is an integer from `min` to `max`; a `RangeError` names the argument,
 * what was expected and what came, so a caller's mistake never reaches the key store.
 *
 * @example
 * ```ts
 * checkVersionNumber('below', below, 1, MAX_KEY_VERSION + 1);
 * ```
 */
export function checkVersionNumber(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `${name}: expected an integer from ${min} to ${max}, got ${String(value)}`,
    );
  }
}
