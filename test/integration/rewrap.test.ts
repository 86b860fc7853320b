import type { PGlite } from '@electric-sql/pglite';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFieldseal, type KeyStore } from '../../src/index.js';
import { PostgresKeyStore, fromPGlite } from '../../src/postgres/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';
import { migratedPGlite } from './pg-env.js';

let tenant = 'acme';
const ctx = (record: string) => ({ tenant, table: 'users', field: 'ssn', record });

function rewrapBehaviour(name: string, makeStore: () => KeyStore) {
  it(`${name}: master-key rotation re-wraps every version; values stay readable after the old master key is destroyed`, async () => {
    tenant = `acme-${randomUUID()}`;
    const store = makeStore();
    const provider = new MemoryKeyProvider({ masterKeys: ['mk-2025', 'mk-2026'] });
    const options = (masterKeyId: string, acceptMasterKeyIds: string[] = []) => ({
      admin: true,
      provider,
      keys: { mode: 'store' as const, store, masterKeyId, keyId: 'k', acceptMasterKeyIds },
      cache: { maxAgeMs: 60_000 },
    });
    const fs = createFieldseal(options('mk-2025'));
    await fs.provisionTenant(tenant);
    const v1 = await fs.encrypt('under version 1', ctx('a'));
    await fs.rotateTenantKey(tenant);
    const v2 = await fs.encrypt('under version 2', ctx('b'));
    // Without the old key accepted, the move cannot read a row (nor can a reader).
    const unwraps = provider.calls.unwrap;
    await expect(
      createFieldseal(options('mk-2026')).rewrapTenantKeys(tenant),
    ).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
      details: { keyRef: 'memory:mk-2025' },
    });
    expect(provider.calls.unwrap).toBe(unwraps);
    // During the migration the old master key is listed in acceptMasterKeyIds.
    const rewrapper = createFieldseal(options('mk-2026', ['mk-2025']));
    const report = await rewrapper.rewrapTenantKeys(tenant);
    expect(report.rewrapped.map((r) => r.version).sort()).toEqual([1, 2]);
    expect(report.skipped).toEqual([]);
    for (const v of [1, 2])
      expect((await store.getVersion(tenant, 'k', v))?.masterKeyId).toBe('mk-2026');
    provider.destroyMasterKey('mk-2025');
    const reader = createFieldseal(options('mk-2026'));
    expect(await reader.decrypt(v1, ctx('a'))).toBe('under version 1');
    expect(await reader.decrypt(v2, ctx('b'))).toBe('under version 2');
    // The stored values themselves never changed.
    expect(await reader.encrypt('new', ctx('c'))).toMatch(/^fs1:/);
  });

  it(`${name}: without the old master key nothing can be re-wrapped, and nothing changes`, async () => {
    tenant = `acme-${randomUUID()}`;
    const store = makeStore();
    const provider = new MemoryKeyProvider({ masterKeys: ['old', 'new'] });
    const fs = createFieldseal({
      admin: true,
      provider,
      // The target must be a key reads accept (else the rewrap is refused up front).
      keys: { mode: 'store', store, masterKeyId: 'old', keyId: 'k', acceptMasterKeyIds: ['new'] },
      cache: { maxAgeMs: 60_000 },
    });
    await fs.provisionTenant(tenant);
    provider.destroyMasterKey('old');
    await expect(fs.rewrapTenantKeys(tenant, { masterKeyId: 'new' })).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
    });
    expect((await store.getVersion(tenant, 'k', 1))?.masterKeyId).toBe('old');
  });
}

describe('rewrapTenantKeys', () => {
  rewrapBehaviour('memory store', () => new MemoryKeyStore());

  let db: PGlite;
  beforeAll(async () => {
    db = await migratedPGlite();
  });
  afterAll(async () => {
    await db.close();
  });
  rewrapBehaviour('PostgreSQL store (PGlite)', () => new PostgresKeyStore({ sql: fromPGlite(db) }));
});
