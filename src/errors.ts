/**
 * Every failure fieldseal reports is a {@link FieldsealError} with a stable string `code`.
 *
 * Messages are fixed strings chosen by fieldseal: they never contain plaintext, ciphertext,
 * key bytes or context values, so an error can be logged as it is. Test `err.code`, not
 * `instanceof`: two copies of the package may be loaded in one process. The errors are
 * exported by `fieldseal` and, on their own, by `fieldseal/errors`.
 *
 * @example
 * ```ts
 * import { isFieldsealError } from 'fieldseal/errors';
 * try {
 *   await fs.decrypt(stored, context);
 * } catch (err) {
 *   if (isFieldsealError(err) && err.code === 'ERR_AUTHENTICATION_FAILED') reject();
 *   else throw err;
 * }
 * ```
 * @module
 */

/**
 * Every error code fieldseal can raise; `switch (err.code)` narrows on it.
 * @example
 * ```ts
 * function status(code: FieldsealErrorCode): number {
 *   return code === 'ERR_PROVIDER_UNAVAILABLE' ? 503 : 500;
 * }
 * ```
 */
export type FieldsealErrorCode =
  | 'ERR_KEY_NOT_CONFIGURED'
  | 'ERR_INVALID_KEY_MATERIAL'
  | 'ERR_INVALID_CONTEXT'
  | 'ERR_MALFORMED_CIPHERTEXT'
  | 'ERR_UNSUPPORTED_FORMAT'
  | 'ERR_WRONG_KEY'
  | 'ERR_AUTHENTICATION_FAILED'
  | 'ERR_KEY_NOT_FOUND'
  | 'ERR_KEY_SHREDDED'
  | 'ERR_KEY_RETIRED'
  | 'ERR_KEY_VERSION_ACTIVE'
  | 'ERR_KEY_UNWRAP_FAILED'
  | 'ERR_PROVIDER_UNAVAILABLE'
  | 'ERR_KEY_STORE_UNAVAILABLE'
  | 'ERR_MODE_FORBIDDEN'
  | 'ERR_PLAINTEXT_IN_ENCRYPTED_FIELD'
  | 'ERR_UNSUPPORTED_VALUE'
  | 'ERR_VALUE_TOO_LARGE'
  | 'ERR_BATCH_FAILED'
  | 'ERR_BACKFILL_FAILED'
  | 'ERR_KEY_VERSION_IN_USE'
  | 'ERR_AUDIT_UNAVAILABLE'
  | 'ERR_ACCESS_DENIED'
  | 'ERR_CONDITION_FAILED'
  | 'ERR_KEY_COMMITMENT_MISMATCH'
  | 'ERR_UNSUPPORTED_OPTION'
  | 'ERR_CONFIG_NOT_FOUND'
  | 'ERR_INSECURE_KEY_FILE'
  | 'ERR_MISSING_PEER';

/**
 * Non-secret facts an error may carry: names of things, never their contents.
 * @example
 * ```ts
 * if (err.details.field !== undefined) metrics.increment(`decrypt_failed.${err.details.field}`);
 * ```
 */
export interface ErrorDetails {
  /** `table.field` the failing value belongs to, when known. */
  readonly field?: string;
  /** Key reference (`keyId@version` or `provider:masterKeyId`), never key bytes. */
  readonly keyRef?: string;
  /** Secret-source reference such as an environment variable name, never its value. */
  readonly reference?: string;
}

const FIELDSEAL_ERROR = Symbol.for('fieldseal.error');

/**
 * Base class of every fieldseal error.
 *
 * @example
 * ```ts
 * if (err instanceof FieldsealError) console.error(err.code);
 * ```
 */
class FieldsealErrorBase<C extends FieldsealErrorCode = FieldsealErrorCode> extends Error {
  /** Stable machine-readable code; part of the public API. */
  readonly code: C;
  /** Non-secret details (field and key names). */
  readonly details: ErrorDetails;
  /** @internal */
  readonly [FIELDSEAL_ERROR] = true;

  constructor(code: C, message: string, options: { cause?: unknown; details?: ErrorDetails } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = Object.freeze({ ...options.details });
    this.name = new.target.name;
  }

  /** JSON form for structured logs: code, name, message and details only. */
  toJSON(): { name: string; code: FieldsealErrorCode; message: string; details: ErrorDetails } {
    return { name: this.name, code: this.code, message: this.message, details: this.details };
  }
}

