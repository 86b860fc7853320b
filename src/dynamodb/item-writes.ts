import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { ConditionFailedError } from '../index.js';
import { updatedIndexAttributes } from './blind-index-attributes.js';
import { mapLimit } from '../integration/index.js';
import type { AnyModel, InferRecord } from '../index.js';
import { itemToRow, type DynamoItem } from './item-codec.js';
import { optionSnapshot } from './option-snapshot.js';
import {
  assertCanChange,
  assertCanPut,
  assertCanReadRecords,
  assertCanWrite,
  canReadRecords,
} from './repository-modes.js';
import type { DynamoChanges } from './repository-types.js';
import { checkTenant, keyOf, type DynamoKeyValue } from './table-keys.js';
import type { WriteContext } from './table-context.js';
import { buildUpdate } from './update-expression.js';
import {
  allOf,
  conditionParts,
  expressionOf,
  putGuard,
  type ConditionParts,
  type DynamoCondition,
} from './write-conditions.js';
import { deleteOptions, saveOptions, updateOptions } from './write-options.js';

/*
 * PutItem / UpdateItem / DeleteItem, each conditional on the item's tenant so that no write
 * ever touches another tenant's item, with the caller's own conditions ANDed in and the item
 * DynamoDB returns (ReturnValues) decrypted. When a condition fails, the item's tenant
 * attribute alone is read (a projected GetItem) to tell "absent or foreign" from "your condition
 * does not hold". The stored item itself is never requested with the failure
 * (ReturnValuesOnConditionCheckFailure), because the SDK's logger would log it.
 */

type Key = Readonly<Record<string, DynamoKeyValue>>;

/** The item exists (its partition key is set) and is the tenant's. */
function ownedBy(t: WriteContext<AnyModel>, tenant: string): ConditionParts {
  return {
    expression: 'attribute_exists(#k) AND #t = :t',
    names: { '#k': t.layout.partition.name, '#t': t.plan.tenant },
    values: { ':t': { S: tenant } },
  };
}

