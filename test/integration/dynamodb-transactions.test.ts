import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createFieldseal, defineModel, field, type InferRecord } from '../../src/index.js';
import { createDynamoRepository } from '../../src/dynamodb/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';
import { describeDynamo, startDynamoLocal, type DynamoLocal } from './dynamodb-local.js';

/** transactWrite / transactGet against DynamoDB Local (which implements Transact*). */
const Note = defineModel({
  table: 'notes',
  tenant: 'tenantId',
  key: ['pk'],
  fields: {
    pk: field.string(),
    tenantId: field.string(),
    body: field.string().encrypted(),
    tags: field.json<string[]>().encrypted({ storage: 'text' }),
  },
});
type NoteRecord = InferRecord<typeof Note>;
const TABLE = 'notes-tx';
const note = (tenant: string, id: string): NoteRecord => ({
  pk: `${tenant}#${id}`,
  tenantId: tenant,
  body: `body of ${id}`,
  tags: [tenant, id],
});

describeDynamo('DynamoDB repository transactions (DynamoDB Local)', () => {
  let local: DynamoLocal;
  let client: DynamoDBClient;
  let requests = 0;
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
        fields: { ...Note.policies },
      }),
      model: Note,
      tableName: TABLE,
      keys: { partition: 'pk' },
    });

  beforeAll(async () => {
    local = await startDynamoLocal();
    client = local.client();
    client.middlewareStack.add(
      (next) => (args) => {
        requests += 1;
        return next(args);
      },
      { step: 'initialize', name: 'countRequests' },
    );
    const fs = createFieldseal({
      admin: true,
      provider,
      keys: { mode: 'store', store, masterKeyId: 'master' },
      cache: { maxAgeMs: 60_000 },
    });
    await fs.provisionTenant('acme');
    await fs.provisionTenant('globex');
    const repo = repoFor();
    await repo.createTable();
    await repo.save(note('acme', 'old'));
    await repo.save(note('globex', 'g1'));
  });
  afterAll(async () => {
    client?.destroy();
    await local?.stop();
  });

  it('writes puts and deletes atomically and reads them back in one snapshot', async () => {
    const repo = repoFor();
    await repo.transactWrite([
      { put: note('acme', 'a') },
      { put: note('globex', 'b') },
      { delete: { tenant: 'acme', key: { pk: 'acme#old' } } },
    ]);
    const got = await repo.transactGet('acme', [
      { pk: 'acme#a' },
      { pk: 'acme#old' },
      { pk: 'globex#b' }, // another tenant's item
    ]);
    expect(got).toEqual([note('acme', 'a'), undefined, undefined]);
    expect(await repo.transactGet('globex', [{ pk: 'globex#b' }])).toEqual([note('globex', 'b')]);
  });

  it('a delete of another tenant’s item cancels the whole transaction', async () => {
    const repo = repoFor();
    const err = await repo
      .transactWrite([
        { put: note('acme', 'c') },
        { delete: { tenant: 'acme', key: { pk: 'globex#g1' } } },
      ])
      .catch((e: unknown) => e);
    expect((err as { name?: string }).name).toBe('TransactionCanceledException');
    expect(await repo.transactGet('acme', [{ pk: 'acme#c' }])).toEqual([undefined]);
    expect(await repo.transactGet('globex', [{ pk: 'globex#g1' }])).toEqual([note('globex', 'g1')]);
  });

  it('fails closed before any request when a put cannot be encrypted', async () => {
    const before = requests;
    const err = await repoFor()
      .transactWrite([{ put: note('acme', 'd') }, { put: note('nokey', 'e') }])
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_BATCH_FAILED' });
    expect((err as { failures: { index: number }[] }).failures.map((f) => f.index)).toEqual([1, 1]);
    expect(requests).toBe(before);
  });

  it('a tampered item in a transactional read is a BatchError at its index', async () => {
    const a = await client.send(
      new GetItemCommand({ TableName: TABLE, Key: { pk: { S: 'acme#a' } } }),
    );
    await client.send(
      new PutItemCommand({ TableName: TABLE, Item: { ...a.Item!, pk: { S: 'acme#copy' } } }),
    );
    const err = await repoFor()
      .transactGet('acme', [{ pk: 'acme#a' }, { pk: 'acme#copy' }])
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_BATCH_FAILED' });
    const failures = (err as { failures: { index: number; error: { code: string } }[] }).failures;
    expect(failures.map((f) => [f.index, f.error.code])).toEqual([
      [1, 'ERR_AUTHENTICATION_FAILED'],
      [1, 'ERR_AUTHENTICATION_FAILED'],
    ]);
  });

  it('supports the tenant as partition key (Query then filters on the client)', async () => {
    const Contact = defineModel({
      table: 'contacts',
      tenant: 'tenantId',
      key: ['tenantId', 'id'],
      fields: { tenantId: field.string(), id: field.number(), phone: field.string().encrypted() },
    });
    const repo = createDynamoRepository({
      client,
      fs: createFieldseal({
        admin: true,
        provider,
        keys: { mode: 'store', store, masterKeyId: 'master' },
        cache: { maxAgeMs: 60_000 },
      }),
      model: Contact,
      tableName: 'contacts-by-tenant',
      keys: { partition: 'tenantId', sort: 'id' },
    });
    await repo.createTable();
    const rows = [1, 2, 3].map((id) => ({ tenantId: 'acme', id, phone: `+1-555-000${id}` }));
    await repo.batchWrite([...rows, { tenantId: 'globex', id: 1, phone: '+1-555-9999' }]);
    expect((await repo.query('acme', 'acme', { descending: true })).items).toEqual(rows.reverse());
    expect((await repo.query('globex', 'acme')).items).toEqual([]);
    expect(await repo.transactGet('globex', [{ tenantId: 'acme', id: 1 }])).toEqual([undefined]);
  });
});
