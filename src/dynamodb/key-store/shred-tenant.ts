import type { TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { KeyStoreUnavailableError } from '../../index.js';
import { mapLimit } from '../../integration/index.js';
import type { StoredKeyVersion } from '../../index.js';
import { headKey, isHeadSortKey, tenantPartition, versionKey } from './item-keys.js';
import { activeOf, names, stateValue, toStoredVersion } from './key-items.js';
import type { KeyTable } from './key-table.js';

/** Query passes before giving up on a tenant that keeps rotating while it is shredded. */
const PASSES = 5;
/** Version updates in flight at once. */
const PARALLEL = 8;

/** What `SET state = shredded REMOVE wrapped, commitment` needs besides its key and condition. */
const SHRED = {
  UpdateExpression: 'SET #state = :shredded REMOVE #wrapped, #commitment',
  ExpressionAttributeNames: names('state', 'wrapped', 'commitment'),
};

/**
 * Crypto-shred a tenant: every version item becomes `shredded` and loses its `wrapped` and
 * `commitment` attributes (REMOVE: the bytes are gone from the item, not overwritten with a
 * marker).
 *
 * The active version of a key id is shredded in one transaction with the deletion of its head
 * (conditioned on the head still naming it), so a rotation racing the shred either loses, or
 * wins and leaves a new head and active version that the next pass shreds; the other versions
 * are updated one by one, conditioned on being neither shredded nor active. Passes repeat a
 * paginated Query of the tenant's partition until it finds nothing left to shred.
 * @internal
 * @returns the versions this call shredded.
 * @example
 * ```ts
 * const shredded = await shredTenantItems(table, 'acme');
 * ```
 */
export async function shredTenantItems(
  table: KeyTable,
  tenant: string,
): Promise<{ keyId: string; version: number }[]> {
  const done: { keyId: string; version: number }[] = [];
  for (let pass = 0; pass < PASSES; pass++) {
    const heads = new Map<string, number>();
    const pending: StoredKeyVersion[] = [];
    for (const item of await table.query(tenantPartition(tenant), 'K#')) {
      if (isHeadSortKey(item.sk?.S)) {
        const keyId = item.keyId?.S;
        const active = activeOf(item);
        if (keyId !== undefined && item.tenant?.S === tenant && active !== null) {
          heads.set(keyId, active);
        }
        continue;
      }
      const row = toStoredVersion(item, tenant);
      if (row !== undefined && row.state !== 'shredded') pending.push(row);
    }
    if (heads.size === 0 && pending.length === 0) return done;
    for (const [keyId, active] of heads) {
      if (await table.transact(shredHead(table.name, tenant, keyId, active))) {
        done.push({ keyId, version: active });
      }
    }
    const inactive = pending.filter((row) => row.state !== 'active');
    await mapLimit(inactive, PARALLEL, async (row) => {
      if (await table.update(shredInactive(tenant, row.keyId, row.version))) {
        done.push({ keyId: row.keyId, version: row.version });
      }
    });
  }
  throw new KeyStoreUnavailableError('the tenant kept changing while it was shredded; retry');
}

function shredHead(
  TableName: string,
  tenant: string,
  keyId: string,
  active: number,
): TransactWriteItem[] {
  return [
    {
      Delete: {
        TableName,
        Key: headKey(tenant, keyId),
        ConditionExpression: '#active = :active',
        ExpressionAttributeNames: names('active'),
        ExpressionAttributeValues: { ':active': { N: String(active) } },
      },
    },
    {
      Update: {
        TableName,
        Key: versionKey(tenant, keyId, active),
        ...SHRED,
        ConditionExpression: '#state = :active',
        ExpressionAttributeValues: {
          ':shredded': stateValue('shredded'),
          ':active': stateValue('active'),
        },
      },
    },
  ];
}

function shredInactive(tenant: string, keyId: string, version: number) {
  return {
    Key: versionKey(tenant, keyId, version),
    ...SHRED,
    ConditionExpression: 'attribute_exists(#state) AND NOT #state IN (:shredded, :active)',
    ExpressionAttributeValues: {
      ':shredded': stateValue('shredded'),
      ':active': stateValue('active'),
    },
  };
}
