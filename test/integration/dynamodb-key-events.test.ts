import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createFieldseal, isFieldsealError, type Fieldseal } from '../../src/index.js';
import { DynamoKeyStore, dynamoKeyEvents, type DynamoKeyEvents } from '../../src/dynamodb/index.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';
import { describeDynamo, startDynamoLocal, type DynamoLocal } from './dynamodb-local.js';

/*
 * dynamoKeyEvents: a shred or a retirement in one "process" (its own DynamoDB client, key
 * store, event poller and cache) reaches another whose cache holds the tenant's key for 10
 * minutes, within the poll interval, through DynamoDB Local only.
 */

const TABLE = 'fieldseal-keys-events';
const ctx = (tenant: string) => ({ tenant, table: 'users', field: 'email', record: 'r1' });

describeDynamo('dynamoKeyEvents (DynamoDB Local)', () => {
  let local: DynamoLocal;
  const provider = new MemoryKeyProvider();
  const opened: { fs: Fieldseal; events: DynamoKeyEvents; destroy: () => void }[] = [];

  /** One "process": its own client, store, events and 10-minute cache. */
  const process = () => {
    const client = local.client();
    const events = dynamoKeyEvents({ client, tableName: TABLE, pollIntervalMs: 100 });
    const fs = createFieldseal({
      admin: true,
      provider,
      keys: {
        mode: 'store',
        store: new DynamoKeyStore({ client, tableName: TABLE }),
        masterKeyId: 'master',
      },
      cache: { maxAgeMs: 10 * 60_000 },
      keyEvents: events,
    });
    const p = {
      fs,
      events,
      destroy: () => {
        events.close();
        fs.close();
        client.destroy();
      },
    };
    opened.push(p);
    return p;
  };

  /** Milliseconds until `check` holds (polling every 10 ms), or fail after 5 s. */
  const until = async (check: () => Promise<boolean>): Promise<number> => {
    const started = Date.now();
    while (!(await check())) {
      if (Date.now() - started > 5000) throw new Error('not within 5 s');
      await new Promise((r) => setTimeout(r, 10));
    }
    return Date.now() - started;
  };
  const code = (p: Promise<unknown>) =>
    p.then(
      () => 'ok',
      (e: unknown) => (isFieldsealError(e) ? e.code : String(e)),
    );

  beforeAll(async () => {
    local = await startDynamoLocal();
    const c = local.client();
    await new DynamoKeyStore({ client: c, tableName: TABLE }).createTable();
    c.destroy();
  }, 60_000);
  afterAll(async () => {
    for (const p of opened) p.destroy();
    await local?.stop();
  });

  it('a shred in one process reaches a warm cache in another within the poll interval', async () => {
    const a = process();
    const b = process();
    await Promise.all([a.events.ready, b.events.ready]);
    await a.fs.provisionTenant('doomed');
    await a.fs.provisionTenant('kept');
    const doomed = await a.fs.encrypt('secret', ctx('doomed'));
    const kept = await a.fs.encrypt('other', ctx('kept'));
    expect(await b.fs.decrypt(doomed, ctx('doomed'))).toBe('secret'); // b's cache is warm
    const unwraps = provider.calls.unwrap;
    expect(await b.fs.decrypt(doomed, ctx('doomed'))).toBe('secret');
    expect(provider.calls.unwrap).toBe(unwraps); // served from b's cache
    await a.fs.shredTenant('doomed');
    const ms = await until(async () => (await code(b.fs.decrypt(doomed, ctx('doomed')))) !== 'ok');
    expect(await code(b.fs.decrypt(doomed, ctx('doomed')))).toBe('ERR_KEY_SHREDDED');
    expect(await b.fs.decrypt(kept, ctx('kept'))).toBe('other');
    console.info(`shred reached the other process's cache in ${ms} ms (poll interval 100 ms)`);
    expect(ms).toBeLessThan(2000);
  });

  it('a retirement reaches the other process too, and events are stored apart from tenants', async () => {
    const a = process();
    const b = process();
    await Promise.all([a.events.ready, b.events.ready]);
    await a.fs.provisionTenant('acme');
    const old = await a.fs.encrypt('v1 value', ctx('acme'));
    await a.fs.rotateTenantKey('acme');
    expect(await b.fs.decrypt(old, ctx('acme'))).toBe('v1 value');
    await a.fs.retireKeyVersions('acme', 2);
    await until(async () => (await code(b.fs.decrypt(old, ctx('acme')))) === 'ERR_KEY_RETIRED');
    const c = local.client();
    const events = await c.send(
      new QueryCommand({
        TableName: TABLE,
        KeyConditionExpression: 'pk = :p',
        ExpressionAttributeValues: { ':p': { S: 'E#events' } },
      }),
    );
    c.destroy();
    expect(events.Items?.map((i) => `${i.kind?.S}:${i.tenant?.S}`)).toEqual(
      expect.arrayContaining(['shred:doomed', 'keys-changed:acme']),
    );
    expect(JSON.stringify(events.Items)).not.toContain('secret');
    // the store never lists the events partition as a tenant's versions
    expect(
      await new DynamoKeyStore({ client: local.client(), tableName: TABLE }).listVersions('acme'),
    ).toHaveLength(2);
  });

  it('checks its options', () => {
    const client = local.client();
    expect(() => dynamoKeyEvents({ client, tableName: TABLE, pollIntervalMs: 0 })).toThrow(
      TypeError,
    );
    expect(() => dynamoKeyEvents({ client, tableName: '' })).toThrow(TypeError);
    client.destroy();
  });
});
