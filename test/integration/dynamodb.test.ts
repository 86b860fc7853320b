import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  createFieldseal,
  defineModel,
  defineModelFromSeedShape,
  field,
  type InferRecord,
} from '../../src/index.js';
import { createDynamoRepository } from '../../src/dynamodb/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';
import { describeDynamo, startDynamoLocal, type DynamoLocal } from './dynamodb-local.js';

/** Round trips, pagination and definitions against DynamoDB Local (spawned per file). */
const Customer = defineModel({
  table: 'customers',
  tenant: 'tenantId',
  key: ['pk', 'sk'],
  fields: {
    pk: field.string(),
    sk: field.string(),
    tenantId: field.string(),
    seats: field.number(),
    credits: field.bigint(),
    active: field.boolean(),
    signedUp: field.date(),
    avatar: field.bytes().optional(),
    prefs: field.json<{ theme: string }>(),
    email: field.string().encrypted({ pad: 'bucket-32' }),
    score: field.number().encrypted(),
    balance: field.bigint().encrypted({ storage: 'text' }),
    verified: field.boolean().encrypted(),
    dob: field.date().encrypted(),
    apiSecret: field.bytes().encrypted(),
    notes: field.json<{ vip: boolean; tags: string[] }>().encrypted().optional(),
    ssn: field.string().encrypted({ storage: 'text' }).nullable(),
  },
});
type CustomerRecord = InferRecord<typeof Customer>;

function customer(tenant: string, i: number): CustomerRecord {
  return {
    pk: `${tenant}#customers`,
    sk: `cus_${String(i).padStart(4, '0')}`,
    tenantId: tenant,
    seats: i + 0.5,
    credits: 10n ** 30n + BigInt(i),
    active: i % 2 === 0,
    signedUp: new Date(Date.UTC(2024, 0, 1 + i)),
    ...(i % 3 === 0 ? { avatar: Buffer.from([i, 0, 255]) } : {}),
    prefs: { theme: 'dark' },
    email: `user${i}@${tenant}.example`,
    score: i === 1 ? Number.NaN : -i / 7,
    balance: -(10n ** 25n) - BigInt(i),
    verified: i % 2 === 1,
    dob: new Date(Date.UTC(1980, 1, 1 + i, 3, 4, 5, 6)),
    apiSecret: Buffer.from(`sk_live_${tenant}_${i}`),
    ...(i % 2 === 0 ? { notes: { vip: true, tags: ['a', 'ü'] } } : {}),
    ssn: i % 5 === 0 ? null : `123-45-${String(i).padStart(4, '0')}`,
  };
}

