import {
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  UpdateItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type { Fieldseal } from '../index.js';
import type {
  SealedSecret,
  SealedSecretPage,
  SealedSecretStorage,
  SealedSecretId,
} from '../integration/index.js';
import { TenantSecrets } from '../integration/index.js';
import { batchGetItems, batchWriteRequests, type Sender } from './batch-requests.js';
import { createTableIfAbsent, waitUntilActive } from './create-table.js';
import type { DynamoItem } from './item-codec.js';
import type { DynamoSendingClient } from './sending-client.js';
import { checkTenant } from './table-keys.js';

/*
 * Per-tenant blind-index secrets in a DynamoDB table: partition key `tenant` (S), sort key
 * `version` (N), attribute `sealed` (S, a fieldseal envelope sealed under the tenant's data
 * key). Sealing, opening and resealing are the storage-independent TenantSecrets; this file
 * only keeps the sealed text, with conditional writes where PostgreSQL has a primary key.
 */

/** The default table name, the same as PostgreSQL's secrets table. */
const DEFAULT_TABLE = 'fieldseal_blind_index_secrets';

/** Puts in flight at once when creating secrets. */
const PUT_CONCURRENCY = 16;

// Attribute names always go through placeholders: no reserved-word surprises.
const NAMES = { '#t': 'tenant', '#v': 'version', '#s': 'sealed' } as const;

/**
 * Options of {@link dynamoTenantIndexSecrets}.
 * @example
 * ```ts
 * const options: DynamoTenantIndexSecretsOptions = {
 *   client: new DynamoDBClient({}),
 *   fs,
 *   tableName: 'fieldseal_blind_index_secrets',
 * };
 * ```
 */
export interface DynamoTenantIndexSecretsOptions {
  /** A `DynamoDBClient`, or a `DynamoDBDocumentClient` wrapping one. */
  readonly client: DynamoDBClient | DynamoSendingClient;
  /** The fieldseal client whose tenant data keys seal the secrets. */
  readonly fs: Fieldseal;
  /** The DynamoDB table (default `fieldseal_blind_index_secrets`, shared by every repository). */
  readonly tableName?: string;
}

/** Whether `err` is the named SDK exception (by name: two copies of the SDK may be loaded). */
function isAwsError(err: unknown, name: string): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === name;
}

function keyOf(tenant: string, version: number): DynamoItem {
  return { tenant: { S: tenant }, version: { N: String(version) } };
}

function keyFrom(item: DynamoItem): SealedSecretId {
  return { tenant: item.tenant?.S ?? '', version: Number(item.version?.N) };
}

function rowFrom(item: DynamoItem): SealedSecret {
  const sealed = item.sealed?.S;
  if (typeof item.tenant?.S !== 'string' || item.version?.N === undefined || sealed === undefined) {
    throw new TypeError(
      'blind index secrets table: item without tenant (S), version (N), sealed (S)',
    );
  }
  return { ...keyFrom(item), sealed };
}

/**
 * The sealed secrets table in DynamoDB.
 * @example
 * ```ts
 * const storage = new DynamoSealedSecretStorage(client, 'fieldseal_blind_index_secrets');
 * await storage.createTable();
 * ```
 * @internal
 */
export class DynamoSealedSecretStorage implements SealedSecretStorage {
  constructor(
    private readonly client: Sender,
    private readonly table: string,
  ) {}

  /** CreateTable (on-demand billing) unless it exists, then wait until it is ACTIVE. */
  async createTable(): Promise<void> {
    await createTableIfAbsent(this.client, this.table, ['tenant', 'S'], ['version', 'N']);
    await waitUntilActive(this.client, this.table);
  }

  async select(tenants: readonly string[], versions: readonly number[]): Promise<SealedSecret[]> {
    const keys = tenants.flatMap((t) => versions.map((v) => keyOf(t, v)));
    return (await batchGetItems(this.client, this.table, keys)).map(rowFrom);
  }

