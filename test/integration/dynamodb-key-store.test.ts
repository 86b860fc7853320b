import { randomBytes, randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import {
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFieldseal, type KeyContext, type NewKeyVersion } from '../../src/index.js';
import { DynamoKeyStore } from '../../src/dynamodb/key-store/index.js';
import { MemoryKeyProvider, runKeyStoreSuite } from '../../src/testing/index.js';
import {
  describeDynamo,
  SKIP_DYNAMODB_LOCAL,
  startDynamoLocal,
  type DynamoLocal,
} from './dynamodb-local.js';

/*
 * DynamoKeyStore against DynamoDB Local (spawned once for this file by startDynamoLocal, on a
 * random loopback port). One table serves every test: tenants are unique per test.
 */
const TABLE = 'fieldseal-keys';
const tenant = (): string => `t-${randomUUID()}`;
/** A version as a provider named "memory" would wrap it: 73 bytes of `fill`. */
const row = (t: string, version: number, fill = version, keyId = 'k'): NewKeyVersion => {
  const wrapped = new Uint8Array(73).fill(fill);
  return { tenant: t, keyId, version, providerId: 'memory', masterKeyId: 'master', wrapped };
};

let local: DynamoLocal | undefined;
const clients: DynamoDBClient[] = [];
/** A store on its own SDK client (its own connections), as separate processes would have. */
const openStore = (): DynamoKeyStore => {
  const client = local!.client();
  clients.push(client);
  return new DynamoKeyStore({ client, tableName: TABLE });
};
let store: DynamoKeyStore;

beforeAll(async () => {
  if (SKIP_DYNAMODB_LOCAL) return; // the suites that use it are skipped
  local = await startDynamoLocal();
  console.info(`DynamoDB Local answered after ${local.startMs} ms`);
  store = openStore();
  await store.createTable();
  await store.createTable(); // idempotent
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await local?.stop();
});

describeDynamo('on DynamoDB Local', () => {
  runKeyStoreSuite(
    { describe, it, beforeAll, afterAll },
    'DynamoKeyStore on DynamoDB Local',
    () => store,
  );
});

const raw = async (t: string, sk: string) =>
  (
    await clients[0]!.send(
      new GetItemCommand({
        TableName: TABLE,
        Key: { pk: { S: `T#${t}` }, sk: { S: sk } },
        ConsistentRead: true,
      }),
    )
  ).Item;
const versionSk = (v: number, keyId = 'k') =>
  `K#${keyId.length}:${keyId}#V#${String(v).padStart(10, '0')}`;
const headSk = (keyId = 'k') => `K#${keyId.length}:${keyId}#H`;
const activeOf = async (t: string) =>
  (await store.listVersions(t)).filter((r) => r.state === 'active').map((r) => r.version);

describeDynamo('DynamoKeyStore: races between separate clients', () => {
  it('12 concurrent first versions (different version numbers): exactly one wins', async () => {
    const t = tenant();
    const stores = Array.from({ length: 12 }, openStore);
    const results = await Promise.all(
      stores.map((s, i) => s.createVersion(row(t, i + 1, i + 1), null)),
    );
    const winners = results.filter((r) => r !== undefined);
    expect(winners).toHaveLength(1);
    expect(await activeOf(t)).toEqual([winners[0]!.version]);
    // Losers left no version item behind.
    expect(await store.listVersions(t)).toHaveLength(1);
  });

  it('16 concurrent rotations from the same expected version: exactly one wins, one active', async () => {
    const t = tenant();
    await store.createVersion(row(t, 1), null);
    const stores = Array.from({ length: 16 }, openStore);
    for (let round = 1; round <= 5; round++) {
      const results = await Promise.all(
        stores.map((s, i) => s.createVersion(row(t, round + 1, i + 1), round)),
      );
      const winners = results.filter((r) => r !== undefined);
      expect(winners).toHaveLength(1);
      const active = (await store.getActiveVersion(t, 'k'))!;
      expect(active.version).toBe(round + 1);
      // The stored bytes are the winner's.
      expect(Buffer.from(active.wrapped).equals(Buffer.from(winners[0]!.wrapped))).toBe(true);
      expect(await activeOf(t)).toEqual([round + 1]);
      expect((await store.getVersion(t, 'k', round))?.state).toBe('decrypt-only');
    }
  });

  it('rotate-vs-retire, 40 rounds on two clients: never zero active, never a retired active', async () => {
    const t = tenant();
    const rotator = openStore();
    const retirer = openStore();
    await store.createVersion(row(t, 1), null);
    let refused = 0;
    let retiredCount = 0;
    for (let v = 1; v <= 40; v++) {
      const retire = retirer.retireVersions(t, 'k', v + 1).then(
        (versions) => ({ ok: true as const, versions }),
        (err: unknown) => ({ ok: false as const, err }),
      );
      const [rotated, retired] = await Promise.all([
        rotator.createVersion(row(t, v + 1), v),
        retire,
      ]);
      expect(rotated?.state).toBe('active');
      if (retired.ok) {
        retiredCount++;
        expect(retired.versions).toContain(v);
      } else {
        refused++;
        expect(retired.err).toMatchObject({ code: 'ERR_KEY_VERSION_ACTIVE' });
      }
      const rows = await store.listVersions(t);
      expect(rows.filter((r) => r.state === 'active').map((r) => r.version)).toEqual([v + 1]);
      expect(rows.every((r) => r.state === 'active' || r.version <= v)).toBe(true);
    }
    expect(refused + retiredCount).toBe(40);
    console.info(
      `rotate-vs-retire: ${retiredCount} retired after the rotation, ${refused} refused before it`,
    );
  });

  it('chaos, 25 rounds: two rotators (one stale), a retirer and a reinstater on four clients', async () => {
    const t = tenant();
    const [fresh, stale, retirer, reinstater] = [
      openStore(),
      openStore(),
      openStore(),
      openStore(),
    ];
    await store.createVersion(row(t, 1), null);
    let active = 1;
    for (let round = 0; round < 25; round++) {
      const settle = <T>(p: Promise<T>) => p.catch((err: unknown) => err);
      const [won, lost, retired] = await Promise.all([
        fresh.createVersion(row(t, active + 1, 0x10), active),
        stale.createVersion(row(t, active + 1, 0x20), active - 1),
        settle(retirer.retireVersions(t, 'k', active + 1)),
        settle(reinstater.reinstateVersion(t, 'k', Math.max(1, active - 1))),
      ]);
      expect(won?.version).toBe(active + 1);
      expect(lost).toBeUndefined();
      if (Array.isArray(retired)) expect(retired).not.toContain(active + 1);
      else expect(retired).toMatchObject({ code: 'ERR_KEY_VERSION_ACTIVE' });
      active += 1;
      const rows = await store.listVersions(t);
      expect(rows.filter((r) => r.state === 'active').map((r) => r.version)).toEqual([active]);
      expect(Math.max(...rows.map((r) => r.version))).toBe(active);
      expect(Buffer.from((await store.getActiveVersion(t, 'k'))!.wrapped)[0]).toBe(0x10);
    }
  });

  it('a shred racing rotations leaves every version shredded and no active version', async () => {
    for (let round = 0; round < 6; round++) {
      const t = tenant();
      await store.createVersion(row(t, 1), null);
      await store.createVersion(row(t, 2), 1);
      const [rotator, shredder] = [openStore(), openStore()];
      const [, shredded] = await Promise.all([
        rotator.createVersion(row(t, 3), 2),
        shredder.shredTenant(t),
      ]);
      const rows = await store.listVersions(t);
      expect(rows.every((r) => r.state === 'shredded' && r.wrapped.byteLength === 0)).toBe(true);
      expect(shredded.map((s) => s.version).sort()).toEqual(rows.map((r) => r.version).sort());
      expect(await store.getActiveVersion(t, 'k')).toBeUndefined();
      expect(await raw(t, headSk())).toBeUndefined();
    }
  });
});

describeDynamo('DynamoKeyStore: items and limits', () => {
  it('shredTenant REMOVEs the wrapped bytes from the raw items and deletes the head', async () => {
    const t = tenant();
    await store.createVersion(row(t, 1, 0xa1), null);
    await store.createVersion(row(t, 2, 0xa2), 1);
    await store.createVersion(row(t, 1, 0xb1, 'other'), null);
    await store.retireVersions(t, 'k', 2);
    const before = await raw(t, versionSk(1));
    expect(before?.state?.S).toBe('retired');
    expect(Buffer.from(before!.wrapped!.B!).equals(Buffer.alloc(73, 0xa1))).toBe(true);
    expect((await raw(t, headSk()))?.active?.N).toBe('2');

    const shredded = await store.shredTenant(t);
    expect(shredded.map((s) => `${s.keyId}@${s.version}`).sort()).toEqual([
      'k@1',
      'k@2',
      'other@1',
    ]);
    for (const [v, keyId] of [
      [1, 'k'],
      [2, 'k'],
      [1, 'other'],
    ] as const) {
      const item = await raw(t, versionSk(v, keyId));
      expect(item?.state?.S).toBe('shredded');
      expect(item).not.toHaveProperty('wrapped');
    }
    expect(await raw(t, headSk())).toBeUndefined();
    expect(await raw(t, headSk('other'))).toBeUndefined();
    // A second shred has nothing left to do.
    expect(await store.shredTenant(t)).toEqual([]);
  });

  it('key ids that look like sort-key syntax stay apart (length-prefixed encoding)', async () => {
    const t = tenant();
    await store.createVersion(row(t, 1, 1, 'a'), null);
    await store.createVersion(row(t, 1, 2, 'a#V#0000000001'), null);
    await store.createVersion(row(t, 1, 3, 'a#H'), null);
    expect(Buffer.from((await store.getVersion(t, 'a', 1))!.wrapped)[0]).toBe(1);
    expect((await store.listVersions(t, 'a')).map((r) => r.keyId)).toEqual(['a']);
    expect(await store.retireVersions(t, 'a', 1)).toEqual([]);
    expect((await store.listVersions(t)).map((r) => r.keyId).sort()).toEqual([
      'a',
      'a#H',
      'a#V#0000000001',
    ]);
  });

  it('520 versions of 2 KiB: paginated queries, retirement in chunks of 99, a full shred', async () => {
    const t = tenant();
    const big = (v: number): NewKeyVersion => ({ ...row(t, v), wrapped: randomBytes(2048) });
    await store.createVersion(big(1), null);
    for (let v = 2; v <= 520; v++) await store.createVersion(big(v), v - 1);
    const listed = await store.listVersions(t);
    expect(listed).toHaveLength(520); // > 1 MB: the Query paginates
    const firstPage = await clients[0]!.send(
      new QueryCommand({
        TableName: TABLE,
        ConsistentRead: true,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: `T#${t}` } },
      }),
    );
    expect(firstPage.LastEvaluatedKey).toBeDefined();
    expect(firstPage.Items!.length).toBeLessThan(521);
    expect(listed[0]?.version).toBe(520);
    const retired = await store.retireVersions(t, 'k', 520);
    expect(retired).toEqual(Array.from({ length: 519 }, (_, i) => i + 1));
    expect(await activeOf(t)).toEqual([520]);
    const shredded = await store.shredTenant(t);
    expect(shredded).toHaveLength(520);
    expect((await store.listVersions(t)).every((r) => r.state === 'shredded')).toBe(true);
  }, 180_000);

  it('rejects malformed arguments with TypeError / RangeError before any request', async () => {
    const t = tenant();
    await expect(
      store.createVersion({ ...row(t, 1), wrapped: new Uint8Array(0) }, null),
    ).rejects.toThrow(RangeError);
    await expect(
      store.createVersion({ ...row(t, 1), wrapped: new Uint8Array(2049) }, null),
    ).rejects.toThrow(RangeError);
    await expect(store.createVersion(row(t, 0), null)).rejects.toThrow(RangeError);
    await expect(store.createVersion(row(t, 2 ** 32), null)).rejects.toThrow(RangeError);
    await expect(store.getActiveVersion('', 'k')).rejects.toThrow(TypeError);
    await expect(store.getActiveVersion(t, '')).rejects.toThrow(TypeError);
    await expect(store.getActiveVersion(t, 'k'.repeat(256))).rejects.toThrow(TypeError);
    expect(await store.getVersion(t, 'k', 0)).toBeUndefined();
    expect(() => new DynamoKeyStore({ client: {} as DynamoDBClient, tableName: TABLE })).toThrow(
      TypeError,
    );
    expect(() => new DynamoKeyStore({ client: clients[0]!, tableName: 'x' })).toThrow(TypeError);
  });

  it('a missing table is ERR_KEY_STORE_UNAVAILABLE with the SDK error as cause', async () => {
    const missing = new DynamoKeyStore({ client: clients[0]!, tableName: 'no-such-table' });
    const err = await missing.getActiveVersion(tenant(), 'k').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_KEY_STORE_UNAVAILABLE' });
    expect((err as Error).cause).toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(missing.createVersion(row(tenant(), 1), null)).rejects.toMatchObject({
      code: 'ERR_KEY_STORE_UNAVAILABLE',
    });
  });

  it('a head whose active item vanished (corruption) fails loudly, never returns another row', async () => {
    const t = tenant();
    await store.createVersion(row(t, 1), null);
    await clients[0]!.send(
      new DeleteItemCommand({
        TableName: TABLE,
        Key: { pk: { S: `T#${t}` }, sk: { S: versionSk(1) } },
      }),
    );
    await expect(store.getActiveVersion(t, 'k')).rejects.toMatchObject({
      code: 'ERR_KEY_STORE_UNAVAILABLE',
    });
  });
});

