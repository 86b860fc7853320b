import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  createFieldseal,
  defineModel,
  field,
  isFieldsealError,
  type FieldsealError,
  type InferRecord,
} from '../../src/index.js';
import { createDynamoRepository } from '../../src/dynamodb/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';
import { describeDynamo, startDynamoLocal, type DynamoLocal } from './dynamodb-local.js';

/** ReturnValues, conditions, increments and tenant-safe deletes against DynamoDB Local. */
const Account = defineModel({
  table: 'accounts',
  tenant: 'tenantId',
  key: ['pk', 'sk'],
  fields: {
    pk: field.string(),
    sk: field.string(),
    tenantId: field.string(),
    version: field.number(),
    logins: field.bigint().optional(),
    plan: field.string().nullable(),
    email: field.string().encrypted(),
    token: field.string().encrypted({ storage: 'text' }).optional(),
  },
});
type AccountRecord = InferRecord<typeof Account>;

const CANARY = 'canary-7f3a@plaintext.example';

function account(tenant: string, sk: string, extra: Partial<AccountRecord> = {}): AccountRecord {
  return {
    pk: 'shared', // both tenants' items in one partition: the tenant guard must hold
    sk,
    tenantId: tenant,
    version: 1,
    plan: 'free',
    email: `${sk}@${tenant}.example`,
    ...extra,
  };
}

async function failure(p: Promise<unknown>): Promise<FieldsealError> {
  try {
    await p;
  } catch (err) {
    if (isFieldsealError(err)) return err;
    throw err;
  }
  throw new Error('expected a failure');
}

