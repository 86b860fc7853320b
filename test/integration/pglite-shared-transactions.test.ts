import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PGlite } from '@electric-sql/pglite';
import { createFieldseal } from '../../src/index.js';
import {
  fromPGlite,
  migrate,
  PostgresKeyStore,
  shareTransactions,
} from '../../src/postgres/index.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';
import { emptyPGlite } from './pg-env.js';

/*
 * shareTransactions(pglite): statements of fieldseal's clients issued while a transaction the
 * ORM opened on the shared database is running read in it instead of waiting for it to end,
 * from inside it, forever; and they never write in it (what they wrote would roll back with
 * the ORM's transaction while fieldseal kept using it).
 */
describe('shareTransactions (PGlite)', () => {
  let db: PGlite;
  beforeAll(async () => {
    db = await emptyPGlite();
    await db.exec('CREATE TABLE shared_t (id text PRIMARY KEY)');
    await migrate(fromPGlite(db));
  });
  afterAll(async () => {
    await db.close();
  });

  const ids = async () =>
    (await fromPGlite(db).query<{ id: string }>('SELECT id FROM shared_t ORDER BY id')).rows.map(
      (r) => r.id,
    );

  it('reads in the transaction, from its async context and from outside it', async () => {
    const shared = shareTransactions(db);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let handed!: (tx: unknown) => void;
    const out = new Promise<unknown>((resolve) => (handed = resolve));
    // The pattern of Prisma's PGlite adapter: the transaction object leaves the callback, and
    // the caller's code (here: the test body) runs in its own async context.
    const done = shared.transaction(async (tx) => {
      await tx.query(`INSERT INTO shared_t VALUES ('orm-1')`);
      expect(await ids()).toEqual(['orm-1']);
      handed(tx);
      await held;
    });
    await out;
    expect(await ids()).toEqual(['orm-1']);
    release();
    await done;
    // Outside a transaction, and through the proxy's other methods, nothing changes.
    expect((await shared.query<{ n: number }>('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]);
    expect(await ids()).toEqual(['orm-1']);
  });

  it('refuses to write in it, from its async context and from outside it', async () => {
    const shared = shareTransactions(db);
    const sql = fromPGlite(db);
    await shared.transaction(async () => {
      for (const write of [
        sql.query(`INSERT INTO shared_t VALUES ('fieldseal-1')`),
        sql.query('SELECT id FROM shared_t FOR UPDATE'),
        sql.exec(`DELETE FROM shared_t`),
        sql.transaction((tx) => tx.query('SELECT 1')),
      ]) {
        await expect(write).rejects.toMatchObject({ code: 'ERR_KEY_STORE_UNAVAILABLE' });
      }
    });
    expect(await ids()).toEqual(['orm-1']);
    await sql.query(`INSERT INTO shared_t VALUES ('fieldseal-1')`);
    expect(await ids()).toEqual(['fieldseal-1', 'orm-1']);
  });

  it("never creates a tenant's key in a transaction that can roll back; reads keys there", async () => {
    const sql = fromPGlite(db);
    const options = {
      admin: true,
      provider: new MemoryKeyProvider(),
      keys: {
        mode: 'store' as const,
        store: new PostgresKeyStore({ sql }),
        masterKeyId: 'master',
        keyId: 'k1',
      },
      cache: { maxAgeMs: 60_000 },
    };
    const fs = createFieldseal(options);
    const shared = shareTransactions(db);
    const ctx = { tenant: 'new-tenant', table: 't', field: 'f', record: ['r'] };
    await expect(
      shared.transaction(async () => {
        await fs.provisionTenant('new-tenant');
      }),
    ).rejects.toMatchObject({ code: 'ERR_KEY_STORE_UNAVAILABLE' });
    await expect(fs.encrypt('secret', ctx)).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
    });
    await fs.provisionTenant('new-tenant');
    // Outside it, the key is created and kept: a fresh client decrypts what this one wrote.
    const sealed = await fs.encrypt('secret', ctx);
    const fresh = createFieldseal(options);
    expect(await fresh.decrypt(sealed, ctx)).toBe('secret');
    // A provisioned tenant's key is read in a transaction, and values seal there.
    await shared.transaction(async () => {
      expect(await fresh.decrypt(await fresh.encrypt('inside', ctx), ctx)).toBe('inside');
    });
  });
});
