/**
 * The SDL of fieldseal's directives, to concatenate with your type definitions. `@encrypted`
 * marks a field whose stored value is an envelope (decrypted on read); `@requiresScope` names
 * the scope a caller needs, checked before anything is decrypted. On input fields and
 * arguments `@encrypted` encrypts the value before the resolver runs: the resolver receives
 * the envelope (`fs1:` text, or a `Buffer` for binary storage), bound to the record that holds
 * it (the input object, or the arguments of a scalar argument, must carry the model's tenant
 * and key fields, else `options.inputContext` names the record, else the call is refused with
 * `ENCRYPTION_ERROR`). Coercion errors of these values are redacted.
 *
 * `model` names a model passed in `models` of the options (`field` defaults to the GraphQL
 * field name); without it the options' `context` function supplies the encryption context.
 * `allowNonNull: true` accepts the directive on a non-null field (a failure or a mask then
 * nulls the parent object, by GraphQL's null propagation; inputs ignore it).
 * @example
 * ```ts
 * import { fieldsealDirectives } from 'fieldseal/graphql';
 *
 * const typeDefs = `${fieldsealDirectives}
 *   type User {
 *     id: ID!
 *     email: String @encrypted(model: "User")
 *     ssn: String @encrypted(model: "User") @requiresScope(scope: "pii:read_ssn", onDeny: MASK)
 *   }
 *   input UserInput { tenant_id: String!, id: ID!, ssn: String @encrypted(model: "User") }
 *   type Mutation { createUser(input: UserInput!): Boolean }`;
 * ```
 */
export const fieldsealDirectives = /* GraphQL */ `
  enum FieldsealOnDeny {
    MASK
    REJECT
  }
  directive @encrypted(
    model: String
    field: String
    allowNonNull: Boolean
  ) on FIELD_DEFINITION | INPUT_FIELD_DEFINITION | ARGUMENT_DEFINITION
  directive @lookup(model: String!, field: String) on ARGUMENT_DEFINITION
  directive @requiresScope(
    scope: String!
    onDeny: FieldsealOnDeny = REJECT
    mask: String
    allowNonNull: Boolean
  ) on FIELD_DEFINITION
`;
