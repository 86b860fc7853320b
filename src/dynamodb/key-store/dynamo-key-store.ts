import type { DynamoDBClient, TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { KeyNotFoundError, KeyShreddedError, KeyStoreUnavailableError } from '../../index.js';
import { copyCommitment } from '../../integration/index.js';
import type { KeyStore, KeyWrapping, NewKeyVersion, StoredKeyVersion } from '../../index.js';
import { MAX_KEY_VERSION, checkVersionNumber } from '../../integration/index.js';
import {
  checkKeyId,
  checkTenantId,
  checkWrappedKey,
  headKey,
  isHeadSortKey,
  isVersionNumber,
  keyIdPrefix,
  tenantPartition,
  versionKey,
} from './item-keys.js';
import {
  activeOf,
  headItem,
  names,
  newVersionItem,
  stateValue,
  toStoredVersion,
} from './key-items.js';
import { KeyTable } from './key-table.js';
import { retireVersionsBelow } from './retire-versions.js';
import { shredTenantItems } from './shred-tenant.js';

/** Reads of the head before giving up on a key id that keeps rotating under us. */
const ACTIVE_READS = 5;

/**
 * Options of {@link DynamoKeyStore}.
 * @example
 * ```ts
 * const options: DynamoKeyStoreOptions = { client: new DynamoDBClient({}), tableName: 'fieldseal-keys' };
 * ```
 */
export interface DynamoKeyStoreOptions {
  /** An AWS SDK v3 `DynamoDBClient` (not a document client: items use raw attribute values). */
  readonly client: DynamoDBClient;
  /** The key table: string `pk` (partition) and `sk` (sort) keys; see {@link DynamoKeyStore.createTable}. */
  readonly tableName: string;
}

/**
 * A {@link KeyStore} in one DynamoDB table, so that a serverless application needs nothing but
 * DynamoDB and KMS. Each tenant is one partition holding, per key id, a head item naming the
 * active version and one item per version. Rotation is a `TransactWriteItems` conditioned on
 * the head still naming the expected version and the new version not existing, which keeps
 * exactly one active version under any concurrency; every read is strongly consistent.
 * See docs/dynamodb-key-store.md for the item layout, the race analysis and IAM permissions.
 *
 * Pair it with `dynamoKeyEvents` (same table) so that other processes drop a shredded or
 * retired tenant's cached keys within a poll interval rather than when they expire
 * (`cache.maxAgeMs`).
 *
 * @throws KeyStoreUnavailableError (`ERR_KEY_STORE_UNAVAILABLE`) from any method when DynamoDB
 *   fails (outage, throttling after the SDK's retries, missing table or permission), with the
 *   SDK error as `cause`. TypeError / RangeError for malformed tenants, key ids, versions and
 *   wrapped keys (1 to 2048 bytes).
 *
 * @example
 * ```ts
 * const store = new DynamoKeyStore({ client: new DynamoDBClient({}), tableName: 'fieldseal-keys' });
 * await store.createTable(); // tests and tooling; production tables come from IaC
 * const fs = createFieldseal({ provider, keys: { mode: 'store', store, masterKeyId }, cache: { maxAgeMs: 60_000 } });
 * ```
 */
export class DynamoKeyStore implements KeyStore {
  readonly #table: KeyTable;

  constructor(options: DynamoKeyStoreOptions) {
    const client: unknown = options.client;
    if (typeof (client as { send?: unknown } | null)?.send !== 'function') {
      throw new TypeError('client: expected a DynamoDBClient');
    }
    if (
      typeof options.tableName !== 'string' ||
      !/^[A-Za-z0-9_.-]{3,255}$/.test(options.tableName)
    ) {
      throw new TypeError('tableName: expected a DynamoDB table name ([A-Za-z0-9_.-], 3 to 255)');
    }
    this.#table = new KeyTable(options.client, options.tableName);
  }

  /** The table name (never the client or any item). */
  get tableName(): string {
    return this.#table.name;
  }

  /**
   * Create the key table with on-demand capacity, if it does not exist, and wait until it is
   * active. For tests and tooling; production tables usually come from infrastructure as code.
   * @throws KeyStoreUnavailableError when DynamoDB refuses (permissions, limits).
   * @example
   * ```ts
   * await new DynamoKeyStore({ client, tableName: 'fieldseal-keys' }).createTable();
   * ```
   */
  createTable(): Promise<void> {
    return this.#table.create();
  }

  async getActiveVersion(tenant: string, keyId: string): Promise<StoredKeyVersion | undefined> {
    checkTenantId(tenant);
    checkKeyId(keyId);
    // Head, then version: two reads, so a rotation committing in between shows the version as
    // decrypt-only. Read the head again; it names the new one.
    for (let read = 0; read < ACTIVE_READS; read++) {
      const active = activeOf(await this.#table.get(headKey(tenant, keyId)));
      if (active === null) return undefined;
      const row = await this.getVersion(tenant, keyId, active);
      if (row?.state === 'active') return row;
    }
    throw new KeyStoreUnavailableError('the active key version kept changing; retry');
  }

  async getVersion(
    tenant: string,
    keyId: string,
    version: number,
  ): Promise<StoredKeyVersion | undefined> {
    checkTenantId(tenant);
    checkKeyId(keyId);
    if (!isVersionNumber(version)) return undefined;
    const item = await this.#table.get(versionKey(tenant, keyId, version));
    return item === undefined ? undefined : toStoredVersion(item, tenant, keyId);
  }

  async createVersion(
    record: NewKeyVersion,
    expectedActive: number | null,
  ): Promise<StoredKeyVersion | undefined> {
    const { tenant, keyId, version } = record;
    checkTenantId(tenant);
    checkKeyId(keyId);
    checkVersionNumber('record.version', version, 1, MAX_KEY_VERSION);
    checkWrappedKey('record.wrapped', record.wrapped);
    const commitment =
      record.commitment === undefined
        ? undefined
        : copyCommitment('record.commitment', record.commitment);
    // No stored version can be active under a number out of range; and when the expected
    // active version is this very version, it exists already (and one transaction may not
    // touch an item twice). Either way the caller lost.
    if (
      expectedActive !== null &&
      (!isVersionNumber(expectedActive) || expectedActive === version)
    ) {
      return undefined;
    }
    const TableName = this.#table.name;
    const createdAt = new Date();
    const head = headItem(tenant, keyId, version);
    const items: TransactWriteItem[] = [
      {
        Put: {
          TableName,
          Item: newVersionItem({ ...record, commitment }, createdAt),
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
    ];
    if (expectedActive === null) {
      items.push({
        Put: {
          TableName,
          Item: head,
          ConditionExpression: 'attribute_not_exists(#active)',
          ExpressionAttributeNames: names('active'),
        },
      });
    } else {
      items.push(
        {
          Update: {
            TableName,
            Key: headKey(tenant, keyId),
            UpdateExpression: 'SET #active = :next',
            ConditionExpression: '#active = :expected',
            ExpressionAttributeNames: names('active'),
            ExpressionAttributeValues: {
              ':next': { N: String(version) },
              ':expected': { N: String(expectedActive) },
            },
          },
        },
        {
          Update: {
            TableName,
            Key: versionKey(tenant, keyId, expectedActive),
            UpdateExpression: 'SET #state = :demoted',
            ConditionExpression: '#state = :active',
            ExpressionAttributeNames: names('state'),
            ExpressionAttributeValues: {
              ':demoted': stateValue('decrypt-only'),
              ':active': stateValue('active'),
            },
          },
        },
      );
    }
    if (!(await this.#table.transact(items))) return undefined;
    return Object.freeze({
      tenant,
      keyId,
      version,
      state: 'active',
      providerId: record.providerId,
      masterKeyId: record.masterKeyId,
      wrapped: Uint8Array.from(record.wrapped),
      createdAt,
      ...(commitment === undefined ? {} : { commitment: Uint8Array.from(commitment) }),
    });
  }

  shredTenant(tenant: string): Promise<readonly { keyId: string; version: number }[]> {
    return shredTenantItems(this.#table, checkTenantId(tenant));
  }

  /**
   * A tenant's versions (by key id, newest first), optionally of one key id only: one
   * paginated, strongly consistent Query of the tenant's partition.
   */
  async listVersions(tenant: string, keyId?: string): Promise<StoredKeyVersion[]> {
    checkTenantId(tenant);
    const prefix = keyId === undefined ? 'K#' : keyIdPrefix(checkKeyId(keyId)) + '#';
    const items = await this.#table.query(tenantPartition(tenant), prefix);
    const rows: StoredKeyVersion[] = [];
    for (const item of items) {
      if (isHeadSortKey(item.sk?.S)) continue;
      const row = toStoredVersion(item, tenant, keyId);
      if (row !== undefined) rows.push(row);
    }
    return rows.sort((a, b) =>
      a.keyId === b.keyId ? b.version - a.version : a.keyId < b.keyId ? -1 : 1,
    );
  }

  async rewrapVersion(expected: StoredKeyVersion, next: KeyWrapping): Promise<boolean> {
    checkTenantId(expected.tenant);
    checkKeyId(expected.keyId);
    checkWrappedKey('next.wrapped', next.wrapped);
    // A shredded row has no wrapped bytes left to compare (or replace).
    if (!isVersionNumber(expected.version) || expected.wrapped.byteLength === 0) return false;
    return this.#table.update({
      Key: versionKey(expected.tenant, expected.keyId, expected.version),
      UpdateExpression: 'SET #providerId = :p, #masterKeyId = :m, #wrapped = :w',
      ConditionExpression:
        '#state <> :shredded AND #providerId = :ep AND #masterKeyId = :em AND #wrapped = :ew',
      ExpressionAttributeNames: names('state', 'providerId', 'masterKeyId', 'wrapped'),
      ExpressionAttributeValues: {
        ':p': { S: next.providerId },
        ':m': { S: next.masterKeyId },
        ':w': { B: Uint8Array.from(next.wrapped) },
        ':shredded': stateValue('shredded'),
        ':ep': { S: expected.providerId },
        ':em': { S: expected.masterKeyId },
        ':ew': { B: Uint8Array.from(expected.wrapped) },
      },
    });
  }

  /**
   * Set a legacy row's commitment once: one `UpdateItem` conditioned on the item having no
   * `commitment` yet, not being shredded, and being wrapped exactly as `row` says.
   */
  async setCommitment(row: StoredKeyVersion, commitment: Uint8Array): Promise<boolean> {
    const value = copyCommitment('commitment', commitment);
    checkTenantId(row.tenant);
    checkKeyId(row.keyId);
    if (!isVersionNumber(row.version) || row.wrapped.byteLength === 0) return false;
    return this.#table.update({
      Key: versionKey(row.tenant, row.keyId, row.version),
      UpdateExpression: 'SET #commitment = :c',
      ConditionExpression:
        'attribute_not_exists(#commitment) AND #state <> :shredded AND #providerId = :ep' +
        ' AND #masterKeyId = :em AND #wrapped = :ew',
      ExpressionAttributeNames: names(
        'commitment',
        'state',
        'providerId',
        'masterKeyId',
        'wrapped',
      ),
      ExpressionAttributeValues: {
        ':c': { B: value },
        ':shredded': stateValue('shredded'),
        ':ep': { S: row.providerId },
        ':em': { S: row.masterKeyId },
        ':ew': { B: Uint8Array.from(row.wrapped) },
      },
    });
  }

  /**
   * Retire the `decrypt-only` versions below `below`: transactions of up to 99 version updates
   * plus a condition check on the head (see docs/dynamodb-key-store.md, "Retirement").
   */
  async retireVersions(tenant: string, keyId: string, below: number): Promise<number[]> {
    checkVersionNumber('below', below, 1, MAX_KEY_VERSION + 1);
    return retireVersionsBelow(this.#table, checkTenantId(tenant), checkKeyId(keyId), below);
  }

  async reinstateVersion(tenant: string, keyId: string, version: number): Promise<boolean> {
    checkVersionNumber('version', version, 1, MAX_KEY_VERSION);
    checkTenantId(tenant);
    checkKeyId(keyId);
    const reinstated = await this.#table.update({
      Key: versionKey(tenant, keyId, version),
      UpdateExpression: 'SET #state = :readable',
      ConditionExpression: '#state = :retired',
      ExpressionAttributeNames: names('state'),
      ExpressionAttributeValues: {
        ':readable': stateValue('decrypt-only'),
        ':retired': stateValue('retired'),
      },
    });
    if (reinstated) return true;
    // Refused: say why from a fresh read (the condition failure carries no item).
    const row = await this.getVersion(tenant, keyId, version);
    const keyRef = `${keyId}@${version}`;
    if (row === undefined) {
      throw new KeyNotFoundError('key version not found for this tenant', { details: { keyRef } });
    }
    if (row.state === 'shredded') throw new KeyShreddedError(undefined, { details: { keyRef } });
    return false;
  }

  /** Shows the table name only: never the client, its credentials or any item. */
  toJSON(): { store: 'dynamodb'; tableName: string } {
    return { store: 'dynamodb', tableName: this.#table.name };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `DynamoKeyStore { tableName: ${JSON.stringify(this.#table.name)} }`;
  }
}
