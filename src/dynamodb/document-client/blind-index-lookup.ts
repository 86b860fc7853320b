import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { UnsupportedOptionError } from '../../index.js';
import { indexColumn, ownData } from '../../integration/index.js';
import { checkLookupValues, recheck, wantedIndexes } from '../blind-index-lookup.js';
import { checkTenant } from '../table-keys.js';
import { openItems } from './command-sealing.js';
import { sealedClientState } from './sealed-clients.js';

/*
 * Equality lookups on a blind-indexed attribute through a sealed document client: a Query of
 * the GSI its index attribute keys, then every candidate decrypted and its value compared
 * (after the field's normalisation) with the values asked for, so a collision of the
 * truncated index never returns a wrong item.
 */

/**
 * What {@link findByBlindIndex} looks up.
 * @example
 * ```ts
 * const lookup: FindByBlindIndexOptions = {
 *   TableName: 'customers',
 *   IndexName: 'by-email', // partition key: email_bidx_v1
 *   tenant: 'acme',
 *   field: 'email',
 *   values: ['ada@example.com'],
 * };
 * ```
 */
export interface FindByBlindIndexOptions {
  /** A table the sealed client was given, with `blindIndex`. */
  readonly TableName: string;
  /** The GSI whose partition key is the field's index attribute (`<field>_bidx_v<read>`). */
  readonly IndexName: string;
  readonly tenant: string;
  /** A blind-indexed field of the table's model. */
  readonly field: string;
  /** At most 100 values; an item matches one after the field's normalisation. */
  readonly values: readonly string[];
}

/**
 * The tenant's items of `TableName` whose blind-indexed `field` equals one of `values` (after
 * the field's normalisation), decrypted, found through the GSI `IndexName` (all pages) and
 * re-checked after decryption: a candidate that only shares the truncated index is dropped.
 * The GSI must project the field and the item's tenant and key (projection ALL does).
 * @throws TypeError when `documents` is not a sealed document client, for a table or field
 *   without a blind index, or bad arguments; UnsupportedOptionError naming `table.field` when
 *   the GSI does not project the field; the key error of the tenant's index secret; the
 *   decryption errors of a candidate (fail closed: it might have been the item asked for).
 * @example
 * ```ts
 * import { findByBlindIndex } from 'fieldseal/dynamodb';
 *
 * const [ada] = await findByBlindIndex(documents, {
 *   TableName: 'customers',
 *   IndexName: 'by-email',
 *   tenant: 'acme',
 *   field: 'email',
 *   values: ['Ada@Example.com'],
 * });
 * ```
 */
export async function findByBlindIndex(
  documents: DynamoDBDocumentClient,
  options: FindByBlindIndexOptions,
): Promise<Record<string, unknown>[]> {
  const state = sealedClientState(documents);
  const given = ownData(options, (_why, key) => {
    throw new TypeError(`findByBlindIndex: ${key} must be a plain data property`);
  }) as Partial<FindByBlindIndexOptions>;
  const { TableName, IndexName, field, values: givenValues } = given;
  const tenant = checkTenant(given.tenant);
  const table = typeof TableName === 'string' ? state.tables.get(TableName) : undefined;
  if (table === undefined) {
    throw new TypeError('findByBlindIndex: TableName: not a table of this sealed client');
  }
  const indexed =
    typeof field === 'string' ? table.blindIndex?.config.fields.get(field) : undefined;
  if (indexed === undefined) {
    throw new TypeError(`findByBlindIndex: field: ${table.name} has no blind index on it`);
  }
  if (typeof IndexName !== 'string' || IndexName.length === 0) {
    throw new TypeError('findByBlindIndex: IndexName: expected the GSI of the index attribute');
  }
  if (!Array.isArray(givenValues)) checkLookupValues(givenValues, 'findByBlindIndex: values');
  // One read of the caller's array, checked: the indexes and the re-check see the same values.
  const values = [...(givenValues as readonly unknown[])];
  checkLookupValues(values, 'findByBlindIndex: values');
  const version = indexed.read;
  const wanted = await wantedIndexes(table.blindIndex!, table.schema, tenant, indexed, values);
  const { schema } = table;
  const seen = new Set<string>();
  const candidates: Record<string, unknown>[] = [];
  for (const value of wanted) {
    let start: Record<string, unknown> | undefined;
    do {
      const out = await state.plain.send(
        new QueryCommand({
          TableName,
          IndexName,
          KeyConditionExpression: '#p = :p',
          FilterExpression: '#t = :t',
          ExpressionAttributeNames: {
            '#p': indexColumn(indexed.field.name, version),
            '#t': schema.tenant,
          },
          ExpressionAttributeValues: { ':p': value, ':t': tenant },
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        }),
      );
      for (const item of out.Items ?? []) {
        if (item[schema.tenant] !== tenant) continue;
        const id = JSON.stringify(schema.key.map((k): unknown => item[k]));
        if (!seen.has(id)) candidates.push(item);
        seen.add(id);
      }
      start = out.LastEvaluatedKey;
    } while (start !== undefined);
  }
  const unprojected = candidates.find((item) => !Object.hasOwn(item, indexed.field.name));
  if (unprojected !== undefined) {
    throw new UnsupportedOptionError(
      `attribute ${table.name}.${indexed.field.name}: a candidate of ${IndexName} lacks it: project ALL (or INCLUDE it), or repair stale indexes with backfill({ indexes: true })`,
      { details: { field: `${table.name}.${indexed.field.name}` } },
    );
  }
  return recheck(await openItems(state.fs, table, candidates), indexed, values);
}
