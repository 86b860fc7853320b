import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { ConditionFailedError } from '../errors.js';
import { updatedIndexAttributes, type BlindIndexState } from './blind-index-attributes.js';
import { mapLimit } from '../lib/map-limit.js';
import type { AnyModel, InferRecord } from '../model/model-types.js';
import type { DynamoItem } from './item-codec.js';
import type { ItemRecords } from './item-records.js';
import type {
  DynamoChanges,
  DynamoDeleteOptions,
  DynamoSaveOptions,
  DynamoUpdateOptions,
} from './repository-types.js';
import { checkTenant, keyOf, type DynamoKeyValue } from './table-keys.js';
import type { TableContext } from './transactions.js';
import { buildUpdate } from './update-expression.js';
import {
  allOf,
  conditionParts,
  expressionOf,
  putGuard,
  type ConditionParts,
} from './write-conditions.js';

/*
 * PutItem / UpdateItem / DeleteItem, each conditional on the item's tenant so that no write
 * ever touches another tenant's item, with the caller's own conditions ANDed in and the item
 * DynamoDB returns (ReturnValues) decrypted. When a condition fails, the item's tenant
 * attribute alone is read (a projected GetItem) to tell "absent or foreign" from "your condition
 * does not hold". The stored item itself is never requested with the failure
 * (ReturnValuesOnConditionCheckFailure), because the SDK's logger would log it.
 */

/** What the writes need of their repository. @internal */
export interface WriteContext<M extends AnyModel> extends TableContext<M> {
  readonly records: ItemRecords<M>;
  readonly blindIndex: BlindIndexState | undefined;
}

type Key = Readonly<Record<string, DynamoKeyValue>>;

/** The item exists (its partition key is set) and is the tenant's. */
function ownedBy(t: WriteContext<AnyModel>, tenant: string): ConditionParts {
  return {
    expression: 'attribute_exists(#k) AND #t = :t',
    names: { '#k': t.layout.partition.name, '#t': t.plan.tenant },
    values: { ':t': { S: tenant } },
  };
}

/** The stored item's tenant (`null`: no item), read after a failed condition. */
async function storedTenant(
  t: WriteContext<AnyModel>,
  key: Record<string, NonNullable<DynamoItem[string]>>,
): Promise<string | null> {
  const out = (await t.client.send(
    new GetItemCommand({
      TableName: t.tableName,
      Key: key,
      ConsistentRead: true,
      ProjectionExpression: '#k, #t',
      ExpressionAttributeNames: { '#k': t.layout.partition.name, '#t': t.plan.tenant },
    }),
  )) as { Item?: DynamoItem };
  if (out.Item === undefined) return null;
  return out.Item[t.plan.tenant]?.S ?? '';
}

/**
 * PutItem one record; it never replaces another tenant's item.
 * @internal
 */
export async function putItem<M extends AnyModel>(
  t: WriteContext<M>,
  record: InferRecord<M>,
  options: DynamoSaveOptions<M> = {},
): Promise<InferRecord<M> | undefined> {
  const item = await t.records.encodeOne(record);
  const tenant = item[t.plan.tenant]!.S!;
  const guard = putGuard(t.layout.partition.name, t.plan.tenant, tenant, options.ifAbsent === true);
  const condition = allOf(guard, conditionParts(t.plan, options.condition));
  try {
    const out = (await t.client.send(
      new PutItemCommand({
        TableName: t.tableName,
        Item: item,
        ...expressionOf(condition),
        ReturnValues: options.returnOld === true ? 'ALL_OLD' : 'NONE',
      }),
    )) as { Attributes?: DynamoItem };
    if (out.Attributes === undefined) return undefined;
    return t.records.decodeOne(out.Attributes);
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
    const stored = await storedTenant(t, keyOf(t.layout, record));
    if (stored !== null && stored !== tenant) {
      throw new ConditionFailedError(
        `${t.plan.table}: an item with this key belongs to another tenant; it was not replaced`,
      );
    }
    throw new ConditionFailedError(
      options.ifAbsent === true && stored !== null
        ? `${t.plan.table}: the item exists (ifAbsent)`
        : `${t.plan.table}: the write condition does not hold`,
    );
  }
}

/**
 * UpdateItem of an existing item of `tenant`; `undefined` when there is none.
 * @internal
 */
