import { PGlite } from '@electric-sql/pglite';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFieldseal, type KeyEventBus, type KeyStore } from '../../src/index.js';
import {
  PostgresKeyStore,
  fromPGlite,
  fromPgPool,
  migrate,
  postgresKeyEvents,
  type SqlClient,
} from '../../src/postgres/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';
import { PG_URL, serverSchema } from './pg-env.js';

const ctx = (tenant: string, record = 'r1') => ({ tenant, table: 'users', field: 'ssn', record });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An in-process key-event bus that records what was published. */
function memoryBus(): { bus: KeyEventBus; published: string[] } {
  const handlers = new Set<(tenant: string, kind: 'shred' | 'keys-changed') => void>();
  const published: string[] = [];
  const publish = (tenant: string, kind: 'shred' | 'keys-changed') => {
    published.push(`${kind}:${tenant}`);
    for (const h of handlers) h(tenant, kind);
    return Promise.resolve();
  };
  return {
    published,
    bus: {
      publishShred: (tenant) => publish(tenant, 'shred'),
      publishKeysChanged: (tenant) => publish(tenant, 'keys-changed'),
      subscribe: (h) => {
        handlers.add(h);
        return () => {
          handlers.delete(h);
        };
      },
    },
  };
}

function retirementBehaviour(name: string, makeStore: () => KeyStore) {
  describe(`retireKeyVersions / reinstateKeyVersion on ${name}`, () => {
    const setup = (cache = { maxAgeMs: 60_000 }) => {
      const store = makeStore();
      const provider = new MemoryKeyProvider({ masterKeys: ['master', 'master-2'] });
      const options = {
        admin: true,
        provider,
        keys: { mode: 'store' as const, store, masterKeyId: 'master', keyId: 'k' },
        cache,
      };
      return { store, provider, options, fs: createFieldseal(options), t: `t-${randomUUID()}` };
    };

    it('a retired version refuses decryption at once, even from a warm cache; writes and newer versions are unaffected; reinstating restores it', async () => {
      const { fs, store, provider, t } = setup();
      await fs.provisionTenant(t);
      const old = await fs.encrypt('123-45-6789', ctx(t));
      await fs.rotateTenantKey(t);
      const current = await fs.encrypt('987-65-4321', ctx(t, 'r2'));
      expect(await fs.decrypt(old, ctx(t))).toBe('123-45-6789'); // the key of v1 is now cached
      const unwraps = provider.calls.unwrap;

      expect(await fs.retireKeyVersions(t, 2)).toEqual([1]);
      const err = await fs.decrypt(old, ctx(t)).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'ERR_KEY_RETIRED', details: { keyRef: 'k@1' } });
      expect(JSON.stringify(err)).not.toContain('123-45-6789');
      expect((err as Error).message).not.toContain(t);
      expect(provider.calls.unwrap).toBe(unwraps); // refused before any unwrap
      const settled = await fs.decryptManySettled([
        { stored: old, context: ctx(t) },
        { stored: current, context: ctx(t, 'r2') },
      ]);
      expect(settled.map((s) => (s.ok ? s.value : s.error.code))).toEqual([
        'ERR_KEY_RETIRED',
        '987-65-4321',
      ]);
      await expect(fs.reencrypt(old, ctx(t))).rejects.toMatchObject({ code: 'ERR_KEY_RETIRED' });
      // Writes go on under the active version, and read back.
      const fresh = await fs.encrypt('555-00-1234', ctx(t, 'r3'));
      expect(await fs.decrypt(fresh, ctx(t, 'r3'))).toBe('555-00-1234');
      expect(await fs.decrypt(current, ctx(t, 'r2'))).toBe('987-65-4321');
      expect((await store.getVersion(t, 'k', 1))?.state).toBe('retired');

      expect(await fs.reinstateKeyVersion(t, 1)).toBe(true);
      expect(await fs.decrypt(old, ctx(t))).toBe('123-45-6789');
      expect((await store.getVersion(t, 'k', 1))?.state).toBe('decrypt-only');
      expect(await fs.reinstateKeyVersion(t, 1)).toBe(false);
      expect((await fs.rotateTenantKey(t)).version).toBe(3);
    });

    it('refuses to retire the active version, with a typed error, and changes nothing', async () => {
      const { fs, t } = setup();
      await fs.provisionTenant(t);
      const v1 = await fs.encrypt('x', ctx(t));
      await expect(fs.retireKeyVersions(t, 2)).rejects.toMatchObject({
        code: 'ERR_KEY_VERSION_ACTIVE',
        details: { keyRef: 'k@1' },
      });
      await fs.rotateTenantKey(t);
      await expect(fs.retireKeyVersions(t, 3)).rejects.toMatchObject({
        code: 'ERR_KEY_VERSION_ACTIVE',
        details: { keyRef: 'k@2' },
      });
      expect(await fs.decrypt(v1, ctx(t))).toBe('x');
      expect(await fs.encrypt('y', ctx(t))).toMatch(/^fs1:/);
      await expect(fs.retireKeyVersions(t, 1.5)).rejects.toThrow(RangeError);
      await expect(fs.retireKeyVersions('', 2)).rejects.toThrow(TypeError);
      await expect(fs.reinstateKeyVersion(t, 7)).rejects.toMatchObject({
        code: 'ERR_KEY_NOT_FOUND',
      });
    });

    it('a key load in flight when the version is retired does not leave the key cached', async () => {
      const { fs, provider, t } = setup();
      await fs.provisionTenant(t);
      const old = await fs.encrypt('in flight', ctx(t));
      await fs.rotateTenantKey(t);
      fs.clearCache();
      provider.setLatency(200);
      const unwraps = provider.calls.unwrap;
      const reading = fs.decrypt(old, ctx(t));
      // Retire once the read has fetched the row (still decrypt-only) and waits on the unwrap.
      while (provider.calls.unwrap === unwraps) await sleep(1);
      expect(await fs.retireKeyVersions(t, 2)).toEqual([1]);
      // The retirement landed before the key was used: the load is stale, starts again from
      // the key store and finds the version retired (issue #11: purges win races with loads).
      await expect(reading).rejects.toMatchObject({ code: 'ERR_KEY_RETIRED' });
      provider.setLatency(0);
      await expect(fs.decrypt(old, ctx(t))).rejects.toMatchObject({ code: 'ERR_KEY_RETIRED' });
    });

    it('shredding after a retirement destroys the retired versions too', async () => {
      const { fs, store, t } = setup();
      await fs.provisionTenant(t);
      const old = await fs.encrypt('x', ctx(t));
      await fs.rotateTenantKey(t);
      await fs.retireKeyVersions(t, 2);
      const receipt = await fs.shredTenant(t);
      expect(receipt.versions.map((v) => v.version).sort()).toEqual([1, 2]);
      await expect(fs.decrypt(old, ctx(t))).rejects.toMatchObject({ code: 'ERR_KEY_SHREDDED' });
      await expect(fs.reinstateKeyVersion(t, 1)).rejects.toMatchObject({
        code: 'ERR_KEY_SHREDDED',
      });
      const v1 = await store.getVersion(t, 'k', 1);
      expect(v1?.state).toBe('shredded');
      expect(v1?.wrapped.byteLength).toBe(0);
    });

    it('rewrapTenantKeys re-wraps retired versions, so reinstating works after the old master key is gone', async () => {
      const { fs, store, provider, options, t } = setup();
      await fs.provisionTenant(t);
      const old = await fs.encrypt('under version 1', ctx(t));
      await fs.rotateTenantKey(t);
      await fs.retireKeyVersions(t, 2);
      const rewrapper = createFieldseal({
        ...options,
        // The old master key is accepted while the rows move off it.
        keys: { ...options.keys, masterKeyId: 'master-2', acceptMasterKeyIds: ['master'] },
      });
      const report = await rewrapper.rewrapTenantKeys(t);
      expect(report.rewrapped.map((r) => r.version).sort()).toEqual([1, 2]);
      expect(report.skipped).toEqual([]);
      expect(await store.getVersion(t, 'k', 1)).toMatchObject({
        state: 'retired',
        masterKeyId: 'master-2',
      });
      provider.destroyMasterKey('master');
      expect(await rewrapper.reinstateKeyVersion(t, 1)).toBe(true);
      expect(await rewrapper.decrypt(old, ctx(t))).toBe('under version 1');
    });

    it('other clients forget at once through keyEvents (readers and stale writers alike)', async () => {
      const { store, options, t } = setup();
      const { bus, published } = memoryBus();
      const admin = createFieldseal({ ...options, keyEvents: bus });
      const other = createFieldseal({ ...options, keyEvents: bus });
      await admin.provisionTenant(t);
      const old = await admin.encrypt('x', ctx(t));
      expect(await other.decrypt(old, ctx(t))).toBe('x'); // warm, for 60 s
      expect(await other.encrypt('y', ctx(t))).toBeDefined(); // writes under v1, cached
      await admin.rotateTenantKey(t); // `other` has not heard of it: it would still write v1
      expect(await admin.retireKeyVersions(t, 2)).toEqual([1]);
      expect(published).toEqual([`keys-changed:${t}`]);
      await expect(other.decrypt(old, ctx(t))).rejects.toMatchObject({
        code: 'ERR_KEY_RETIRED',
      });
      const written = await other.encrypt('z', ctx(t, 'r2'));
      expect(await admin.decrypt(written, ctx(t, 'r2'))).toBe('z'); // under v2, readable
      expect(await admin.reinstateKeyVersion(t, 1)).toBe(true);
      expect(published).toEqual([`keys-changed:${t}`, `keys-changed:${t}`]);
      expect(await other.decrypt(old, ctx(t))).toBe('x');
      // Nothing changed, nothing published.
      expect(await admin.retireKeyVersions(t, 1)).toEqual([]);
      expect(published).toHaveLength(2);
      expect((await store.getVersion(t, 'k', 1))?.state).toBe('decrypt-only');
      admin.close();
      other.close();
    });

    it('without keyEvents another client stops within its cache age', async () => {
      const { options, t } = setup();
      const admin = createFieldseal(options);
      await admin.provisionTenant(t);
      const old = await admin.encrypt('x', ctx(t));
      await admin.rotateTenantKey(t);
      const other = createFieldseal({ ...options, cache: { maxAgeMs: 150 } });
      expect(await other.decrypt(old, ctx(t))).toBe('x');
      await admin.retireKeyVersions(t, 2);
      await sleep(300);
      await expect(other.decrypt(old, ctx(t))).rejects.toMatchObject({
        code: 'ERR_KEY_RETIRED',
      });
    });
  });
}

