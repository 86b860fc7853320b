import {
  AccessDeniedError,
  KeyNotConfiguredError,
  KeyRetiredError,
  KeyUnwrapFailedError,
  ProviderUnavailableError,
  isFieldsealError,
  type FieldsealError,
} from '../index.js';
import { VaultHttpError } from './vault-client.js';

/** What a Transit call was doing, for the error it becomes. */
type TransitOp = 'generate' | 'wrap' | 'unwrap' | 'rewrap' | 'describe' | 'destroy';

/**
 * Map anything a Transit call threw to a typed fieldseal error. Messages name the operation
 * and the transit key, never key bytes, ciphertexts, tokens or Vault's own error text (which
 * stays in `cause`).
 *
 * - 403 → `ERR_ACCESS_DENIED`
 * - unknown key ("encryption key not found", 404) → `ERR_KEY_NOT_CONFIGURED`
 * - a ciphertext version below `min_decryption_version` ("disallowed by policy") →
 *   `ERR_KEY_RETIRED`
 * - any other 4xx on decrypt / rewrap (authentication failed, wrong context, malformed) →
 *   `ERR_KEY_UNWRAP_FAILED`
 * - everything else → `ERR_PROVIDER_UNAVAILABLE`
 * @internal
 */
export function transitError(err: unknown, op: TransitOp, keyName: string): FieldsealError {
  const details = { keyRef: `vault-transit:${keyName}` };
  if (isFieldsealError(err) && err.code === 'ERR_ACCESS_DENIED') {
    return new AccessDeniedError(`Vault denied transit ${op} on "${keyName}"`, {
      cause: err,
      details,
    });
  }
  if (isFieldsealError(err) && err.code !== 'ERR_PROVIDER_UNAVAILABLE') return err;
  if (!(err instanceof VaultHttpError)) {
    const why = isFieldsealError(err) ? `: ${err.message}` : '';
    return new ProviderUnavailableError(`Vault transit ${op} on "${keyName}" failed${why}`, {
      cause: err,
      details,
    });
  }
  const o = { cause: err, details };
  if (err.status === 403) {
    return new AccessDeniedError(`Vault denied transit ${op} on "${keyName}"`, o);
  }
  if (err.status === 404 || err.says('key not found') || err.says('no existing key')) {
    return new KeyNotConfiguredError(`Vault transit key "${keyName}" does not exist`, o);
  }
  if (err.says('disallowed by policy') || err.says('too old')) {
    return new KeyRetiredError(
      `the wrapped key's version of Vault transit key "${keyName}" is below its min_decryption_version`,
      o,
    );
  }
  if ((op === 'unwrap' || op === 'rewrap') && err.status >= 400 && err.status < 500) {
    return new KeyUnwrapFailedError(
      `data key does not unwrap under Vault transit key "${keyName}" and this context`,
      o,
    );
  }
  return new ProviderUnavailableError(
    `Vault transit ${op} on "${keyName}" was refused (HTTP ${err.status})`,
    o,
  );
}

/**
 * Map anything a KV read threw to a typed fieldseal error naming the reference and path.
 * @internal
 */
export function kvError(err: unknown, reference: string, where: string): FieldsealError {
  const details = { reference };
  if (isFieldsealError(err) && err.code !== 'ERR_PROVIDER_UNAVAILABLE') {
    if (err.code !== 'ERR_ACCESS_DENIED') return err;
  }
  if (err instanceof VaultHttpError && err.status === 404) {
    return new KeyNotConfiguredError(`key "${reference}": no secret at ${where}`, {
      cause: err,
      details,
    });
  }
  if (
    (err instanceof VaultHttpError && err.status === 403) ||
    (isFieldsealError(err) && err.code === 'ERR_ACCESS_DENIED')
  ) {
    return new AccessDeniedError(`key "${reference}": Vault denied reading ${where}`, {
      cause: err,
      details,
    });
  }
  const status =
    err instanceof VaultHttpError
      ? ` (HTTP ${err.status})`
      : isFieldsealError(err)
        ? `: ${err.message}`
        : '';
  return new ProviderUnavailableError(`key "${reference}": reading ${where} failed${status}`, {
    cause: err,
    details,
  });
}
