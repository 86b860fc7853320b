import type { PGlite } from '@electric-sql/pglite';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFieldseal, type KeyStore } from '../../src/index.js';
import {
  PostgresKeyStore,
  SCHEMA_VERSION,
  enableRowLevelSecurity,
  fromPGlite,
  fromPgPool,
  migrate,
  schemaVersion,
  type SqlClient,
} from '../../src/postgres/index.js';
import { guardKeyStore } from '../../src/keys/guarded-key-store.js';
import { MemoryKeyProvider, runKeyStoreSuite } from '../../src/testing/index.js';
import { emptyPGlite, PG_URL, serverSchema } from './pg-env.js';

const ctx = (tenant: string, record = 'r1') => ({ tenant, table: 'users', field: 'email', record });
/** Every migration, in order (versions are contiguous from 1). */
const ALL_MIGRATIONS = Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1);

/** Behaviour of the PostgreSQL store beyond the conformance suite, for one backend. */
function postgresBehaviour(name: string, open: () => SqlClient) {
  describe(`PostgresKeyStore on ${name}`, () => {
    it('migrations are idempotent and recorded', async () => {
      const sql = open();
      expect(await migrate(sql)).toEqual([]);
      expect(await schemaVersion(sql)).toBe(SCHEMA_VERSION);
    });

    it('the database refuses a second active version even when the code is bypassed', async () => {
      const sql = open();
      const t = `t-${randomBytes(4).toString('hex')}`;
      await sql.query('INSERT INTO fieldseal_tenants (tenant_id) VALUES ($1)', [t]);
      const insert = (v: number) =>
        sql.query(
          `INSERT INTO fieldseal_key_versions (tenant_id, key_id, version, state, provider_id, master_key_id, wrapped)
           VALUES ($1, 'k', $2, 'active', 'p', 'm', '\\x00')`,
          [t, v],
        );
      await insert(1);
      await expect(insert(2)).rejects.toMatchObject({ code: '23505' });
    });

    it('the state check admits retired rows with their wrapped bytes, and nothing unknown (migration 3)', async () => {
      const sql = open();
      const t = `t-${randomBytes(4).toString('hex')}`;
      await sql.query('INSERT INTO fieldseal_tenants (tenant_id) VALUES ($1)', [t]);
      const insert = (v: number, state: string, wrapped: Buffer | null) =>
        sql.query(
          `INSERT INTO fieldseal_key_versions (tenant_id, key_id, version, state, provider_id, master_key_id, wrapped)
           VALUES ($1, 'k', $2, $3, 'p', 'm', $4)`,
          [t, v, state, wrapped],
        );
      await insert(1, 'retired', Buffer.from([0]));
      // A retired row keeps its wrapped key: only a shredded one may (and must) lose it.
      await expect(insert(2, 'retired', null)).rejects.toMatchObject({ code: '23514' });
      await expect(insert(3, 'expired', Buffer.from([0]))).rejects.toMatchObject({ code: '23514' });
      const { rows } = await sql.query<{ n: string }>(
        "SELECT count(*) AS n FROM fieldseal_key_versions WHERE tenant_id = $1 AND state = 'retired'",
        [t],
      );
      expect(Number(rows[0]!.n)).toBe(1);
    });

    it('a fieldseal client on this store: provision, write, cold read, tenant isolation', async () => {
      const store = new PostgresKeyStore({ sql: open() });
      const provider = new MemoryKeyProvider();
      const options = {
        admin: true,
        provider,
        keys: { mode: 'store' as const, store, masterKeyId: 'master', keyId: 'k1' },
        cache: { maxAgeMs: 60_000 },
      };
      const writer = createFieldseal(options);
      const a = `a-${randomBytes(4).toString('hex')}`;
      const b = `b-${randomBytes(4).toString('hex')}`;
      await writer.provisionTenant(a);
      await writer.provisionTenant(b);
      const va = await writer.encrypt('alice@example.com', ctx(a));
      const vb = await writer.encrypt('bob@example.com', ctx(b));
      const reader = createFieldseal(options);
      const before = provider.calls.unwrap;
      expect(await reader.decrypt(va, ctx(a))).toBe('alice@example.com');
      expect(await reader.decrypt(vb, ctx(b))).toBe('bob@example.com');
      // A's value read as B resolves B's key (same key id and version) and fails the commitment.
      await expect(reader.decrypt(va, ctx(b))).rejects.toMatchObject({ code: 'ERR_WRONG_KEY' });
      // 50 more reads of A cost no unwrap: the burst is served by the cache.
      for (let i = 0; i < 50; i++) await reader.decrypt(va, ctx(a));
      expect(provider.calls.unwrap - before).toBe(2);
    });
  });
}

