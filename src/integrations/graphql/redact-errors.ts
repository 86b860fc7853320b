import { GraphQLError, type DocumentNode, type GraphQLSchema } from 'graphql';
import { redactedMessage, sensitiveVariables } from './sensitive-variables.js';

/** The sensitive variable names of a request (`undefined`: unknown, so all are sensitive). */
export function namesOf(
  schema: GraphQLSchema,
  document: DocumentNode | undefined,
): ReadonlySet<string> | undefined {
  if (document === undefined) return undefined;
  try {
    return sensitiveVariables(schema, document);
  } catch {
    return undefined;
  }
}

/**
 * Execution errors with the coercion errors of sensitive variables redacted (same path and
 * extensions, a message without the value, no original error to print a stack from).
 */
export function redactErrors(
  errors: readonly GraphQLError[],
  names: ReadonlySet<string> | undefined,
): { errors: GraphQLError[]; changed: boolean } {
  let changed = false;
  const out = errors.map((e) => {
    const message = redactedMessage(e.message, names);
    if (message === undefined) return e;
    changed = true;
    return new GraphQLError(message, {
      nodes: e.nodes ?? null,
      path: e.path ?? null,
      extensions: e.extensions,
    });
  });
  return { errors: out, changed };
}
