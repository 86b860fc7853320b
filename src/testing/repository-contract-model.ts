import { defineModel, field, type InferRecord } from '../index.js';

/**
 * The model every repository under the contract stores: a plain field of every kind, an
 * encrypted field of every kind in each storage (`binary` and `text`), nullable and optional
 * encrypted fields, and two blind-indexed fields (one per storage). Table `contract_records`,
 * tenant field `tenantId`, key `['id']` (ids are unique across tenants, so a DynamoDB table can
 * use `id` alone as its partition key).
 * @example
 * ```ts
 * const fs = createFieldseal({ provider, keys, cache: { maxAgeMs: 60_000 }, models: [RepositoryContractModel] });
 * ```
 */
export const RepositoryContractModel = defineModel({
  table: 'contract_records',
  tenant: 'tenantId',
  key: ['id'],
  fields: {
    tenantId: field.string(),
    id: field.string(),
    // plain fields, one per kind
    label: field.string(),
    count: field.number(),
    big: field.bigint(),
    flag: field.boolean(),
    at: field.date(),
    raw: field.bytes(),
    meta: field.json<{ readonly tags: readonly string[] }>(),
    note: field.string().nullable(),
    // blind-indexed (binary storage, normalised; text storage, nullable, default normalisation)
    email: field
      .string()
      .encrypted({ pad: 'bucket-32' })
      .blindIndex({ bits: 16, normalize: ['trim', 'lowercase', 'nfc'] }),
    phone: field.string().encrypted({ storage: 'text' }).nullable().blindIndex({ bits: 16 }),
    // encrypted, binary storage
    binString: field.string().encrypted(),
    binNumber: field.number().encrypted(),
    binBigint: field.bigint().encrypted(),
    binBoolean: field.boolean().encrypted(),
    binDate: field.date().encrypted(),
    binBytes: field.bytes().encrypted(),
    binJson: field.json<ContractJson>().encrypted(),
    // encrypted, text storage
    textString: field.string().encrypted({ storage: 'text' }),
    textNumber: field.number().encrypted({ storage: 'text' }),
    textBigint: field.bigint().encrypted({ storage: 'text' }),
    textBoolean: field.boolean().encrypted({ storage: 'text' }),
    textDate: field.date().encrypted({ storage: 'text' }),
    textBytes: field.bytes().encrypted({ storage: 'text' }),
    textJson: field.json<ContractJson>().encrypted({ storage: 'text' }),
    // nullable and optional encrypted fields, in both storages
    nullableString: field.string().encrypted().nullable(),
    nullableDate: field.date().encrypted({ storage: 'text' }).nullable(),
    optionalJson: field.json<ContractJson>().encrypted().optional(),
    optionalBigint: field.bigint().encrypted({ storage: 'text' }).optional(),
  },
});

/**
 * The JSON value of the contract model's encrypted JSON fields.
 * @example
 * ```ts
 * const profile: ContractJson = { canary: 'x', n: [1, 2.5], nested: { ok: true } };
 * ```
 */
export interface ContractJson {
  readonly canary: string;
  readonly n: readonly number[];
  readonly nested: { readonly ok: boolean; readonly text: string };
}

/**
 * A record of {@link RepositoryContractModel}, as the repository takes and returns it.
 * @example
 * ```ts
 * const ids = (records: readonly RepositoryContractRecord[]) => records.map((r) => r.id);
 * ```
 */
export type RepositoryContractRecord = InferRecord<typeof RepositoryContractModel>;

/**
 * The blind-indexed fields of {@link RepositoryContractModel}: a DynamoDB adapter declares a
 * GSI per field (`indexes: { 'by-email': { blindIndex: 'email' }, ... }`).
 * @example
 * ```ts
 * const indexes = Object.fromEntries(CONTRACT_INDEXED_FIELDS.map((f) => [`by-${f}`, { blindIndex: f }]));
 * ```
 */
export const CONTRACT_INDEXED_FIELDS = Object.freeze(['email', 'phone'] as const);

/**
 * A blind-indexed field of the contract model (`'email'` or `'phone'`).
 * @example
 * ```ts
 * const f: ContractIndexedField = 'email';
 * ```
 */
export type ContractIndexedField = (typeof CONTRACT_INDEXED_FIELDS)[number];
