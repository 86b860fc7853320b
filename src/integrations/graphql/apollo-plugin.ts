import { GraphQLError, type DocumentNode, type GraphQLSchema } from 'graphql';
import { isFieldsealGraphQLError } from './graphql-errors.js';
import { deniedSelections } from './operation-scopes.js';
import { redactedMessage } from './sensitive-variables.js';
import { namesOf } from './redact-errors.js';
import { runtimeOf } from './runtime.js';

/** A formatted error as Apollo Server sends it (still editable in `willSendResponse`). */
interface FormattedError {
  readonly message: string;
  readonly extensions?: { readonly [key: string]: unknown };
}

/** The parts of Apollo's request context this plugin reads. */
interface ApolloRequestContext {
  readonly schema: GraphQLSchema;
  readonly document?: DocumentNode;
  readonly operationName?: string | null;
  readonly contextValue: unknown;
  readonly response: {
    body?: { kind: string; singleResult?: { readonly errors?: readonly FormattedError[] } };
  };
}

/**
 * The Apollo Server hooks `fieldsealApolloPlugin` implements (structurally an
 * `ApolloServerPlugin`).
 * @example
 * ```ts
 * const plugins: FieldsealApolloPlugin[] = [fieldsealApolloPlugin()];
 * ```
 */
export interface FieldsealApolloPlugin {
  serverWillStart(service: { schema?: GraphQLSchema }): Promise<void>;
  requestDidStart(): Promise<{
    didResolveOperation(rc: ApolloRequestContext): Promise<void>;
    willSendResponse(rc: ApolloRequestContext): Promise<void>;
  }>;
}

/**
 * The Apollo Server plugin, for a server built on a transformed schema
 * (`new ApolloServer({ schema: fieldsealSchema(schema, options), plugins: [fieldsealApolloPlugin()] })`;
 * Apollo plugins cannot replace the schema, so the server refuses to start without it). It
 * refuses an operation that selects a denied `REJECT` field before any resolver runs (with
 * `rejectDeniedOperations`), strips the `extensions.stacktrace` Apollo adds outside
 * production from fieldseal's errors, and redacts the values that coercion errors of
 * sensitive variables echo (see {@link sensitiveVariables}: anything else that logs raw
 * variables must redact them too).
 * @example
 * ```ts
 * import { ApolloServer } from '@apollo/server';
 * import { startStandaloneServer } from '@apollo/server/standalone';
 *
 * const server = new ApolloServer({
 *   schema: fieldsealSchema(schema, { fs, models: { User }, scopes: (ctx) => scopesOf(ctx) }),
 *   plugins: [fieldsealApolloPlugin()],
 * });
 * await startStandaloneServer(server, { context: async ({ req }) => ({ req }) });
 * ```
 */
export function fieldsealApolloPlugin(): FieldsealApolloPlugin {
  return {
    async serverWillStart({ schema }) {
      if (schema === undefined || runtimeOf(schema) === undefined) {
        throw new TypeError('fieldsealApolloPlugin: build the server on fieldsealSchema(...)');
      }
      return Promise.resolve();
    },
    async requestDidStart() {
      return Promise.resolve({
        async didResolveOperation(rc: ApolloRequestContext) {
          const runtime = runtimeOf(rc.schema);
          if (runtime?.options.rejectDeniedOperations !== true || rc.document === undefined) {
            return;
          }
          const scopes = runtime.states.scopesOf(rc.contextValue);
          const denied = deniedSelections(
            rc.schema,
            rc.document,
            rc.operationName,
            runtime,
            scopes,
          );
          if (denied.length > 0) {
            throw new GraphQLError(`Not authorized to read ${denied.join(', ')}`, {
              extensions: { code: 'FORBIDDEN', field: denied[0], fields: denied },
            });
          }
          return Promise.resolve();
        },
        async willSendResponse(rc: ApolloRequestContext) {
          const errors = rc.response.body?.singleResult?.errors;
          if (errors === undefined) return;
          const names = namesOf(rc.schema, rc.document);
          for (const e of errors) {
            const message = redactedMessage(e.message, names);
            // Formatted errors are plain objects Apollo serializes after this hook.
            const editable = e as { message: string; extensions?: Record<string, unknown> };
            if (message !== undefined) editable.message = message;
            if (message !== undefined || isFieldsealGraphQLError(e)) {
              // The stack's first line repeats the message (and so the value).
              if (editable.extensions !== undefined) delete editable.extensions.stacktrace;
            }
          }
          return Promise.resolve();
        },
      });
    },
  };
}
