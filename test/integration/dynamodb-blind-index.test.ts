import { inspect } from 'node:util';
import {
  DescribeTableCommand,
  GetItemCommand,
  ScanCommand,
  UpdateItemCommand,
  UpdateTableCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  createBlindIndexer,
  createFieldseal,
  defineModel,
  EnvSecretSource,
  field,
  isFieldsealError,
  type BlindIndexer,
  type InferRecord,
} from '../../src/index.js';
import { createDynamoRepository } from '../../src/dynamodb/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';
import { describeDynamo, startDynamoLocal, type DynamoLocal } from './dynamodb-local.js';

/**
 * Equality lookups on encrypted DynamoDB attributes through GSIs keyed by blind indexes.
 * 16-bit indexes over 2,000 distinct emails collide (about 30 pairs expected; none has
 * probability ~e^-30), so the decrypt-and-compare re-check is exercised for real.
 */
const Person = defineModel({
  table: 'people',
  tenant: 'tenantId',
  key: ['pk', 'id'],
  fields: {
    pk: field.string(),
    id: field.string(),
    tenantId: field.string(),
    email: field
      .string()
      .encrypted({ pad: 'bucket-32' })
      .blindIndex({ bits: 16, normalize: ['trim', 'lowercase', 'nfc'] }),
    phone: field.string().encrypted({ storage: 'text' }).nullable().blindIndex({ bits: 16 }),
    name: field.string().encrypted(),
  },
});
type PersonRecord = InferRecord<typeof Person>;

const N = 2000;
const TABLE = 'people-bi';
const norm = (v: string): string => v.trim().toLowerCase().normalize('NFC');

function person(tenant: string, i: number): PersonRecord {
  return {
    pk: `${tenant}#people`,
    id: `p_${String(i).padStart(5, '0')}`,
    tenantId: tenant,
    email:
      i < 3
        ? ['Shared@Example.com', '  shared@example.COM', 'SHARED@EXAMPLE.COM '][i]!
        : `user${i}@example.com`,
    phone: i % 10 === 0 ? null : `+1-555-${i}`,
    name: `Person ${i}`,
  };
}

