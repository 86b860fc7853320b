import type { DynamoDBClient, WriteRequest } from '@aws-sdk/client-dynamodb';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  createFieldseal,
  defineModel,
  field,
  isFieldsealError,
  type InferRecord,
} from '../../src/index.js';
import { createDynamoRepository } from '../../src/dynamodb/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';
import { describeDynamo, startDynamoLocal, type DynamoLocal } from './dynamodb-local.js';

/**
 * batchWrite / batchGet against DynamoDB Local, with unprocessed items injected; a global
 * secondary index on a plain attribute.
 */
const Order = defineModel({
  table: 'orders',
  tenant: 'tenantId',
  key: ['pk', 'sk'],
  fields: {
    pk: field.string(),
    sk: field.bigint(),
    tenantId: field.string(),
    customerId: field.string(),
    card: field.string().encrypted(),
    address: field.json<{ city: string }>().encrypted({ storage: 'text' }),
    total: field.number().encrypted(),
    blob: field.bytes().encrypted().optional(),
  },
});
type OrderRecord = InferRecord<typeof Order>;
const TABLE = 'orders-batch';
const order = (tenant: string, i: number): OrderRecord => ({
  pk: `${tenant}#orders`,
  sk: BigInt(i),
  tenantId: tenant,
  customerId: `cust-${i % 3}`,
  card: `4111-${tenant}-${i}`,
  address: { city: `City ${i}` },
  total: i * 1.25,
});