describeDynamo('DynamoDB repository writes (DynamoDB Local)', () => {
  let local: DynamoLocal;
  let client: DynamoDBClient;
  let requests = 0;
  const provider = new MemoryKeyProvider();
  const store = new MemoryKeyStore();
  const fs = createFieldseal({
    admin: true,
    provider,
    keys: { mode: 'store', store, masterKeyId: 'master' },
    cache: { maxAgeMs: 60_000 },
    fields: { ...Account.policies },
  });
  const repo = () =>
    createDynamoRepository({
      client,
      fs,
      model: Account,
      tableName: 'accounts-w',
      keys: { partition: 'pk', sort: 'sk' },
    });
  const raw = async (sk: string) =>
    (
      await client.send(
        new GetItemCommand({
          TableName: 'accounts-w',
          Key: { pk: { S: 'shared' }, sk: { S: sk } },
          ConsistentRead: true,
        }),
      )
    ).Item;

  beforeAll(async () => {
    local = await startDynamoLocal();
    client = local.client();
    client.middlewareStack.add(
      (next) => async (args) => {
        requests++;
        return next(args);
      },
      { step: 'initialize', name: 'countRequests' },
    );
    await fs.provisionTenant('acme');
    await fs.provisionTenant('globex');
    await repo().createTable();
  });
  afterAll(async () => {
    client?.destroy();
    await local?.stop();
  });

  it('save returns the replaced item decrypted with returnOld, undefined otherwise', async () => {
    const r = repo();
    expect(await r.save(account('acme', 's1'), { returnOld: true })).toBeUndefined();
    const next = account('acme', 's1', { email: CANARY, version: 2 });
    expect(await r.save(next, { returnOld: true })).toEqual(account('acme', 's1'));
    expect(await r.save(account('acme', 's1', { version: 3 }))).toBeUndefined();
    expect((await r.get('acme', { pk: 'shared', sk: 's1' }))?.version).toBe(3);
  });

  it("save never replaces another tenant's item, and its error holds nothing of it", async () => {
    const r = repo();
    await r.save(account('globex', 's2', { email: CANARY }));
    const before = await raw('s2');
    const err = await failure(r.save(account('acme', 's2'), { returnOld: true }));
    expect(err.code).toBe('ERR_CONDITION_FAILED');
    expect(err.message).toContain('another tenant');
    expect(err.cause).toBeUndefined();
    expect(JSON.stringify(err) + String(err.stack)).not.toContain(CANARY);
    expect(await raw('s2')).toEqual(before);
    // a transaction put is guarded the same way
    await expect(r.transactWrite([{ put: account('acme', 's2') }])).rejects.toThrow();
    expect(await raw('s2')).toEqual(before);
  });

  it('ifAbsent creates only, in save and in transactions', async () => {
    const r = repo();
    await r.save(account('acme', 's3'), { ifAbsent: true });
    const err = await failure(r.save(account('acme', 's3', { version: 9 }), { ifAbsent: true }));
    expect(err.code).toBe('ERR_CONDITION_FAILED');
    expect(err.message).toContain('exists');
    await expect(
      r.transactWrite([{ put: account('acme', 's3', { version: 9 }), ifAbsent: true }]),
    ).rejects.toThrow();
    expect((await r.get('acme', { pk: 'shared', sk: 's3' }))?.version).toBe(1);
  });

  it('a condition of yours: optimistic locking with increment', async () => {
    const r = repo();
    await r.save(account('acme', 's4'));
    const key = { pk: 'shared', sk: 's4' };
    const updated = await r.update(
      'acme',
      key,
      { email: 'new@acme.example' },
      { condition: { equals: { version: 1 } }, increment: { version: 1 } },
    );
    expect(updated).toMatchObject({ version: 2, email: 'new@acme.example' });
    // a stale writer (still at version 1) fails, and nothing changed
    const err = await failure(
      r.update(
        'acme',
        key,
        { email: CANARY },
        { condition: { equals: { version: 1 } }, increment: { version: 1 } },
      ),
    );
    expect(err.code).toBe('ERR_CONDITION_FAILED');
    expect(JSON.stringify(err)).not.toContain('new@acme');
    expect(await r.get('acme', key)).toMatchObject({ version: 2, email: 'new@acme.example' });
    // an absent item and another tenant's item are still just undefined
    expect(
      await r.update(
        'acme',
        { pk: 'shared', sk: 'nope' },
        { plan: 'x' },
        { condition: { equals: { version: 2 } } },
      ),
    ).toBeUndefined();
    expect(
      await r.update('globex', key, { plan: 'x' }, { condition: { equals: { version: 2 } } }),
    ).toBeUndefined();
    expect(await raw('nope')).toBeUndefined();
  });

  it('increments plain numbers and bigints server-side, starting from 0 when absent', async () => {
    const r = repo();
    await r.save(account('acme', 's5'));
    const key = { pk: 'shared', sk: 's5' };
    await r.update('acme', key, {}, { increment: { logins: 1n } });
    await Promise.all(
      Array.from({ length: 10 }, () =>
        r.update('acme', key, {}, { increment: { logins: 10n ** 20n } }),
      ),
    );
    const after = await r.update('acme', key, {}, { increment: { version: 0.5 } });
    expect(after).toMatchObject({ logins: 10n ** 21n + 1n, version: 1.5 });
  });

  it('refuses increments and equality conditions on encrypted fields before any request', async () => {
    const r = repo();
    const key = { pk: 'shared', sk: 's5' };
    const before = requests;
    await expect(r.update('acme', key, {}, { increment: { email: 1 } })).rejects.toThrow(
      /encrypted/,
    );
    await expect(
      r.update('acme', key, { plan: 'x' }, { condition: { equals: { email: CANARY } } }),
    ).rejects.toThrow(/encrypted/);
    await expect(
      r.save(account('acme', 's5'), { condition: { equals: { token: CANARY } } }),
    ).rejects.toThrow(/randomised/);
    await expect(
      r.update('acme', key, { version: 3 }, { increment: { version: 1 } }),
    ).rejects.toThrow(/also in the changes/);
    await expect(r.update('acme', key, {}, { increment: { version: 1n } })).rejects.toThrow(
      TypeError,
    );
    expect(requests).toBe(before);
    for (const p of [
      r.update('acme', key, {}, { increment: { email: 1 } }),
      r.update('acme', key, { plan: 'x' }, { condition: { equals: { email: CANARY } } }),
    ]) {
      const message = await p.then(
        () => '',
        (e: unknown) => String(e),
      );
      expect(message).not.toContain(CANARY);
    }
  });

  it('exists / notExists conditions test presence, encrypted attributes included', async () => {
    const r = repo();
    await r.save(account('acme', 's6'));
    const key = { pk: 'shared', sk: 's6' };
    const err = await failure(
      r.update('acme', key, { plan: 'pro' }, { condition: { exists: ['token'] } }),
    );
    expect(err.code).toBe('ERR_CONDITION_FAILED');
    await r.update('acme', key, { token: 'tok-1' }, { condition: { notExists: ['token'] } });
    expect(
      await r.update('acme', key, { plan: 'pro' }, { condition: { exists: ['token'] } }),
    ).toMatchObject({
      plan: 'pro',
      token: 'tok-1',
    });
    expect((await raw('s6'))?.token?.S?.startsWith('fs1:')).toBe(true);
  });

  it('update returns the old item with ALL_OLD', async () => {
    const r = repo();
    await r.save(account('acme', 's7', { token: 'old-token' }));
    const old = await r.update(
      'acme',
      { pk: 'shared', sk: 's7' },
      { token: undefined, plan: null },
      { returnValues: 'ALL_OLD' },
    );
    expect(old).toMatchObject({ token: 'old-token', plan: 'free' });
    const now = await r.get('acme', { pk: 'shared', sk: 's7' });
    expect(now?.token).toBeUndefined();
    expect(now?.plan).toBeNull();
  });

  it('delete returns the deleted item with returnOld, and honours conditions and tenants', async () => {
    const r = repo();
    await r.save(account('acme', 's8', { email: CANARY }));
    const key = { pk: 'shared', sk: 's8' };
    expect(await r.delete('globex', key, { returnOld: true })).toBeUndefined();
    expect(await r.delete('globex', key)).toBe(false);
    const err = await failure(r.delete('acme', key, { condition: { equals: { version: 5 } } }));
    expect(err.code).toBe('ERR_CONDITION_FAILED');
    expect(
      await r.delete('acme', key, { returnOld: true, condition: { equals: { version: 1 } } }),
    ).toEqual(account('acme', 's8', { email: CANARY }));
    expect(await r.delete('acme', key, { returnOld: true })).toBeUndefined();
    expect(await r.delete('acme', key)).toBe(false);
  });

  it("deleteMany deletes the tenant's items only, aligned with the keys", async () => {
    const r = repo();
    const mine = Array.from({ length: 30 }, (_, i) => account('acme', `m${i}`));
    const theirs = Array.from({ length: 5 }, (_, i) => account('globex', `t${i}`));
    await r.batchWrite([...mine, ...theirs]);
    const keys = [
      ...mine.map((a) => ({ pk: a.pk, sk: a.sk })),
      ...theirs.map((a) => ({ pk: a.pk, sk: a.sk })),
      { pk: 'shared', sk: 'absent' },
    ];
    const result = await r.deleteMany('acme', keys, { concurrency: 4 });
    expect(result).toEqual([...mine.map(() => true), ...theirs.map(() => false), false]);
    for (const a of theirs) expect(await raw(a.sk)).toBeDefined();
    for (const a of mine.slice(0, 3)) expect(await raw(a.sk)).toBeUndefined();
    const before = requests;
    await expect(
      r.deleteMany('acme', [{ pk: 'shared', sk: 'x' }, { pk: 'shared' }]),
    ).rejects.toThrow(TypeError);
    expect(requests).toBe(before);
  });
});
