import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { createFieldseal, defineModel, field, isFieldsealError } from '../../src/index.js';
import { createDynamoRepository } from '../../src/dynamodb/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';
import { describeDynamo, startDynamoLocal, type DynamoLocal } from './dynamodb-local.js';

/**
 * The AAD binds tenant, table, attribute and the item's partition + sort key; everything that
 * can fail on a write fails before any request reaches DynamoDB Local; the 400 KB item limit.
 */
const Account = defineModel({
  table: 'accounts',
  tenant: 'tenantId',
  key: ['pk', 'sk'],
  fields: {
    pk: field.string(),
    sk: field.number(),
    tenantId: field.string(),
    email: field.string().encrypted({ pad: 'bucket-16' }),
    name: field.string().encrypted(),
    blob: field.bytes().encrypted().optional(),
  },
});
const TABLE = 'accounts-tamper';
const CANARY = 'CANARY-7731-secret';

describeDynamo('DynamoDB repository: tampering, fail-closed writes, item size', () => {
  let local: DynamoLocal;
  let client: DynamoDBClient;
  let requests = 0;
  const provider = new MemoryKeyProvider();
  const store = new MemoryKeyStore();
  const fsFor = (fields: Record<string, object> = Account.policies) =>
    createFieldseal({
      admin: true,
      provider,
      keys: { mode: 'store', store, masterKeyId: 'master' },
      cache: { maxAgeMs: 60_000 },
      fields,
    });
  const repoFor = (fs = fsFor()) =>
    createDynamoRepository({
      client,
      fs,
      model: Account,
      tableName: TABLE,
      keys: { partition: 'pk', sort: 'sk' },
    });
  const rawGet = async (pk: string, sk: number) =>
    (
      await client.send(
        new GetItemCommand({ TableName: TABLE, Key: { pk: { S: pk }, sk: { N: String(sk) } } }),
      )
    ).Item!;
  const rawPut = (item: Record<string, object>) =>
    client.send(new PutItemCommand({ TableName: TABLE, Item: item as never }));
  const failure = async (p: Promise<unknown>) => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!isFieldsealError(err)) throw new Error(`expected a FieldsealError, got ${String(err)}`);
    expect(JSON.stringify(err)).not.toContain(CANARY);
    expect(err.message).not.toContain(CANARY);
    return err;
  };

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
    const fs = fsFor();
    await fs.provisionTenant('acme');
    await fs.provisionTenant('globex');
    await repoFor().createTable();
    const repo = repoFor();
    await repo.save({ pk: 'acme#a', sk: 1, tenantId: 'acme', email: CANARY, name: 'Ada' });
    await repo.save({ pk: 'acme#a', sk: 2, tenantId: 'acme', email: 'b@x', name: 'Bob' });
    await repo.save({ pk: 'globex#a', sk: 1, tenantId: 'globex', email: 'g@x', name: 'Gus' });
  });
  afterAll(async () => {
    client?.destroy();
    await local?.stop();
  });

  it('an attribute copied to another item (other sort key) fails, naming the field', async () => {
    const one = await rawGet('acme#a', 1);
    const two = await rawGet('acme#a', 2);
    await rawPut({ ...two, email: one.email! });
    const err = await failure(repoFor().get('acme', { pk: 'acme#a', sk: 2 }));
    expect(err.code).toBe('ERR_AUTHENTICATION_FAILED');
    expect(err.details.field).toBe('accounts.email');
  });

  it('a whole item copied under another partition key fails', async () => {
    await rawPut({ ...(await rawGet('acme#a', 1)), pk: { S: 'acme#b' } });
    const err = await failure(repoFor().get('acme', { pk: 'acme#b', sk: 1 }));
    expect(err.code).toBe('ERR_AUTHENTICATION_FAILED');
    expect(err.details.field).toBe('accounts.email');
  });

  it('an attribute copied to another attribute of the same item fails', async () => {
    const one = await rawGet('acme#a', 1);
    await rawPut({ ...one, name: one.email! });
    const err = await failure(repoFor().get('acme', { pk: 'acme#a', sk: 1 }));
    expect(err.code).toBe('ERR_AUTHENTICATION_FAILED');
    expect(err.details.field).toBe('accounts.name');
  });

  it('an attribute copied to another tenant’s item, or an item relabelled, fails', async () => {
    const acme = await rawGet('acme#a', 2);
    const globex = await rawGet('globex#a', 1);
    await rawPut({ ...globex, name: acme.name! });
    const err = await failure(repoFor().get('globex', { pk: 'globex#a', sk: 1 }));
    expect(err.details.field).toBe('accounts.name');
    await rawPut({ ...acme, sk: { N: '4' }, tenantId: { S: 'globex' } });
    await rawPut({ ...acme, pk: { S: 'globex#a' }, sk: { N: '2' }, tenantId: { S: 'globex' } });
    const moved = await failure(repoFor().get('globex', { pk: 'globex#a', sk: 2 }));
    expect(moved.details.field).toBe('accounts.email');
  });

  it('query reports the failing item of a page as a typed error', async () => {
    const err = await failure(repoFor().query('acme', 'acme#a'));
    expect(err.code).toBe('ERR_BATCH_FAILED');
    const failures = (err as unknown as { failures: { index: number; error: Error }[] }).failures;
    expect(failures.length).toBeGreaterThan(0);
    for (const f of failures) expect(isFieldsealError(f.error)).toBe(true);
  });

  it('a client without the model policies fails before any DynamoDB request', async () => {
    const repo = repoFor(fsFor({}));
    const before = requests;
    const err = await failure(
      repo.save({ pk: 'acme#z', sk: 1, tenantId: 'acme', email: CANARY, name: 'Zed' }),
    );
    expect(err.code).toBe('ERR_KEY_NOT_CONFIGURED');
    expect(err.details.field).toBe('accounts.email');
    expect(requests).toBe(before);
  });

  it('a tenant without a data key fails before any DynamoDB request', async () => {
    const before = requests;
    const err = await failure(
      repoFor().save({ pk: 'nokey#z', sk: 1, tenantId: 'nokey', email: CANARY, name: 'Zed' }),
    );
    expect(err.code).toBe('ERR_KEY_NOT_CONFIGURED'); // no data key for the tenant
    expect(err.details.field).toBe('accounts.email');
    expect(requests).toBe(before);
    expect(await rawGet('nokey#z', 1).catch(() => undefined)).toBeUndefined();
  });

  it('round-trips a 350 KB encrypted attribute', async () => {
    const blob = Buffer.alloc(350 * 1024);
    for (let i = 0; i < blob.length; i++) blob[i] = (i * 31) & 0xff;
    const record = { pk: 'acme#big', sk: 1, tenantId: 'acme', email: 'e', name: 'n', blob };
    await repoFor().save(record);
    expect(await repoFor().get('acme', { pk: 'acme#big', sk: 1 })).toEqual(record);
    expect((await rawGet('acme#big', 1)).blob!.B!.byteLength).toBeGreaterThan(350 * 1024);
  });

  it('refuses an item over 400 KB after encryption, naming the attribute, before any request', async () => {
    const before = requests;
    const blob = Buffer.alloc(400 * 1024 - 60);
    const err = await failure(
      repoFor().save({ pk: 'acme#big', sk: 2, tenantId: 'acme', email: 'e', name: 'n', blob }),
    );
    expect(err.code).toBe('ERR_VALUE_TOO_LARGE');
    expect(err.details.field).toBe('accounts.blob');
    expect(err.message).toContain('blob');
    expect(requests).toBe(before);
  });

  it('updates encrypted and plain attributes; the result comes back decrypted', async () => {
    const repo = repoFor();
    await repo.save({ pk: 'acme#u', sk: 1, tenantId: 'acme', email: 'old@x', name: 'Old' });
    const key = { pk: 'acme#u', sk: 1 };
    const updated = await repo.update('acme', key, { email: CANARY, blob: Buffer.from([1, 2]) });
    const expected = {
      ...key,
      tenantId: 'acme',
      email: CANARY,
      name: 'Old',
      blob: Buffer.from([1, 2]),
    };
    expect(updated).toEqual(expected);
    expect(await repoFor().get('acme', key)).toEqual(expected);
    expect((await rawGet('acme#u', 1)).email!.B).toBeInstanceOf(Uint8Array);
    expect(await repo.update('acme', key, { blob: undefined })).toEqual({
      ...expected,
      blob: undefined,
    });
    expect(await repoFor().get('acme', key)).toEqual({
      ...key,
      tenantId: 'acme',
      email: CANARY,
      name: 'Old',
    });
  });

  it('an updated attribute is bound to its item like a saved one', async () => {
    const repo = repoFor();
    await repo.save({ pk: 'acme#u', sk: 2, tenantId: 'acme', email: 'two@x', name: 'Two' });
    await repo.update('acme', { pk: 'acme#u', sk: 1 }, { name: 'One' });
    await rawPut({ ...(await rawGet('acme#u', 2)), name: (await rawGet('acme#u', 1)).name! });
    const err = await failure(repo.get('acme', { pk: 'acme#u', sk: 2 }));
    expect(err.code).toBe('ERR_AUTHENTICATION_FAILED');
    expect(err.details.field).toBe('accounts.name');
  });

  it('update touches only an existing item of the tenant, and fails closed before any request', async () => {
    const repo = repoFor();
    expect(await repo.update('globex', { pk: 'acme#u', sk: 1 }, { name: 'X' })).toBeUndefined();
    expect(await repo.update('acme', { pk: 'acme#none', sk: 1 }, { name: 'X' })).toBeUndefined();
    expect(await rawGet('acme#none', 1).catch(() => undefined)).toBeUndefined();
    const before = requests;
    const err = await failure(
      repoFor(fsFor({})).update('acme', { pk: 'acme#u', sk: 1 }, { email: CANARY }),
    );
    expect(err.code).toBe('ERR_KEY_NOT_CONFIGURED');
    const noKey = await failure(repo.update('nokey', { pk: 'acme#u', sk: 1 }, { email: CANARY }));
    expect(noKey.details.field).toBe('accounts.email');
    await expect(
      repo.update('acme', { pk: 'acme#u', sk: 1 }, { tenantId: 'globex' }),
    ).rejects.toThrow('the tenant and key fields cannot be updated');
    await expect(
      repo.update('acme', { pk: 'acme#u', sk: 1 }, { name: null as unknown as string }),
    ).rejects.toMatchObject({ code: 'ERR_UNSUPPORTED_VALUE' });
    expect(requests).toBe(before);
  });

  it('logs nothing on failures', async () => {
    const methods = ['log', 'info', 'warn', 'error', 'debug'] as const;
    const spies = methods.map((m) => vi.spyOn(console, m));
    try {
      await failure(
        repoFor(fsFor({})).save({
          pk: 'acme#l',
          sk: 1,
          tenantId: 'acme',
          email: CANARY,
          name: 'n',
        }),
      );
      await failure(repoFor().get('acme', { pk: 'acme#a', sk: 2 }));
      await failure(repoFor().query('acme', 'acme#a'));
      for (const spy of spies) expect(spy).not.toHaveBeenCalled();
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });
});