describeDynamo('DynamoDB repository batches (DynamoDB Local)', () => {
  let local: DynamoLocal;
  let client: DynamoDBClient;
  const sent: string[] = [];
  /** Commands whose next call reports its last N requests as unprocessed (not sent). */
  const drop = new Map<string, number>();
  const provider = new MemoryKeyProvider();
  const store = new MemoryKeyStore();
  const repoFor = () =>
    createDynamoRepository({
      client,
      fs: createFieldseal({
        admin: true,
        provider,
        keys: { mode: 'store', store, masterKeyId: 'master' },
        cache: { maxAgeMs: 60_000 },
        fields: { ...Order.policies },
      }),
      model: Order,
      tableName: TABLE,
      keys: { partition: 'pk', sort: 'sk' },
      indexes: { 'by-customer': { partition: 'customerId', sort: 'sk' } },
    });

  beforeAll(async () => {
    local = await startDynamoLocal();
    client = local.client();
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const name = context.commandName ?? '';
        sent.push(name);
        const n = drop.get(name);
        if (n === undefined) return next(args);
        drop.delete(name);
        const input = structuredClone(args.input) as {
          RequestItems: Record<string, WriteRequest[] | { Keys: unknown[] }>;
        };
        const requests = input.RequestItems[TABLE]!;
        const list = Array.isArray(requests) ? requests : requests.Keys;
        const held = list.splice(list.length - n, n);
        const result = await next({ ...args, input });
        const output = result.output as unknown as Record<string, unknown>;
        if (Array.isArray(requests)) output.UnprocessedItems = { [TABLE]: held };
        else output.UnprocessedKeys = { [TABLE]: { Keys: held, ConsistentRead: true } };
        return result;
      },
      { step: 'initialize', name: 'injectUnprocessed' },
    );
    await repoFor().createTable();
    const fs = createFieldseal({
      admin: true,
      provider,
      keys: { mode: 'store', store, masterKeyId: 'master' },
      cache: { maxAgeMs: 60_000 },
    });
    await fs.provisionTenant('acme');
    await fs.provisionTenant('globex');
  });
  afterAll(async () => {
    client?.destroy();
    await local?.stop();
  });

  it('writes 25 items per request and retries unprocessed items', async () => {
    const records = [
      ...Array.from({ length: 30 }, (_, i) => order('acme', i)),
      ...Array.from({ length: 30 }, (_, i) => order('globex', i)),
    ];
    sent.length = 0;
    drop.set('BatchWriteItemCommand', 7);
    await repoFor().batchWrite(records);
    expect(sent).toEqual(Array(4).fill('BatchWriteItemCommand')); // 25 (18 + 7 retried), 25, 10
    const back = await repoFor().batchGet('acme', [{ pk: 'acme#orders', sk: 29n }]);
    expect(back).toEqual([order('acme', 29)]);
  });

  it('reads many keys in one decryption batch: one unwrap per tenant key, aligned with keys', async () => {
    const repo = repoFor();
    const before = provider.calls.unwrap;
    sent.length = 0;
    drop.set('BatchGetItemCommand', 5);
    const keys = Array.from({ length: 30 }, (_, i) => ({ pk: 'acme#orders', sk: BigInt(i) }));
    const got = await repo.batchGet('acme', [
      ...keys,
      { pk: 'acme#orders', sk: 999n }, // absent
      { pk: 'globex#orders', sk: 3n }, // another tenant's item
      { pk: 'acme#orders', sk: 4n }, // a duplicate
    ]);
    expect(got.slice(0, 30)).toEqual(keys.map((_, i) => order('acme', i)));
    expect(got.slice(30)).toEqual([undefined, undefined, order('acme', 4)]);
    expect(sent).toEqual(['BatchGetItemCommand', 'BatchGetItemCommand']);
    expect(provider.calls.unwrap - before).toBe(1);
  });

  it('a tampered item in a batch read is a BatchError at its index in keys', async () => {
    const raw = await client.send(
      new GetItemCommand({ TableName: TABLE, Key: { pk: { S: 'acme#orders' }, sk: { N: '1' } } }),
    );
    await client.send(
      new PutItemCommand({ TableName: TABLE, Item: { ...raw.Item!, sk: { N: '2' } } }),
    );
    const err = await repoFor()
      .batchGet('acme', [
        { pk: 'acme#orders', sk: 999n },
        { pk: 'acme#orders', sk: 2n },
      ])
      .catch((e: unknown) => e);
    if (!isFieldsealError(err)) throw new Error('expected a FieldsealError');
    expect(err.code).toBe('ERR_BATCH_FAILED');
    const failures = (err as unknown as { failures: { index: number; error: Error }[] }).failures;
    expect(failures.map((f) => f.index)).toEqual([1, 1, 1]);
    expect(JSON.stringify(err)).not.toContain('4111');
  });

  it('sends nothing when any record fails: no key, too large, duplicate key', async () => {
    const repo = repoFor();
    sent.length = 0;
    const noKey = await repo
      .batchWrite([order('acme', 50), order('nokey', 1)])
      .catch((e: unknown) => e);
    expect((noKey as { code?: string }).code).toBe('ERR_BATCH_FAILED');
    const big = { ...order('acme', 51), blob: Buffer.alloc(410 * 1024) };
    const tooLarge = await repo.batchWrite([order('acme', 52), big]).catch((e: unknown) => e);
    expect(tooLarge).toMatchObject({
      code: 'ERR_VALUE_TOO_LARGE',
      details: { field: 'orders.blob' },
    });
    await expect(repo.batchWrite([order('acme', 53), order('acme', 53)])).rejects.toThrow(
      'records 0 and 1 have the same key',
    );
    expect(sent).toEqual([]);
    expect(await repo.batchGet('acme', [{ pk: 'acme#orders', sk: 50n }])).toEqual([undefined]);
  });

  it('queries a global secondary index page by page, the tenant’s items only', async () => {
    const repo = repoFor();
    const seen: bigint[] = [];
    let page = await repo.queryIndex('globex', 'by-customer', 'cust-1', { limit: 4 });
    for (;;) {
      seen.push(...page.items.map((r) => r.sk));
      if (page.nextKey === undefined) break;
      page = await repo.queryIndex('globex', 'by-customer', 'cust-1', {
        limit: 4,
        startKey: page.nextKey,
      });
    }
    expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => BigInt(i * 3 + 1)));
    // Limit counts items before the tenant filter: acme's cust-1 orders share the index partition.
    const one = await repo.queryIndex('globex', 'by-customer', 'cust-1', { limit: 1 });
    expect(one.items.length).toBeLessThanOrEqual(1);
    expect(one.nextKey).toBeDefined();
    await expect(repo.queryIndex('globex', 'nope', 'x')).rejects.toThrow(TypeError);
  });

  it('refuses an encrypted GSI key at definition', () => {
    expect(() =>
      createDynamoRepository({
        client,
        fs: createFieldseal({
          admin: true,
          provider,
          keys: { mode: 'store', store, masterKeyId: 'master' },
          cache: { maxAgeMs: 60_000 },
        }),
        model: Order,
        tableName: TABLE,
        keys: { partition: 'pk', sort: 'sk' },
        indexes: { 'by-card': { partition: 'card' } },
      }),
    ).toThrow('field orders.card: an encrypted field cannot be a GSI key');
  });
});