/**
 * Migration 5 (key commitments) on a database that was at schema 4 with key rows in it: the
 * rows survive as legacy rows (no commitment) that `setCommitment` completes once; running
 * the migration's SQL again changes nothing; the column admits 32 bytes only.
 */
async function upgradeToCommitments(sql: SqlClient): Promise<void> {
  expect(await migrate(sql)).toEqual(ALL_MIGRATIONS);
  // Back to schema 4, as a release before this one left it.
  await sql.exec(`
    ALTER TABLE fieldseal_key_versions DROP COLUMN commitment;
    DELETE FROM fieldseal_migrations WHERE version = 5;
  `);
  expect(await schemaVersion(sql)).toBe(4);
  const store = new PostgresKeyStore({ sql });
  const t = `legacy-${randomBytes(4).toString('hex')}`;
  await sql.query('INSERT INTO fieldseal_tenants (tenant_id) VALUES ($1)', [t]);
  await sql.query(
    `INSERT INTO fieldseal_key_versions (tenant_id, key_id, version, state, provider_id, master_key_id, wrapped)
     VALUES ($1, 'k', 1, 'decrypt-only', 'memory', 'master', '\\x01'),
            ($1, 'k', 2, 'active', 'memory', 'master', '\\x02')`,
    [t],
  );
  expect(await migrate(sql)).toEqual([5]);
  expect(await schemaVersion(sql)).toBe(SCHEMA_VERSION);
  const legacy = (await store.getVersion(t, 'k', 2))!;
  expect(legacy.state).toBe('active');
  expect(legacy.commitment).toBeUndefined();
  expect((await store.listVersions(t)).map((r) => r.commitment)).toEqual([undefined, undefined]);
  const c = new Uint8Array(32).fill(0x5c);
  expect(await store.setCommitment(legacy, c)).toBe(true);
  expect(await store.setCommitment(legacy, new Uint8Array(32).fill(1))).toBe(false);
  expect(Buffer.from((await store.getActiveVersion(t, 'k'))!.commitment!)).toEqual(Buffer.from(c));
  // Idempotent: the migration's statements run again on the upgraded schema without error
  // and without touching a row.
  await sql.exec('DELETE FROM fieldseal_migrations WHERE version = 5');
  expect(await migrate(sql)).toEqual([5]);
  expect(Buffer.from((await store.getActiveVersion(t, 'k'))!.commitment!)).toEqual(Buffer.from(c));
  // The database itself refuses a commitment of another length.
  await expect(
    sql.query(
      "UPDATE fieldseal_key_versions SET commitment = '\\x00' WHERE tenant_id = $1 AND version = 1",
      [t],
    ),
  ).rejects.toMatchObject({ code: '23514' });
}

describe('PGlite (embedded, always runs)', () => {
  let db: PGlite;
  let sql: SqlClient;
  beforeAll(async () => {
    db = await emptyPGlite();
    sql = fromPGlite(db);
    expect(await migrate(sql)).toEqual(ALL_MIGRATIONS);
  });
  afterAll(async () => {
    await db.close();
  });

  runKeyStoreSuite(
    { describe, it, beforeAll, afterAll },
    'PostgresKeyStore on PGlite',
    () => new PostgresKeyStore({ sql }),
  );
  runKeyStoreSuite(
    { describe, it, beforeAll, afterAll },
    'guarded PostgresKeyStore on PGlite',
    () => guardKeyStore(new PostgresKeyStore({ sql })),
  );
  postgresBehaviour('PGlite', () => sql);

  it('migration 5 upgrades a schema-4 database: old rows become legacy rows without a commitment', async () => {
    const fresh = await emptyPGlite();
    try {
      await upgradeToCommitments(fromPGlite(fresh));
    } finally {
      await fresh.close();
    }
  });

  it('row-level security: a role scoped to tenant A sees none of tenant B’s key rows', async () => {
    const owner = new PostgresKeyStore({ sql });
    await owner.createVersion(version('rls-a', 1), null);
    await owner.createVersion(version('rls-b', 1), null);
    await sql.exec('CREATE ROLE fieldseal_app NOLOGIN');
    await enableRowLevelSecurity(sql, { grantTo: 'fieldseal_app' });
    await rlsChecks(sql, 'fieldseal_app', 'rls-a', 'rls-b');
  });
});

