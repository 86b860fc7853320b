import type { FieldTypes } from './field.js';
import { planModel, type ModelSchema } from './model-schema.js';
import type { Model, ModelFields, ModelPolicies } from './model-types.js';

type Types<F> = F extends { readonly '~types': infer X extends FieldTypes } ? X : never;

/** Names of the plain (not encrypted), required fields whose value type is within `V`. */
type PlainRequiredFieldOf<F extends ModelFields, V> = {
  [K in keyof F]: Types<F[K]> extends {
    readonly value: V;
    readonly storage: undefined;
    readonly nullable: false;
    readonly optional: false;
  }
    ? K
    : never;
}[keyof F] &
  string;

/** Fields that may hold the tenant id: plain, required strings. */
type TenantFieldOf<F extends ModelFields> = PlainRequiredFieldOf<F, string>;

/** Fields that may be part of the record key: plain, required strings, numbers or bigints. */
type KeyFieldOf<F extends ModelFields> = PlainRequiredFieldOf<F, string | number | bigint>;

/**
 * The argument of {@link defineModel}.
 * @example
 * ```ts
 * const definition = {
 *   table: 'customers', tenant: 'tenantId', key: ['id'],
 *   fields: { id: field.string(), tenantId: field.string(), email: field.string().encrypted() },
 * } satisfies ModelDefinition;
 * ```
 */
export interface ModelDefinition<
  Table extends string = string,
  Fields extends ModelFields = ModelFields,
  Tenant extends string = string,
  Key extends readonly string[] = readonly string[],
> {
  /** Display name (default: the table name). */
  readonly name?: string;
  /** Table name (no `.`), bound into every value's context as `table`. */
  readonly table: Table;
  /** The field holding the tenant id: a plain, required `field.string()`. */
  readonly tenant: Tenant;
  /**
   * The record key fields, in order: plain, required string / number / bigint fields, bound
   * into the context as `record` (one string, or a list for a composite key).
   */
  readonly key: Key;
  /** Field name (no `.`) → builder. */
  readonly fields: Fields;
}

const plans = new WeakMap<object, ModelSchema>();

/**
 * The plan of a model made by {@link defineModel}.
 * @throws TypeError for anything else.
 * @internal
 */
export function planOf(model: unknown): ModelSchema {
  const plan = typeof model === 'object' && model !== null ? plans.get(model) : undefined;
  if (plan === undefined) throw new TypeError('model: expected a model made by defineModel');
  return plan;
}

/**
 * Declare a table's records: which fields are encrypted and how, which field holds the
 * tenant, and which fields form the record key. Every encrypted value is bound to
 * `{ tenant, table, field, record, ...field context }`, so it decrypts only in its own tenant,
 * table, field and record. The record types are inferred: see `InferRecord`, `InferStored`.
 *
 * @throws TypeError naming the field: an encrypted tenant or key field, an encrypted field
 *   marked indexed, an unknown tenant or key field, an empty key, a table or field name with
 *   a `.`, a reserved context name (`tenant`, `table`, `field`, `record`), bad options.
 * @example
 * ```ts
 * const Customer = defineModel({
 *   table: 'customers',
 *   tenant: 'tenantId',
 *   key: ['id'],
 *   fields: {
 *     id: field.string(),
 *     tenantId: field.string(),
 *     email: field.string().encrypted({ pad: 'bucket-32' }),
 *     ssn: field.string().encrypted({ mode: 'WriteOnly' }).nullable(),
 *   },
 * });
 * const fs = createFieldseal({ provider, keys, cache, models: [Customer] });
 * ```
 */
export function defineModel<
  const Table extends string,
  Fields extends ModelFields,
  const Tenant extends TenantFieldOf<Fields>,
  const Key extends readonly [KeyFieldOf<Fields>, ...KeyFieldOf<Fields>[]],
>(definition: ModelDefinition<Table, Fields, Tenant, Key>): Model<Table, Fields> {
  const plan = planModel(definition);
  const name = definition.name ?? plan.table;
  if (typeof name !== 'string' || name.length === 0) {
    throw new TypeError(`model ${plan.table}: name: expected a non-empty string`);
  }
  const model: Model<Table, Fields> = Object.freeze({
    name,
    table: plan.table as Table,
    tenant: plan.tenant,
    key: plan.key,
    fields: Object.freeze({ ...definition.fields }),
    policies: plan.policies as ModelPolicies<Table, Fields>,
  });
  plans.set(model, plan);
  return model;
}
