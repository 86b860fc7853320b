import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFieldseal } from '../../src/index.js';
import { PostgresKeyStore, fromPGlite, type SqlClient } from '../../src/postgres/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';
import type { KeyStore } from '../../src/index.js';
import { migratedPGlite } from './pg-env.js';

const ctx = (tenant: string, record = 'r1') => ({ tenant, table: 'users', field: 'ssn', record });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function shredBehaviour(name: string, makeStore: () => KeyStore) {
  describe(`shredTenant on ${name}`, () => {
    it('destroys every version of one tenant: reads and writes fail with ERR_KEY_SHREDDED at once, others untouched', async () => {
      const store = makeStore();
      const provider = new MemoryKeyProvider();
      const options = {
        admin: true,
        provider,
        keys: { mode: 'store' as const, store, masterKeyId: 'master', keyId: 'k' },
        cache: { maxAgeMs: 60_000 },
      };
      const fs = createFieldseal(options);
      await fs.provisionTenant('doomed');
      await fs.provisionTenant('kept');
      const v1 = await fs.encrypt('first', ctx('doomed'));
      await fs.rotateTenantKey('doomed');
      const v2 = await fs.encrypt('second', ctx('doomed'));
      const kept = await fs.encrypt('kept', ctx('kept'));
      // Warm caches everywhere before the shred.
      expect(await fs.decrypt(v1, ctx('doomed'))).toBe('first');

      const receipt = await fs.shredTenant('doomed');
      expect(receipt.tenant).toBe('doomed');
      expect([...receipt.versions].sort((a, b) => a.version - b.version)).toEqual([
        { keyId: 'k', version: 1 },
        { keyId: 'k', version: 2 },
      ]);
      expect(receipt.shreddedAt).toBeInstanceOf(Date);
      expect(JSON.stringify(receipt)).not.toMatch(/wrapped/);

      for (const v of [v1, v2]) {
        await expect(fs.decrypt(v, ctx('doomed'))).rejects.toMatchObject({
          code: 'ERR_KEY_SHREDDED',
        });
      }
      await expect(fs.encrypt('again', ctx('doomed'))).rejects.toMatchObject({
        code: 'ERR_KEY_SHREDDED',
      });
      await expect(fs.provisionTenant('doomed')).rejects.toMatchObject({
        code: 'ERR_KEY_SHREDDED',
      });
      await expect(fs.rotateTenantKey('doomed')).rejects.toMatchObject({
        code: 'ERR_KEY_SHREDDED',
      });
      expect(await fs.decrypt(kept, ctx('kept'))).toBe('kept');
      const rows = [
        await store.getVersion('doomed', 'k', 1),
        await store.getVersion('doomed', 'k', 2),
      ];
      for (const row of rows) {
        expect(row?.state).toBe('shredded');
        expect(row?.wrapped.byteLength).toBe(0);
      }
      // A second shred has nothing left to destroy.
      expect((await fs.shredTenant('doomed')).versions).toEqual([]);
    });

    it('another process stops within its cache age (fleet-wide purge is a later feature)', async () => {
      const store = makeStore();
      const provider = new MemoryKeyProvider();
      const options = {
        admin: true,
        provider,
        keys: { mode: 'store' as const, store, masterKeyId: 'master', keyId: 'k' },
      };
      const admin = createFieldseal({ ...options, cache: { maxAgeMs: 60_000 } });
      await admin.provisionTenant('t-shred-2');
      const value = await admin.encrypt('x', ctx('t-shred-2'));
      const other = createFieldseal({ ...options, cache: { maxAgeMs: 150 } });
      expect(await other.decrypt(value, ctx('t-shred-2'))).toBe('x');
      await admin.shredTenant('t-shred-2');
      await sleep(300);
      await expect(other.decrypt(value, ctx('t-shred-2'))).rejects.toMatchObject({
        code: 'ERR_KEY_SHREDDED',
      });
    });
  });
}

shredBehaviour('the memory key store', () => new MemoryKeyStore());

describe('PGlite', () => {
  let db: PGlite;
  let sql: SqlClient;
  beforeAll(async () => {
    db = await migratedPGlite();
    sql = fromPGlite(db);
  });
  afterAll(async () => {
    await db.close();
  });
  shredBehaviour('the PostgreSQL key store (PGlite)', () => new PostgresKeyStore({ sql }));

  it('leaves no wrapped key bytes in the table', async () => {
    const { rows } = await sql.query<{ n: string }>(
      "SELECT count(*) AS n FROM fieldseal_key_versions WHERE state = 'shredded' AND wrapped IS NOT NULL",
    );
    expect(Number(rows[0]!.n)).toBe(0);
  });

  it('refuses embedded mode (its wrapped keys live in the rows: destroy the master key instead)', async () => {
    const fs = createFieldseal({
      admin: true,
      provider: new MemoryKeyProvider(),
      keys: { mode: 'embedded', masterKeyId: 'master' },
      cache: { maxAgeMs: 1000 },
    });
    await expect(fs.shredTenant('x')).rejects.toMatchObject({ code: 'ERR_KEY_NOT_CONFIGURED' });
  });
});
