import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PGlite } from '@electric-sql/pglite';
import { fromPGlite, shareTransactions } from '../../src/postgres/index.js';
import { emptyPGlite } from './pg-env.js';

/*
 * shareTransactions(pglite): statements of fieldseal's clients issued inside a transaction the
 * ORM opened on the shared database run in it (committed and rolled back with it) instead of
 * waiting for it to end, from inside it, forever.
 */
describe('shareTransactions (PGlite)', () => {
  let db: PGlite;
  beforeAll(async () => {
    db = await emptyPGlite();
    await db.exec('CREATE TABLE shared_t (id text PRIMARY KEY)');
  });
  afterAll(async () => {
    await db.close();
  });

  it('joins the transaction: commits and rolls back with it, and never waits for it', async () => {
    const shared = shareTransactions(db);
    const sql = fromPGlite(db);
    const ids = async () =>
      (await sql.query<{ id: string }>('SELECT id FROM shared_t ORDER BY id')).rows.map(
        (r) => r.id,
      );
    await shared.transaction(async (tx) => {
      await tx.query(`INSERT INTO shared_t VALUES ('orm-1')`);
      await sql.query(`INSERT INTO shared_t VALUES ('fieldseal-1')`);
      expect(await ids()).toEqual(['fieldseal-1', 'orm-1']);
    });
    await expect(
      shared.transaction(async (tx) => {
        await tx.query(`INSERT INTO shared_t VALUES ('orm-2')`);
        await sql.query(`INSERT INTO shared_t VALUES ('fieldseal-2')`);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await ids()).toEqual(['fieldseal-1', 'orm-1']);
    // Outside a transaction, and through the proxy's other methods, nothing changes.
    expect((await shared.query<{ n: number }>('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]);
    expect(await ids()).toEqual(['fieldseal-1', 'orm-1']);
  });
});
