import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { indexValues, writtenIndexColumns } from '../integration/index.js';
import { resolveIndexConfig } from '../integration/index.js';
import type { Fieldseal } from '../index.js';
import type { ModelSchema } from '../integration/index.js';
import type { AnyModel } from '../index.js';
import { dynamoTenantIndexSecrets } from './blind-index-secrets-table.js';
import type { DynamoItem } from './item-codec.js';
import type { BlindIndexState } from './table-context.js';
import type { DynamoBlindIndexOptions, DynamoRepositoryOptions } from './repository-types.js';

/*
 * Blind-index attributes of DynamoDB items: for each `.blindIndex()` field and each version
 * written, an `S` attribute `<field>_bidx_v<version>` holding the value's truncated HMAC (see
 * docs/blind-index.md), which a global secondary index can key. Null and absent values get no
 * attribute (a sparse index). The keys mix in each tenant's secret, sealed under its data key
 * in a DynamoDB table of its own, so a crypto-shred also ends the tenant's indexes.
 */

/**
 * The rule index attribute names have always had here (the configuration was once resolved by
 * the PostgreSQL integration): letters, digits and `_`, at most 63 characters. The secrets
 * table name is checked by {@link dynamoTenantIndexSecrets} instead.
 */
function checkIndexAttribute(what: string, name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(name)) {
    throw new TypeError(`${what}: ${JSON.stringify(name)} is not a plain SQL identifier`);
  }
  return name;
}

/**
 * Check the option against the model: required exactly when the model has `.blindIndex()`
 * fields.
 * @throws TypeError / RangeError naming the option.
 * @internal
 */
export function planBlindIndex(
  plan: ModelSchema,
  option: DynamoBlindIndexOptions<AnyModel> | undefined,
  client: DynamoRepositoryOptions<AnyModel>['client'],
  fs: Fieldseal,
): BlindIndexState | undefined {
  const { secretsTable = 'fieldseal_blind_index_secrets', ...rest } = option ?? {};
  const config = resolveIndexConfig(
    plan,
    option === undefined ? undefined : ({ ...rest } as DynamoBlindIndexOptions<AnyModel>),
    checkIndexAttribute,
  );
  if (config === undefined) return undefined;
  const written = writtenIndexColumns(config);
  for (const c of written) {
    // A model field of that name could be set directly and poison the index attribute.
    if (plan.names.has(c.name)) {
      throw new TypeError(`blindIndex: attribute ${c.name} is also a field of ${plan.table}`);
    }
  }
  const secrets = dynamoTenantIndexSecrets({ client, fs, tableName: secretsTable });
  return { config, secrets, written, secretsTable };
}

/**
 * Set the index attributes of freshly encoded items.
 * @throws the key error of a tenant whose secret cannot be made or opened: an item is never
 *   written without its indexes.
 * @internal
 */
export async function addIndexAttributes(
  state: BlindIndexState,
  plan: ModelSchema,
  records: readonly Readonly<Record<string, unknown>>[],
  items: DynamoItem[],
): Promise<void> {
  const values = await indexValues(plan, state.config, state.secrets, state.written, records);
  values.forEach((row, i) => {
    row.forEach((value, c) => {
      if (value !== null) items[i]![state.written[c]!.name] = { S: value };
    });
  });
}

/**
 * The index attributes an update of `changes` sets or removes (only for indexed fields in
 * `changes`).
 * @internal
 */
export async function updatedIndexAttributes(
  state: BlindIndexState,
  plan: ModelSchema,
  tenant: string,
  changes: Readonly<Record<string, unknown>>,
): Promise<{ set: Record<string, AttributeValue>; remove: string[] }> {
  const columns = state.written.filter((c) => Object.hasOwn(changes, c.field.field.name));
  const set: Record<string, AttributeValue> = {};
  const remove: string[] = [];
  if (columns.length === 0) return { set, remove };
  const [values] = await indexValues(plan, state.config, state.secrets, columns, [
    { ...changes, [plan.tenant]: tenant },
  ]);
  columns.forEach((c, i) => {
    const value = values![i];
    if (value === null || value === undefined) remove.push(c.name);
    else set[c.name] = { S: value };
  });
  return { set, remove };
}
