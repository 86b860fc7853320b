import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Fieldseal } from '../index.js';
import type { AnyModel, BlindIndexedField, InferRecord } from '../index.js';
import type { RepositoryBlindIndexOptions } from '../integration/index.js';
import type { DynamoBackfillOptions, DynamoBackfillReport } from './dynamo-backfill.js';
import type { DynamoLegacyOptions } from './legacy-values.js';
import type { DynamoBlindIndexKeys } from './secondary-indexes.js';
import type { DynamoKeyValue, DynamoTableKeys } from './table-keys.js';
import type { DynamoCondition } from './write-conditions.js';
import type { DynamoSendingClient } from './sending-client.js';
import type {
  DynamoDeleteOptions,
  DynamoSaveOptions,
  DynamoUpdateOptions,
  FieldName,
} from './write-options.js';

export type { DynamoSendingClient, DynamoDeleteOptions, DynamoSaveOptions, DynamoUpdateOptions };

/**
 * The `blindIndex` option of `createDynamoRepository`: the indexer, the versions written and
 * read per field, and the DynamoDB table of the tenants' sealed index secrets.
 * @example
 * ```ts
 * const blindIndex: DynamoBlindIndexOptions<typeof Customer> = {
 *   indexer: await createBlindIndexer({ source, reference: 'blind-index' }),
 *   secretsTable: 'prod-fieldseal-bidx-secrets', // default fieldseal_blind_index_secrets
 * };
 * ```
 */
export type DynamoBlindIndexOptions<M extends AnyModel> = RepositoryBlindIndexOptions<M>;

/**
 * Options of {@link createDynamoRepository}.
 * @example
 * ```ts
 * const options: DynamoRepositoryOptions<typeof Customer> = {
 *   client: new DynamoDBClient({ region: 'eu-west-1' }),
 *   fs, // configured with models: [Customer]
 *   model: Customer, // key: ['pk', 'sk']
 *   tableName: 'customers',
 *   keys: { partition: 'pk', sort: 'sk' },
 * };
 * ```
 */
export interface DynamoRepositoryOptions<M extends AnyModel> {
  /**
   * A real AWS SDK v3 client: `DynamoDBClient`, or a `DynamoDBDocumentClient` wrapping one
   * (typed structurally so that `@aws-sdk/lib-dynamodb` stays optional).
   */
  readonly client: DynamoDBClient | DynamoSendingClient;
  /** The fieldseal client, configured with `models: [model]` (or `fields: { ...model.policies }`). */
  readonly fs: Fieldseal;
  /** The model; its `key` must be `[partition]` or `[partition, sort]`. */
  readonly model: M;
  /** The DynamoDB table name (may differ from `model.table`, which the AAD binds). */
  readonly tableName: string;
  /** Which model fields are the table's partition and sort keys. */
  readonly keys: DynamoTableKeys<M['key'][number]>;
  /**
   * Global secondary indexes by name: their partition (and sort) key fields. Encrypted fields
   * are refused (a randomised value never matches); `createTable` creates them (projection ALL).
   */
  readonly indexes?: Readonly<
    Record<
      string,
      | DynamoTableKeys<keyof M['fields'] & string>
      | DynamoBlindIndexKeys<BlindIndexedField<M>, keyof M['fields'] & string>
    >
  >;
  /**
   * Required when the model has `.blindIndex()` fields: the indexer, the versions written and
   * read, and the DynamoDB table of the tenants' sealed index secrets. Each written version is
   * an `S` attribute `<field>_bidx_v<version>`; a GSI on it (`indexes`) serves `findBy`.
   */
  readonly blindIndex?: DynamoBlindIndexOptions<M>;
  /**
   * The migration escape hatch: per encrypted string attribute, a legacy format it may still
   * hold (the DynamoDB seed's `ENC:` values). Such values are read (counted in `stats()`) and
   * become fieldseal values on the next save or through `backfill`; without this option, or
   * in any other attribute, they fail closed. See docs/dynamodb-seed-migration.md.
   */
  readonly legacy?: DynamoLegacyOptions<M>;
}

/**
 * What {@link DynamoRepository.stats} counts since the repository was made.
 * @example
 * ```ts
 * const { blindIndexFalsePositives, blindIndexCandidates } = repo.stats();
 * ```
 */