describe.skipIf(PG_URL === undefined)('PostgreSQL server (FIELDSEAL_TEST_PG_URL)', () => {
  let env: Awaited<ReturnType<typeof serverSchema>>;
  let sql: SqlClient;
  beforeAll(async () => {
    env = await serverSchema();
    sql = fromPgPool(env.pool(8));
    expect(await migrate(sql)).toEqual(ALL_MIGRATIONS);
  });
  afterAll(async () => {
    await env.close();
  });

  runKeyStoreSuite(
    { describe, it, beforeAll, afterAll },
    'PostgresKeyStore on the PostgreSQL server',
    () => new PostgresKeyStore({ sql }),
  );
  postgresBehaviour('the PostgreSQL server', () => sql);

  it('migration 5 upgrades a schema-4 database: old rows become legacy rows without a commitment', async () => {
    const other = await serverSchema();
    try {
      await upgradeToCommitments(fromPgPool(other.pool(1)));
    } finally {
      await other.close();
    }
  });

  it('two processes migrating at once: exactly one applies the migrations', async () => {
    const other = await serverSchema();
    try {
      const [x, y] = await Promise.all([
        migrate(fromPgPool(other.pool(1))),
        migrate(fromPgPool(other.pool(1))),
      ]);
      expect([x, y].map((r) => r.length).sort()).toEqual([0, SCHEMA_VERSION]);
    } finally {
      await other.close();
    }
  });

  it('two connections provisioning the same tenants at once end with exactly one active version each', async () => {
    const provider = new MemoryKeyProvider();
    const client = (pool: pg.Pool) =>
      createFieldseal({
        admin: true,
        provider,
        keys: {
          mode: 'store',
          store: new PostgresKeyStore({ sql: fromPgPool(pool) }),
          masterKeyId: 'master',
        },
        cache: { maxAgeMs: 60_000 },
      });
    const one = client(env.pool(1));
    const two = client(env.pool(1));
    for (let i = 0; i < 10; i++) {
      const t = `race-${i}-${randomBytes(3).toString('hex')}`;
      const [r1, r2] = await Promise.all([one.provisionTenant(t), two.provisionTenant(t)]);
      expect(r1.version).toBe(1);
      expect(r2.version).toBe(1);
      const { rows } = await sql.query<{ n: string }>(
        "SELECT count(*) AS n FROM fieldseal_key_versions WHERE tenant_id = $1 AND state = 'active'",
        [t],
      );
      expect(Number(rows[0]!.n)).toBe(1);
      // Both clients now use the same data key: each reads what the other wrote.
      expect(await two.decrypt(await one.encrypt('x', ctx(t)), ctx(t))).toBe('x');
      expect(await one.decrypt(await two.encrypt('y', ctx(t)), ctx(t))).toBe('y');
    }
  });

  it('two connections rotating the same tenant at once: one wins, one active version', async () => {
    const s1 = new PostgresKeyStore({ sql: fromPgPool(env.pool(1)) });
    const s2 = new PostgresKeyStore({ sql: fromPgPool(env.pool(1)) });
    const t = `rot-${randomBytes(4).toString('hex')}`;
    await s1.createVersion(version(t, 1), null);
    const [a, b] = await Promise.all([
      s1.createVersion(version(t, 2), 1),
      s2.createVersion(version(t, 2, 'other-provider'), 1),
    ]);
    expect([a, b].filter((r) => r !== undefined)).toHaveLength(1);
    expect((await s1.getActiveVersion(t, 'k'))?.version).toBe(2);
    expect((await s1.getVersion(t, 'k', 1))?.state).toBe('decrypt-only');
  });

  it('two connections rotating and retiring one tenant at once never leave the active version retired', async () => {
    const rotator = new PostgresKeyStore({ sql: fromPgPool(env.pool(1)) });
    const retirer = new PostgresKeyStore({ sql: fromPgPool(env.pool(1)) });
    const t = `retire-race-${randomBytes(4).toString('hex')}`;
    await rotator.createVersion(version(t, 1), null);
    const outcomes = { refused: 0, retired: 0 };
    for (let v = 1; v <= 40; v++) {
      const [rotated, retired] = await Promise.all([
        rotator.createVersion(version(t, v + 1), v),
        retirer.retireVersions(t, 'k', v + 1).then(
          (versions) => versions,
          (err: unknown) => err,
        ),
      ]);
      expect(rotated?.version).toBe(v + 1);
      if (Array.isArray(retired)) {
        expect(retired).toContain(v);
        outcomes.retired++;
      } else {
        expect(retired).toMatchObject({ code: 'ERR_KEY_VERSION_ACTIVE' });
        outcomes.refused++;
      }
      const { rows } = await sql.query<{ version: string; state: string }>(
        "SELECT version, state FROM fieldseal_key_versions WHERE tenant_id = $1 AND state IN ('active', 'retired')",
        [t],
      );
      const active = rows.filter((r) => r.state === 'active').map((r) => Number(r.version));
      expect(active).toEqual([v + 1]);
      expect(rows.some((r) => r.state === 'retired' && Number(r.version) >= v + 1)).toBe(false);
    }
    console.log(`rotation/retirement race outcomes over 40 rounds: ${JSON.stringify(outcomes)}`);
    expect(outcomes.refused + outcomes.retired).toBe(40);
  });

  it('a retirement waits for a rotation holding the active row, then judges the new active version', async () => {
    const t = `retire-lock-${randomBytes(4).toString('hex')}`;
    const store = new PostgresKeyStore({ sql });
    await store.createVersion(version(t, 1), null);
    await store.createVersion(version(t, 2), 1);
    const holder = env.pool(1);
    const client = await holder.connect();
    try {
      // A rotation in progress, by hand: active row 2 locked and demoted, 3 not yet inserted.
      await client.query('BEGIN');
      await client.query(
        "SELECT version FROM fieldseal_key_versions WHERE tenant_id = $1 AND key_id = 'k' AND state = 'active' FOR UPDATE",
        [t],
      );
      await client.query(
        "UPDATE fieldseal_key_versions SET state = 'decrypt-only' WHERE tenant_id = $1 AND key_id = 'k' AND version = 2",
        [t],
      );
      let settled = false;
      // Below 4 includes version 3, which is about to become active: must be refused.
      const retiring = store.retireVersions(t, 'k', 4).then(
        () => 'retired',
        (err: unknown) => err,
      );
      void retiring.finally(() => (settled = true));
      await new Promise((r) => setTimeout(r, 200));
      expect(settled).toBe(false); // blocked on the active row's lock
      await client.query(
        `INSERT INTO fieldseal_key_versions (tenant_id, key_id, version, state, provider_id, master_key_id, wrapped)
         VALUES ($1, 'k', 3, 'active', 'memory', 'master', '\\x03')`,
        [t],
      );
      await client.query('COMMIT');
      expect(await retiring).toMatchObject({
        code: 'ERR_KEY_VERSION_ACTIVE',
        details: { keyRef: 'k@3' },
      });
    } finally {
      client.release();
    }
    expect((await store.getVersion(t, 'k', 1))?.state).toBe('decrypt-only');
    expect(await store.retireVersions(t, 'k', 3)).toEqual([1, 2]);
    expect((await store.getActiveVersion(t, 'k'))?.version).toBe(3);
  });

  it('row-level security on the server: a role scoped to tenant A sees none of tenant B’s key rows', async () => {
    const role = `fieldseal_app_${randomBytes(4).toString('hex')}`;
    const owner = new PostgresKeyStore({ sql });
    await owner.createVersion(version('srv-rls-a', 1), null);
    await owner.createVersion(version('srv-rls-b', 1), null);
    await sql.exec(`CREATE ROLE ${role} NOLOGIN; GRANT USAGE ON SCHEMA ${env.schema} TO ${role};`);
    try {
      await enableRowLevelSecurity(sql, { grantTo: role });
      await rlsChecks(sql, role, 'srv-rls-a', 'srv-rls-b');
    } finally {
      await sql.exec(`DROP OWNED BY ${role}; DROP ROLE ${role};`);
    }
  });
});

