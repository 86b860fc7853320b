import type { DocumentNode, ExecutionResult, GraphQLSchema } from 'graphql';
import { forbiddenError } from './graphql-errors.js';
import { fieldsealSchema } from './fieldseal-schema.js';
import { deniedSelections } from './operation-scopes.js';
import type { FieldsealGraphQLOptions } from './options.js';
import { namesOf, redactErrors } from './redact-errors.js';
import { runtimeOf } from './runtime.js';

/**
 * The Envelop hooks `useFieldseal` implements (structurally an Envelop / Yoga `Plugin`).
 * @example
 * ```ts
 * const plugin: FieldsealEnvelopPlugin = useFieldseal({ fs, models: { User } });
 * ```
 */
export interface FieldsealEnvelopPlugin {
  onSchemaChange(payload: {
    schema: GraphQLSchema;
    replaceSchema: (schema: GraphQLSchema) => void;
  }): void;
  onExecute(payload: {
    args: {
      schema: GraphQLSchema;
      document: DocumentNode;
      operationName?: string | null;
      contextValue?: unknown;
    };
    setResultAndStopExecution: (result: ExecutionResult) => void;
  }): {
    onExecuteDone(payload: {
      result: ExecutionResult | AsyncIterable<unknown>;
      setResult: (result: ExecutionResult) => void;
    }): void;
  };
}

/**
 * The Envelop / GraphQL Yoga plugin: it replaces the server's schema with
 * `fieldsealSchema(schema, options)`, refuses an operation that selects a denied `REJECT`
 * field before any resolver runs (with `rejectDeniedOperations`), and redacts the values that
 * coercion errors of sensitive variables echo (see {@link sensitiveVariables}; anything else
 * that logs raw variables must redact them too). fieldseal's errors are `GraphQLError`s, so
 * Yoga's error masking keeps them as they are. A schema already made by `fieldsealSchema` is
 * kept as it is, with the options it was made with.
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { createSchema, createYoga } from 'graphql-yoga';
 * import { fieldsealDirectives, useFieldseal } from 'fieldseal/graphql';
 *
 * const yoga = createYoga({
 *   schema: createSchema({ typeDefs: [fieldsealDirectives, typeDefs], resolvers }),
 *   plugins: [useFieldseal({ fs, models: { User }, scopes: (ctx) => scopesOf(ctx) })],
 * });
 * createServer(yoga).listen(4000);
 * ```
 */
export function useFieldseal(options: FieldsealGraphQLOptions): FieldsealEnvelopPlugin {
  return {
    onSchemaChange({ schema, replaceSchema }) {
      if (runtimeOf(schema) === undefined) replaceSchema(fieldsealSchema(schema, options));
    },
    onExecute({ args, setResultAndStopExecution }) {
      const runtime = runtimeOf(args.schema);
      if (runtime?.options.rejectDeniedOperations === true) {
        const denied = deniedSelections(
          args.schema,
          args.document,
          args.operationName,
          runtime,
          runtime.states.scopesOf(args.contextValue),
        );
        if (denied.length > 0) setResultAndStopExecution({ errors: denied.map(forbiddenError) });
      }
      return {
        onExecuteDone({ result, setResult }) {
          if (Symbol.asyncIterator in result) return;
          const errors = result.errors;
          if (errors === undefined || errors.length === 0) return;
          const redacted = redactErrors(errors, namesOf(args.schema, args.document));
          if (redacted.changed) setResult({ ...result, errors: redacted.errors });
        },
      };
    },
  };
}