  async insertIfAbsent(rows: readonly SealedSecret[]): Promise<void> {
    for (let i = 0; i < rows.length; i += PUT_CONCURRENCY) {
      await Promise.all(rows.slice(i, i + PUT_CONCURRENCY).map((r) => this.#putIfAbsent(r)));
    }
  }

  async replaceIf(
    tenant: string,
    version: number,
    expectedSealed: string,
    nextSealed: string,
  ): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: keyOf(tenant, version),
          UpdateExpression: 'SET #s = :next',
          ConditionExpression: '#s = :expected',
          ExpressionAttributeNames: { '#s': NAMES['#s'] },
          ExpressionAttributeValues: {
            ':next': { S: nextSealed },
            ':expected': { S: expectedSealed },
          },
        }),
      );
      return true;
    } catch (err) {
      if (isAwsError(err, 'ConditionalCheckFailedException')) return false;
      throw err;
    }
  }

  async listPage(after: SealedSecretId | undefined, limit: number): Promise<SealedSecretPage> {
    const out = (await this.client.send(
      new ScanCommand({
        TableName: this.table,
        Limit: limit,
        ConsistentRead: true,
        ...(after === undefined ? {} : { ExclusiveStartKey: keyOf(after.tenant, after.version) }),
      }),
    )) as { Items?: DynamoItem[]; LastEvaluatedKey?: DynamoItem };
    const last = out.LastEvaluatedKey;
    return { rows: (out.Items ?? []).map(rowFrom), next: last && keyFrom(last) };
  }

  /** Query the tenant's keys (consistent), then delete them with BatchWriteItem. */
  async erase(tenant: string): Promise<number> {
    checkTenant(tenant);
    const keys: DynamoItem[] = [];
    let start: DynamoItem | undefined;
    do {
      const out = (await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: '#t = :t',
          ProjectionExpression: '#t, #v',
          ExpressionAttributeNames: { '#t': NAMES['#t'], '#v': NAMES['#v'] },
          ExpressionAttributeValues: { ':t': { S: tenant } },
          ConsistentRead: true,
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        }),
      )) as { Items?: DynamoItem[]; LastEvaluatedKey?: DynamoItem };
      keys.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start !== undefined);
    await batchWriteRequests(
      this.client,
      this.table,
      keys.map((Key) => ({ DeleteRequest: { Key } })),
    );
    return keys.length;
  }

  /** First writer wins; a loser's secret is dropped and the stored one is read back by `load`. */
  async #putIfAbsent(r: SealedSecret): Promise<void> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: { ...keyOf(r.tenant, r.version), sealed: { S: r.sealed } },
          ConditionExpression: 'attribute_not_exists(#t)',
          ExpressionAttributeNames: { '#t': NAMES['#t'] },
        }),
      );
    } catch (err) {
      if (!isAwsError(err, 'ConditionalCheckFailedException')) throw err;
    }
  }
}

/** The client and table name of the secrets table, checked. */
function checkSecretsTable(client: unknown, tableName: unknown): asserts client is Sender {
  if (typeof (client as Partial<Sender> | undefined)?.send !== 'function') {
    throw new TypeError('client: expected a DynamoDBClient or DynamoDBDocumentClient');
  }
  if (typeof tableName !== 'string' || !/^[A-Za-z0-9_.-]{3,255}$/.test(tableName)) {
    throw new TypeError('tableName: expected a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -)');
  }
}

/**
 * Per-tenant blind-index secrets kept in a DynamoDB table, sealed under each tenant's data key
 * with the same encryption context as PostgreSQL's (so a shredded tenant's secrets, and hence
 * its blind indexes, can no longer be opened or recomputed, even with the indexer root key).
 * @throws TypeError when `client` cannot send commands or `tableName` is not a table name.
 * @example
 * ```ts
 * const secrets = dynamoTenantIndexSecrets({ client: new DynamoDBClient({}), fs });
 * await secrets.createTable();
 * const opened = await secrets.load(['acme'], [1], { create: true, reseal: true });
 * try {
 *   const tenantSecret = opened.get('acme', 1); // Buffer | FieldsealError | undefined
 *   if (Buffer.isBuffer(tenantSecret)) {
 *     const where = { tenant: 'acme', table: 'customers', field: 'email' };
 *     const emailIndex = indexer.index(email, where, { version: 1, tenantSecret });
 *   }
 * } finally {
 *   opened.wipe();
 * }
 * ```
 * @internal
 */
export function dynamoTenantIndexSecrets(options: DynamoTenantIndexSecretsOptions): TenantSecrets {
  const { client, fs, tableName = DEFAULT_TABLE } = options;
  checkSecretsTable(client, tableName);
  return new TenantSecrets(new DynamoSealedSecretStorage(client, tableName), fs);
}

/**
 * Create the table of per-tenant blind-index secrets (partition key `tenant` S, sort key
 * `version` N, on-demand) unless it exists, and wait until it is ACTIVE: what a
 * blind-indexed table of `sealDocumentClient` needs (a repository's `createTable` does it
 * itself). Safe to run from every process at start-up.
 * @throws TypeError for a bad table name; the SDK's errors.
 * @example
 * ```ts
 * import { createBlindIndexSecretsTable } from 'fieldseal/dynamodb';
 *
 * await createBlindIndexSecretsTable(new DynamoDBClient({})); // fieldseal_blind_index_secrets
 * ```
 */
export async function createBlindIndexSecretsTable(
  client: DynamoDBClient | DynamoSendingClient,
  tableName: string = DEFAULT_TABLE,
): Promise<void> {
  checkSecretsTable(client, tableName);
  await new DynamoSealedSecretStorage(client, tableName).createTable();
}
