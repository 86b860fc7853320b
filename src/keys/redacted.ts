import { inspect } from 'node:util';

/**
 * What every secret-holding object prints as, wherever it is printed.
 * @example
 * ```ts
 * String(sensitive('x')) === REDACTED; // true
 * ```
 */
export const REDACTED = '[REDACTED]';

/**
 * Base class for objects that hold secrets: `util.inspect`, `console.log`, `JSON.stringify`,
 * template strings and `String()` all print `[REDACTED]`. Secret fields are `#private`, so
 * they are invisible to `Object.keys`, spread and structured logging too.
 *
 * @example
 * ```ts
 * class ApiToken extends RedactedObject {
 *   readonly #token: string;
 *   constructor(token: string) {
 *     super();
 *     this.#token = token;
 *   }
 * }
 * console.log(new ApiToken('s3cret')); // [REDACTED]
 * ```
 */
export abstract class RedactedObject {
  [inspect.custom](): string {
    return REDACTED;
  }
  toJSON(): string {
    return REDACTED;
  }
  toString(): string {
    return REDACTED;
  }
  [Symbol.toPrimitive](): string {
    return REDACTED;
  }
}