describeDynamo('DynamoKeyStore: stored items are checked when read back', () => {
  it('a live version without a plausible wrapped key, or a shredded one with one, is malformed', async () => {
    const t = tenant();
    await store.createVersion(row(t, 1), null);
    const item = (await raw(t, versionSk(1)))!;
    for (const bad of [
      { ...item, wrapped: { B: new Uint8Array(0) } },
      { ...item, wrapped: { B: new Uint8Array(4096) } },
      { ...item, state: { S: 'shredded' } },
    ]) {
      await clients[0]!.send(new PutItemCommand({ TableName: TABLE, Item: bad }));
      await expect(store.getVersion(t, 'k', 1)).rejects.toMatchObject({
        code: 'ERR_KEY_STORE_UNAVAILABLE',
      });
    }
  });
});

describeDynamo('DynamoKeyStore: key commitments in the raw items', () => {
  it('the commitment is a binary attribute `commitment`, absent on legacy items, REMOVEd by shred', async () => {
    const t = tenant();
    const commitment = new Uint8Array(32).fill(0xc7);
    await store.createVersion({ ...row(t, 1, 0xa1), commitment }, null);
    await store.createVersion(row(t, 2, 0xa2), 1); // legacy: written without one
    expect(Buffer.from((await raw(t, versionSk(1)))!.commitment!.B!)).toEqual(
      Buffer.from(commitment),
    );
    expect(await raw(t, versionSk(2))).not.toHaveProperty('commitment');
    // setCommitment completes the legacy item with a conditional update.
    const legacy = (await store.getVersion(t, 'k', 2))!;
    expect(await store.setCommitment(legacy, new Uint8Array(32).fill(0xc8))).toBe(true);
    expect((await raw(t, versionSk(2)))?.commitment?.B?.[0]).toBe(0xc8);
    await store.shredTenant(t);
    for (const v of [1, 2]) {
      const item = await raw(t, versionSk(v));
      expect(item?.state?.S).toBe('shredded');
      expect(item).not.toHaveProperty('wrapped');
      expect(item).not.toHaveProperty('commitment');
    }
  });

  it('a live item whose commitment is not 32 bytes is malformed; a shredded item’s stale one is ignored', async () => {
    const t = tenant();
    await store.createVersion(row(t, 1), null);
    const item = (await raw(t, versionSk(1)))!;
    for (const bad of [
      { ...item, commitment: { B: new Uint8Array(31) } },
      { ...item, commitment: { S: 'x'.repeat(32) } },
    ]) {
      await clients[0]!.send(new PutItemCommand({ TableName: TABLE, Item: bad }));
      await expect(store.getVersion(t, 'k', 1)).rejects.toMatchObject({
        code: 'ERR_KEY_STORE_UNAVAILABLE',
      });
    }
    // A release before this one shredded with `REMOVE wrapped` only: the item still reads as
    // shredded, without a commitment.
    const rest = Object.fromEntries(Object.entries(item).filter(([name]) => name !== 'wrapped'));
    await clients[0]!.send(
      new PutItemCommand({
        TableName: TABLE,
        Item: { ...rest, state: { S: 'shredded' }, commitment: { B: new Uint8Array(32) } },
      }),
    );
    const shredded = (await store.getVersion(t, 'k', 1))!;
    expect(shredded.state).toBe('shredded');
    expect(shredded.commitment).toBeUndefined();
  });
});