describe('key store unreachable', () => {
  it('is ERR_KEY_STORE_UNAVAILABLE with the driver error as cause, never a fallback', async () => {
    const pool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/test', max: 1 });
    try {
      const store = new PostgresKeyStore({ sql: fromPgPool(pool) });
      const err = await store.getActiveVersion('t', 'k').catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'ERR_KEY_STORE_UNAVAILABLE' });
      expect((err as Error).cause).toBeDefined();
      const fs = createFieldseal({
        admin: true,
        provider: new MemoryKeyProvider(),
        keys: { mode: 'store', store, masterKeyId: 'master' },
        cache: { maxAgeMs: 1000 },
      });
      await expect(fs.encrypt('x', ctx('t'))).rejects.toMatchObject({
        code: 'ERR_KEY_STORE_UNAVAILABLE',
      });
    } finally {
      await pool.end();
    }
  });
});

function version(tenant: string, v: number, providerId = 'memory') {
  return {
    tenant,
    keyId: 'k',
    version: v,
    providerId,
    masterKeyId: 'master',
    wrapped: new Uint8Array(73).fill(v),
  };
}

/** Under `role` with app.tenant_id = a: only a's rows, through raw SQL and through the store. */
async function rlsChecks(sql: SqlClient, role: string, a: string, b: string): Promise<void> {
  const visible = await sql.transaction(async (tx) => {
    await tx.exec(`SET LOCAL ROLE ${role}`);
    await tx.query("SELECT set_config('app.tenant_id', $1, true)", [a]);
    const { rows } = await tx.query<{ tenant_id: string }>(
      'SELECT tenant_id FROM fieldseal_key_versions',
    );
    return rows.map((r) => r.tenant_id);
  });
  expect(visible.length).toBeGreaterThan(0);
  expect(new Set(visible)).toEqual(new Set([a]));
  const none = await sql.transaction(async (tx) => {
    await tx.exec(`SET LOCAL ROLE ${role}`);
    const { rows } = await tx.query('SELECT tenant_id FROM fieldseal_key_versions');
    return rows.length;
  });
  expect(none).toBe(0);
  const scoped: KeyStore = new PostgresKeyStore({ sql, rls: { role } });
  expect((await scoped.getVersion(a, 'k', 1))?.tenant).toBe(a);
  // Retiring and reinstating work under the policies, for the session's own tenant only.
  expect((await scoped.createVersion(version(a, 2), 1))?.version).toBe(2);
  expect(await scoped.retireVersions(a, 'k', 2)).toEqual([1]);
  expect((await scoped.getVersion(a, 'k', 1))?.state).toBe('retired');
  expect(await scoped.reinstateVersion(a, 'k', 1)).toBe(true);
  const retiredOfB = await sql.transaction(async (tx) => {
    await tx.exec(`SET LOCAL ROLE ${role}`);
    await tx.query("SELECT set_config('app.tenant_id', $1, true)", [a]);
    const { rows } = await tx.query(
      "UPDATE fieldseal_key_versions SET state = 'retired' WHERE tenant_id = $1 RETURNING version",
      [b],
    );
    return rows.length;
  });
  expect(retiredOfB).toBe(0);
  expect((await new PostgresKeyStore({ sql }).getVersion(b, 'k', 1))?.state).toBe('active');
  // Even a store asked for b's row under a's scope cannot see it: the policy filters it.
  const leaky = await sql.transaction(async (tx) => {
    await tx.exec(`SET LOCAL ROLE ${role}`);
    await tx.query("SELECT set_config('app.tenant_id', $1, true)", [a]);
    const { rows } = await tx.query('SELECT 1 FROM fieldseal_key_versions WHERE tenant_id = $1', [
      b,
    ]);
    return rows.length;
  });
  expect(leaky).toBe(0);
  // And a write for b under a's scope is refused by WITH CHECK.
  await expect(
    sql.transaction(async (tx) => {
      await tx.exec(`SET LOCAL ROLE ${role}`);
      await tx.query("SELECT set_config('app.tenant_id', $1, true)", [a]);
      await tx.query('INSERT INTO fieldseal_tenants (tenant_id) VALUES ($1)', [`${b}-new`]);
    }),
  ).rejects.toBeDefined();
}
