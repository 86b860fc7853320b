import {
  CreateTableCommand,
  GetItemCommand,
  QueryCommand,
  ScanCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import type { Fieldseal } from '../index.js';
import type { ModelSchema } from '../integration/index.js';
import type { AnyModel, BlindIndexedField, InferRecord } from '../index.js';
import { addIndexAttributes } from './blind-index-attributes.js';
import type { BlindIndexState } from './table-context.js';
import { findByIndex, type LookupStats } from './blind-index-lookup.js';
import {
  backfillTable,
  type DynamoBackfillOptions,
  type DynamoBackfillReport,
} from './dynamo-backfill.js';
import { replaceLegacy, type LegacyState } from './legacy-values.js';
import { batchGetItems, batchPut, type Sender } from './batch-requests.js';
import { itemToRow, type DynamoItem } from './item-codec.js';
import { noMoreArguments, optionSnapshot, type OptionSnapshot } from './option-snapshot.js';
import { assertCanPut, assertCanReadRecords } from './repository-modes.js';
import { itemRecords, type ItemHooks, type ItemRecords } from './item-records.js';
import { deleteItem, deleteItems, putItem, updateItem } from './item-writes.js';
import { transactGet, transactWrite } from './transactions.js';
import type {
  DynamoChanges,
  DynamoDeleteOptions,
  DynamoPage,
  DynamoQueryOptions,
  DynamoRepository,
  DynamoRepositoryStats,
  DynamoSaveOptions,
  DynamoScanOptions,
  DynamoTransactWrite,
  DynamoUpdateOptions,
} from './repository-types.js';
import { indexSchema, indexStartKey, type IndexLayout } from './secondary-indexes.js';
import {
  checkTenant,
  keyAttribute,
  keyOf,
  keySchema,
  type DynamoKeyValue,
  type KeyLayout,
} from './table-keys.js';

type Key = Readonly<Record<string, DynamoKeyValue>>;

/** The repository behind `createDynamoRepository` (which checks the options). @internal */
export class Repository<M extends AnyModel> implements DynamoRepository<M> {
  constructor(
    readonly client: Sender,
    readonly fs: Fieldseal,
    readonly model: M,
    readonly plan: ModelSchema,
    readonly layout: KeyLayout,
    private readonly indexes: ReadonlyMap<string, IndexLayout>,
    readonly tableName: string,
    readonly blindIndex: BlindIndexState | undefined,
    private readonly legacy: LegacyState | undefined,
  ) {
    const hooks: ItemHooks = {};
    if (blindIndex !== undefined) {
      hooks.addAttributes = (records, items) =>
        addIndexAttributes(blindIndex, plan, records, items);
    }
    if (legacy !== undefined) hooks.prepareRows = (rows) => replaceLegacy(legacy, fs, plan, rows);
    this.records = itemRecords(fs, model, plan, hooks);
  }

  readonly records: ItemRecords<M>;
  readonly #stats: LookupStats = { blindIndexCandidates: 0, blindIndexFalsePositives: 0 };

  /** A repository prints as its table and model, never its client or key material. */
  toJSON(): { repository: 'dynamodb'; tableName: string; model: string } {
    return { repository: 'dynamodb', tableName: this.tableName, model: this.plan.table };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `DynamoRepository(${this.plan.table} → ${this.tableName})`;
  }

  stats(): DynamoRepositoryStats {
    return { ...this.#stats, legacyReads: Object.fromEntries(this.legacy?.reads ?? []) };
  }

  async backfill(
    options?: DynamoBackfillOptions,
    ...extra: unknown[]
  ): Promise<DynamoBackfillReport> {
    noMoreArguments('backfill', extra);
    return backfillTable(this, this.legacy, options);
  }

  async findBy(
    tenant: string,
    field: BlindIndexedField<M>,
    value: string,
    ...extra: unknown[]
  ): Promise<InferRecord<M>[]> {
    noMoreArguments('findBy', extra);
    return this.findByAny(tenant, field, [value]);
  }

  async findByAny(
    tenant: string,
    field: BlindIndexedField<M>,
    values: readonly string[],
    ...extra: unknown[]
  ): Promise<InferRecord<M>[]> {
    noMoreArguments('findByAny', extra);
    if (this.blindIndex === undefined) {
      throw new TypeError(`model ${this.plan.table} has no field with .blindIndex()`);
    }
    assertCanReadRecords(this.fs, this.plan, 'findBy');
    return findByIndex(this, this.blindIndex, this.indexes, this.#stats, tenant, field, values);
  }

  async createTable(...extra: unknown[]): Promise<void> {
    noMoreArguments('createTable', extra);
    await this.blindIndex?.secrets.createTable();
    const table = keySchema(this.layout);
    const { GlobalSecondaryIndexes, definitions } = indexSchema(this.layout, this.indexes);
    await this.client.send(
      new CreateTableCommand({
        TableName: this.tableName,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: table.KeySchema,
        AttributeDefinitions: [...table.AttributeDefinitions, ...definitions],
        ...(GlobalSecondaryIndexes === undefined ? {} : { GlobalSecondaryIndexes }),
      }),
    );
  }

  async save(
    record: InferRecord<M>,
    options?: DynamoSaveOptions<M>,
    ...extra: unknown[]
  ): Promise<InferRecord<M> | undefined> {
    noMoreArguments('save', extra);
    return putItem(this, record, options);
  }

  async get(tenant: string, key: Key, ...extra: unknown[]): Promise<InferRecord<M> | undefined> {
    noMoreArguments('get (it takes no options)', extra);
    const Key = keyOf(this.layout, key);
    checkTenant(tenant);
    assertCanReadRecords(this.fs, this.plan, 'get');
    const out = (await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key, ConsistentRead: true }),
    )) as { Item?: DynamoItem };
    if (out.Item === undefined || !this.ownedBy(tenant, out.Item)) return undefined;
    return this.records.decodeOne(out.Item);
  }

  update(
    tenant: string,
    key: Key,
    changes: DynamoChanges<M>,
    options: DynamoUpdateOptions<M> & { readonly returnValues: 'NONE' },
  ): Promise<boolean>;
  update(
    tenant: string,
    key: Key,
    changes: DynamoChanges<M>,
    options?: DynamoUpdateOptions<M> & { readonly returnValues?: 'ALL_NEW' | 'ALL_OLD' },
  ): Promise<InferRecord<M> | undefined>;
  async update(
    tenant: string,
    key: Key,
    changes: DynamoChanges<M>,
    options?: DynamoUpdateOptions<M>,
    ...extra: unknown[]
  ): Promise<InferRecord<M> | boolean | undefined> {
    noMoreArguments('update', extra);
    return updateItem(this, tenant, key, changes, options);
  }

  delete(
    tenant: string,
    key: Key,
    options: DynamoDeleteOptions<M> & { readonly returnOld: true },
  ): Promise<InferRecord<M> | undefined>;
  delete(tenant: string, key: Key, options?: DynamoDeleteOptions<M>): Promise<boolean>;
  async delete(
    tenant: string,
    key: Key,
    options?: DynamoDeleteOptions<M>,
    ...extra: unknown[]
  ): Promise<boolean | InferRecord<M> | undefined> {
    noMoreArguments('delete', extra);
    return deleteItem(this, tenant, key, options);
  }

  async deleteMany(
    tenant: string,
    keys: readonly Key[],
    options?: { readonly concurrency?: number },
    ...extra: unknown[]
  ): Promise<boolean[]> {
    noMoreArguments('deleteMany', extra);
    return deleteItems(this, tenant, keys, options);
  }

  async query(
    tenant: string,
    partition: DynamoKeyValue,
    options?: DynamoQueryOptions,
    ...extra: unknown[]
  ): Promise<DynamoPage<InferRecord<M>>> {
    noMoreArguments('query', extra);
    return this.queryPage(tenant, undefined, partition, pageOptions('query', options, true));
  }

  async queryIndex(
    tenant: string,
    indexName: string,
    partition: DynamoKeyValue,
    options?: DynamoQueryOptions,
    ...extra: unknown[]
  ): Promise<DynamoPage<InferRecord<M>>> {
    noMoreArguments('queryIndex', extra);
    const checked = pageOptions('queryIndex', options, true);
    const index = this.indexes.get(indexName);
    if (index === undefined) throw new TypeError(`indexName: "${indexName}" is not declared`);
    if (index.blindIndex !== undefined) {
      throw new TypeError(`indexName: "${indexName}" keys a blind index; use findBy`);
    }
    return this.queryPage(tenant, index, partition, checked);
  }

  /** One page of a table Query (consistent) or GSI Query (DynamoDB allows no consistent read). */
  private async queryPage(
    tenant: string,
    index: IndexLayout | undefined,
    partition: DynamoKeyValue,
    { limit, startKey, descending }: PageOptions,
  ): Promise<DynamoPage<InferRecord<M>>> {
    const keys = index ?? this.layout;
    const keyField = keys.partition;
    // DynamoDB refuses a Query filter on a key attribute; then the check in page() suffices.
    const tenantIsKey = keyField.name === this.plan.tenant || keys.sort?.name === this.plan.tenant;
    const t = checkTenant(tenant);
    const p = keyAttribute(keyField, partition);
    const exclusiveStart =
      startKey === undefined
        ? undefined
        : index === undefined
          ? keyOf(this.layout, startKey)
          : indexStartKey(this.layout, index, startKey);
    assertCanReadRecords(this.fs, this.plan, index === undefined ? 'query' : 'queryIndex');
    const out = (await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        ...(index === undefined ? { ConsistentRead: true } : { IndexName: index.name }),
        KeyConditionExpression: '#p = :p',
        ...(tenantIsKey ? {} : { FilterExpression: '#t = :t' }),
        ExpressionAttributeNames: {
          '#p': keyField.name,
          ...(tenantIsKey ? {} : { '#t': this.plan.tenant }),
        },
        ExpressionAttributeValues: {
          ':p': p,
          ...(tenantIsKey ? {} : { ':t': { S: t } }),
        },
        ScanIndexForward: !descending,
        ...(limit === undefined ? {} : { Limit: limit }),
        ...(exclusiveStart === undefined ? {} : { ExclusiveStartKey: exclusiveStart }),
      }),
    )) as { Items?: DynamoItem[]; LastEvaluatedKey?: Record<string, AttributeValue> };
    return this.page(tenant, out.Items ?? [], out.LastEvaluatedKey);
  }

  /** The tenant's items of one Query / Scan page, decrypted as one batch. */
  private async page(
    tenant: string,
    found: readonly DynamoItem[],
    last: Record<string, AttributeValue> | undefined,
  ): Promise<DynamoPage<InferRecord<M>>> {
    const items = await this.records.decode(found.filter((item) => this.ownedBy(tenant, item)));
    return { items, nextKey: this.nextKey(last) };
  }

  async scan(
    tenant: string,
    options?: DynamoScanOptions,
    ...extra: unknown[]
  ): Promise<DynamoPage<InferRecord<M>>> {
    noMoreArguments('scan', extra);
    const { limit, startKey } = pageOptions('scan', options, false);
    const t = checkTenant(tenant);
    const exclusiveStart = startKey === undefined ? undefined : keyOf(this.layout, startKey);
    assertCanReadRecords(this.fs, this.plan, 'scan');
    const out = (await this.client.send(
      new ScanCommand({
        TableName: this.tableName,
        FilterExpression: '#t = :t',
        ExpressionAttributeNames: { '#t': this.plan.tenant },
        ExpressionAttributeValues: { ':t': { S: t } },
        ConsistentRead: true,
        ...(limit === undefined ? {} : { Limit: limit }),
        ...(exclusiveStart === undefined ? {} : { ExclusiveStartKey: exclusiveStart }),
      }),
    )) as { Items?: DynamoItem[]; LastEvaluatedKey?: Record<string, AttributeValue> };
    return this.page(tenant, out.Items ?? [], out.LastEvaluatedKey);
  }

  async transactWrite(
    writes: readonly DynamoTransactWrite<M>[],
    ...extra: unknown[]
  ): Promise<void> {
    noMoreArguments('transactWrite', extra);
    return transactWrite(this, writes);
  }

  async transactGet(
    tenant: string,
    keys: readonly Key[],
    ...extra: unknown[]
  ): Promise<(InferRecord<M> | undefined)[]> {
    noMoreArguments('transactGet', extra);
    return transactGet(this, tenant, keys);
  }

  async batchWrite(records: readonly InferRecord<M>[], ...extra: unknown[]): Promise<void> {
    noMoreArguments('batchWrite', extra);
    if (!Array.isArray(records)) throw new TypeError('records: expected an array');
    assertCanPut(this.fs, this.plan, 'batchWrite');
    const seen = new Map<string, number>();
    records.forEach((record, index) => {
      const id = JSON.stringify(keyOf(this.layout, record));
      const first = seen.get(id);
      if (first !== undefined) {
        throw new TypeError(`records ${first} and ${index} have the same key (one write per item)`);
      }
      seen.set(id, index);
    });
    await batchPut(this.client, this.tableName, await this.records.encode(records));
  }

  async batchGet(
    tenant: string,
    keys: readonly Key[],
    ...extra: unknown[]
  ): Promise<(InferRecord<M> | undefined)[]> {
    noMoreArguments('batchGet', extra);
    if (!Array.isArray(keys)) throw new TypeError('keys: expected an array');
    checkTenant(tenant);
    const wanted = keys.map((key) => keyOf(this.layout, key));
    assertCanReadRecords(this.fs, this.plan, 'batchGet');
    const ids = wanted.map((key) => JSON.stringify(key));
    const unique = [...new Map(ids.map((id, i) => [id, wanted[i]!])).values()];
    const found = new Map<string, DynamoItem>();
    for (const item of await batchGetItems(this.client, this.tableName, unique)) {
      // Only the key attributes are read here: a malformed encrypted attribute is the
      // decryption batch's failure, at the item's index in `keys`.
      if (this.ownedBy(tenant, item)) found.set(JSON.stringify(this.keyOfItem(item)), item);
    }
    // One decryption batch, aligned with `keys` so BatchError indexes are indexes in `keys`.
    const slots = ids.map((id) => found.get(id));
    const present = slots.flatMap((item, index) => (item === undefined ? [] : [index]));
    const records = await this.records.decode(
      present.map((i) => slots[i]!),
      present,
    );
    const out: (InferRecord<M> | undefined)[] = keys.map(() => undefined);
    present.forEach((index, i) => (out[index] = records[i]));
    return out;
  }

  /** The DynamoDB `Key` of a stored item, as `keyOf` makes it from the model's values. */
  private keyOfItem(item: DynamoItem): Record<string, AttributeValue> {
    const keyItem: DynamoItem = {};
    for (const f of [this.layout.partition, this.layout.sort]) {
      const a = f === undefined ? undefined : item[f.name];
      if (f !== undefined && a !== undefined) keyItem[f.name] = a;
    }
    return keyOf(this.layout, itemToRow(this.plan, keyItem));
  }

  /** The item's tenant attribute is the tenant asked for (DynamoDB filters too; this is cheap). */
  private ownedBy(tenant: string, item: DynamoItem): boolean {
    return item[this.plan.tenant]?.S === checkTenant(tenant);
  }

  /** DynamoDB's LastEvaluatedKey (table and index key attributes) in the model's types. */
  private nextKey(
    last: Record<string, AttributeValue> | undefined,
  ): Readonly<Record<string, DynamoKeyValue>> | undefined {
    return last === undefined
      ? undefined
      : (itemToRow(this.plan, last) as Record<string, DynamoKeyValue>);
  }
}

/** The checked options of one Query / Scan page. */
interface PageOptions {
  readonly limit: number | undefined;
  readonly startKey: Key | undefined;
  readonly descending: boolean;
}

/**
 * Read the options of `query` / `queryIndex` (`descending` allowed) or `scan` once.
 * @throws UnsupportedOptionError for an unknown option; TypeError for a mistyped one.
 */
function pageOptions(where: string, options: unknown, sorted: boolean): PageOptions {
  const o: OptionSnapshot = optionSnapshot(
    `${where} options`,
    options,
    sorted ? ['limit', 'startKey', 'descending'] : ['limit', 'startKey'],
  );
  const { limit, startKey, descending } = o;
  if (limit !== undefined && (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1)) {
    throw new TypeError('limit: expected a positive integer');
  }
  if (startKey !== undefined && (typeof startKey !== 'object' || startKey === null)) {
    throw new TypeError('startKey: expected the nextKey of an earlier page');
  }
  if (descending !== undefined && typeof descending !== 'boolean') {
    throw new TypeError('descending: expected a boolean');
  }
  return {
    limit,
    startKey: startKey as Key | undefined,
    descending: descending === true,
  };
}
