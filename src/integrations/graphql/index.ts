/**
 * `fieldseal/graphql`: plaintext to GraphQL clients, ciphertext at rest, scopes checked
 * before anything is decrypted. {@link fieldsealSchema} transforms any graphql-js schema;
 * {@link useFieldseal} (Envelop / Yoga) and {@link fieldsealApolloPlugin} (Apollo Server)
 * apply it. `graphql` and `@graphql-tools/utils` are optional peer dependencies.
 * @example
 * ```ts
 * import { fieldsealDirectives, useFieldseal } from 'fieldseal/graphql';
 * ```
 * @packageDocumentation
 */
export { fieldsealDirectives } from './directives.js';
export { fieldsealSchema } from './fieldseal-schema.js';
export { useFieldseal, type FieldsealEnvelopPlugin } from './envelop-plugin.js';
export { fieldsealApolloPlugin, type FieldsealApolloPlugin } from './apollo-plugin.js';
export { sensitiveVariables } from './sensitive-variables.js';
export type { FieldsealLookupValue } from './lookup-resolver.js';
export { FieldsealSchemaError } from './setup-error.js';
export type {
  FieldsealContextFunction,
  FieldsealFieldExtension,
  FieldsealGraphQLOptions,
  FieldsealInputContextFunction,
  FieldsealInputRef,
  FieldsealMask,
  FieldsealOnDeny,
} from './options.js';
