import type { PGlite } from '@electric-sql/pglite';
import type { AuditEvent } from '../../src/audit/audit-event.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createFieldseal,
  defineModel,
  EnvSecretSource,
  field,
  LocalKeyProvider,
  type Fieldseal,
} from '../../src/index.js';
import {
  backfillStatus,
  countKeyUsage,
  retireKeyVersion,
  fromPGlite,
  fromPgPool,
  migrate,
  PostgresKeyStore,
  runBackfill,
  type BackfillProgress,
  type SqlClient,
} from '../../src/postgres/index.js';
import {
  Account,
  account,
  accountClient,
  createAccounts,
  insertAccounts,
  masterHex,
  readAccounts,
  writesPerRow,
} from './backfill-fixture.js';
import { emptyPGlite, migratedPGlite, PG_URL, serverSchema } from './pg-env.js';

const TENANTS = ['t-a', 't-b', 't-c'];
const PER_TENANT = 700;

function behaviour(
  name: string,
  open: () => Promise<{ sql: SqlClient; close: () => Promise<void> }>,
) {
  describe(`backfill on ${name}`, () => {
    let sql: SqlClient;
    let close: () => Promise<void>;
    let fs: Fieldseal;
    const hex = masterHex();
    const originals = TENANTS.flatMap((t) =>
      Array.from({ length: PER_TENANT }, (_, i) => account(t, i + 1)),
    );

    beforeAll(async () => {
      ({ sql, close } = await open());
      await migrate(sql);
      await createAccounts(sql);
      fs = accountClient(sql, hex);
      for (const t of TENANTS) await fs.provisionTenant(t);
      await insertAccounts(sql, fs, originals);
    });
    afterAll(async () => {
      fs.close();
      await close();
    });

    it('moves every value to the active version exactly once, checkpointed, and is a no-op when run again', async () => {
      for (const t of TENANTS) expect((await fs.rotateTenantKey(t)).version).toBe(2);
      const progress: BackfillProgress[] = [];
      const report = await runBackfill({
        sql,
        fs,
        model: Account,
        name: 'rotate-2',
        chunkSize: 250,
        onProgress: (p) => progress.push(p),
      });
      expect(report).toMatchObject({
        planned: true,
        complete: true,
        rowsExamined: originals.length,
      });
      expect(report.rowsWritten).toBe(originals.length);
      const values = originals.length + originals.filter((r) => r.secret !== null).length;
      expect(report.valuesWritten).toBe(values);
      // Progress: from 0 to everything, one report per chunk plus the first.
      const chunks = Math.ceil(originals.length / 250);
      expect(progress).toHaveLength(chunks + 1);
      expect(progress[0]).toMatchObject({ rowsDone: 0, chunksDone: 0, chunks });
      expect(progress.at(-1)).toMatchObject({
        rowsDone: originals.length,
        chunksDone: chunks,
        etaSeconds: 0,
      });
      expect(progress.map((p) => p.rowsDone)).toEqual(
        [...progress.map((p) => p.rowsDone)].sort((a, b) => a - b),
      );

      const { records, versions } = await readAccounts(sql, fs);
      expect(records).toEqual(originals);
      expect([...versions.keys()]).toEqual([2]);
      const writes = await writesPerRow(sql);
      expect(writes.size).toBe(originals.length);
      expect([...new Set(writes.values())]).toEqual([1]);

      const again = await runBackfill({ sql, fs, model: Account, name: 'rotate-2' });
      expect(again).toMatchObject({ planned: false, complete: true, chunks: 0, rowsWritten: 0 });
      const restarted = await runBackfill({
        sql,
        fs,
        model: Account,
        name: 'rotate-2',
        restart: true,
      });
      expect(restarted).toMatchObject({
        planned: true,
        complete: true,
        rowsExamined: originals.length,
        rowsWritten: 0,
      });
      expect((await writesPerRow(sql)).size).toBe(originals.length);
      expect(await backfillStatus(sql, 'rotate-2')).toMatchObject({
        tableName: 'accounts',
        fields: ['email', 'secret'],
        rowsDone: originals.length,
        rowsWritten: 0,
      });
      expect((await backfillStatus(sql, 'rotate-2'))?.finishedAt).toBeInstanceOf(Date);
    });

    it('counts key usage and retires old versions only once no value uses them', async () => {
      const store = new PostgresKeyStore({ sql });
      const tables = [{ model: Account }];
      await fs.rotateTenantKey('t-a'); // t-a: v3 active, values still on v2
      const usage = await countKeyUsage({ sql, fs, tables, tenant: 't-a' });
      const values =
        PER_TENANT + originals.filter((r) => r.tenant === 't-a' && r.secret !== null).length;
      expect(usage).toMatchObject({ rows: PER_TENANT, byKey: { 'default@2': values } });
      expect(usage.byField['accounts.email']).toEqual({ 'default@2': PER_TENANT });
      // Too recent an active version: other processes may still write under v2.
      await expect(
        retireKeyVersion({ sql, fs, store, tables, tenant: 't-a', below: 3 }),
      ).rejects.toMatchObject({ code: 'ERR_KEY_VERSION_IN_USE' });
      // Values still on v2: refused, nothing retired.
      await expect(
        retireKeyVersion({ sql, fs, store, tables, tenant: 't-a', below: 3, minActiveAgeMs: 0 }),
      ).rejects.toMatchObject({ code: 'ERR_KEY_VERSION_IN_USE', details: { keyRef: 'default@2' } });
      expect((await store.getVersion('t-a', 'default', 2))?.state).toBe('decrypt-only');
      await runBackfill({ sql, fs, model: Account, name: 'rotate-t-a', chunkSize: 300 });
      const { retired, usage: after } = await retireKeyVersion({
        sql,
        fs,
        store,
        tables,
        tenant: 't-a',
        below: 3,
        minActiveAgeMs: 0,
      });
      expect(retired).toEqual([1, 2]);
      expect(after.byKey).toEqual({ 'default@3': values });
      expect((await readAccounts(sql, fs)).records).toEqual(originals);
      expect((await store.getVersion('t-a', 'default', 2))?.state).toBe('retired');
      // Later tests rotate again and expect old versions readable.
      await fs.reinstateKeyVersion('t-a', 2);
      await fs.reinstateKeyVersion('t-a', 1);
    });

    it('stops after the current chunk on abort and resumes where it stopped', async () => {
      for (const t of TENANTS) await fs.rotateTenantKey(t);
      await sql.query('DELETE FROM write_log');
      const stop = new AbortController();
      const first = await runBackfill({
        sql,
        fs,
        model: Account,
        name: 'rotate-3',
        chunkSize: 100,
        onProgress: (p) => {
          if (p.chunksDone === 4) stop.abort();
        },
        signal: stop.signal,
      });
      expect(first).toMatchObject({ complete: false, chunks: 4, rowsWritten: 400 });
      expect((await backfillStatus(sql, 'rotate-3'))?.finishedAt).toBeNull();
      const second = await runBackfill({ sql, fs, model: Account, name: 'rotate-3' });
      expect(second).toMatchObject({
        planned: false,
        complete: true,
        rowsWritten: originals.length - 400,
      });
      const writes = await writesPerRow(sql);
      expect(writes.size).toBe(originals.length);
      expect([...new Set(writes.values())]).toEqual([1]);
      const { records, versions } = await readAccounts(sql, fs);
      expect(records).toEqual(originals);
      // t-a was rotated once more by the retirement test.
      expect([...versions.keys()].sort()).toEqual([3, 4]);
    });

    it('refuses a job name that belongs to another table or fields', async () => {
      await expect(
        runBackfill({ sql, fs, model: Account, name: 'rotate-3', fields: ['email'] }),
      ).rejects.toThrow(/exists for accounts/);
    });

    it('refuses a view, a missing table or a foreign child table before planning: rows are compared by their xmin', async () => {
      // A foreign table reports xmin 0 for every row version; a data wrapper without a handler
      // is enough to create one (its rows are never read: the check runs first).
      const fdw = `fs_test_fdw_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
      await sql.exec(
        `CREATE VIEW accounts_v AS SELECT * FROM accounts;
         CREATE MATERIALIZED VIEW accounts_m AS SELECT * FROM accounts;
         CREATE TABLE accounts_i (LIKE accounts INCLUDING ALL);
         CREATE FOREIGN DATA WRAPPER ${fdw}; CREATE SERVER ${fdw}_srv FOREIGN DATA WRAPPER ${fdw};
         CREATE FOREIGN TABLE accounts_i_f () INHERITS (accounts_i) SERVER ${fdw}_srv`,
      );
      try {
        for (const [tableName, what] of [
          ['accounts_v', 'is a view, not a table'],
          ['accounts_m', 'is a materialized view, not a table'],
          ['accounts_missing', 'does not exist'],
          ['accounts_i', 'has a partition or child table accounts_i_f that is a foreign table'],
        ] as const) {
          const err = await runBackfill({
            sql,
            fs,
            model: Account,
            tableName,
            name: tableName,
          }).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(err).toMatchObject({ code: 'ERR_BACKFILL_FAILED' });
          expect((err as Error).message).toContain(`${tableName} ${what}`);
          expect(await backfillStatus(sql, tableName)).toBeUndefined();
        }
      } finally {
        await sql.exec(
          `DROP VIEW accounts_v; DROP MATERIALIZED VIEW accounts_m; DROP TABLE accounts_i CASCADE;
           DROP SERVER ${fdw}_srv CASCADE; DROP FOREIGN DATA WRAPPER ${fdw}`,
        );
      }
    });

    it('fails closed on a damaged value: typed error naming the field, chunk left pending, nothing written', async () => {
      await fs.rotateTenantKey('t-a');
      await sql.query('DELETE FROM write_log');
      // Move one row's email into another row: its context (record id) no longer matches.
      await sql.query(
        "UPDATE accounts SET email = (SELECT email FROM accounts WHERE tenant = 't-a' AND id = 2) WHERE tenant = 't-a' AND id = 1",
      );
      await sql.query('DELETE FROM write_log');
      const err = await runBackfill({
        sql,
        fs,
        model: Account,
        name: 'rotate-4',
        chunkSize: 100,
      }).catch((e: unknown) => e);
      expect(err).toMatchObject({
        code: 'ERR_BACKFILL_FAILED',
        details: { field: 'accounts.email' },
      });
      expect((err as Error).cause).toMatchObject({ code: 'ERR_AUTHENTICATION_FAILED' });
      expect(String(err)).not.toContain('@t-a.example');
      expect((await backfillStatus(sql, 'rotate-4'))?.chunksDone).toBe(0);
      expect((await writesPerRow(sql)).size).toBe(0);
      // Repair the row; the job then completes.
      const repaired = await fs.encrypt('user1@t-a.example', {
        tenant: 't-a',
        table: 'accounts',
        field: 'email',
        record: '1',
      });
      await sql.query("UPDATE accounts SET email = $1 WHERE tenant = 't-a' AND id = 1", [repaired]);
      const done = await runBackfill({ sql, fs, model: Account, name: 'rotate-4' });
      expect(done.complete).toBe(true);
      expect((await readAccounts(sql, fs)).records).toEqual(originals);
    });

    it('leaves the rows of a shredded tenant alone and counts them', async () => {
      await fs.rotateTenantKey('t-b');
      await fs.shredTenant('t-c');
      await sql.query('DELETE FROM write_log');
      const report = await runBackfill({
        sql,
        fs,
        model: Account,
        name: 'after-shred',
        chunkSize: 500,
      });
      expect(report).toMatchObject({
        complete: true,
        rowsShredded: PER_TENANT,
        rowsWritten: PER_TENANT,
      });
      const writes = await writesPerRow(sql);
      expect([...writes.keys()].every((k) => k.startsWith('t-b/'))).toBe(true);
    });

    it('throttles to rowsPerSecond', async () => {
      await fs.rotateTenantKey('t-a');
      const started = performance.now();
      const report = await runBackfill({
        sql,
        fs,
        model: Account,
        name: 'throttled',
        fields: ['email'],
        chunkSize: 100,
        rowsPerSecond: 3000,
      });
      const seconds = (performance.now() - started) / 1000;
      // 2,100 rows at most 3,000 rows/s: at least 0.6 s (the last chunk's wait is included).
      expect(report.rowsExamined).toBe(TENANTS.length * PER_TENANT);
      expect(seconds).toBeGreaterThanOrEqual(0.6);
    });

    it("a shredded tenant's rows never hide a damaged value later in the same chunk", async () => {
      // t-d (shredded) sorts before t-e (damaged): one chunk holds both.
      for (const t of ['t-d', 't-e']) {
        await fs.provisionTenant(t);
        await insertAccounts(sql, fs, [account(t, 1), account(t, 2)]);
      }
      await fs.shredTenant('t-d');
      await fs.rotateTenantKey('t-e');
      await sql.query(
        "UPDATE accounts SET email = (SELECT email FROM accounts WHERE tenant = 't-e' AND id = 2) WHERE tenant = 't-e' AND id = 1",
      );
      const err = await runBackfill({
        sql,
        fs,
        model: Account,
        name: 'shred-then-damage',
        chunkSize: 5000,
      }).catch((e: unknown) => e);
      expect(err).toMatchObject({
        code: 'ERR_BACKFILL_FAILED',
        details: { field: 'accounts.email' },
      });
      expect((err as Error).cause).toMatchObject({ code: 'ERR_AUTHENTICATION_FAILED' });
      expect((await backfillStatus(sql, 'shred-then-damage'))?.chunksDone).toBe(0);
      await sql.query("DELETE FROM accounts WHERE tenant IN ('t-d', 't-e')");
    });
  });
}

describe('backfill on PGlite: the table is checked again in every chunk', () => {
  // PGlite runs statements in order, so a statement issued from onProgress lands between two
  // chunks: the check inside each chunk's transaction is what sees it.
  it('a foreign child attached mid-job stops the job before its next chunk', async () => {
    const db = await emptyPGlite();
    const sql = fromPGlite(db);
    await migrate(sql);
    await createAccounts(sql);
    const fs = accountClient(sql, masterHex());
    try {
      await fs.provisionTenant('t-a');
      await insertAccounts(
        sql,
        fs,
        Array.from({ length: 300 }, (_, i) => account('t-a', i + 1)),
      );
      await fs.rotateTenantKey('t-a');
      const fdw = `fs_test_fdw_mid_${Date.now()}`;
      await sql.exec(
        `CREATE FOREIGN DATA WRAPPER ${fdw}; CREATE SERVER ${fdw}_srv FOREIGN DATA WRAPPER ${fdw}`,
      );
      let attached: Promise<void> | undefined;
      const err = await runBackfill({
        sql,
        fs,
        model: Account,
        name: 'mid-job',
        chunkSize: 100,
        onProgress: (p) => {
          if (p.chunksDone === 1 && attached === undefined) {
            attached = sql.exec(
              `CREATE FOREIGN TABLE accounts_f () INHERITS (accounts) SERVER ${fdw}_srv`,
            );
          }
        },
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      await attached;
      expect(err).toMatchObject({ code: 'ERR_BACKFILL_FAILED' });
      expect((err as Error).message).toContain('accounts_f that is a foreign table');
      expect((await backfillStatus(sql, 'mid-job'))?.chunksDone).toBe(1);
    } finally {
      fs.close();
      await db.close();
    }
  });
});

behaviour('PGlite', async () => {
  const db = await emptyPGlite();
  return { sql: fromPGlite(db), close: () => db.close() };
});

describe.skipIf(PG_URL === undefined)('server', () => {
  behaviour('the PostgreSQL server', async () => {
    const s = await serverSchema();
    return { sql: fromPgPool(s.pool(4)), close: s.close };
  });
});

describe('plaintext migration (PGlite)', () => {
  const Legacy = defineModel({
    table: 'people',
    tenant: 'tenant',
    key: ['id'],
    fields: {
      tenant: field.string(),
      id: field.string(),
      email: field.string().encrypted({ storage: 'text', allowPlaintextRead: true }),
      token: field.bytes().encrypted({ storage: 'text', allowPlaintextRead: true }),
      ssn: field.string().encrypted({ storage: 'text' }),
    },
  });
  let db: PGlite;
  let sql: SqlClient;
  let fs: Fieldseal;
  const events: AuditEvent[] = [];

  beforeAll(async () => {
    db = await migratedPGlite();
    sql = fromPGlite(db);
    fs = createFieldseal({
      admin: true,
      provider: new LocalKeyProvider({
        source: new EnvSecretSource({ keys: { m: 'M' }, env: { M: `hex:${masterHex()}` } }),
      }),
      keys: { mode: 'store', store: new PostgresKeyStore({ sql }), masterKeyId: 'm' },
      cache: { maxAgeMs: 60_000 },
      fields: { ...Legacy.policies },
      audit: { record: (e) => Promise.resolve(void events.push(e)) },
      actor: 'migration-job',
    });
    await fs.provisionTenant('acme');
    await sql.exec(
      'CREATE TABLE people (tenant text, id text, email text, token text, ssn text, PRIMARY KEY (tenant, id))',
    );
    for (let i = 0; i < 50; i++) {
      await sql.query('INSERT INTO people VALUES ($1, $2, $3, $4, NULL)', [
        'acme',
        `p${i}`,
        `p${i}@acme.example`,
        Buffer.from(`tok-${i}`).toString('base64'),
      ]);
    }
  });
  afterAll(async () => {
    fs.close();
    await db.close();
  });

  it('encrypts legacy plaintext in fields that allow it, with typed converters, counted', async () => {
    const typeless = await runBackfill({
      sql,
      fs,
      model: Legacy,
      name: 'untyped',
      fields: ['token'],
    }).catch((e: unknown) => e);
    expect(typeless).toMatchObject({
      code: 'ERR_BACKFILL_FAILED',
      details: { field: 'people.token' },
    });
    expect((typeless as Error).cause).toMatchObject({ code: 'ERR_UNSUPPORTED_VALUE' });

    const report = await runBackfill({
      sql,
      fs,
      model: Legacy,
      name: 'encrypt-people',
      fields: ['email', 'token'],
      chunkSize: 16,
      legacy: { token: (raw) => Buffer.from(raw as string, 'base64') },
    });
    expect(report).toMatchObject({ complete: true, rowsWritten: 50, valuesWritten: 100 });
    expect(fs.metrics().plaintextReads).toMatchObject({ 'people.email': 50, 'people.token': 51 });
    // The audit trail records each run's start and stop (with counts, never values).
    const runs = events.filter((e) => e.operation.startsWith('backfill-'));
    expect(runs.map((e) => [e.operation, e.outcome, e.errorCode])).toEqual([
      ['backfill-start', 'success', undefined],
      ['backfill-stop', 'failure', 'ERR_BACKFILL_FAILED'],
      ['backfill-start', 'success', undefined],
      ['backfill-stop', 'success', undefined],
    ]);
    expect(runs[3]).toMatchObject({
      actor: 'migration-job',
      detail: { job: 'encrypt-people', table: 'people', rowsWritten: 50, complete: true },
    });
    expect(JSON.stringify(events)).not.toContain('@acme.example');
    const { rows } = await sql.query<{ id: string; email: string; token: string }>(
      'SELECT id, email, token FROM people ORDER BY id',
    );
    for (const r of rows) {
      expect(r.email.startsWith('fs1:')).toBe(true);
      const i = Number(r.id.slice(1));
      const ctx = { tenant: 'acme', table: 'people', record: r.id };
      expect(await fs.decrypt(r.email, { ...ctx, field: 'email' })).toBe(`p${i}@acme.example`);
      expect(await fs.decrypt(r.token, { ...ctx, field: 'token' })).toEqual(
        Buffer.from(`tok-${i}`),
      );
    }
  });

  it('refuses plaintext in a field without the escape hatch', async () => {
    await sql.query("UPDATE people SET ssn = '123-45-6789' WHERE id = 'p3'");
    const err = await runBackfill({
      sql,
      fs,
      model: Legacy,
      name: 'strict',
      fields: ['ssn'],
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_BACKFILL_FAILED', details: { field: 'people.ssn' } });
    expect((err as Error).cause).toMatchObject({ code: 'ERR_PLAINTEXT_IN_ENCRYPTED_FIELD' });
    expect(String(err)).not.toContain('123-45');
    const { rows } = await sql.query<{ ssn: string }>("SELECT ssn FROM people WHERE id = 'p3'");
    expect(rows[0]?.ssn).toBe('123-45-6789');
  });
});