describeDynamo('DynamoDB repository (DynamoDB Local)', () => {
  let local: DynamoLocal;
  let client: DynamoDBClient;
  const provider = new MemoryKeyProvider();
  const store = new MemoryKeyStore();
  const fsFor = () =>
    createFieldseal({
      admin: true,
      provider,
      keys: { mode: 'store', store, masterKeyId: 'master' },
      cache: { maxAgeMs: 60_000 },
      fields: { ...Customer.policies },
    });
  const repoFor = (c: DynamoDBClient | DynamoDBDocumentClient = client) =>
    createDynamoRepository({
      client: c,
      fs: fsFor(),
      model: Customer,
      tableName: 'customers-rt',
      keys: { partition: 'pk', sort: 'sk' },
    });

  beforeAll(async () => {
    local = await startDynamoLocal();
    console.info(`DynamoDB Local answered after ${local.startMs} ms`);
    client = local.client();
    const fs = fsFor();
    await fs.provisionTenant('acme');
    await fs.provisionTenant('globex');
    await repoFor().createTable();
  });
  afterAll(async () => {
    client?.destroy();
    await local?.stop();
  });

  it('round-trips every field type, stored as B (binary) or S (text), never in plaintext', async () => {
    const repo = repoFor();
    for (let i = 0; i < 6; i++) await repo.save(customer('acme', i));
    for (let i = 0; i < 6; i++) {
      expect(await repo.get('acme', { pk: 'acme#customers', sk: customer('acme', i).sk })).toEqual(
        customer('acme', i),
      );
    }
    const raw = await client.send(
      new GetItemCommand({
        TableName: 'customers-rt',
        Key: { pk: { S: 'acme#customers' }, sk: { S: 'cus_0001' } },
      }),
    );
    const item = raw.Item!;
    expect(item.email?.B).toBeInstanceOf(Uint8Array);
    expect(item.balance?.S?.startsWith('fs1:')).toBe(true);
    expect(item.ssn?.S?.startsWith('fs1:')).toBe(true);
    expect(item.credits).toEqual({ N: String(10n ** 30n + 1n) });
    expect(JSON.stringify(raw)).not.toContain('user1@acme');
    expect(Buffer.from(item.apiSecret!.B!).includes('sk_live')).toBe(false);
    const nullSsn = await client.send(
      new GetItemCommand({
        TableName: 'customers-rt',
        Key: { pk: { S: 'acme#customers' }, sk: { S: 'cus_0005' } },
      }),
    );
    expect(nullSsn.Item!.ssn).toEqual({ NULL: true });
    expect(nullSsn.Item!.notes).toBeUndefined();
  });

  it('works through a DynamoDBDocumentClient too', async () => {
    const doc = DynamoDBDocumentClient.from(client);
    const repo = repoFor(doc);
    await repo.save(customer('globex', 7));
    expect(await repo.get('globex', { pk: 'globex#customers', sk: 'cus_0007' })).toEqual(
      customer('globex', 7),
    );
  });

  it('is tenant-scoped: get, query and delete never reach another tenant’s item', async () => {
    const repo = repoFor();
    const key = { pk: 'acme#customers', sk: 'cus_0002' };
    expect(await repo.get('globex', key)).toBeUndefined();
    expect(await repo.delete('globex', key)).toBe(false);
    expect((await repo.query('globex', 'acme#customers')).items).toEqual([]);
    expect(await repo.get('acme', key)).toBeDefined();
    expect(await repo.get('acme', { pk: 'acme#customers', sk: 'nope' })).toBeUndefined();
  });

  it('deletes', async () => {
    const repo = repoFor();
    await repo.save(customer('acme', 900));
    const key = { pk: 'acme#customers', sk: 'cus_0900' };
    expect(await repo.delete('acme', key)).toBe(true);
    expect(await repo.get('acme', key)).toBeUndefined();
    expect(await repo.delete('acme', key)).toBe(false);
  });

  it('queries a partition page by page, one unwrap per tenant key for a fresh client', async () => {
    const repo = repoFor();
    for (let i = 0; i < 25; i++) await repo.save(customer('globex', 100 + i));
    const reader = repoFor();
    const before = provider.calls.unwrap;
    const seen: CustomerRecord[] = [];
    const sizes: number[] = [];
    let page = await reader.query('globex', 'globex#customers', { limit: 10 });
    for (;;) {
      seen.push(...page.items);
      sizes.push(page.items.length);
      if (page.nextKey === undefined) break;
      page = await reader.query('globex', 'globex#customers', {
        limit: 10,
        startKey: page.nextKey,
      });
    }
    expect(sizes).toEqual([10, 10, 6]);
    expect(seen.map((r) => r.sk)).toEqual(
      [7, ...Array.from({ length: 25 }, (_, i) => 100 + i)].map((i) => customer('globex', i).sk),
    );
    expect(seen[1]).toEqual(customer('globex', 100));
    expect(provider.calls.unwrap - before).toBe(1);
    const last = await reader.query('globex', 'globex#customers', { limit: 2, descending: true });
    expect(last.items.map((r) => r.sk)).toEqual(['cus_0124', 'cus_0123']);
  });

  it('refuses keys that are not the model key or are encrypted, at definition', () => {
    const make = (keys: { partition: string; sort?: string }) =>
      createDynamoRepository({
        client,
        fs: fsFor(),
        model: Customer,
        tableName: 'customers-rt',
        keys: keys as { partition: 'pk' },
      });
    expect(() => make({ partition: 'email', sort: 'sk' })).toThrow(
      'field customers.email: an encrypted field cannot be a DynamoDB key',
    );
    expect(() => make({ partition: 'pk' })).toThrow(/key must be \[pk\]/);
    expect(() => make({ partition: 'sk', sort: 'pk' })).toThrow(TypeError);
    expect(() => make({ partition: 'nope' })).toThrow('keys: "nope" is not a field of customers');
  });

  it('writes a raw item the repository reads with the same types (no document-client guessing)', async () => {
    const repo = repoFor();
    await repo.save(customer('acme', 42));
    const raw = await client.send(
      new GetItemCommand({
        TableName: 'customers-rt',
        Key: { pk: { S: 'acme#customers' }, sk: { S: 'cus_0042' } },
      }),
    );
    await client.send(
      new PutItemCommand({
        TableName: 'customers-rt',
        Item: { ...raw.Item!, extra: { S: 'undeclared attributes are left out' } },
      }),
    );
    expect(await repo.get('acme', { pk: 'acme#customers', sk: 'cus_0042' })).toEqual(
      customer('acme', 42),
    );
  });

  it('scans the tenant’s items page by page', async () => {
    const repo = repoFor();
    const scanned: string[] = [];
    let page = await repo.scan('acme', { limit: 4 });
    for (let pages = 1; ; pages++) {
      scanned.push(...page.items.map((r) => `${r.tenantId}/${r.sk}`));
      if (page.nextKey === undefined) break;
      page = await repo.scan('acme', { limit: 4, startKey: page.nextKey });
      expect(pages).toBeLessThan(50);
    }
    const queried = (await repo.query('acme', 'acme#customers')).items;
    expect(scanned.sort()).toEqual(queried.map((r) => `acme/${r.sk}`).sort());
  });

  it('stores a model in the seed shape (PK / SK attributes)', async () => {
    const Credential = defineModelFromSeedShape({
      name: 'Credential',
      table: { name: 'credentials_contract' },
      keys: { partition: { attribute: 'PK', type: 'S' }, sort: { attribute: 'SK', type: 'S' } },
      attributes: [
        { attribute: 'PK', type: 'S', roles: ['pk'] },
        { attribute: 'SK', type: 'S', roles: ['sk'] },
        { attribute: 'tenantId', type: 'S' },
        { attribute: 'secret', type: 'S', encryption: { v: 1 } },
      ],
      tenant: 'tenantId',
    });
    const repo = createDynamoRepository({
      client,
      fs: fsFor(),
      model: Credential,
      tableName: 'credentials_contract',
      keys: { partition: 'PK', sort: 'SK' },
    });
    await repo.createTable();
    const record = { PK: 'TENANT#acme', SK: 'CRED#1', tenantId: 'acme', secret: 's3cr3t' };
    await repo.save(record);
    expect(await repo.get('acme', { PK: 'TENANT#acme', SK: 'CRED#1' })).toEqual(record);
  });
});
