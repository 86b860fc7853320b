import { GraphQLError } from 'graphql';

/** `extensions.code` of a failed decryption. */
export const DECRYPTION_ERROR = 'DECRYPTION_ERROR';
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

/** Whether a (formatted or live) error is one of the two this integration makes. */
export function isFieldsealGraphQLError(error: { extensions?: unknown }): boolean {
  const code = (error.extensions as { code?: unknown } | undefined)?.code;
  return code === DECRYPTION_ERROR || code === FORBIDDEN;
}