export interface DynamoRepositoryStats {
  /** Items a blind-index GSI returned to `findBy` / `findByAny`. */
  readonly blindIndexCandidates: number;
  /** Of those, items whose decrypted value did not match (index collisions). */
  readonly blindIndexFalsePositives: number;
  /** Legacy (`legacy` option) values read, by `table.field`. */
  readonly legacyReads: Readonly<Record<string, number>>;
}

/**
 * One page of {@link DynamoRepository.query}: the decrypted items and, when DynamoDB has more,
 * the key to pass as `startKey` for the next page.
 * @example
 * ```ts
 * let page = await repo.query('acme', 'acme#orders', { limit: 50 });
 * while (page.nextKey) page = await repo.query('acme', 'acme#orders', { startKey: page.nextKey });
 * ```
 */
export interface DynamoPage<R> {
  readonly items: R[];
  readonly nextKey: Readonly<Record<string, DynamoKeyValue>> | undefined;
}

/**
 * Options of {@link DynamoRepository.query}.
 * @example
 * ```ts
 * const options: DynamoQueryOptions = { limit: 25, descending: true };
 * ```
 */
export interface DynamoQueryOptions {
  /** DynamoDB's `Limit`: items evaluated per page (before the tenant filter). */
  readonly limit?: number;
  /** The `nextKey` of the previous page. */
  readonly startKey?: Readonly<Record<string, DynamoKeyValue>>;
  /** Sort-key order descending (`ScanIndexForward: false`). */
  readonly descending?: boolean;
}

/**
 * The changes of {@link DynamoRepository.update}: new values for some fields other than the
 * tenant and key fields. `undefined` removes an optional attribute.
 * @example
 * ```ts
 * const changes: DynamoChanges<typeof Customer> = { email: 'new@example.com', plan: 'pro' };
 * ```
 */
export type DynamoChanges<M extends AnyModel> = Partial<InferRecord<M>>;

/**
 * One action of {@link DynamoRepository.transactWrite}: put a record, or delete an item if it
 * belongs to `tenant`.
 * @example
 * ```ts
 * const writes: DynamoTransactWrite<typeof Customer>[] = [
 *   { put: customer },
 *   { delete: { tenant: 'acme', key: { pk: 'acme#customers', sk: 'cus_1' } } },
 * ];
 * ```
 */
export type DynamoTransactWrite<M extends AnyModel> =
  | {
      readonly put: InferRecord<M>;
      /** Only create (the transaction is cancelled when the item exists). */
      readonly ifAbsent?: boolean;
      readonly condition?: DynamoCondition<FieldName<M>>;
    }
  | {
      readonly delete: {
        readonly tenant: string;
        readonly key: Readonly<Record<string, DynamoKeyValue>>;
      };
      readonly condition?: DynamoCondition<FieldName<M>>;
    };

/**
 * Options of {@link DynamoRepository.scan}.
 * @example
 * ```ts
 * const options: DynamoScanOptions = { limit: 100 };
 * ```
 */
export type DynamoScanOptions = Omit<DynamoQueryOptions, 'descending'>;

/**
 * One model's items in one DynamoDB table, encrypted on the way in and decrypted on the way
 * out. Every read and delete is scoped by tenant. Made by {@link createDynamoRepository}.
 * @example
 * ```ts
 * await repo.save({ pk: 'acme#cus_1', sk: 'profile', tenantId: 'acme', email: 'a@example.com' });
 * const item = await repo.get('acme', { pk: 'acme#cus_1', sk: 'profile' });
 * ```
 */
