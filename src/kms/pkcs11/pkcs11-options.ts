import { checkPinSource, type Pkcs11PinSource } from './pin-source.js';

/**
 * Options of {@link Pkcs11KeyProvider}.
 * @example
 * ```ts
 * const options: Pkcs11KeyProviderOptions = {
 *   library: '/usr/lib/softhsm/libsofthsm2.so',
 *   tokenLabel: 'fieldseal',
 *   pin: { env: 'FIELDSEAL_HSM_PIN' },
 * };
 * ```
 */
export interface Pkcs11KeyProviderOptions {
  /** Path of the vendor's PKCS#11 module (default SoftHSM2's `/usr/lib/softhsm/libsofthsm2.so`). */
  readonly library?: string;
  /** Label of the token (partition) holding the master keys: slot ids change, labels do not. */
  readonly tokenLabel: string;
  /** Where the token user PIN comes from (never the SO PIN). */
  readonly pin: Pkcs11PinSource;
  /** Logged-in sessions kept open and reused, at most (default 4, 1–64). */
  readonly sessions?: number;
  /** Provider id stored in self-contained envelopes (default `pkcs11`). */
  readonly id?: string;
}

/** SoftHSM2's module as Debian and Ubuntu install it. */
const DEFAULT_LIBRARY = '/usr/lib/softhsm/libsofthsm2.so';

/**
 * The options with defaults applied, checked.
 * @throws TypeError / RangeError naming the option.
 * @internal
 * @example
 * ```ts
 * const { library, tokenLabel, pin, sessions, id } = resolveOptions(options);
 * ```
 */
export function resolveOptions(
  options: Pkcs11KeyProviderOptions,
): Required<Pkcs11KeyProviderOptions> {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('options: expected an object');
  }
  const { library = DEFAULT_LIBRARY, tokenLabel, pin, sessions = 4, id = 'pkcs11' } = options;
  if (typeof library !== 'string' || library.length === 0) {
    throw new TypeError('library: expected the path of a PKCS#11 module');
  }
  // CK_TOKEN_INFO.label is 32 bytes, blank-padded: a longer label can never match.
  if (
    typeof tokenLabel !== 'string' ||
    tokenLabel.length === 0 ||
    Buffer.byteLength(tokenLabel) > 32
  ) {
    throw new TypeError('tokenLabel: expected a token label of 1–32 bytes');
  }
  checkPinSource(pin);
  if (!Number.isInteger(sessions) || sessions < 1 || sessions > 64) {
    throw new RangeError(`sessions: expected an integer 1–64, got ${String(sessions)}`);
  }
  return { library, tokenLabel, pin, sessions, id };
}