/**
 * The base class of every fieldseal error (`instanceof FieldsealError`; construct its
 * subclasses, one per code). As a type, `FieldsealError` is {@link AnyFieldsealError}: the
 * union of the classes discriminated by `code`, so `switch (err.code)` narrows.
 *
 * @example
 * ```ts
 * if (err instanceof FieldsealError) console.error(err.code);
 * if (isFieldsealError(err) && err.code === 'ERR_BATCH_FAILED') console.error(err.failures.length);
 * ```
 */
export const FieldsealError = FieldsealErrorBase;
/** Any fieldseal error: the union of its classes, discriminated by `code`. */
export type FieldsealError = AnyFieldsealError;

/**
 * True for any fieldseal error, even one thrown by another loaded copy of the package.
 *
 * @example
 * ```ts
 * if (isFieldsealError(err)) metrics.increment(err.code);
 * ```
 */
export function isFieldsealError(err: unknown): err is AnyFieldsealError {
  return typeof err === 'object' && err !== null && FIELDSEAL_ERROR in err;
}

type Opts = { cause?: unknown; details?: ErrorDetails };

/**
 * A write or read needed a key and none is configured for it. Raised before any I/O.
 * @example
 * ```ts
 * if (isFieldsealError(err) && err.code === 'ERR_KEY_NOT_CONFIGURED') { report(err); }
 * ```
 */
export class KeyNotConfiguredError extends FieldsealError<'ERR_KEY_NOT_CONFIGURED'> {
  constructor(message = 'no key is configured for this operation', o?: Opts) {
    super('ERR_KEY_NOT_CONFIGURED', message, o);
  }
}
/**
 * Key material has the wrong length or encoding (the message names the reference only).
 * @example
 * ```ts
 * if (isFieldsealError(err) && err.code === 'ERR_INVALID_KEY_MATERIAL') { report(err); }
 * ```
 */
export class InvalidKeyMaterialError extends FieldsealError<'ERR_INVALID_KEY_MATERIAL'> {
  constructor(message = 'key material is invalid', o?: Opts) {
    super('ERR_INVALID_KEY_MATERIAL', message, o);
  }
}
/**
 * The encryption context is missing a required entry or is not a string map.
 * @example
 * ```ts
 * if (isFieldsealError(err) && err.code === 'ERR_INVALID_CONTEXT') { report(err); }
 * ```
 */
export class InvalidContextError extends FieldsealError<'ERR_INVALID_CONTEXT'> {
  constructor(message = 'encryption context is invalid', o?: Opts) {
    super('ERR_INVALID_CONTEXT', message, o);
  }
}
/**
 * The stored value is not a well-formed fieldseal envelope.
 * @example
 * ```ts
 * if (isFieldsealError(err) && err.code === 'ERR_MALFORMED_CIPHERTEXT') { report(err); }
 * ```
 */
export class MalformedCiphertextError extends FieldsealError<'ERR_MALFORMED_CIPHERTEXT'> {
  constructor(message = 'stored value is not a well-formed envelope', o?: Opts) {
    super('ERR_MALFORMED_CIPHERTEXT', message, o);
  }
}
/**
 * The envelope names a format version or algorithm suite this release does not accept.
 * @example
 * ```ts
 * if (isFieldsealError(err) && err.code === 'ERR_UNSUPPORTED_FORMAT') { report(err); }
 * ```
 */
export class UnsupportedFormatError extends FieldsealError<'ERR_UNSUPPORTED_FORMAT'> {
  constructor(message = 'envelope version or suite is not supported', o?: Opts) {
    super('ERR_UNSUPPORTED_FORMAT', message, o);
  }
}
/**
 * The key commitment does not match: the value was sealed under another data key.
 * @example
 * ```ts
 * if (isFieldsealError(err) && err.code === 'ERR_WRONG_KEY') { report(err); }
 * ```
 */
export class WrongKeyError extends FieldsealError<'ERR_WRONG_KEY'> {
  constructor(message = 'value was encrypted under a different data key', o?: Opts) {
    super('ERR_WRONG_KEY', message, o);
  }
}
/**
 * The GCM tag did not verify: the value was tampered with or the context differs.
 * @example
 * ```ts
 * if (isFieldsealError(err) && err.code === 'ERR_AUTHENTICATION_FAILED') { report(err); }
 * ```
 */
