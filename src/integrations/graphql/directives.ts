/**
 * The SDL of fieldseal's directives, to concatenate with your type definitions. `@encrypted`
 * marks a field whose stored value is an envelope (decrypted on read); `@requiresScope` names
 * the scope a caller needs, checked before anything is decrypted. On input fields and
 * arguments `@encrypted` marks values whose coercion errors must not echo them; it does not
 * encrypt them yet (resolvers receive plaintext and must encrypt before writing).
 *
 * `model` names a model passed in `models` of the options (`field` defaults to the GraphQL
 * field name); without it the options' `context` function supplies the encryption context.
 * `allowNonNull: true` accepts the directive on a non-null field (a failure or a mask then
 * nulls the parent object, by GraphQL's null propagation).
 * @example
 * ```ts
 * import { fieldsealDirectives } from 'fieldseal/graphql';
 *
 * const typeDefs = `${fieldsealDirectives}
 *   type User {
 *     id: ID!
 *     email: String @encrypted(model: "User")
 *     ssn: String @encrypted(model: "User") @requiresScope(scope: "pii:read_ssn", onDeny: MASK)
 *   }`;
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
  directive @requiresScope(
    scope: String!
    onDeny: FieldsealOnDeny = REJECT
    mask: String
    allowNonNull: Boolean
  ) on FIELD_DEFINITION
`;
