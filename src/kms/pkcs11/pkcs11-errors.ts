import { ProviderUnavailableError } from '../../errors.js';

/**
 * Translation of pkcs11js failures into fieldseal errors. A pkcs11js `Pkcs11Error` message is
 * the `CKR_*` name; its `nativeStack` and arguments are never carried over, so no PIN, key
 * handle or data reaches an error. Only the CKR name and the function name are kept.
 * @module
 */

const CKR_NAME = /CKR_[A-Z0-9_]+/;

/**
 * The `CKR_*` name of a pkcs11js error, or `native error` for anything else (library not
 * found, bad arguments), never the original message.
 * @internal
 * @example
 * ```ts
 * ckrName(err); // 'CKR_PIN_INCORRECT'
 * ```
 */
export function ckrName(err: unknown): string {
  const message = err instanceof Error ? err.message : '';
  return CKR_NAME.exec(message)?.[0] ?? 'native error';
}

/**
 * Return codes that mean "the token, the session or the library is not usable now", as
 * opposed to "these bytes do not decrypt". Used to tell an unavailable HSM (retry later) from
 * a wrapped key that does not unwrap (no retry helps).
 */
const AVAILABILITY_CODES = new Set([
  'CKR_HOST_MEMORY',
  'CKR_DEVICE_ERROR',
  'CKR_DEVICE_MEMORY',
  'CKR_DEVICE_REMOVED',
  'CKR_TOKEN_NOT_PRESENT',
  'CKR_TOKEN_NOT_RECOGNIZED',
  'CKR_SESSION_CLOSED',
  'CKR_SESSION_HANDLE_INVALID',
  'CKR_SESSION_COUNT',
  'CKR_USER_NOT_LOGGED_IN',
  'CKR_CRYPTOKI_NOT_INITIALIZED',
  'CKR_FUNCTION_FAILED',
  'CKR_OPERATION_ACTIVE',
  'CKR_KEY_HANDLE_INVALID',
  'CKR_OBJECT_HANDLE_INVALID',
  'CKR_MECHANISM_INVALID',
  'CKR_MECHANISM_PARAM_INVALID',
]);

/**
 * Whether a failure is the token's (unavailable) rather than the data's.
 * @internal
 * @example
 * ```ts
 * if (isAvailabilityFailure(err)) throw tokenError('C_Decrypt', err);
 * ```
 */
export function isAvailabilityFailure(err: unknown): boolean {
  const name = ckrName(err);
  return name === 'native error' || AVAILABILITY_CODES.has(name);
}

/** Return codes of `C_Login` that a retry with the same PIN can only make worse. */
const PIN_CODES = new Set([
  'CKR_PIN_INCORRECT',
  'CKR_PIN_INVALID',
  'CKR_PIN_LEN_RANGE',
  'CKR_PIN_EXPIRED',
  'CKR_PIN_LOCKED',
]);

/**
 * Whether a login failure is about the PIN itself (wrong, locked, expired).
 * @internal
 * @example
 * ```ts
 * if (isPinFailure(err)) latched = tokenError('C_Login', err);
 * ```
 */
export function isPinFailure(err: unknown): boolean {
  return PIN_CODES.has(ckrName(err));
}

/**
 * `ERR_PROVIDER_UNAVAILABLE` naming the PKCS#11 function and its return code only.
 * @param operation e.g. `C_Login`
 * @param err the pkcs11js error (not kept as the cause: its native stack is not ours)
 * @param keyRef optional `provider:label` reference for `details.keyRef`
 * @internal
 * @example
 * ```ts
 * throw tokenError('C_Login', err); // 'PKCS#11 C_Login failed: CKR_PIN_INCORRECT'
 * ```
 */
export function tokenError(
  operation: string,
  err: unknown,
  keyRef?: string,
): ProviderUnavailableError {
  return new ProviderUnavailableError(
    `PKCS#11 ${operation} failed: ${ckrName(err)}`,
    keyRef === undefined ? undefined : { details: { keyRef } },
  );
}