/** The key attributes of an encoded item (the key its values were sealed for). */
function itemKey(t: WriteContext<AnyModel>, item: DynamoItem): Record<string, AttributeValue> {
  const key: Record<string, AttributeValue> = {};
  for (const f of [t.layout.partition, t.layout.sort]) {
    if (f !== undefined) key[f.name] = item[f.name]!;
  }
  return key;
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
 * PutItem one record; it never replaces another tenant's item. Options, conditions and modes
 * are checked before the record is encrypted, and everything before the request.
 * @internal
 */
export async function putItem<M extends AnyModel>(
  t: WriteContext<M>,
  record: InferRecord<M>,
  input?: unknown,
): Promise<InferRecord<M> | undefined> {
  const options = saveOptions(input);
  assertCanPut(t.fs, t.plan, 'save');
  if (options.returnOld) assertCanReadRecords(t.fs, t.plan, 'save (returnOld)');
  const user = conditionParts(t.plan, options.condition as DynamoCondition | undefined);
  const item = await t.records.encodeOne(record);
  const tenant = item[t.plan.tenant]!.S!;
  const guard = putGuard(t.layout.partition.name, t.plan.tenant, tenant, options.ifAbsent);
  const condition = allOf(guard, user);
  try {
    const out = (await t.client.send(
      new PutItemCommand({
        TableName: t.tableName,
        Item: item,
        ...expressionOf(condition),
        ReturnValues: options.returnOld ? 'ALL_OLD' : 'NONE',
      }),
    )) as { Attributes?: DynamoItem };
    if (out.Attributes === undefined) return undefined;
    return t.records.decodeOne(out.Attributes);
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
    const stored = await storedTenant(t, itemKey(t, item));
    if (stored !== null && stored !== tenant) {
      throw new ConditionFailedError(
        `${t.plan.table}: an item with this key belongs to another tenant; it was not replaced`,
      );
    }
    throw new ConditionFailedError(
      options.ifAbsent && stored !== null
        ? `${t.plan.table}: the item exists (ifAbsent)`
        : `${t.plan.table}: the write condition does not hold`,
    );
  }
}

/**
 * UpdateItem of an existing item of `tenant`: the item decrypted (`ALL_NEW` / `ALL_OLD`), or
 * with `returnValues: 'NONE'` whether one was updated; `undefined` when there is none, and
 * always when the repository may not decrypt its records and no `returnValues` was given.
 * @internal
 */
export async function updateItem<M extends AnyModel>(
  t: WriteContext<M>,
  tenant: string,
  key: Key,
  input: DynamoChanges<M>,
  optionsInput?: unknown,
): Promise<InferRecord<M> | boolean | undefined> {
  const options = updateOptions(optionsInput);
  const Key = keyOf(t.layout, key);
  checkTenant(tenant);
  // The changes are read once too: the names checked are the names written.
  const changes =
    typeof input === 'object' && input !== null && !Array.isArray(input)
      ? optionSnapshot('changes', input, 'any')
      : input;
  assertCanChange(t.fs, t.plan, 'update', Object.keys(changes ?? {}));
  // Nothing that would need decrypting is asked for when it could not be decrypted.
  const returnValues =
    options.returnValues ?? (canReadRecords(t.fs, t.plan) ? 'ALL_NEW' : undefined);
  if (returnValues === 'ALL_NEW' || returnValues === 'ALL_OLD') {
    assertCanReadRecords(t.fs, t.plan, `update (returnValues ${returnValues})`);
  }
  const user = conditionParts(t.plan, options.condition as DynamoCondition | undefined);
  const indexes =
    t.blindIndex === undefined || typeof changes !== 'object' || changes === null
      ? undefined
      : await updatedIndexAttributes(t.blindIndex, t.plan, tenant, changes);
  const increment =
    typeof options.increment === 'object' &&
    options.increment !== null &&
    !Array.isArray(options.increment)
      ? optionSnapshot('increment', options.increment, 'any')
      : (options.increment as Readonly<Record<string, unknown>> | undefined);
  // The AAD's record is the Key sent, read once from the caller's key object.
  const keyRow = itemToRow(t.plan, Key);
  const parts = await buildUpdate(t.fs, t.plan, tenant, keyRow, changes, increment, indexes);
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
        ReturnValues: returnValues ?? 'NONE',
      }),
    )) as { Attributes?: DynamoItem };
    if (returnValues === 'NONE') return true;
    if (returnValues === undefined || out.Attributes === undefined) return undefined;
    return await t.records.decodeOne(out.Attributes);
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
    await failedOwnCondition(t, tenant, Key, user);
    return returnValues === 'NONE' ? false : undefined;
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
  input?: unknown,
): Promise<boolean | InferRecord<M> | undefined> {
  const options = deleteOptions(input);
  assertCanWrite(t.fs, t.plan, 'delete');
  const returnOld = options.returnOld;
  if (returnOld) assertCanReadRecords(t.fs, t.plan, 'delete (returnOld)');
  const user = conditionParts(t.plan, options.condition as DynamoCondition | undefined);
  const condition = allOf(ownedBy(t, checkTenant(tenant)), user);
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
  input?: unknown,
): Promise<boolean[]> {
  const { concurrency = 16 } = optionSnapshot('deleteMany options', input, ['concurrency']);
  if (!Array.isArray(keys)) throw new TypeError('keys: expected an array');
  const list: readonly Key[] = keys;
  if (typeof concurrency !== 'number' || !Number.isInteger(concurrency) || concurrency < 1) {
    throw new TypeError('concurrency: expected a positive integer');
  }
  checkTenant(tenant);
  assertCanWrite(t.fs, t.plan, 'deleteMany');
  list.forEach((key) => keyOf(t.layout, key)); // every key checked before the first request
  return mapLimit(list, concurrency, async (key: Key) => {
    const deleted = await deleteItem(t, tenant, key);
    return deleted === true;
  });
}
