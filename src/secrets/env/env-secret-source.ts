import { KeyNotConfiguredError } from '../../errors.js';
import {
  PreloadedSecretSource,
  checkKeyEncoding,
  decodeKeyText,
  type KeyEncoding,
} from '../secret-source.js';

/**
 * One key of {@link EnvSecretSource} with its own encoding, e.g. the GraphQL seed's raw
 * 32-character `FIELD_ENCRYPTION_KEY_EMAIL`.
 * @example
 * ```ts
 * const email: EnvKeyLocation = { variable: 'FIELD_ENCRYPTION_KEY_EMAIL', encoding: 'utf8' };
 * ```
 */
export interface EnvKeyLocation {
  /** Environment variable holding the key text. */
  readonly variable: string;
  /** Encoding of this key's text (default: the source's `encoding`). */
  readonly encoding?: KeyEncoding;
}

/**
 * Options of {@link EnvSecretSource}.
 * @example
 * ```ts
 * const options: EnvSecretSourceOptions = { keys: { master: 'FIELDSEAL_MASTER_KEY' } };
 * ```
 */
export interface EnvSecretSourceOptions {
  /**
   * Reference name → environment variable name, e.g. `{ master: 'FIELDSEAL_MASTER_KEY' }`,
   * or an {@link EnvKeyLocation} giving that key its own encoding.
   */
  readonly keys: Readonly<Record<string, string | EnvKeyLocation>>;
  /** Encoding of values without a `base64:` / `hex:` prefix (every key without its own). */
  readonly encoding?: KeyEncoding;
  /** Environment to read (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Keys from environment variables, one variable per reference (the GraphQL seed's
 * `key_reference`). Every variable is read and validated in the constructor: a missing one is
 * `ERR_KEY_NOT_CONFIGURED`, a wrong length `ERR_INVALID_KEY_MATERIAL`, and both messages name
 * the reference and the variable, never the value.
 *
 * @example
 * ```ts
 * // FIELDSEAL_MASTER_KEY=base64:q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4k=
 * // FIELD_ENCRYPTION_KEY_EMAIL=01234567890123456789012345678901
 * const source = new EnvSecretSource({
 *   keys: {
 *     master: 'FIELDSEAL_MASTER_KEY',
 *     email: { variable: 'FIELD_ENCRYPTION_KEY_EMAIL', encoding: 'utf8' },
 *   },
 * });
 * ```
 */
export class EnvSecretSource extends PreloadedSecretSource {
  readonly kind = 'env';

  constructor(options: EnvSecretSourceOptions) {
    super();
    const env = options.env ?? process.env;
    const fallback = checkKeyEncoding(options.encoding, 'encoding');
    for (const [reference, location] of Object.entries(options.keys)) {
      const { variable, encoding } = readLocation(reference, location, fallback);
      const text = env[variable];
      if (text === undefined || text === '') {
        throw new KeyNotConfiguredError(
          `key "${reference}": environment variable ${variable} is not set`,
          { details: { reference } },
        );
      }
      this.load(
        reference,
        decodeKeyText(reference, text, encoding, `environment variable ${variable}`),
      );
    }
  }
}

function readLocation(
  reference: string,
  location: unknown,
  fallback: KeyEncoding | undefined,
): { variable: string; encoding: KeyEncoding | undefined } {
  if (typeof location === 'string' && location !== '') {
    return { variable: location, encoding: fallback };
  }
  if (typeof location === 'object' && location !== null) {
    const { variable, encoding } = location as Record<string, unknown>;
    if (typeof variable === 'string' && variable !== '') {
      return {
        variable,
        encoding: checkKeyEncoding(encoding, `keys.${reference}.encoding`) ?? fallback,
      };
    }
  }
  throw new TypeError(
    `keys.${reference}: expected an environment variable name or { variable, encoding? }`,
  );
}
