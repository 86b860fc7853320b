import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { KeyStore, NewKeyVersion } from '../../src/index.js';

/**
 * The behaviour every KeyStore must have, run against each implementation (memory, PGlite,
 * PostgreSQL server). `factory` returns a store; tenants are unique per test so one database
 * can serve the whole suite.
 */
export function runKeyStoreSuite(name: string, factory: () => KeyStore | Promise<KeyStore>): void {
  const tenant = (): string => `tenant-${randomUUID()}`;
  const row = (t: string, version: number, keyId = 'k', fill = version): NewKeyVersion => ({
    tenant: t,
    keyId,
    version,
    providerId: 'memory',
    masterKeyId: 'master',
    wrapped: new Uint8Array(73).fill(fill),
  });

  describe(`KeyStore conformance: ${name}`, () => {
    it('an unknown tenant or key has no versions', async () => {
      const store = await factory();
      const t = tenant();
      expect(await store.getActiveVersion(t, 'k')).toBeUndefined();
      expect(await store.getVersion(t, 'k', 1)).toBeUndefined();
    });

    it('creates the first version as active and returns it intact', async () => {
      const store = await factory();
      const t = tenant();
      const created = await store.createVersion(row(t, 1), null);
      expect(created).toMatchObject({ tenant: t, keyId: 'k', version: 1, state: 'active' });
      expect(created?.createdAt).toBeInstanceOf(Date);
      const active = await store.getActiveVersion(t, 'k');
      expect(active?.version).toBe(1);
      expect(Buffer.from(active!.wrapped).equals(Buffer.alloc(73, 1))).toBe(true);
      expect(active?.providerId).toBe('memory');
      expect(active?.masterKeyId).toBe('master');
    });

    it('refuses a first version when one exists, and a rotation from a stale version', async () => {
      const store = await factory();
      const t = tenant();
      expect(await store.createVersion(row(t, 1), null)).toBeDefined();
      expect(await store.createVersion(row(t, 2), null)).toBeUndefined();
      expect(await store.createVersion(row(t, 2), 5)).toBeUndefined();
      expect(await store.createVersion(row(t, 1), 1)).toBeUndefined(); // duplicate version
      expect((await store.getActiveVersion(t, 'k'))?.version).toBe(1);
    });

    it('rotation makes the new version active and keeps the old one readable as decrypt-only', async () => {
      const store = await factory();
      const t = tenant();
      await store.createVersion(row(t, 1), null);
      const v2 = await store.createVersion(row(t, 2), 1);
      expect(v2?.state).toBe('active');
      expect((await store.getActiveVersion(t, 'k'))?.version).toBe(2);
      const v1 = await store.getVersion(t, 'k', 1);
      expect(v1?.state).toBe('decrypt-only');
      expect(Buffer.from(v1!.wrapped).equals(Buffer.alloc(73, 1))).toBe(true);
    });

    it('versions up to 2^32-1 round-trip', async () => {
      const store = await factory();
      const t = tenant();
      await store.createVersion(row(t, 0xffffffff), null);
      expect((await store.getVersion(t, 'k', 0xffffffff))?.version).toBe(0xffffffff);
    });

    it('is scoped by tenant and key id: nothing of another tenant or key id is ever returned', async () => {
      const store = await factory();
      const a = tenant();
      const b = tenant();
      await store.createVersion(row(a, 1, 'k', 0xaa), null);
      await store.createVersion(row(a, 1, 'other', 0xab), null);
      expect(await store.getActiveVersion(b, 'k')).toBeUndefined();
      expect(await store.getVersion(b, 'k', 1)).toBeUndefined();
      await store.createVersion(row(b, 1, 'k', 0xbb), null);
      expect(Buffer.from((await store.getVersion(b, 'k', 1))!.wrapped)[0]).toBe(0xbb);
      expect(Buffer.from((await store.getVersion(a, 'k', 1))!.wrapped)[0]).toBe(0xaa);
      expect(Buffer.from((await store.getVersion(a, 'other', 1))!.wrapped)[0]).toBe(0xab);
    });

    it('lists every version of a tenant and nothing of another', async () => {
      const store = await factory();
      const t = tenant();
      await store.createVersion(row(t, 1), null);
      await store.createVersion(row(t, 2), 1);
      await store.createVersion(row(t, 1, 'other'), null);
      await store.createVersion(row(tenant(), 1), null);
      const list = await store.listVersions(t);
      expect(list.map((r) => `${r.keyId}@${r.version}`).sort()).toEqual(['k@1', 'k@2', 'other@1']);
      expect(list.every((r) => r.tenant === t)).toBe(true);
    });

    it('rewrapVersion replaces the wrapped key only while the row is as expected', async () => {
      const store = await factory();
      const t = tenant();
      const v1 = (await store.createVersion(row(t, 1), null))!;
      const next = {
        providerId: 'other-provider',
        masterKeyId: 'master-2',
        wrapped: new Uint8Array(73).fill(9),
      };
      expect(await store.rewrapVersion(v1, next)).toBe(true);
      const after = (await store.getVersion(t, 'k', 1))!;
      expect(after).toMatchObject({
        providerId: 'other-provider',
        masterKeyId: 'master-2',
        state: 'active',
      });
      expect(Buffer.from(after.wrapped).equals(Buffer.alloc(73, 9))).toBe(true);
      // The old expectation no longer holds: a second rewrap from it is refused.
      expect(await store.rewrapVersion(v1, { ...next, wrapped: new Uint8Array(73).fill(7) })).toBe(
        false,
      );
      expect(Buffer.from((await store.getVersion(t, 'k', 1))!.wrapped)[0]).toBe(9);
      await store.shredTenant(t);
      expect(await store.rewrapVersion(after, next)).toBe(false);
    });

    it('concurrent first versions for one tenant: exactly one wins', async () => {
      const store = await factory();
      const t = tenant();
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => store.createVersion(row(t, 1, 'k', i + 1), null)),
      );
      expect(results.filter((r) => r !== undefined)).toHaveLength(1);
      expect((await store.getActiveVersion(t, 'k'))?.version).toBe(1);
    });
  });
}