describe('DynamoKeyStore: how DynamoDB failures map (scripted client)', () => {
  const cancelled = (codes: string[], withReasons = true) =>
    Object.assign(
      new Error(
        `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes.join(', ')}]`,
      ),
      {
        name: 'TransactionCanceledException',
        ...(withReasons ? { CancellationReasons: codes.map((Code) => ({ Code })) } : {}),
      },
    );
  /** A client whose `send` throws the scripted errors in turn, then succeeds. */
  const scripted = (errors: Error[]) => {
    const calls: string[] = [];
    const client = {
      send: (command: object) => {
        calls.push(command.constructor.name);
        const next = errors.shift();
        return next === undefined ? Promise.resolve({}) : Promise.reject(next);
      },
    };
    return {
      calls,
      store: new DynamoKeyStore({ client: client as unknown as DynamoDBClient, tableName: TABLE }),
    };
  };

  it('a TransactionConflict cancellation is retried; the retry commits', async () => {
    const conflict = cancelled(['None', 'TransactionConflict']);
    const { calls, store: s } = scripted([conflict, conflict]);
    expect((await s.createVersion(row(tenant(), 2), 1))?.state).toBe('active');
    expect(calls).toEqual(Array(3).fill('TransactWriteItemsCommand'));
  });

  it('conflicts that never clear end as ERR_KEY_STORE_UNAVAILABLE', async () => {
    const { calls, store: s } = scripted(
      Array.from({ length: 10 }, () => cancelled(['TransactionConflict'])),
    );
    await expect(s.createVersion(row(tenant(), 1), null)).rejects.toMatchObject({
      code: 'ERR_KEY_STORE_UNAVAILABLE',
    });
    expect(calls).toHaveLength(10);
  });

  it('condition failures are "lost the race", also when only the message lists them', async () => {
    for (const err of [
      cancelled(['ConditionalCheckFailed', 'None']),
      cancelled(['None', 'ConditionalCheckFailed', 'None'], false),
    ]) {
      const { store: s } = scripted([err]);
      expect(await s.createVersion(row(tenant(), 2), 1)).toBeUndefined();
    }
  });

  it('throttling, validation and network failures are ERR_KEY_STORE_UNAVAILABLE at once', async () => {
    for (const err of [
      cancelled(['ThrottlingError', 'None']),
      cancelled(['ConditionalCheckFailed', 'ValidationError']),
      Object.assign(new Error('socket hang up'), { name: 'TimeoutError' }),
    ]) {
      const { calls, store: s } = scripted([err]);
      const failure = await s.createVersion(row(tenant(), 1), null).catch((e: unknown) => e);
      expect(failure).toMatchObject({ code: 'ERR_KEY_STORE_UNAVAILABLE', cause: err });
      expect(calls).toHaveLength(1);
    }
  });
});