export class AuthenticationFailedError extends FieldsealError<'ERR_AUTHENTICATION_FAILED'> {
  constructor(message = 'authentication failed: value tampered or context mismatch', o?: Opts) {
    super('ERR_AUTHENTICATION_FAILED', message, o);
  }
}
/**
 * The key (version) the envelope names does not exist in the key store or provider.
 * @example
 * ```ts
 * if (isFieldsealError(err) && err.code === 'ERR_KEY_NOT_FOUND') { report(err); }
 * ```
 */
export class KeyNotFoundError extends FieldsealError<'ERR_KEY_NOT_FOUND'> {
  constructor(message = 'key not found', o?: Opts) {
    super('ERR_KEY_NOT_FOUND', message, o);
  }
}
/**
 * The key was destroyed (crypto-shredded); the data it protected is unrecoverable.
 * @example
 * ```ts
 * if (isFieldsealError(err) && err.code === 'ERR_KEY_SHREDDED') { report(err); }
 * ```
 */
export class KeyShreddedError extends FieldsealError<'ERR_KEY_SHREDDED'> {
  constructor(message = 'key has been shredded', o?: Opts) {
    super('ERR_KEY_SHREDDED', message, o);
  }
}
/**
 * The data-key version the envelope names is retired (below the tenant's minimum decryption
 * version): it refuses decryption until it is reinstated. Its wrapped bytes still exist, so
 * unlike a shred nothing is lost. Details name the key reference only.
 * @example
 * ```ts
 * if (isFieldsealError(err) && err.code === 'ERR_KEY_RETIRED') await fs.reinstateKeyVersion(tenant, 1);
 * ```
 */
export class KeyRetiredError extends FieldsealError<'ERR_KEY_RETIRED'> {
  constructor(message = 'key version has been retired', o?: Opts) {
    super('ERR_KEY_RETIRED', message, o);
  }
}
/**
 * Retiring would include the tenant's active data-key version (the one new values are
 * written with): refused, nothing was retired. Rotate first, re-encrypt, then retire.
 * @example
 * ```ts
 * if (isFieldsealError(err) && err.code === 'ERR_KEY_VERSION_ACTIVE') await fs.rotateTenantKey(tenant);
 * ```
 */
export class KeyVersionActiveError extends FieldsealError<'ERR_KEY_VERSION_ACTIVE'> {
  constructor(message = 'the active key version cannot be retired', o?: Opts) {
    super('ERR_KEY_VERSION_ACTIVE', message, o);
  }
}
/**
 * The provider refused to unwrap a data key (wrong master key, wrong context, tampered).
 * @example
 * ```ts
 * if (isFieldsealError(err) && err.code === 'ERR_KEY_UNWRAP_FAILED') { report(err); }
 * ```
 */
export class KeyUnwrapFailedError extends FieldsealError<'ERR_KEY_UNWRAP_FAILED'> {
  constructor(message = 'data key could not be unwrapped', o?: Opts) {
    super('ERR_KEY_UNWRAP_FAILED', message, o);
  }
}
/**
 * The key provider (KMS, HSM, secret backend) could not be reached or failed.
 * @example
 * ```ts
 * if (isFieldsealError(err) && err.code === 'ERR_PROVIDER_UNAVAILABLE') { report(err); }
 * ```
 */
export class ProviderUnavailableError extends FieldsealError<'ERR_PROVIDER_UNAVAILABLE'> {
  constructor(message = 'key provider unavailable', o?: Opts) {
    super('ERR_PROVIDER_UNAVAILABLE', message, o);
  }
}
/**
 * The key store (the database holding wrapped data-key versions) could not be reached or failed.
 * @example
 * ```ts
 * if (isFieldsealError(err) && err.code === 'ERR_KEY_STORE_UNAVAILABLE') { report(err); }
 * ```
 */
export class KeyStoreUnavailableError extends FieldsealError<'ERR_KEY_STORE_UNAVAILABLE'> {
  constructor(message = 'key store unavailable', o?: Opts) {
    super('ERR_KEY_STORE_UNAVAILABLE', message, o);
  }
}
/**
 * The client's or field's mode forbids the operation (WriteOnly decrypt, ReadOnly encrypt).
 * @example
 * ```ts
 * if (isFieldsealError(err) && err.code === 'ERR_MODE_FORBIDDEN') { report(err); }
 * ```
 */
