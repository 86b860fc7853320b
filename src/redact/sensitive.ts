import { RedactedObject } from '../keys/redacted.js';

/**
 * A value that must not reach logs: `util.inspect`, `console.log`, `JSON.stringify`,
 * template strings and `String()` print `[REDACTED]`; only `reveal()` returns the value.
 *
 * @example
 * ```ts
 * const ssn = sensitive('123-45-6789');
 * logger.info({ ssn });          // {"ssn":"[REDACTED]"}
 * `${ssn}`;                      // '[REDACTED]'
 * ssn.reveal();                  // '123-45-6789'
 * ```
 */
export class Sensitive<T> extends RedactedObject {
  readonly #value: T;
  constructor(value: T) {
    super();
    this.#value = value;
  }
  /** The wrapped value. Call it only where the value is really needed. */
  reveal(): T {
    return this.#value;
  }
}

/**
 * Wrap a value in {@link Sensitive}.
 * @example
 * ```ts
 * const secret = sensitive(apiKey);
 * ```
 */
export function sensitive<T>(value: T): Sensitive<T> {
  return new Sensitive(value);
}
