import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFieldseal, inspectEnvelope } from '../../src/index.js';
import { PostgresKeyStore, fromPGlite, type SqlClient } from '../../src/postgres/index.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';
import { migratedPGlite } from './pg-env.js';

/**
 * The per-tenant boundary, end to end on the embedded PostgreSQL key store: by AAD, by key,
 * through the cache, and per master key.
 */
describe('tenant isolation (PGlite key store)', () => {
  let db: PGlite;
  let sql: SqlClient;
  const provider = new MemoryKeyProvider({ masterKeys: ['master', 'mk-a', 'mk-b'] });
  const ctx = (tenant: string, record = 'r1') => ({ tenant, table: 'users', field: 'ssn', record });
  const client = (masterKeyId: string | ((t: string) => string) = 'master') =>
    createFieldseal({
      admin: true,
      provider,
      keys: { mode: 'store', store: new PostgresKeyStore({ sql }), masterKeyId, keyId: 'k' },
      cache: { maxAgeMs: 60_000 },
    });

  beforeAll(async () => {
    db = await migratedPGlite();
    sql = fromPGlite(db);
    const fs = client();
    await fs.provisionTenant('A');
    await fs.provisionTenant('B');
  });
  afterAll(async () => {
    await db.close();
  });

  it('each tenant has its own data key (different commitments for the same key id and version)', async () => {
    const fs = client();
    const a = await fs.encryptToBytes('x', ctx('A'));
    const b = await fs.encryptToBytes('x', ctx('B'));
    expect(inspectEnvelope(a)?.keyLabel).toBe('k@1');
    expect(inspectEnvelope(b)?.keyLabel).toBe('k@1');
    const commitment = (e: Buffer) =>
      e.subarray(e.byteLength - 16 - 1 - 1 - 32, e.byteLength - 16 - 1 - 1);
    expect(commitment(a).equals(commitment(b))).toBe(false);
  });

  it("A's value never decrypts as B's: the store resolves B's key and the commitment refuses it", async () => {
    const fs = client();
    const a = await fs.encrypt('123-45-6789', ctx('A'));
    await expect(fs.decrypt(a, ctx('B'))).rejects.toMatchObject({ code: 'ERR_WRONG_KEY' });
  });

  it('a cache filled by A never serves B: B costs its own unwrap and gets its own key', async () => {
    const writer = client();
    const a = await writer.encrypt('a-secret', ctx('A'));
    const b = await writer.encrypt('b-secret', ctx('B'));
    const reader = client();
    const before = provider.calls.unwrap;
    for (let i = 0; i < 20; i++) expect(await reader.decrypt(a, ctx('A'))).toBe('a-secret');
    expect(provider.calls.unwrap - before).toBe(1);
    await expect(reader.decrypt(a, ctx('B'))).rejects.toMatchObject({ code: 'ERR_WRONG_KEY' });
    expect(provider.calls.unwrap - before).toBe(2); // B's key was unwrapped, not A's reused
    expect(await reader.decrypt(b, ctx('B'))).toBe('b-secret');
    expect(provider.calls.unwrap - before).toBe(2);
  });

  it('with one master key per tenant, a key-store row copied to another tenant does not unwrap', async () => {
    const fs = client((t) => `mk-${t.toLowerCase()}`);
    await fs.provisionTenant('a');
    await fs.provisionTenant('b');
    // An attacker with write access copies tenant a's wrapped key over tenant b's.
    await sql.query(
      `UPDATE fieldseal_key_versions SET wrapped = (SELECT wrapped FROM fieldseal_key_versions WHERE tenant_id = 'a')
        WHERE tenant_id = 'b'`,
    );
    const fresh = client((t) => `mk-${t.toLowerCase()}`);
    await expect(fresh.encrypt('x', ctx('b'))).rejects.toMatchObject({
      code: 'ERR_KEY_UNWRAP_FAILED',
    });
  });
});