export class ModeForbiddenError extends FieldsealError<'ERR_MODE_FORBIDDEN'> {
  constructor(message = 'operation forbidden by the configured mode', o?: Opts) {
    super('ERR_MODE_FORBIDDEN', message, o);
  }
}
/**
 * A value read from an encrypted field is plaintext and the field is not in migration.
 * @example
 * ```ts
 * if (isFieldsealError(err) && err.code === 'ERR_PLAINTEXT_IN_ENCRYPTED_FIELD') { report(err); }
 * ```
 */
export class PlaintextInEncryptedFieldError extends FieldsealError<'ERR_PLAINTEXT_IN_ENCRYPTED_FIELD'> {
  constructor(message = 'plaintext found in an encrypted field', o?: Opts) {
    super('ERR_PLAINTEXT_IN_ENCRYPTED_FIELD', message, o);
  }
}
/**
 * The value's type cannot be encrypted (undefined, function, symbol, invalid Date...).
 * @example
 * ```ts
 * if (isFieldsealError(err) && err.code === 'ERR_UNSUPPORTED_VALUE') { report(err); }
 * ```
 */
export class UnsupportedValueError extends FieldsealError<'ERR_UNSUPPORTED_VALUE'> {
  constructor(message = 'value type cannot be encrypted', o?: Opts) {
    super('ERR_UNSUPPORTED_VALUE', message, o);
  }
}

/**
 * A data-key version cannot be retired: stored values still use it (counted), or its tenant's
 * active version is too recent for every process to have stopped writing under older ones.
 * Run the backfill first (or wait), then retire; `uses` says exactly what still uses the
 * version (tables, columns, counts, blind-index secrets).
 * @example
 * ```ts
 * if (isFieldsealError(err) && err.code === 'ERR_KEY_VERSION_IN_USE') await runBackfill(options);
 * ```
 */
export class KeyVersionInUseError extends FieldsealError<'ERR_KEY_VERSION_IN_USE'> {
  /**
   * Everything counted that still uses a version being retired: one entry per table column
   * (or per sealed blind-index secret) and key version, with the number of values. Empty when
   * the refusal is about time (the active version is too recent). Names and counts only.
   */
  readonly uses: readonly KeyVersionUse[];
  constructor(
    message = 'stored values still use this data-key version',
    o?: Opts & { uses?: readonly KeyVersionUse[] },
  ) {
    super('ERR_KEY_VERSION_IN_USE', message, o);
    this.uses = Object.freeze((o?.uses ?? []).map((u) => Object.freeze({ ...u })));
  }
  override toJSON(): ReturnType<FieldsealErrorBase['toJSON']> & { uses: readonly KeyVersionUse[] } {
    return { ...super.toJSON(), uses: this.uses };
  }
}

/**
 * Where stored values use one data-key version, counted by `countKeyUsage` (headers only):
 * a column of a model table, or the sealed per-tenant blind-index secrets of one index
 * version. Names and counts, never a value.
 * @example
 * ```ts
 * for (const u of err.uses) console.log(`${u.table}.${u.column}: ${u.count} values under ${u.key}`);
 * ```
 */
export interface KeyVersionUse {
  /** `column`: values of a model field; `blind-index-secret`: a sealed blind-index secret. */
  readonly kind: 'column' | 'blind-index-secret';
  /** The database table. */
  readonly table: string;
  /** The column holding the values (`sealed` for blind-index secrets). */
  readonly column: string;
  /** The model table (`defineModel({ table })`) for `column` uses: what a backfill names. */
  readonly model?: string;
  /** The blind-index version whose tenant secret is sealed under `key`. */
  readonly indexVersion?: number;
  /** Key label: `keyId@version`, `embedded`, `plaintext` or `malformed`. */
  readonly key: string;
  /** Values counted. */
  readonly count: number;
}

/**
 * A backfill stopped on a value it could not re-encrypt (the cause says why: bad ciphertext,
 * plaintext in a strict field, a retired key...). Its details name the field, never the value;
 * the chunk stays unprocessed, so the backfill resumes there once the cause is fixed.
 * @example
 * ```ts
 * if (isFieldsealError(err) && err.code === 'ERR_BACKFILL_FAILED') console.error(err.details.field, err.cause);
 * ```
 */
export class BackfillError extends FieldsealError<'ERR_BACKFILL_FAILED'> {
  constructor(message = 'the backfill stopped on a value it could not re-encrypt', o?: Opts) {
    super('ERR_BACKFILL_FAILED', message, o);
  }
}

