import {
  TransactGetItemsCommand,
  TransactWriteItemsCommand,
  type TransactWriteItem,
} from '@aws-sdk/client-dynamodb';
import type { ModelSchema } from '../integration/index.js';
import type { AnyModel, InferRecord } from '../index.js';
import type { DynamoItem } from './item-codec.js';
import type { TableContext } from './table-context.js';
import { flag, optionSnapshot } from './option-snapshot.js';
import { assertCanPut, assertCanReadRecords, assertCanWrite } from './repository-modes.js';
import type { DynamoTransactWrite } from './repository-types.js';
import { checkTenant, keyOf, type DynamoKeyValue } from './table-keys.js';
import {
  allOf,
  conditionParts,
  expressionOf,
  putGuard,
  type ConditionParts,
  type DynamoCondition,
} from './write-conditions.js';

/*
 * TransactWriteItems / TransactGetItems: all puts are encrypted in one client batch and
 * size-checked before the one request, so a failure leaves nothing written; deletes are
 * conditional on the tenant, so a transaction cannot delete another tenant's item, and puts
 * never replace one.
 */

/** DynamoDB's limit of actions per transaction. */
const MAX_ACTIONS = 100;

/** One checked action: read once, exactly one of put / delete, known keys only. */
type Action =
  | {
      readonly put: unknown;
      readonly ifAbsent: boolean;
      readonly condition: ConditionParts | undefined;
    }
  | {
      readonly tenant: string;
      readonly key: unknown;
      readonly condition: ConditionParts | undefined;
    };

function actionOf(plan: ModelSchema, input: unknown, index: number): Action {
  const where = `writes[${index}]`;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new TypeError(
      `${where}: expected { put, ifAbsent?, condition? } or { delete, condition? }`,
    );
  }
  const isPut = Object.hasOwn(input, 'put');
  const o = optionSnapshot(
    where,
    input,
    isPut ? ['put', 'ifAbsent', 'condition'] : ['delete', 'condition'],
  );
  const condition = conditionParts(plan, o.condition as DynamoCondition | undefined);
  if (isPut) return { put: o.put, ifAbsent: flag(`${where}.ifAbsent`, o.ifAbsent), condition };
  if (typeof o.delete !== 'object' || o.delete === null || Array.isArray(o.delete)) {
    throw new TypeError(`${where}: expected { put, ... } or { delete: { tenant, key }, ... }`);
  }
  const d = optionSnapshot(`${where}.delete`, o.delete, ['tenant', 'key']);
  return { tenant: checkTenant(d.tenant), key: d.key, condition };
}

/**
 * One TransactWriteItems of puts and tenant-conditional deletes. Every action is read once
 * and checked (unknown keys and condition operators, modes) before anything is encrypted.
 * @throws BatchError (`index` = index among the puts), ValueTooLargeError, TypeError,
 *   UnsupportedOptionError, ModeForbiddenError; the SDK's TransactionCanceledException (with
 *   cancellation reasons) when DynamoDB cancels.
 * @internal
 */
export async function transactWrite<M extends AnyModel>(
  t: TableContext<M>,
  writes: readonly DynamoTransactWrite<M>[],
): Promise<void> {
  if (!Array.isArray(writes) || writes.length === 0 || writes.length > MAX_ACTIONS) {
    throw new TypeError(`writes: expected 1 to ${MAX_ACTIONS} actions`);
  }
  const list: readonly unknown[] = [...(writes as readonly unknown[])];
  const checked = list.map((w, i) => actionOf(t.plan, w, i));
  const puts = checked.flatMap((a) => ('put' in a ? [a.put as InferRecord<M>] : []));
  if (puts.length > 0) assertCanPut(t.fs, t.plan, 'transactWrite');
  else assertCanWrite(t.fs, t.plan, 'transactWrite');
  const items = await t.records.encode(puts);
  const k = t.layout.partition.name;
  let next = 0;
  const actions: TransactWriteItem[] = checked.map((a) => {
    if ('put' in a) {
      const item = items[next++]!;
      // Never replace another tenant's item (as save), or any item with ifAbsent.
      const tenant = item[t.plan.tenant]!.S!;
      const guard = putGuard(k, t.plan.tenant, tenant, a.ifAbsent);
      return {
        Put: { TableName: t.tableName, Item: item, ...expressionOf(allOf(guard, a.condition)) },
      };
    }
    const owned: ConditionParts = {
      expression: '#t = :t',
      names: { '#t': t.plan.tenant },
      values: { ':t': { S: a.tenant } },
    };
    return {
      Delete: {
        TableName: t.tableName,
        Key: keyOf(t.layout, a.key),
        ...expressionOf(allOf(owned, a.condition)),
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
  const wanted = keys.map((key) => keyOf(t.layout, key));
  assertCanReadRecords(t.fs, t.plan, 'transactGet');
  const out = (await t.client.send(
    new TransactGetItemsCommand({
      TransactItems: wanted.map((Key) => ({ Get: { TableName: t.tableName, Key } })),
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
