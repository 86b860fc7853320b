import { QueryCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { normalizeValue } from '../integration/index.js';
import { indexOf, type IndexedField, type ModelSchema } from '../integration/index.js';
import type { AnyModel, InferRecord } from '../index.js';
import type { DynamoItem } from './item-codec.js';
import type { IndexLayout } from './secondary-indexes.js';
import { checkTenant } from './table-keys.js';
import type { BlindIndexState, WriteContext } from './table-context.js';

/*
 * Equality lookups on an encrypted field through a GSI keyed by its blind index. The index
 * only finds candidates: every candidate is decrypted and its value compared, after the
 * field's normalisation, with the values asked for, so a collision of the truncated index
 * never returns a wrong item (it is counted as a false positive).
 */

/** Most values one lookup may ask for (one GSI Query each). */
const MAX_VALUES = 100;

/**
 * Check a lookup's values: an array of at most 100 strings.
 * @throws TypeError naming the argument.
 * @internal
 */
export function checkLookupValues(values: unknown, what = 'values'): asserts values is string[] {
  if (
    !Array.isArray(values) ||
    values.length > MAX_VALUES ||
    !values.every((v) => typeof v === 'string')
  ) {
    throw new TypeError(`${what}: expected an array of at most ${MAX_VALUES} strings`);
  }
}

/**
 * The distinct indexes of `values` in `tenant` under the field's read version; none when the
 * tenant has no secret for it (nothing of the tenant was ever indexed under that version).
 * @throws the key error of the tenant's index secret.
 * @internal
 */
export async function wantedIndexes(
  state: BlindIndexState,
  plan: ModelSchema,
  tenant: string,
  indexed: IndexedField,
  values: readonly string[],
): Promise<string[]> {
  if (values.length === 0) return [];
  const version = indexed.read;
  const opened = await state.secrets.load([tenant], [version], { create: false, reseal: false });
  try {
    if (opened.get(tenant, version) === undefined) return [];
    return [
      ...new Set(
        values.map((v) => indexOf(plan, state.config, opened, tenant, indexed, version, v)),
      ),
    ];
  } finally {
    opened.wipe();
  }
}

/**
 * The decrypted records whose field equals one of `values` after the field's normalisation.
 * @internal
 */
export function recheck<R>(
  records: readonly R[],
  indexed: IndexedField,
  values: readonly string[],
): R[] {
  const targets = new Set(values.map((v) => normalizeValue(v, indexed.resolved)));
  return records.filter((r) => {
    const value = (r as Record<string, unknown>)[indexed.field.name];
    return typeof value === 'string' && targets.has(normalizeValue(value, indexed.resolved));
  });
}

/** Counters of lookups, for `repo.stats()`. @internal */
export interface LookupStats {
  blindIndexCandidates: number;
  blindIndexFalsePositives: number;
}

/** The GSI that keys `field`'s read version. */
function gsiOf(
  state: BlindIndexState,
  indexes: ReadonlyMap<string, IndexLayout>,
  field: string,
): { index: IndexLayout; version: number } {
  const indexed = state.config.fields.get(field);
  if (indexed === undefined) throw new TypeError(`field: "${field}" has no blind index`);
  for (const index of indexes.values()) {
    if (index.blindIndex?.field === field && index.blindIndex.version === indexed.read) {
      return { index, version: indexed.read };
    }
  }
  throw new TypeError(
    `field: no GSI keys the blind index of ${field} (version ${indexed.read}); declare ` +
      `indexes: { '<name>': { blindIndex: '${field}' } }`,
  );
}

/** Every item of one GSI partition, the tenant's only, all pages. */
async function queryAll(
  t: WriteContext<AnyModel>,
  index: IndexLayout,
  tenant: string,
  value: string,
): Promise<DynamoItem[]> {
  const items: DynamoItem[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const out = (await t.client.send(
      new QueryCommand({
        TableName: t.tableName,
        IndexName: index.name,
        KeyConditionExpression: '#p = :p',
        FilterExpression: '#t = :t',
        ExpressionAttributeNames: { '#p': index.partition.name, '#t': t.plan.tenant },
        ExpressionAttributeValues: { ':p': { S: value }, ':t': { S: tenant } },
        ...(start === undefined ? {} : { ExclusiveStartKey: start }),
      }),
    )) as { Items?: DynamoItem[]; LastEvaluatedKey?: Record<string, AttributeValue> };
    for (const item of out.Items ?? []) {
      if (item[t.plan.tenant]?.S === tenant) items.push(item);
    }
    start = out.LastEvaluatedKey;
  } while (start !== undefined);
  return items;
}

/**
 * The tenant's items whose `field` equals (after normalisation) one of `values`.
 * @throws TypeError for a field without a blind index or GSI, bad arguments; the key error of
 *   the tenant's index secret; a BatchError when a candidate does not decrypt (fail closed:
 *   it might have been the item asked for).
 * @internal
 */
export async function findByIndex<M extends AnyModel>(
  t: WriteContext<M>,
  state: BlindIndexState,
  indexes: ReadonlyMap<string, IndexLayout>,
  stats: LookupStats,
  tenant: string,
  field: string,
  values: readonly string[],
): Promise<InferRecord<M>[]> {
  checkTenant(tenant);
  checkLookupValues(values);
  const { index } = gsiOf(state, indexes, field);
  const indexed = state.config.fields.get(field)!;
  const wanted = await wantedIndexes(state, t.plan, tenant, indexed, values);
  const seen = new Set<string>();
  const candidates: DynamoItem[] = [];
  for (const value of wanted) {
    for (const item of await queryAll(t, index, tenant, value)) {
      const id = JSON.stringify(
        t.layout.sort === undefined
          ? [item[t.layout.partition.name]]
          : [item[t.layout.partition.name], item[t.layout.sort.name]],
      );
      if (!seen.has(id)) candidates.push(item);
      seen.add(id);
    }
  }
  stats.blindIndexCandidates += candidates.length;
  const records = await t.records.decode(candidates);
  const matches = recheck(records, indexed, values);
  stats.blindIndexFalsePositives += candidates.length - matches.length;
  return matches;
}