/** A provider that remembers every data key it unwrapped, for the canary checks. */
class RecordingProvider extends MemoryKeyProvider {
  readonly seen: Buffer[] = [];
  protected override async _unwrap(
    masterKeyId: string,
    wrapped: Uint8Array,
    context: KeyContext,
  ): Promise<Uint8Array> {
    const key = await super._unwrap(masterKeyId, wrapped, context);
    this.seen.push(Buffer.from(key));
    return key;
  }
}

const ctx = (t: string, record = 'r1') => ({ tenant: t, table: 'users', field: 'email', record });

describeDynamo('DynamoKeyStore behind a fieldseal client', () => {
  it('encrypt → rotate → decrypt old and new (cold cache) → shred → ERR_KEY_SHREDDED', async () => {
    const provider = new RecordingProvider();
    const options = {
      admin: true,
      provider,
      keys: { mode: 'store' as const, store: openStore(), masterKeyId: 'master', keyId: 'k1' },
      cache: { maxAgeMs: 60_000 },
    };
    const writer = createFieldseal(options);
    const t = tenant();
    expect((await writer.provisionTenant(t)).version).toBe(1);
    const v1 = await writer.encrypt('alice@example.com', ctx(t));
    expect((await writer.rotateTenantKey(t)).version).toBe(2);
    const v2 = await writer.encrypt('alice@new.example.com', ctx(t));

    const reader = createFieldseal({ ...options, keys: { ...options.keys, store: openStore() } });
    expect(await reader.decrypt(v1, ctx(t))).toBe('alice@example.com');
    expect(await reader.decrypt(v2, ctx(t))).toBe('alice@new.example.com');

    const receipt = await writer.shredTenant(t);
    expect(receipt.versions.map((v) => v.version).sort()).toEqual([1, 2]);
    for (const value of [v1, v2]) {
      await expect(writer.decrypt(value, ctx(t))).rejects.toMatchObject({
        code: 'ERR_KEY_SHREDDED',
      });
      const cold = createFieldseal({ ...options, keys: { ...options.keys, store: openStore() } });
      await expect(cold.decrypt(value, ctx(t))).rejects.toMatchObject({
        code: 'ERR_KEY_SHREDDED',
      });
    }
  });

  it('canary: inspect, JSON and errors of the store never hold wrapped or data key bytes', async () => {
    const provider = new RecordingProvider();
    const dynamo = openStore();
    const fs = createFieldseal({
      admin: true,
      provider,
      keys: { mode: 'store', store: dynamo, masterKeyId: 'master', keyId: 'k1' },
      cache: { maxAgeMs: 60_000 },
    });
    const t = tenant();
    await fs.provisionTenant(t);
    const value = await fs.encrypt('canary@example.com', ctx(t));
    const cold = createFieldseal({
      admin: true,
      provider,
      keys: { mode: 'store', store: openStore(), masterKeyId: 'master', keyId: 'k1' },
      cache: { maxAgeMs: 60_000 },
    });
    await cold.decrypt(value, ctx(t));
    const wrapped = Buffer.from((await dynamo.getActiveVersion(t, 'k1'))!.wrapped);
    const secrets = [wrapped, ...provider.seen];
    expect(provider.seen.length).toBeGreaterThan(0);

    const canaryWrapped = randomBytes(64);
    secrets.push(canaryWrapped);
    const t2 = tenant();
    const canaryRow = { ...row(t2, 1), wrapped: canaryWrapped };
    await dynamo.createVersion(canaryRow, null);
    const missing = new DynamoKeyStore({ client: clients[0]!, tableName: 'no-such-table' });
    const failures = await Promise.all([
      missing.createVersion(canaryRow, null).catch((e: unknown) => e),
      missing
        .rewrapVersion({ ...canaryRow, state: 'active', createdAt: new Date() }, canaryRow)
        .catch((e: unknown) => e),
      dynamo.retireVersions(t2, 'k', 5).catch((e: unknown) => e),
      dynamo.reinstateVersion(t2, 'k', 9).catch((e: unknown) => e),
      dynamo
        .createVersion(
          { ...canaryRow, wrapped: Buffer.concat([canaryWrapped, Buffer.alloc(2048)]) },
          null,
        )
        .catch((e: unknown) => e),
    ]);
    const codes = failures.map((e) => (e as { code?: string }).code ?? (e as Error).name);
    expect(codes).toEqual([
      'ERR_KEY_STORE_UNAVAILABLE',
      'ERR_KEY_STORE_UNAVAILABLE',
      'ERR_KEY_VERSION_ACTIVE',
      'ERR_KEY_NOT_FOUND',
      'RangeError',
    ]);
    const texts = [
      inspect(dynamo, { depth: Infinity, showHidden: true }),
      JSON.stringify(dynamo),
      ...failures.flatMap((e) => [
        inspect(e, { depth: Infinity, showHidden: true }),
        JSON.stringify(e),
        (e as Error).message,
        String((e as Error).stack),
      ]),
    ];
    for (const text of texts) {
      for (const secret of secrets) {
        for (const form of [
          secret.toString('hex'),
          secret.toString('base64'),
          secret.toString('base64url'),
          secret.toString('latin1'),
          Array.from(secret.subarray(0, 16)).join(', '),
        ]) {
          expect(text.includes(form)).toBe(false);
        }
      }
    }
  });
});