export interface DynamoRepository<M extends AnyModel> {
  /** CreateTable (on-demand billing) with the model's key schema; for tests and tooling. */
  createTable(): Promise<void>;
  /**
   * Encrypt and PutItem one record, replacing an item with the same key of the same tenant
   * (never another tenant's). Everything that can fail on our side (client policies, keys,
   * value types, the 400 KB limit) fails before any DynamoDB call.
   * @returns the replaced item, decrypted, with `returnOld`; otherwise `undefined`.
   * @throws KeyNotConfiguredError, a key-level FieldsealError or ValueTooLargeError naming
   *   the attribute; UnsupportedOptionError (an unknown option or condition operator) and
   *   ModeForbiddenError (docs/modes.md: a ReadOnly client or field, `returnOld` where records
   *   cannot be decrypted), both before any request; ConditionFailedError (another tenant's
   *   item, `ifAbsent`, `condition`); the SDK's error when DynamoDB refuses.
   */
  save(record: InferRecord<M>, options?: DynamoSaveOptions<M>): Promise<InferRecord<M> | undefined>;
  /**
   * GetItem (consistent read) and decrypt; `undefined` when absent or of another tenant.
   * @throws the first failing field's FieldsealError (`details.field` = `table.field`);
   *   ModeForbiddenError before any request when the client or a field of the model is
   *   WriteOnly; UnsupportedOptionError for an options argument (it takes none).
   */
  get(
    tenant: string,
    key: Readonly<Record<string, DynamoKeyValue>>,
  ): Promise<InferRecord<M> | undefined>;
  /**
   * UpdateItem: set (or remove) some attributes, encrypted ones included, sealed under the
   * same context as a full write. Only an existing item of `tenant` is updated; the updated
   * item comes back decrypted (`ReturnValues: 'ALL_NEW'`, or `'ALL_OLD'`), `undefined` when
   * there was none; with `returnValues: 'NONE'`, `true` when the tenant's item was updated and
   * `false` when there was none. When the repository may not decrypt its records (a WriteOnly
   * client or field) the default is to ask for nothing and resolve `undefined`. Plain numbers
   * can be incremented, and a condition of yours ANDed in. Encryption failures, unknown
   * options and mode refusals happen before any DynamoDB call.
   * @throws as {@link DynamoRepository.save}; TypeError for tenant, key or unknown fields,
   *   an increment of an encrypted field; UnsupportedOptionError; ModeForbiddenError (a
   *   ReadOnly client or field, `ALL_NEW` / `ALL_OLD` where records cannot be decrypted);
   *   ConditionFailedError when your condition fails.
   */
  update(
    tenant: string,
    key: Readonly<Record<string, DynamoKeyValue>>,
    changes: DynamoChanges<M>,
    options: DynamoUpdateOptions<M> & { readonly returnValues: 'NONE' },
  ): Promise<boolean>;
  update(
    tenant: string,
    key: Readonly<Record<string, DynamoKeyValue>>,
    changes: DynamoChanges<M>,
    options?: DynamoUpdateOptions<M> & { readonly returnValues?: 'ALL_NEW' | 'ALL_OLD' },
  ): Promise<InferRecord<M> | undefined>;
  /**
   * DeleteItem if it exists and belongs to `tenant`: the deleted item decrypted with
   * `returnOld` (`undefined` when none), otherwise `true` when an item was deleted.
   * @throws ConditionFailedError when your condition fails on the tenant's item;
   *   UnsupportedOptionError, ModeForbiddenError (a ReadOnly client; `returnOld` where records
   *   cannot be decrypted) before any request.
   */
  delete(
    tenant: string,
    key: Readonly<Record<string, DynamoKeyValue>>,
    options: DynamoDeleteOptions<M> & { readonly returnOld: true },
  ): Promise<InferRecord<M> | undefined>;
  delete(
    tenant: string,
    key: Readonly<Record<string, DynamoKeyValue>>,
    options?: DynamoDeleteOptions<M>,
  ): Promise<boolean>;
  /**
   * Delete many items of `tenant`, each with a conditional DeleteItem (BatchWriteItem cannot
   * check the tenant), at most `concurrency` (default 16) in flight; aligned with `keys`:
   * `true` where an item was deleted. Every key, the options and the mode (not ReadOnly) are
   * checked before the first request.
   */
  deleteMany(
    tenant: string,
    keys: readonly Readonly<Record<string, DynamoKeyValue>>[],
    options?: { readonly concurrency?: number },
  ): Promise<boolean[]>;
  /**
   * Query one partition (the tenant's items only), one page at a time, decrypted as one batch
   * (one key fetch per distinct data key).
   * @throws BatchError whose `failures[].index` are item indexes of the page (a malformed
   *   encrypted attribute included); before any request, ModeForbiddenError (a WriteOnly
   *   client or field) and UnsupportedOptionError.
   */
  query(
    tenant: string,
    partition: DynamoKeyValue,
    options?: DynamoQueryOptions,
  ): Promise<DynamoPage<InferRecord<M>>>;
  /**
   * Query one partition of a global secondary index (eventually consistent, as DynamoDB
   * allows), the tenant's items only; `nextKey` holds the table and index key attributes.
   * @throws TypeError for an undeclared index; BatchError as {@link DynamoRepository.query}.
   */
  queryIndex(
    tenant: string,
    indexName: string,
    partition: DynamoKeyValue,
    options?: DynamoQueryOptions,
  ): Promise<DynamoPage<InferRecord<M>>>;
  /**
   * Scan the whole table for the tenant's items, one page at a time (DynamoDB reads, and
   * bills, every item; `limit` counts items evaluated before the tenant filter).
   * @throws BatchError whose `failures[].index` are item indexes of the page.
   */
  scan(tenant: string, options?: DynamoScanOptions): Promise<DynamoPage<InferRecord<M>>>;
  /**
   * Encrypt all records in one client batch (one key fetch per tenant), check every item
   * against the 400 KB limit, then BatchWriteItem 25 at a time, retrying unprocessed items
   * with backoff. Nothing is sent unless every record encrypts. Not atomic across requests.
   * BatchWriteItem takes no conditions, so unlike `save` this replaces an item with the same
   * key even if it belongs to another tenant: give each tenant keys only it uses, or use
   * `transactWrite` (tenant-guarded puts).
   * @throws BatchError (`failures[].index` = record index), ValueTooLargeError, TypeError for
   *   two records with the same key; Error when items stay unprocessed.
   */
  batchWrite(records: readonly InferRecord<M>[]): Promise<void>;
  /**
   * BatchGetItem (consistent reads, 100 keys per request, unprocessed keys retried) and one
   * decryption batch for all items: the result is aligned with `keys`, `undefined` for an
   * absent item or one of another tenant.
   * @throws BatchError (`failures[].index` = index in `keys`); Error when keys stay unprocessed.
   */
  batchGet(
    tenant: string,
    keys: readonly Readonly<Record<string, DynamoKeyValue>>[],
  ): Promise<(InferRecord<M> | undefined)[]>;
  /**
   * TransactWriteItems (up to 100 actions): every put encrypted in one client batch and
   * size-checked before the one request, so nothing is written unless all of it is; deletes
   * are conditional on their tenant (a foreign or absent item cancels the transaction).
   * @throws BatchError (`index` = index among the puts), ValueTooLargeError, TypeError; the
   *   SDK's TransactionCanceledException when DynamoDB cancels.
   */
  transactWrite(writes: readonly DynamoTransactWrite<M>[]): Promise<void>;
  /**
   * The tenant's items whose blind-indexed `field` equals `value` (after the field's
   * normalisation), through the GSI declared on its blind index (eventually consistent).
   * Every candidate is decrypted and compared, so an index collision never returns a wrong
   * item.
   * @throws TypeError when the field has no blind index or no GSI keys it; the key error of
   *   the tenant's index secret; BatchError when a candidate does not decrypt.
   */
  findBy(tenant: string, field: BlindIndexedField<M>, value: string): Promise<InferRecord<M>[]>;
  /** {@link DynamoRepository.findBy} for up to 100 values: items equal to any of them. */
  findByAny(
    tenant: string,
    field: BlindIndexedField<M>,
    values: readonly string[],
  ): Promise<InferRecord<M>[]>;
  /** Counters of this repository: blind-index candidates and false positives, legacy reads. */
  stats(): DynamoRepositoryStats;
  /**
   * Rewrite the whole table (every tenant), one Scan page at a time: legacy values become
   * fieldseal values (with their blind indexes), and with `reencrypt` every value not under
   * its tenant's active key version is sealed again under it. Each item is written with a
   * compare-and-set on the values read, so application writes always win. Resumable: pass the
   * report's `nextKey` as `startKey`.
   * @throws the SDK's errors; item-level failures are reported, not thrown.
   */
  backfill(options?: DynamoBackfillOptions): Promise<DynamoBackfillReport>;
  /**
   * TransactGetItems (up to 100 keys, one serialisable snapshot), decrypted as one batch and
   * aligned with `keys` (`undefined` for an absent or foreign item).
   * @throws BatchError (`index` = index in `keys`).
   */
  transactGet(
    tenant: string,
    keys: readonly Readonly<Record<string, DynamoKeyValue>>[],
  ): Promise<(InferRecord<M> | undefined)[]>;
}
