import {
  CreateTableCommand,
  waitUntilTableExists,
  type DynamoDBClient,
  type ScalarAttributeType,
} from '@aws-sdk/client-dynamodb';
import type { Sender } from './batch-requests.js';

/*
 * Creating the library's own fixed-schema tables (the key store's, the blind-index secrets'):
 * on-demand capacity, a partition and a sort key, safe to run from every process at start-up.
 */

/** How long {@link waitUntilActive} waits for a table to become ACTIVE, in seconds. */
const ACTIVE_TIMEOUT_S = 300;

/**
 * A key attribute: its name and type.
 * @example
 * ```ts
 * const partition: KeyAttribute = ['tenant', 'S'];
 * ```
 * @internal
 */
export type KeyAttribute = readonly [name: string, type: ScalarAttributeType];

/**
 * CreateTable (on-demand billing) keyed by `partition` and `sort`, unless the table exists:
 * a `ResourceInUseException` (another process created it first) is success, like
 * `CREATE TABLE IF NOT EXISTS`. Does not wait for the table to become ACTIVE.
 * @throws the SDK's other errors.
 * @example
 * ```ts
 * await createTableIfAbsent(client, 'fieldseal-keys', ['pk', 'S'], ['sk', 'S']);
 * await waitUntilActive(client, 'fieldseal-keys');
 * ```
 * @internal
 */
export async function createTableIfAbsent(
  client: Sender,
  table: string,
  partition: KeyAttribute,
  sort: KeyAttribute,
): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: partition[0], KeyType: 'HASH' },
          { AttributeName: sort[0], KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: partition[0], AttributeType: partition[1] },
          { AttributeName: sort[0], AttributeType: sort[1] },
        ],
      }),
    );
  } catch (err) {
    // Checked by name: two copies of the SDK may be loaded.
    if ((err as { name?: unknown } | null)?.name !== 'ResourceInUseException') throw err;
  }
}

/**
 * Wait (up to 300 seconds) until `table` exists and is ACTIVE.
 * @throws the waiter's error when it does not become ACTIVE in time; the SDK's errors.
 * @example
 * ```ts
 * await waitUntilActive(client, 'fieldseal_blind_index_secrets');
 * ```
 * @internal
 */
export async function waitUntilActive(client: Sender, table: string): Promise<void> {
  await waitUntilTableExists(
    { client: client as DynamoDBClient, maxWaitTime: ACTIVE_TIMEOUT_S },
    { TableName: table },
  );
}
