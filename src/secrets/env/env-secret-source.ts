import { KeyNotConfiguredError } from '../../errors.js';
import { PreloadedSecretSource, decodeKeyText, type KeyEncoding } from '../secret-source.js';

/**
 * Options of {@link EnvSecretSource}.
 * @example
 * ```ts
 * const options: EnvSecretSourceOptions = { keys: { master: 'FIELDSEAL_MASTER_KEY' } };
 * ```
 */
export interface EnvSecretSourceOptions {
  /** Reference name → environment variable name, e.g. `{ master: 'FIELDSEAL_MASTER_KEY' }`. */
  readonly keys: Readonly<Record<string, string>>;
  /** Encoding of values without a `base64:` / `hex:` prefix. */
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
 * const source = new EnvSecretSource({ keys: { master: 'FIELDSEAL_MASTER_KEY' } });
 * ```
 */
export class EnvSecretSource extends PreloadedSecretSource {
  readonly kind = 'env';

  constructor(options: EnvSecretSourceOptions) {
    super();
    const env = options.env ?? process.env;
    for (const [reference, variable] of Object.entries(options.keys)) {
      const text = env[variable];
      if (text === undefined || text === '') {
        throw new KeyNotConfiguredError(
          `key "${reference}": environment variable ${variable} is not set`,
          { details: { reference } },
        );
      }
      this.load(
        reference,
        decodeKeyText(reference, text, options.encoding, `environment variable ${variable}`),
      );
    }
  }
}
