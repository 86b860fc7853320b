import {
  AccessDeniedError,
  type FieldsealError,
  KeyNotConfiguredError,
  KeyShreddedError,
  KeyUnwrapFailedError,
  ProviderUnavailableError,
  isFieldsealError,
  type ErrorDetails,
} from '../../errors.js';

/**
 * Whether a failed KMS call may succeed if tried again: throttling, KMS 5xx / internal errors,
 * network failures, timeouts and garbled responses. Everything else is final.
 * @example
 * ```ts
 * const kind: KmsFailureKind = classifyKmsFailure(err, false);
 * ```
 */
export type KmsFailureKind = 'transient' | 'final';

/**
 * The `cause` of a KMS failure: what the provider keeps of an SDK error — the AWS error name,
 * HTTP status and request id — never a response body.
 * @example
 * ```ts
 * if (err.cause instanceof AwsKmsCallError) console.warn(err.cause.awsName, err.cause.requestId);
 * ```
 */
export class AwsKmsCallError extends Error {
  /** The AWS error name (`ThrottlingException`...) or the network error's code. */
  readonly awsName: string;
  readonly httpStatus: number | undefined;
  readonly requestId: string | undefined;

  constructor(operation: string, err: unknown, timedOut: boolean) {
    const e = (typeof err === 'object' && err !== null ? err : {}) as SdkErrorShape;
    const name = timedOut ? 'Timeout' : deserialization(e) ? 'MalformedResponse' : nameOf(e);
    // Only AWS service messages are kept: a JSON parser's message can quote the body.
    const detail = isServiceError(e) && typeof e.message === 'string' ? `: ${e.message}` : '';
    super(`AWS KMS ${operation} failed with ${name}${detail}`);
    this.name = 'AwsKmsCallError';
    this.awsName = name;
    this.httpStatus = e.$metadata?.httpStatusCode;
    this.requestId = e.$metadata?.requestId;
  }
}

interface SdkErrorShape {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $fault?: unknown;
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

/** AWS error names that mean "slow down" (request rate over the quota). */
const THROTTLING = new Set([
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
]);

/**
 * Whether a failed KMS call was throttled (an attempt the health figures count).
 * @internal
 */
export function isThrottling(error: unknown): boolean {
  return typeof error === 'object' && error !== null && THROTTLING.has(nameOf(error));
}

const TRANSIENT = new Set([
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'KMSInternalException',
  'DependencyTimeoutException',
  'KeyUnavailableException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalFailure',
  'RequestTimeout',
  'RequestTimeoutException',
]);
const NETWORK = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'TimeoutError',
]);
const DENIED = new Set([
  'AccessDeniedException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignature',
  'MissingAuthenticationToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'CredentialsProviderError',
]);

function nameOf(e: SdkErrorShape): string {
  if (typeof e.code === 'string' && NETWORK.has(e.code)) return e.code;
  return typeof e.name === 'string' && e.name.length > 0 ? e.name : 'UnknownError';
}

function isServiceError(e: SdkErrorShape): boolean {
  return e.$fault === 'client' || e.$fault === 'server';
}

function deserialization(e: SdkErrorShape): boolean {
  return !isServiceError(e) && e.name === 'SyntaxError';
}

/**
 * Classify an SDK failure; `timedOut` when the provider's own per-attempt timeout fired.
 * @example
 * ```ts
 * if (classifyKmsFailure(err, false) === 'transient') await retry();
 * ```
 */
export function classifyKmsFailure(err: unknown, timedOut: boolean): KmsFailureKind {
  if (timedOut) return 'transient';
  if (isFieldsealError(err)) return 'final';
  const e = (typeof err === 'object' && err !== null ? err : {}) as SdkErrorShape;
  const name = nameOf(e);
  if (TRANSIENT.has(name) || NETWORK.has(name) || deserialization(e)) return 'transient';
  if (e.$fault === 'server' || (e.$metadata?.httpStatusCode ?? 0) >= 500) return 'transient';
  return 'final';
}

/**
 * The fieldseal error for a KMS failure (after retries). Messages are fixed strings; the
 * cause is an {@link AwsKmsCallError} holding only the AWS error name, status and request id.
 *
 * - `NotFoundException`, `InvalidKeyUsageException` → `ERR_KEY_NOT_CONFIGURED`
 * - `InvalidCiphertextException`, `IncorrectKeyException` (wrong key, tampered blob, other
 *   encryption context) → `ERR_KEY_UNWRAP_FAILED`
 * - `KMSInvalidStateException` for a key pending deletion → `ERR_KEY_SHREDDED`
 * - `DisabledException`, other invalid states → `ERR_PROVIDER_UNAVAILABLE` (not retried)
 * - `AccessDeniedException` and credential failures → `ERR_ACCESS_DENIED`
 * - everything else → `ERR_PROVIDER_UNAVAILABLE`
 * @example
 * ```ts
 * throw mapKmsFailure('Decrypt', err, false, { keyRef: 'aws-kms:alias/fieldseal/acme' });
 * ```
 * @internal
 */
export function mapKmsFailure(
  operation: string,
  err: unknown,
  timedOut: boolean,
  details: ErrorDetails,
): FieldsealError {
  if (isFieldsealError(err)) return err;
  const cause = new AwsKmsCallError(operation, err, timedOut);
  const o = { cause, details };
  const message = (err as { message?: unknown } | null)?.message;
  switch (cause.awsName) {
    case 'NotFoundException':
      return new KeyNotConfiguredError('AWS KMS master key not found', o);
    case 'InvalidKeyUsageException':
      return new KeyNotConfiguredError('AWS KMS key is not a symmetric encryption key', o);
    case 'InvalidCiphertextException':
    case 'IncorrectKeyException':
      return new KeyUnwrapFailedError(
        'data key does not unwrap under this AWS KMS key and encryption context',
        o,
      );
    case 'KMSInvalidStateException':
      return typeof message === 'string' && /pending deletion/i.test(message)
        ? new KeyShreddedError('AWS KMS master key is pending deletion', o)
        : new ProviderUnavailableError('AWS KMS master key is not in a usable state', o);
    case 'DisabledException':
      return new ProviderUnavailableError('AWS KMS master key is disabled', o);
  }
  if (DENIED.has(cause.awsName)) return new AccessDeniedError('AWS KMS denied the request', o);
  return new ProviderUnavailableError(
    classifyKmsFailure(err, timedOut) === 'transient'
      ? 'AWS KMS is unavailable (retries exhausted)'
      : 'AWS KMS call failed',
    o,
  );
}