describeDynamo('DynamoDB blind-index lookups (DynamoDB Local)', () => {
  let local: DynamoLocal;
  let client: DynamoDBClient;
  let indexer: BlindIndexer;
  const provider = new MemoryKeyProvider();
  const store = new MemoryKeyStore();
  const fs = createFieldseal({
    admin: true,
    provider,
    keys: { mode: 'store', store, masterKeyId: 'master' },
    cache: { maxAgeMs: 60_000 },
    fields: { ...Person.policies },
  });
  const data = new Map<string, PersonRecord[]>();
  const repoFor = () =>
    createDynamoRepository({
      client,
      fs,
      model: Person,
      tableName: TABLE,
      keys: { partition: 'pk', sort: 'id' },
      indexes: { 'by-email': { blindIndex: 'email' }, 'by-phone': { blindIndex: 'phone' } },
      blindIndex: { indexer, secretsTable: 'bi-secrets' },
    });

  beforeAll(async () => {
    local = await startDynamoLocal();
    client = local.client();
    indexer = await createBlindIndexer({
      source: new EnvSecretSource({
        keys: { 'blind-index': 'BI_ROOT' },
        env: { BI_ROOT: `base64:${Buffer.alloc(32, 0x5a).toString('base64')}` },
      }),
      reference: 'blind-index',
    });
    for (const t of ['north', 'south', 'doomed']) await fs.provisionTenant(t);
    const repo = repoFor();
    await repo.createTable();
    for (const t of ['north', 'south']) {
      const records = Array.from({ length: N }, (_, i) => person(t, i));
      data.set(t, records);
      await repo.batchWrite(records);
    }
    await repo.save(person('doomed', 7));
  }, 120_000);
  afterAll(async () => {
    client?.destroy();
    await local?.stop();
  });

  const expected = (tenant: string, f: 'email' | 'phone', value: string): string[] =>
    data
      .get(tenant)!
      .filter((r) => {
        const v = r[f];
        return v !== null && (f === 'email' ? norm(v) === norm(value) : v === value);
      })
      .map((r) => r.id)
      .sort();
  const ids = (records: readonly PersonRecord[]): string[] => records.map((r) => r.id).sort();

  it('stores each index as an S attribute a GSI keys, and no plaintext', async () => {
    const raw = await client.send(
      new GetItemCommand({
        TableName: TABLE,
        Key: { pk: { S: 'north#people' }, id: { S: 'p_00010' } },
      }),
    );
    const item = raw.Item!;
    expect(item.email_bidx_v1?.S).toMatch(/^bi1:1:/);
    expect(item.phone_bidx_v1).toBeUndefined(); // a null phone: no attribute (sparse GSI)
    expect(JSON.stringify(item)).not.toContain('user10@');
    expect(JSON.stringify(item)).not.toContain('Person 10');
  });

  it('finds exactly what a full scan finds, collisions re-checked and counted', async () => {
    const repo = repoFor();
    // Collect colliding index values from the raw table: distinct emails sharing an index.
    const byIndex = new Map<string, Set<string>>();
    let start: Record<string, never> | undefined;
    do {
      const out = await client.send(
        new ScanCommand({ TableName: TABLE, ExclusiveStartKey: start }),
      );
      for (const item of out.Items ?? []) {
        if (item.tenantId?.S !== 'north' || item.email_bidx_v1?.S === undefined) continue;
        const set = byIndex.get(item.email_bidx_v1.S) ?? new Set<string>();
        set.add(item.id!.S!);
        byIndex.set(item.email_bidx_v1.S, set);
      }
      start = out.LastEvaluatedKey as Record<string, never> | undefined;
    } while (start !== undefined);
    const colliding = [...byIndex.values()].filter((s) => s.size > 1 && !s.has('p_00000'));
    expect(colliding.length).toBeGreaterThan(3);
    const probes = [
      ' SHARED@example.com',
      'nobody@example.com',
      ...colliding.slice(0, 10).map((s) => person('north', Number([...s][0]!.slice(2))).email),
      ...Array.from({ length: 20 }, (_, k) => person('north', 3 + k * 97).email.toUpperCase()),
    ];
    const before = repo.stats();
    let falsePositives = 0;
    for (const probe of probes) {
      const found = await repo.findBy('north', 'email', probe);
      expect(ids(found)).toEqual(expected('north', 'email', probe));
      for (const r of found) expect(norm(r.email)).toBe(norm(probe));
    }
    for (const s of colliding.slice(0, 10)) falsePositives += s.size - 1;
    const after = repo.stats();
    expect(after.blindIndexFalsePositives - before.blindIndexFalsePositives).toBeGreaterThanOrEqual(
      falsePositives,
    );
    expect(ids(await repo.findBy('north', 'email', 'shared@example.com'))).toEqual([
      'p_00000',
      'p_00001',
      'p_00002',
    ]);
    const any = await repo.findByAny('north', 'phone', ['+1-555-11', '+1-555-12', '+1-555-20']);
    expect(ids(any)).toEqual(['p_00011', 'p_00012']);
  });

  it('keeps tenants apart: the same value in another tenant is another index', async () => {
    const repo = repoFor();
    const north = await repo.findBy('north', 'email', 'user42@example.com');
    const south = await repo.findBy('south', 'email', 'user42@example.com');
    expect(north.map((r) => r.tenantId)).toEqual(['north']);
    expect(south.map((r) => r.tenantId)).toEqual(['south']);
    const rawNorth = await client.send(
      new GetItemCommand({
        TableName: TABLE,
        Key: { pk: { S: 'north#people' }, id: { S: 'p_00042' } },
      }),
    );
    const rawSouth = await client.send(
      new GetItemCommand({
        TableName: TABLE,
        Key: { pk: { S: 'south#people' }, id: { S: 'p_00042' } },
      }),
    );
    expect(rawNorth.Item!.email_bidx_v1!.S).not.toBe(rawSouth.Item!.email_bidx_v1!.S);
    expect(await repo.findBy('ghost', 'email', 'user42@example.com')).toEqual([]);
  });

  it('update moves the index with the value, and removes it with null', async () => {
    const repo = repoFor();
    const key = { pk: 'north#people', id: 'p_00500' };
    await repo.update('north', key, { email: 'Renamed@Example.com', phone: null });
    data.get('north')![500] = {
      ...person('north', 500),
      email: 'Renamed@Example.com',
      phone: null,
    };
    expect(ids(await repo.findBy('north', 'email', 'renamed@example.com'))).toEqual(['p_00500']);
    expect(await repo.findBy('north', 'email', 'user500@example.com')).toEqual([]);
    expect(await repo.findBy('north', 'phone', '+1-555-500')).toEqual([]);
    const raw = await client.send(
      new GetItemCommand({
        TableName: TABLE,
        Key: { pk: { S: 'north#people' }, id: { S: 'p_00500' } },
      }),
    );
    expect(raw.Item!.phone_bidx_v1).toBeUndefined();
    await repo.update('north', key, { phone: '+1-555-0500' });
    expect(ids(await repo.findBy('north', 'phone', '+1-555-0500'))).toEqual(['p_00500']);
  });

  it('rotates an index version without downtime: dual write, backfill, switch reads, repair', async () => {
    await client.send(
      new UpdateTableCommand({
        TableName: TABLE,
        AttributeDefinitions: [{ AttributeName: 'email_bidx_v2', AttributeType: 'S' }],
        GlobalSecondaryIndexUpdates: [
          {
            Create: {
              IndexName: 'by-email-v2',
              KeySchema: [{ AttributeName: 'email_bidx_v2', KeyType: 'HASH' }],
              Projection: { ProjectionType: 'ALL' },
            },
          },
        ],
      }),
    );
    // DynamoDB builds a new GSI in the background: wait until it is ACTIVE.
    for (let i = 0; ; i++) {
      const { Table } = await client.send(new DescribeTableCommand({ TableName: TABLE }));
      const gsi = Table?.GlobalSecondaryIndexes?.find((g) => g.IndexName === 'by-email-v2');
      if (gsi?.IndexStatus === 'ACTIVE') break;
      if (i > 300) throw new Error('the new GSI never became ACTIVE');
      await new Promise((r) => setTimeout(r, 100));
    }
    const withVersions = (read: 1 | 2) =>
      createDynamoRepository({
        client,
        fs,
        model: Person,
        tableName: TABLE,
        keys: { partition: 'pk', sort: 'id' },
        indexes: {
          'by-email': { blindIndex: 'email', version: 1 },
          'by-email-v2': { blindIndex: 'email', version: 2 },
          'by-phone': { blindIndex: 'phone' },
        },
        blindIndex: {
          indexer,
          secretsTable: 'bi-secrets',
          versions: { email: { write: [1, 2], read } },
        },
      });
    const dual = withVersions(1);
    // a new write gets both versions; old items have only v1, so v2 reads miss them
    await dual.save(person('north', 4000));
    expect(ids(await withVersions(2).findBy('north', 'email', 'user42@example.com'))).toEqual([]);
    const report = await dual.backfill({ indexes: true, pageSize: 500 });
    expect(report).toMatchObject({ done: true, conflicts: 0, failed: 0 });
    expect(report.indexAttributes).toBeGreaterThanOrEqual(2 * N - 1);
    // reads switch to v2 and find exactly what v1 found
    for (const probe of ['user42@example.com', ' SHARED@example.com', 'renamed@example.com']) {
      expect(ids(await withVersions(2).findBy('north', 'email', probe))).toEqual(
        ids(await withVersions(1).findBy('north', 'email', probe)),
      );
    }
    // a corrupted index attribute is found and repaired by the same pass
    await client.send(
      new UpdateItemCommand({
        TableName: TABLE,
        Key: { pk: { S: 'north#people' }, id: { S: 'p_00077' } },
        UpdateExpression: 'SET email_bidx_v1 = :bad',
        ExpressionAttributeValues: { ':bad': { S: 'bi1:1:AAAA' } },
      }),
    );
    expect(await withVersions(1).findBy('north', 'email', 'user77@example.com')).toEqual([]);
    const repair = await dual.backfill({ indexes: true, pageSize: 500 });
    expect(repair.indexAttributes).toBe(1);
    expect(ids(await withVersions(1).findBy('north', 'email', 'user77@example.com'))).toEqual([
      'p_00077',
    ]);
    await repoFor().delete('north', { pk: 'north#people', id: 'p_04000' });
  });

  it("fails closed after a tenant's key is shredded: its indexes cannot be recomputed", async () => {
    const repo = repoFor();
    expect(await repo.findBy('doomed', 'email', 'user7@example.com')).toHaveLength(1);
    await fs.shredTenant('doomed');
    const err: unknown = await repo
      .findBy('doomed', 'email', 'user7@example.com')
      .catch((e: unknown) => e);
    expect(isFieldsealError(err) && err.code).toBe('ERR_KEY_SHREDDED');
    expect(String(err)).not.toContain('user7');
  });

  it('checks the declarations', () => {
    const base = {
      client,
      fs,
      model: Person,
      tableName: TABLE,
      keys: { partition: 'pk', sort: 'id' },
    } as const;
    expect(() => createDynamoRepository(base)).toThrow(/blindIndex/);
    expect(() =>
      createDynamoRepository({
        ...base,
        blindIndex: { indexer },
        indexes: { 'by-name': { blindIndex: 'name' as 'email' } },
      }),
    ).toThrow(/not a field with .blindIndex/);
    expect(() =>
      createDynamoRepository({
        ...base,
        blindIndex: { indexer },
        indexes: { 'by-email': { blindIndex: 'email', version: 2 } },
      }),
    ).toThrow(/not written/);
    const Clash = defineModel({
      table: 'clash',
      tenant: 'tenantId',
      key: ['pk'],
      fields: {
        pk: field.string(),
        tenantId: field.string(),
        email: field.string().encrypted().blindIndex(),
        email_bidx_v1: field.string().optional(),
      },
    });
    expect(() =>
      createDynamoRepository({
        client,
        fs,
        model: Clash,
        tableName: 'clash',
        keys: { partition: 'pk' },
        blindIndex: { indexer },
      }),
    ).toThrow(/also a field/);
    const printed = repoFor();
    expect(JSON.stringify(printed)).toBe(
      '{"repository":"dynamodb","tableName":"people-bi","model":"people"}',
    );
    expect(inspect(printed)).toBe('DynamoRepository(people → people-bi)');
    const noGsi = createDynamoRepository({
      ...base,
      blindIndex: { indexer, secretsTable: 'bi-secrets' },
    });
    return Promise.all([
      expect(noGsi.findBy('north', 'email', 'x@example.com')).rejects.toThrow(/no GSI/),
      expect(repoFor().queryIndex('north', 'by-email', 'x')).rejects.toThrow(/use findBy/),
    ]);
  });
});
