import {
  TransactGetItemsCommand,
  TransactWriteItemsCommand,
  type TransactWriteItem,
} from '@aws-sdk/client-dynamodb';
import type { Fieldseal } from '../client/fieldseal.js';
import type { ModelPlan } from '../model/model-plan.js';
import type { AnyModel, InferRecord } from '../model/model-types.js';
import type { Sender } from './batch-requests.js';
import type { DynamoItem } from './item-codec.js';
import type { ItemRecords } from './item-records.js';
import type { DynamoTransactWrite } from './repository-types.js';
import { checkTenant, keyOf, type DynamoKeyValue, type KeyLayout } from './table-keys.js';
import {
  allOf,
  conditionParts,
  expressionOf,
  putGuard,
  type ConditionParts,
} from './write-conditions.js';

/*
 * TransactWriteItems / TransactGetItems: all puts are encrypted in one client batch and
 * size-checked before the one request, so a failure leaves nothing written; deletes are
 * conditional on the tenant, so a transaction cannot delete another tenant's item, and puts
 * never replace one.
 */

/** What a transaction needs of its repository. @internal */
export interface TableContext<M extends AnyModel> {
  readonly client: Sender;
  readonly fs: Fieldseal;
  readonly model: M;
  readonly plan: ModelPlan;
  readonly layout: KeyLayout;
  readonly tableName: string;
  readonly records: ItemRecords<M>;
}

/** DynamoDB's limit of actions per transaction. */
const MAX_ACTIONS = 100;

/**
 * One TransactWriteItems of puts and tenant-conditional deletes.
 * @throws BatchError (`index` = index among the puts), ValueTooLargeError, TypeError; the
 *   SDK's TransactionCanceledException (with cancellation reasons) when DynamoDB cancels.
 * @internal
 */
export async function transactWrite<M extends AnyModel>(
  t: TableContext<M>,
  writes: readonly DynamoTransactWrite<M>[],
): Promise<void> {
  if (!Array.isArray(writes) || writes.length === 0 || writes.length > MAX_ACTIONS) {
    throw new TypeError(`writes: expected 1 to ${MAX_ACTIONS} actions`);
  }
  const puts = writes.flatMap((w: DynamoTransactWrite<M>) => ('put' in w ? [w.put] : []));
  const items = await t.records.encode(puts);
  const k = t.layout.partition.name;
  let next = 0;
  const actions: TransactWriteItem[] = writes.map((w: DynamoTransactWrite<M>) => {
    const user = conditionParts(t.plan, w.condition);
    if ('put' in w) {
      const item = items[next++]!;
      // Never replace another tenant's item (as save), or any item with ifAbsent.
      const tenant = item[t.plan.tenant]!.S!;
      const guard = putGuard(k, t.plan.tenant, tenant, w.ifAbsent === true);
      return {
        Put: { TableName: t.tableName, Item: item, ...expressionOf(allOf(guard, user)) },
      };
    }
    const owned: ConditionParts = {
      expression: '#t = :t',
      names: { '#t': t.plan.tenant },
      values: { ':t': { S: checkTenant(w.delete.tenant) } },
    };
    return {
      Delete: {
        TableName: t.tableName,
        Key: keyOf(t.layout, w.delete.key),
        ...expressionOf(allOf(owned, user)),
      },
    };
  });
  await t.client.send(new TransactWriteItemsCommand({ TransactItems: actions }));
}

/**
 * One TransactGetItems (a serialisable snapshot) and one decryption batch; the result is
 * aligned with `keys`, `undefined` for an absent item or one of another tenant.
 * @throws BatchError (`index` = index in `keys`), TypeError.
 * @internal
 */
export async function transactGet<M extends AnyModel>(
  t: TableContext<M>,
  tenant: string,
  keys: readonly Readonly<Record<string, DynamoKeyValue>>[],
): Promise<(InferRecord<M> | undefined)[]> {
  if (!Array.isArray(keys) || keys.length === 0 || keys.length > MAX_ACTIONS) {
    throw new TypeError(`keys: expected 1 to ${MAX_ACTIONS} keys`);
  }
  checkTenant(tenant);
  const out = (await t.client.send(
    new TransactGetItemsCommand({
      TransactItems: keys.map((key) => ({
        Get: { TableName: t.tableName, Key: keyOf(t.layout, key) },
      })),
    }),
  )) as { Responses?: { Item?: DynamoItem }[] };
  const found = (out.Responses ?? []).map((r) =>
    r.Item !== undefined && r.Item[t.plan.tenant]?.S === tenant ? r.Item : undefined,
  );
  const present = found.flatMap((item, index) => (item === undefined ? [] : [index]));
  const records = await t.records.decode(
    present.map((i) => found[i]!),
    present,
  );
  const result: (InferRecord<M> | undefined)[] = keys.map(() => undefined);
  present.forEach((index, i) => (result[index] = records[i]));
  return result;
}
