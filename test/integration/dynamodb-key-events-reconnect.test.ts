import { QueryCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { linkKeyEvents } from '../../src/client/key-event-link.js';
import { createFieldseal, isFieldsealError } from '../../src/index.js';
import { DynamoKeyStore, dynamoKeyEvents } from '../../src/dynamodb/index.js';
import type { KeyEventBusState } from '../../src/keys/key-events.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';
import { describeDynamo, startDynamoLocal, type DynamoLocal } from './dynamodb-local.js';

/*
 * Issue #11, defect 8, for the DynamoDB poller on DynamoDB Local: while its polls fail the bus
 * reports 'disconnected' (and a linked client stops caching), it retries with backoff, reports
 * 'connected' at the first good poll, and a shred published during the outage still arrives.
 */

const TABLE = 'fieldseal-keys-events-reconnect';
const ctx = (tenant: string) => ({ tenant, table: 'users', field: 'email', record: 'r1' });

/** Resolve once `check` holds (polling every 10 ms); fail after `ms`. */
async function until(check: () => boolean | Promise<boolean>, what: string, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A real client whose event polls (Query) fail while `failing` is set. */
function flakyClient(real: DynamoDBClient): {
  client: DynamoDBClient;
  fail: (on: boolean) => void;
} {
  let failing = false;
  const send = real.send.bind(real) as (command: unknown) => Promise<unknown>;
  const client = new Proxy(real, {
    get(target, prop, receiver) {
      if (prop !== 'send') return Reflect.get(target, prop, receiver) as unknown;
      return (command: unknown) => {
        if (failing && command instanceof QueryCommand) {
          return Promise.reject(
            Object.assign(new Error('connect ECONNREFUSED'), { name: 'ECONNREFUSED' }),
          );
        }
        return send(command);
      };
    },
  });
  return { client, fail: (on) => (failing = on) };
}

describeDynamo('dynamoKeyEvents with failing polls (DynamoDB Local)', () => {
  let local: DynamoLocal;
  const provider = new MemoryKeyProvider();
  const closers: (() => void)[] = [];

  beforeAll(async () => {
    local = await startDynamoLocal();
    const c = local.client();
    await new DynamoKeyStore({ client: c, tableName: TABLE }).createTable();
    c.destroy();
  }, 60_000);
  afterAll(async () => {
    for (const close of closers.reverse()) close();
    await local?.stop();
  });

  it('reports the outage, retries, and delivers a shred published during it', async () => {
    const real = local.client();
    const flaky = flakyClient(real);
    const events = dynamoKeyEvents({
      client: flaky.client,
      tableName: TABLE,
      pollIntervalMs: 50,
      reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    });
    const fs = createFieldseal({
      admin: true,
      provider,
      keys: {
        mode: 'store',
        store: new DynamoKeyStore({ client: real, tableName: TABLE }),
        masterKeyId: 'master',
      },
      cache: { maxAgeMs: 10 * 60_000 },
      keyEvents: events,
    });
    const states: KeyEventBusState[] = [];
    events.onConnectionChange((s) => states.push(s));
    const calls: string[] = [];
    const unlink = linkKeyEvents(events, {
      purgeTenant: () => undefined,
      purgeAll: () => calls.push('purgeAll'),
      setCaching: (on) => calls.push(`setCaching ${on}`),
      recordBusState: () => undefined,
    });
    const other = local.client();
    const otherEvents = dynamoKeyEvents({ client: other, tableName: TABLE, pollIntervalMs: 50 });
    const publisher = createFieldseal({
      admin: true,
      provider,
      keys: {
        mode: 'store',
        store: new DynamoKeyStore({ client: other, tableName: TABLE }),
        masterKeyId: 'master',
      },
      cache: { maxAgeMs: 10 * 60_000 },
      keyEvents: otherEvents,
    });
    closers.push(
      () => real.destroy(),
      () => other.destroy(),
      () => events.close(),
      () => otherEvents.close(),
      () => fs.close(),
      () => publisher.close(),
      unlink,
    );
    await events.ready;
    await publisher.provisionTenant('doomed');
    const stored = await publisher.encrypt('secret', ctx('doomed'));
    expect(await fs.decrypt(stored, ctx('doomed'))).toBe('secret'); // warm for 10 minutes

    flaky.fail(true);
    await until(() => events.state === 'disconnected', 'a failed poll is reported');
    expect(states).toEqual(['disconnected']);
    expect(calls).toEqual(['setCaching false', 'purgeAll']);
    await publisher.shredTenant('doomed'); // published while this process cannot poll

    flaky.fail(false);
    await until(() => events.state === 'connected', 'the next good poll is reported');
    expect(states).toEqual(['disconnected', 'connected']);
    expect(calls).toEqual(['setCaching false', 'purgeAll', 'purgeAll', 'setCaching true']);
    await until(
      () =>
        fs.decrypt(stored, ctx('doomed')).then(
          () => false,
          (e: unknown) => isFieldsealError(e) && e.code === 'ERR_KEY_SHREDDED',
        ),
      'the shred published during the outage arrived',
    );
  });
});