/**
 * The audit sink could not record an event (database down, lock timeout...), so the operation
 * it describes failed too: no key use goes unaudited. The cause is chained; no value is named.
 * @example
 * ```ts
 * if (isFieldsealError(err) && err.code === 'ERR_AUDIT_UNAVAILABLE') alert('audit trail down');
 * ```
 */
export class AuditUnavailableError extends FieldsealError<'ERR_AUDIT_UNAVAILABLE'> {
  constructor(message = 'audit trail unavailable', o?: Opts) {
    super('ERR_AUDIT_UNAVAILABLE', message, o);
  }
}

/**
 * The key provider refused the caller's credentials: an IAM or key policy denies the call, or
 * the credentials are missing, invalid or expired. Not retried; fix the permissions. Details
 * name the key reference only.
 * @example
 * ```ts
 * if (isFieldsealError(err) && err.code === 'ERR_ACCESS_DENIED') alert('check the KMS key policy');
 * ```
 */
export class AccessDeniedError extends FieldsealError<'ERR_ACCESS_DENIED'> {
  constructor(message = 'the key provider denied access', o?: Opts) {
    super('ERR_ACCESS_DENIED', message, o);
  }
}

/**
 * A write's condition did not hold: the condition you gave, put-if-absent on an existing item,
 * or a put over an item of another tenant (which is never replaced). Nothing was written. The
 * database's own exception is not chained: it may carry the stored item.
 * @example
 * ```ts
 * if (isFieldsealError(err) && err.code === 'ERR_CONDITION_FAILED') return reloadAndRetry();
 * ```
 */
export class ConditionFailedError extends FieldsealError<'ERR_CONDITION_FAILED'> {
  constructor(message = 'the write condition does not hold', o?: Opts) {
    super('ERR_CONDITION_FAILED', message, o);
  }
}

/**
 * A key provider returned a data key for a key-store version that does not match the key
 * commitment stored with that version: the provider (or the wrapped bytes) is wrong. Nothing
 * is encrypted or decrypted with that key. Details name the key reference only.
 * @example
 * ```ts
 * if (isFieldsealError(err) && err.code === 'ERR_KEY_COMMITMENT_MISMATCH') page('key provider returned a wrong key');
 * ```
 */
export class KeyCommitmentMismatchError extends FieldsealError<'ERR_KEY_COMMITMENT_MISMATCH'> {
  constructor(
    message = 'the data key does not match the commitment stored with its version',
    o?: Opts,
  ) {
    super('ERR_KEY_COMMITMENT_MISMATCH', message, o);
  }
}

/**
 * An option, operator or expression fieldseal does not understand (a misspelt condition
 * operator, a raw expression it cannot check): refused before any request, never ignored.
 * @example
 * ```ts
 * if (isFieldsealError(err) && err.code === 'ERR_UNSUPPORTED_OPTION') fixTheCall(err.message);
 * ```
 */
export class UnsupportedOptionError extends FieldsealError<'ERR_UNSUPPORTED_OPTION'> {
  constructor(message = 'this option is not supported', o?: Opts) {
    super('ERR_UNSUPPORTED_OPTION', message, o);
  }
}

/**
 * A configuration file does not exist (or cannot be read). Details name the file
 * (`details.reference`); create one with `initProject` (`fieldseal init`).
 * @example
 * ```ts
 * if (isFieldsealError(err) && err.code === 'ERR_CONFIG_NOT_FOUND') console.error(err.details.reference);
 * ```
 */
export class ConfigNotFoundError extends FieldsealError<'ERR_CONFIG_NOT_FOUND'> {
  constructor(message = 'the configuration file does not exist', o?: Opts) {
    super('ERR_CONFIG_NOT_FOUND', message, o);
  }
}

/**
 * A master key file can be read by other users (its group or others have any permission):
 * refused before its key is used. Details name the file (`details.reference`); the fix is
 * `chmod 600 <file>`.
 * @example
 * ```ts
 * if (isFieldsealError(err) && err.code === 'ERR_INSECURE_KEY_FILE') console.error(`chmod 600 ${err.details.reference}`);
 * ```
 */
export class InsecureKeyFileError extends FieldsealError<'ERR_INSECURE_KEY_FILE'> {
  constructor(message = 'the key file is readable by other users', o?: Opts) {
    super('ERR_INSECURE_KEY_FILE', message, o);
  }
}

