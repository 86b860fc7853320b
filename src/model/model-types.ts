import type { FieldPolicy } from '../client/options.js';
import type { FieldTypes } from './field.js';

/**
 * Any field builder, as far as the types are concerned.
 * @example
 * ```ts
 * const f: AnyField = field.string().encrypted();
 * ```
 */
export interface AnyField {
  readonly '~types': FieldTypes;
}

/**
 * The `fields` of a model: field name → builder.
 * @example
 * ```ts
 * const fields = { id: field.string(), email: field.string().encrypted() } satisfies ModelFields;
 * ```
 */
export type ModelFields = Readonly<Record<string, AnyField>>;

/**
 * A model made by {@link defineModel}: a frozen description of one table's records. Pass it
 * to `encryptRecord` / `decryptRecord`; configure the client with `models: [model]`.
 * @example
 * ```ts
 * const fs = createFieldseal({ provider, keys, cache, models: [Customer] });
 * const row = await encryptRecord(fs, Customer, customer);
 * ```
 */
export interface Model<Table extends string = string, Fields extends ModelFields = ModelFields> {
  /** Display name (the table name unless given). */
  readonly name: string;
  /** Table name, bound into every value's context. */
  readonly table: Table;
  /** The field holding the tenant id (a plain, required string field). */
  readonly tenant: keyof Fields & string;
  /** The record key fields, in order (plain, required string / number / bigint fields). */
  readonly key: readonly (keyof Fields & string)[];
  /** The field builders. */
  readonly fields: Fields;
  /** One `FieldPolicy` per encrypted field, keyed `table.field`, for `createFieldseal`. */
  readonly policies: ModelPolicies<Table, Fields>;
}

/**
 * Any model (the constraint of the record functions): every {@link Model} is one.
 * @example
 * ```ts
 * function tableOf(model: AnyModel): string { return model.table; }
 * ```
 */
export interface AnyModel {
  readonly name: string;
  readonly table: string;
  readonly tenant: string;
  readonly key: readonly string[];
  readonly fields: ModelFields;
  readonly policies: Readonly<Record<string, FieldPolicy>>;
}

type Types<F> = F extends { readonly '~types': infer X extends FieldTypes } ? X : never;

/** Names of the encrypted fields of `F`. */
type EncryptedKeys<F extends ModelFields> = {
  [K in keyof F]: [Types<F[K]>['storage']] extends [undefined] ? never : K;
}[keyof F] &
  string;

type OptionalKeys<F extends ModelFields> = {
  [K in keyof F]: Types<F[K]>['optional'] extends true ? K : never;
}[keyof F];

type Simplify<T> = { [K in keyof T]: T[K] } & {};

type ValueOf<F> = Types<F>['nullable'] extends true ? Types<F>['value'] | null : Types<F>['value'];

type StorageType<S> = S extends 'binary' ? Buffer : S extends 'text' ? string : never;

type StoredOf<F> = [Types<F>['storage']] extends [undefined]
  ? ValueOf<F>
  : StorageType<Types<F>['storage']> | (Types<F>['nullable'] extends true ? null : never);

type InputOf<F> = [Types<F>['storage']] extends [undefined]
  ? ValueOf<F>
  : string | Uint8Array | (Types<F>['nullable'] extends true ? null : never);

type Shape<F extends ModelFields, V extends Record<keyof F, unknown>> = Simplify<
  { [K in Exclude<keyof F, OptionalKeys<F>>]: V[K] } & {
    [K in OptionalKeys<F>]?: V[K] | undefined;
  }
>;

/**
 * The names of a model's fields that have a blind index (`.blindIndex()`): the fields
 * `repo.findBy` accepts.
 * @example
 * ```ts
 * type Searchable = BlindIndexedField<typeof Customer>; // 'email' | 'phone'
 * ```
 */
export type BlindIndexedField<M extends { readonly fields: ModelFields }> = {
  [K in keyof M['fields']]: Types<M['fields'][K]>['blindIndex'] extends true ? K : never;
}[keyof M['fields']] &
  string;

/**
 * The policies of a model: `{ 'table.field': FieldPolicy }` for each encrypted field.
 * @example
 * ```ts
 * const policies: ModelPolicies<'customers', typeof Customer.fields> = Customer.policies;
 * policies['customers.ssn'].mode; // 'WriteOnly'
 * ```
 */
export type ModelPolicies<Table extends string, F extends ModelFields> = {
  readonly [K in EncryptedKeys<F> as `${Table}.${K}`]: FieldPolicy;
};

/**
 * The plaintext record type of a model: nullable fields are `T | null`, optional fields are
 * optional properties (`T | undefined`).
 * @example
 * ```ts
 * type CustomerRecord = InferRecord<typeof Customer>;
 * const c: CustomerRecord = { id: 'cus_1', tenantId: 'acme', email: 'a@example.com', ... };
 * ```
 */
export type InferRecord<M extends { readonly fields: ModelFields }> = Shape<
  M['fields'],
  { [K in keyof M['fields']]: ValueOf<M['fields'][K]> }
>;

/**
 * The stored row type of a model (what `encryptRecord` returns): encrypted fields become a
 * `Buffer` (storage `'binary'`, the default) or a `string` (`'text'`); `null` stays `null`.
 * @example
 * ```ts
 * type CustomerRow = InferStored<typeof Customer>;
 * await db.insert('customers', (await encryptRecord(fs, Customer, c)) satisfies CustomerRow);
 * ```
 */
export type InferStored<M extends { readonly fields: ModelFields }> = Shape<
  M['fields'],
  { [K in keyof M['fields']]: StoredOf<M['fields'][K]> }
>;

/**
 * The row type `decryptRecord` accepts: {@link InferStored}, except that each encrypted field
 * may be either stored form (`string` or any `Uint8Array`), as database drivers return them.
 * @example
 * ```ts
 * const row: InferStoredInput<typeof Customer> = await db.get('customers', id);
 * ```
 */
export type InferStoredInput<M extends { readonly fields: ModelFields }> = Shape<
  M['fields'],
  { [K in keyof M['fields']]: InputOf<M['fields'][K]> }
>;
