import { isFieldsealError } from '../errors.js';
import type { ModelSchema } from '../model/model-schema.js';
import { indexColumn, type IndexConfig, type IndexedField } from './repository-index-config.js';
import type { SecretSet, TenantSecrets } from './tenant-secrets.js';

/*
 * The blind indexes a repository writes (internal): which index columns (PostgreSQL) or
 * attributes (DynamoDB) each record gets, and their values, keyed with each tenant's secret.
 */

/**
 * One index column (or attribute) written on insert and upsert.
 * @example
 * ```ts
 * const [first]: WrittenIndexColumn[] = writtenIndexColumns(config); // email_bidx_v1, ...
 * ```
 *
 */
export interface WrittenIndexColumn {
  readonly name: string;
  readonly field: IndexedField;
  readonly version: number;
}

/**
 * Every index column the configuration writes, field by field, version by version.
 * @example
 * ```ts
 * const names = writtenIndexColumns(config).map((c) => c.name);
 * ```
 *
 */
export function writtenIndexColumns(config: IndexConfig | undefined): WrittenIndexColumn[] {
  if (config === undefined) return [];
  return [...config.fields.values()].flatMap((field) =>
    field.write.map((version) => ({
      name: indexColumn(field.field.name, version),
      field,
      version,
    })),
  );
}

/**
 * The index column values of each record (`null` where the field is null or absent), in the
 * order of `columns`. Every tenant's secrets are created when missing.
 * @throws the key error of a tenant whose secret cannot be made or opened (e.g.
 *   `ERR_KEY_SHREDDED`): a record is never written without its indexes.
 * @example
 * ```ts
 * const rows = await indexValues(plan, config, secrets, writtenIndexColumns(config), records);
 * ```
 *
 */
export async function indexValues(
  plan: ModelSchema,
  config: IndexConfig,
  secrets: TenantSecrets,
  columns: readonly WrittenIndexColumn[],
  records: readonly Readonly<Record<string, unknown>>[],
): Promise<(string | null)[][]> {
  if (columns.length === 0) return records.map(() => []);
  const tenants = records.map((r) => r[plan.tenant] as string);
  // A write path: keep the secrets sealed under each tenant's current data key.
  const opened = await secrets.load(tenants, config.versions, { create: true, reseal: true });
  try {
    return records.map((record, i) =>
      columns.map((c) => {
        const value = record[c.field.field.name];
        if (value === null || value === undefined) return null;
        return indexOf(plan, config, opened, tenants[i]!, c.field, c.version, value as string);
      }),
    );
  } finally {
    opened.wipe();
  }
}

/**
 * The blind index of `value` in `tenant` under `version`, keyed with the tenant's secret.
 * @throws the error that prevented opening the tenant's secret (callers handle a missing
 *   secret before calling).
 * @example
 * ```ts
 * const wanted = indexOf(plan, config, opened, 'acme', indexedField(config, 'email'), 1, email);
 * ```
 *
 */
export function indexOf(
  plan: ModelSchema,
  config: IndexConfig,
  opened: SecretSet,
  tenant: string,
  field: IndexedField,
  version: number,
  value: string,
): string {
  const secret = opened.get(tenant, version);
  if (secret === undefined || isFieldsealError(secret)) {
    throw secret ?? new TypeError('blind index secret missing after creation');
  }
  return config.indexer.index(
    value,
    { tenant, table: plan.table, field: field.field.name },
    { ...field.options, version, tenantSecret: secret },
  );
}
