import type { TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { KeyNotFoundError, KeyVersionActiveError } from '../../index.js';
import { headKey, tenantPartition, versionKey, versionPrefix } from './item-keys.js';
import { activeOf, names, stateValue, toStoredVersion } from './key-items.js';
import { MAX_TRANSACTION_ITEMS, type KeyTable } from './key-table.js';

/** Version items per transaction: the limit less the head's condition check. */
const CHUNK = MAX_TRANSACTION_ITEMS - 1;
/** Re-reads after a transaction lost a race (a rotation, reinstatement or shred meanwhile). */
const ATTEMPTS = 5;

/**
 * Retire every `decrypt-only` version of a tenant's key id numbered below `below`.
 *
 * Each `TransactWriteItems` holds a condition check on the head item (`active >= below`, or no
 * active version at all) and up to 99 version updates, each conditioned on
 * `state = 'decrypt-only'`. The active version is never `decrypt-only` and no version ever
 * becomes active again, so no interleaving can retire it; the head check makes the refusal
 * (`ERR_KEY_VERSION_ACTIVE`) atomic with the updates. A cancelled transaction changed nothing:
 * the versions are read again and the remaining ones retried.
 *
 * Up to 99 versions retire in one atomic step. Beyond that the chunks commit one after the
 * other, lowest versions first; a failure between chunks leaves a lower prefix retired, and
 * calling again finishes the job (retirement is idempotent).
 * @internal
 * @example
 * ```ts
 * const retired = await retireVersionsBelow(table, 'acme', 'default', 3); // [1, 2]
 * ```
 */
export async function retireVersionsBelow(
  table: KeyTable,
  tenant: string,
  keyId: string,
  below: number,
): Promise<number[]> {
  const retired: number[] = [];
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const active = activeOf(await table.get(headKey(tenant, keyId)));
    if (active !== null && active < below) {
      throw new KeyVersionActiveError(undefined, { details: { keyRef: `${keyId}@${active}` } });
    }
    const items = await table.query(tenantPartition(tenant), versionPrefix(keyId));
    const candidates = items
      .map((item) => toStoredVersion(item, tenant, keyId))
      .filter((row) => row?.state === 'decrypt-only' && row.version < below)
      .map((row) => row!.version)
      .sort((a, b) => a - b);
    let settled = true;
    for (let i = 0; i < candidates.length && settled; i += CHUNK) {
      const chunk = candidates.slice(i, i + CHUNK);
      settled = await table.transact([
        headCheck(table.name, tenant, keyId, active, below),
        ...chunk.map((version) => retire(table.name, tenant, keyId, version)),
      ]);
      if (settled) retired.push(...chunk);
    }
    if (settled) return retired.sort((a, b) => a - b);
  }
  throw new KeyNotFoundError('the tenant key changed during retirement; retry');
}

function headCheck(
  TableName: string,
  tenant: string,
  keyId: string,
  active: number | null,
  below: number,
): TransactWriteItem {
  const Key = headKey(tenant, keyId);
  return {
    ConditionCheck:
      active === null
        ? {
            TableName,
            Key,
            ConditionExpression: 'attribute_not_exists(#active)',
            ExpressionAttributeNames: names('active'),
          }
        : {
            TableName,
            Key,
            ConditionExpression: '#active >= :below',
            ExpressionAttributeNames: names('active'),
            ExpressionAttributeValues: { ':below': { N: String(below) } },
          },
  };
}

function retire(
  TableName: string,
  tenant: string,
  keyId: string,
  version: number,
): TransactWriteItem {
  return {
    Update: {
      TableName,
      Key: versionKey(tenant, keyId, version),
      UpdateExpression: 'SET #state = :retired',
      ConditionExpression: '#state = :readable',
      ExpressionAttributeNames: names('state'),
      ExpressionAttributeValues: {
        ':retired': stateValue('retired'),
        ':readable': stateValue('decrypt-only'),
      },
    },
  };
}