export async function updateItem<M extends AnyModel>(
  t: WriteContext<M>,
  tenant: string,
  key: Key,
  changes: DynamoChanges<M>,
  options: DynamoUpdateOptions<M> = {},
): Promise<InferRecord<M> | undefined> {
  const Key = keyOf(t.layout, key);
  const returnValues = options.returnValues ?? 'ALL_NEW';
  if (returnValues !== 'ALL_NEW' && returnValues !== 'ALL_OLD') {
    throw new TypeError("returnValues: expected 'ALL_NEW' or 'ALL_OLD'");
  }
  checkTenant(tenant);
  const indexes =
    t.blindIndex === undefined || typeof changes !== 'object' || changes === null
      ? undefined
      : await updatedIndexAttributes(t.blindIndex, t.plan, tenant, changes);
  const parts = await buildUpdate(t.fs, t.plan, tenant, key, changes, options.increment, indexes);
  const user = conditionParts(t.plan, options.condition);
  const condition = allOf(ownedBy(t, tenant), user);
  try {
    const out = (await t.client.send(
      new UpdateItemCommand({
        TableName: t.tableName,
        Key,
        UpdateExpression: parts.UpdateExpression,
        ...expressionOf(condition),
        ExpressionAttributeNames: { ...parts.ExpressionAttributeNames, ...condition.names },
        ExpressionAttributeValues: { ...parts.ExpressionAttributeValues, ...condition.values },
        ReturnValues: returnValues,
      }),
    )) as { Attributes?: DynamoItem };
    if (out.Attributes === undefined) return undefined;
    return t.records.decodeOne(out.Attributes);
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
    await failedOwnCondition(t, tenant, Key, user);
    return undefined;
  }
}

/** Throw when the item exists, is the tenant's and the caller's condition failed. */
async function failedOwnCondition(
  t: WriteContext<AnyModel>,
  tenant: string,
  key: Record<string, NonNullable<DynamoItem[string]>>,
  user: ConditionParts | undefined,
): Promise<void> {
  if (user === undefined) return;
  if ((await storedTenant(t, key)) === tenant) {
    throw new ConditionFailedError(`${t.plan.table}: the write condition does not hold`);
  }
}

/**
 * DeleteItem of an existing item of `tenant`: the old item (decrypted) with `returnOld`,
 * otherwise whether one was deleted.
 * @internal
 */
export async function deleteItem<M extends AnyModel>(
  t: WriteContext<M>,
  tenant: string,
  key: Key,
  options: DynamoDeleteOptions<M> = {},
): Promise<boolean | InferRecord<M> | undefined> {
  const user = conditionParts(t.plan, options.condition);
  const condition = allOf(ownedBy(t, checkTenant(tenant)), user);
  const returnOld = options.returnOld === true;
  const Key = keyOf(t.layout, key);
  try {
    const out = (await t.client.send(
      new DeleteItemCommand({
        TableName: t.tableName,
        Key,
        ...expressionOf(condition),
        ...(returnOld ? { ReturnValues: 'ALL_OLD' } : {}),
      }),
    )) as { Attributes?: DynamoItem };
    if (!returnOld) return true;
    if (out.Attributes === undefined) return undefined;
    return t.records.decodeOne(out.Attributes);
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
    await failedOwnCondition(t, tenant, Key, user);
    return returnOld ? undefined : false;
  }
}

/**
 * Conditional DeleteItem of each key (at most `concurrency` in flight). BatchWriteItem cannot
 * carry a condition, so it could delete another tenant's item; a DeleteItem per key costs the
 * same write capacity.
 * @internal
 */
export async function deleteItems<M extends AnyModel>(
  t: WriteContext<M>,
  tenant: string,
  keys: readonly Key[],
  concurrency = 16,
): Promise<boolean[]> {
  if (!Array.isArray(keys)) throw new TypeError('keys: expected an array');
  const list: readonly Key[] = keys;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new TypeError('concurrency: expected a positive integer');
  }
  checkTenant(tenant);
  list.forEach((key) => keyOf(t.layout, key)); // every key checked before the first request
  return mapLimit(list, concurrency, async (key: Key) => {
    const deleted = await deleteItem(t, tenant, key);
    return deleted === true;
  });
}
