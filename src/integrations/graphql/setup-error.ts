/**
 * A configuration mistake found when the schema is transformed (an unknown model, a directive
 * on a non-null field without `allowNonNull`, a scope without a `scopes` function, ...): it
 * names the GraphQL field as `Type.field` and never holds a value.
 * @example
 * ```ts
 * try {
 *   fieldsealSchema(schema, { fs });
 * } catch (err) {
 *   if (err instanceof FieldsealSchemaError) console.error(err.field, err.message);
 * }
 * ```
 */
export class FieldsealSchemaError extends TypeError {
  /** Stable code of every setup refusal. */
  readonly code = 'ERR_GRAPHQL_SETUP' as const;
  /** The GraphQL field, `Type.field`. */
  readonly field: string;

  constructor(field: string, why: string) {
    super(`field ${field}: ${why}`);
    this.name = 'FieldsealSchemaError';
    this.field = field;
  }
}
