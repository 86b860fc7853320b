import { GraphQLError } from 'graphql';

/** `extensions.code` of a failed decryption. */
export const DECRYPTION_ERROR = 'DECRYPTION_ERROR';
/** `extensions.code` of a resolver call refused because an encrypted input was not encrypted. */
export const ENCRYPTION_ERROR = 'ENCRYPTION_ERROR';
/** `extensions.code` of a `@lookup` whose blind indexes could not be computed. */
export const LOOKUP_ERROR = 'LOOKUP_ERROR';
/** `extensions.code` of a field (or operation) refused for a missing scope. */
export const FORBIDDEN = 'FORBIDDEN';

/**
 * The error of a field whose value could not be decrypted: its coordinate and the fieldseal
 * error code only (never the stored value, the plaintext or the underlying message).
 */
export function decryptionError(field: string, reason: string): GraphQLError {
  return new GraphQLError('Field decryption failed', {
    extensions: { code: DECRYPTION_ERROR, field, reason },
  });
}

/** The error of a `REJECT` field the caller has no scope for. */
export function forbiddenError(field: string): GraphQLError {
  return new GraphQLError(`Not authorized to read ${field}`, {
    extensions: { code: FORBIDDEN, field },
  });
}

/**
 * The error of a resolver call whose `@encrypted` input could not be encrypted: the resolver
 * is not called. It names the field, the input coordinate (`UserInput.ssn`,
 * `Mutation.setSsn(ssn:)`), the argument path and the fieldseal code, never the value.
 */
export function encryptionError(
  field: string,
  input: string,
  path: string,
  reason: string,
): GraphQLError {
  return new GraphQLError('Input encryption failed', {
    extensions: { code: ENCRYPTION_ERROR, field, input, path, reason },
  });
}

/**
 * The error of a field whose `@lookup` argument could not be turned into blind indexes (no
 * tenant, a value that is not a string, the tenant's key error such as `ERR_KEY_SHREDDED`):
 * the resolver is not called. It names the field, the argument and the code, never the value.
 */
export function lookupError(field: string, argument: string, reason: string): GraphQLError {
  return new GraphQLError('Field lookup failed', {
    extensions: { code: LOOKUP_ERROR, field, argument, reason },
  });
}

/** Whether a (formatted or live) error is one of those this integration makes. */
export function isFieldsealGraphQLError(error: { extensions?: unknown }): boolean {
  const code = (error.extensions as { code?: unknown } | undefined)?.code;
  return (
    code === DECRYPTION_ERROR ||
    code === FORBIDDEN ||
    code === ENCRYPTION_ERROR ||
    code === LOOKUP_ERROR
  );
}
