import { KeyNotConfiguredError, ProviderUnavailableError } from '../../errors.js';

/**
 * Where the token user's PIN comes from. The PIN is not a 32-byte key, so it does not go
 * through a `SecretSource`: give either the name of an environment variable, or a callback
 * (read it from a secrets manager, a file, a prompt). The provider asks for the PIN only when
 * it has to log in (first use, or after every session to the token was lost) and keeps no copy.
 *
 * Only the token **user** PIN is needed at run time; never give the security officer PIN.
 *
 * @example
 * ```ts
 * const fromEnv: Pkcs11PinSource = { env: 'FIELDSEAL_HSM_PIN' };
 * const fromVault: Pkcs11PinSource = { pin: () => vault.read('hsm/pin') };
 * ```
 */
export type Pkcs11PinSource =
  { readonly env: string } | { readonly pin: () => string | Promise<string> };

/**
 * Check a PIN source's shape at construction.
 * @throws TypeError naming the option.
 * @internal
 * @example
 * ```ts
 * checkPinSource(options.pin); // throws TypeError on a bad shape
 * ```
 */
export function checkPinSource(source: unknown): asserts source is Pkcs11PinSource {
  const s = source as { env?: unknown; pin?: unknown } | null | undefined;
  const env = typeof s?.env === 'string' && s.env.length > 0;
  const cb = typeof s?.pin === 'function';
  if (typeof s !== 'object' || s === null || env === cb) {
    throw new TypeError(
      'pin: expected { env: "<variable name>" } or { pin: () => Promise<string> }',
    );
  }
}

/**
 * Fetch the PIN. Errors name the variable, never a value; a callback's own error is not
 * chained (it might quote what it read).
 * @throws KeyNotConfiguredError when the variable is unset or empty;
 *   ProviderUnavailableError when the callback fails or returns no string.
 * @internal
 * @example
 * ```ts
 * const pin = await readPin({ env: 'FIELDSEAL_HSM_PIN' });
 * ```
 */
export async function readPin(source: Pkcs11PinSource): Promise<string> {
  if ('env' in source) {
    const value = process.env[source.env];
    if (value === undefined || value.length === 0) {
      throw new KeyNotConfiguredError(`the PKCS#11 user PIN variable ${source.env} is not set`, {
        details: { reference: source.env },
      });
    }
    return value;
  }
  let value: unknown;
  try {
    value = await source.pin();
  } catch {
    throw new ProviderUnavailableError('the PKCS#11 PIN callback failed');
  }
  if (typeof value !== 'string' || value.length === 0) {
    throw new ProviderUnavailableError('the PKCS#11 PIN callback returned no PIN');
  }
  return value;
}