retirementBehaviour('the memory key store', () => new MemoryKeyStore());

describe('embedded mode', () => {
  it('has no versions to retire or reinstate: ERR_KEY_NOT_CONFIGURED', async () => {
    const fs = createFieldseal({
      admin: true,
      provider: new MemoryKeyProvider(),
      keys: { mode: 'embedded', masterKeyId: 'master' },
      cache: { maxAgeMs: 1000 },
    });
    await expect(fs.retireKeyVersions('acme', 2)).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
    });
    await expect(fs.reinstateKeyVersion('acme', 1)).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
    });
  });
});

describe('PGlite', () => {
  let db: PGlite;
  let sql: SqlClient;
  beforeAll(async () => {
    db = await PGlite.create();
    sql = fromPGlite(db);
    await migrate(sql);
  });
  afterAll(async () => {
    await db.close();
  });
  retirementBehaviour('the PostgreSQL key store (PGlite)', () => new PostgresKeyStore({ sql }));
});

describe.skipIf(PG_URL === undefined)('PostgreSQL server (FIELDSEAL_TEST_PG_URL)', () => {
  let env: Awaited<ReturnType<typeof serverSchema>>;
  let sql: SqlClient;
  beforeAll(async () => {
    env = await serverSchema();
    sql = fromPgPool(env.pool(8));
    await migrate(sql);
  });
  afterAll(async () => {
    await env.close();
  });
  retirementBehaviour('the PostgreSQL server', () => new PostgresKeyStore({ sql }));

  it('postgresKeyEvents: a retirement reaches a client on another connection within one second', async () => {
    const provider = new MemoryKeyProvider();
    const client = (pool: ReturnType<typeof env.pool>, events: KeyEventBus) =>
      createFieldseal({
        admin: true,
        provider,
        keys: {
          mode: 'store',
          store: new PostgresKeyStore({ sql: fromPgPool(pool) }),
          masterKeyId: 'master',
        },
        cache: { maxAgeMs: 600_000 }, // only the event can make `reader` forget
        keyEvents: events,
      });
    const adminPool = env.pool(2);
    const readerPool = env.pool(2);
    const adminEvents = postgresKeyEvents(adminPool);
    const readerEvents = postgresKeyEvents(readerPool);
    const admin = client(adminPool, adminEvents);
    const reader = client(readerPool, readerEvents);
    const shreds: string[] = [];
    const unsubscribe = readerEvents.subscribe((tenant, kind) => {
      if (kind === 'shred') shreds.push(tenant);
    });
    try {
      await readerEvents.ready;
      const t = `fleet-retire-${randomUUID()}`;
      await admin.provisionTenant(t);
      const old = await admin.encrypt('x', ctx(t));
      await admin.rotateTenantKey(t);
      expect(await reader.decrypt(old, ctx(t))).toBe('x');
      const retiredAt = Date.now();
      expect(await admin.retireKeyVersions(t, 2)).toEqual([1]);
      let code: string | undefined;
      while (Date.now() - retiredAt < 1000) {
        code = await reader.decrypt(old, ctx(t)).then(
          () => undefined,
          (err: { code?: string }) => err.code,
        );
        if (code !== undefined) break;
        await sleep(10);
      }
      expect(code).toBe('ERR_KEY_RETIRED');
      console.log(`retirement reached the other connection after ${Date.now() - retiredAt} ms`);
      expect(shreds).toEqual([]); // a retirement is never announced as a shred
    } finally {
      unsubscribe();
      admin.close();
      reader.close();
      await adminEvents.close();
      await readerEvents.close();
    }
  });
});