/**
 * An optional peer dependency the called feature needs is not installed (the embedded database
 * `@electric-sql/pglite`, say). Details name the package (`details.reference`); the fix is
 * `npm install <package>`.
 * @example
 * ```ts
 * if (isFieldsealError(err) && err.code === 'ERR_MISSING_PEER') console.error(`npm install ${err.details.reference}`);
 * ```
 */
export class MissingPeerError extends FieldsealError<'ERR_MISSING_PEER'> {
  constructor(message = 'an optional peer dependency is not installed', o?: Opts) {
    super('ERR_MISSING_PEER', message, o);
  }
}

/**
 * The value exceeds the largest plaintext an envelope may hold.
 * @example
 * ```ts
 * if (isFieldsealError(err) && err.code === 'ERR_VALUE_TOO_LARGE') { report(err); }
 * ```
 */
export class ValueTooLargeError extends FieldsealError<'ERR_VALUE_TOO_LARGE'> {
  constructor(message = 'value is too large to encrypt', o?: Opts) {
    super('ERR_VALUE_TOO_LARGE', message, o);
  }
}

/**
 * One failed item of a batch: its index and the error, never its value.
 * @example
 * ```ts
 * for (const f of err.failures) console.warn(`item ${f.index}: ${f.error.code}`);
 * ```
 */
export interface BatchFailure {
  readonly index: number;
  readonly error: FieldsealError;
}

/**
 * Some items of a batch failed. No item of the batch is returned, so a half-processed
 * batch can never be mistaken for a whole one; `failures` says which items failed and why.
 * @example
 * ```ts
 * try { await fs.decryptMany(items); }
 * catch (err) { if (err instanceof BatchError) retry(err.failures.map((f) => f.index)); }
 * ```
 */
export class BatchError extends FieldsealError<'ERR_BATCH_FAILED'> {
  readonly failures: readonly BatchFailure[];
  constructor(failures: readonly BatchFailure[]) {
    super('ERR_BATCH_FAILED', `${failures.length} item(s) of the batch failed`);
    this.failures = Object.freeze([...failures]);
  }
  override toJSON(): ReturnType<FieldsealErrorBase['toJSON']> & {
    failures: { index: number; code: FieldsealErrorCode }[];
  } {
    return {
      ...super.toJSON(),
      failures: this.failures.map((f) => ({ index: f.index, code: f.error.code })),
    };
  }
}

/**
 * Every fieldseal error class, discriminated by `code`: after {@link isFieldsealError},
 * `switch (err.code)` narrows `err` to the class of that code (`err.failures` of a
 * `BatchError`, `err.uses` of a `KeyVersionInUseError`). Each code has exactly one class.
 * @example
 * ```ts
 * if (isFieldsealError(err)) {
 *   switch (err.code) {
 *     case 'ERR_BATCH_FAILED':
 *       return err.failures.map((f) => f.index);
 *     case 'ERR_KEY_VERSION_IN_USE':
 *       return err.uses.map((u) => `${u.table}.${u.column}`);
 *   }
 * }
 * ```
 */
export type AnyFieldsealError =
  | KeyNotConfiguredError
  | InvalidKeyMaterialError
  | InvalidContextError
  | MalformedCiphertextError
  | UnsupportedFormatError
  | WrongKeyError
  | AuthenticationFailedError
  | KeyNotFoundError
  | KeyShreddedError
  | KeyRetiredError
  | KeyVersionActiveError
  | KeyUnwrapFailedError
  | ProviderUnavailableError
  | KeyStoreUnavailableError
  | ModeForbiddenError
  | PlaintextInEncryptedFieldError
  | UnsupportedValueError
  | KeyVersionInUseError
  | BackfillError
  | AuditUnavailableError
  | AccessDeniedError
  | ConditionFailedError
  | KeyCommitmentMismatchError
  | UnsupportedOptionError
  | ConfigNotFoundError
  | InsecureKeyFileError
  | MissingPeerError
  | ValueTooLargeError
  | BatchError;

/**
 * The error class of each code. @example
 * ```ts
 * const e: FieldsealErrorOf<'ERR_BATCH_FAILED'> = err; // a BatchError
 * ```
 */
export type FieldsealErrorOf<C extends FieldsealErrorCode> = Extract<
  AnyFieldsealError,
  { readonly code: C }
>;
