import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { KeyStore, NewKeyVersion, StoredKeyVersion } from '../../src/index.js';

/**
 * The behaviour every KeyStore must have, run against each implementation (memory, a guarded
 * memory store, PGlite, the PostgreSQL server, DynamoDB Local). Stores must implement the
 * optional `setCommitment`. `factory` returns a store; tenants are unique per test so one database
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

    it('retireVersions retires the decrypt-only versions below the bound, keeping their wrapped bytes', async () => {
      const store = await factory();
      const t = tenant();
      const other = tenant();
      for (const x of [t, other]) {
        await store.createVersion(row(x, 1), null);
        await store.createVersion(row(x, 2), 1);
        await store.createVersion(row(x, 3), 2);
        await store.createVersion(row(x, 4), 3);
      }
      await store.createVersion(row(t, 1, 'other'), null);
      await store.createVersion(row(t, 2, 'other'), 1);
      expect(await store.retireVersions(t, 'k', 3)).toEqual([1, 2]);
      const states = async (x: string, keyId = 'k') =>
        Object.fromEntries(
          (await store.listVersions(x))
            .filter((r) => r.keyId === keyId)
            .map((r) => [r.version, r.state]),
        );
      expect(await states(t)).toEqual({
        1: 'retired',
        2: 'retired',
        3: 'decrypt-only',
        4: 'active',
      });
      for (const v of [1, 2]) {
        const retired = (await store.getVersion(t, 'k', v))!;
        expect(retired.state).toBe('retired');
        expect(Buffer.from(retired.wrapped).equals(Buffer.alloc(73, v))).toBe(true);
      }
      // Another tenant, and another key id of the same tenant, are untouched.
      expect(await states(other)).toEqual({
        1: 'decrypt-only',
        2: 'decrypt-only',
        3: 'decrypt-only',
        4: 'active',
      });
      expect(await states(t, 'other')).toEqual({ 1: 'decrypt-only', 2: 'active' });
      // Already retired versions are not reported again; a higher bound takes the next one.
      expect(await store.retireVersions(t, 'k', 3)).toEqual([]);
      expect(await store.retireVersions(t, 'k', 4)).toEqual([3]);
      expect(await store.retireVersions(t, 'k', 1)).toEqual([]);
      expect((await store.getActiveVersion(t, 'k'))?.version).toBe(4);
    });

    it('retireVersions refuses, atomically, a bound that would include the active version', async () => {
      const store = await factory();
      const t = tenant();
      await store.createVersion(row(t, 1), null);
      await store.createVersion(row(t, 2), 1);
      for (const below of [3, 4, 0x100000000]) {
        const err = await store.retireVersions(t, 'k', below).catch((e: unknown) => e);
        expect(err).toMatchObject({ code: 'ERR_KEY_VERSION_ACTIVE', details: { keyRef: 'k@2' } });
        expect((err as Error).message).not.toContain(t);
      }
      // Nothing changed: version 1 is still readable and version 2 still active.
      expect((await store.getVersion(t, 'k', 1))?.state).toBe('decrypt-only');
      expect((await store.getActiveVersion(t, 'k'))?.version).toBe(2);
    });

    it('retireVersions and reinstateVersion reject out-of-range numbers with a RangeError', async () => {
      const store = await factory();
      const t = tenant();
      await store.createVersion(row(t, 1), null);
      for (const below of [0, -1, 1.5, Number.NaN, 0x100000001]) {
        await expect(store.retireVersions(t, 'k', below)).rejects.toThrow(RangeError);
      }
      for (const version of [0, 2.5, 0x100000000]) {
        await expect(store.reinstateVersion(t, 'k', version)).rejects.toThrow(RangeError);
      }
    });

    it('reinstateVersion makes a retired version decrypt-only again, and only a retired one', async () => {
      const store = await factory();
      const t = tenant();
      await store.createVersion(row(t, 1), null);
      await store.createVersion(row(t, 2), 1);
      await store.createVersion(row(t, 3), 2);
      expect(await store.retireVersions(t, 'k', 3)).toEqual([1, 2]);
      expect(await store.reinstateVersion(t, 'k', 1)).toBe(true);
      expect((await store.getVersion(t, 'k', 1))?.state).toBe('decrypt-only');
      expect((await store.getVersion(t, 'k', 2))?.state).toBe('retired');
      expect(await store.reinstateVersion(t, 'k', 1)).toBe(false); // already readable
      expect(await store.reinstateVersion(t, 'k', 3)).toBe(false); // active stays active
      expect((await store.getActiveVersion(t, 'k'))?.version).toBe(3);
      await expect(store.reinstateVersion(t, 'k', 9)).rejects.toMatchObject({
        code: 'ERR_KEY_NOT_FOUND',
        details: { keyRef: 'k@9' },
      });
      await expect(store.reinstateVersion(tenant(), 'k', 1)).rejects.toMatchObject({
        code: 'ERR_KEY_NOT_FOUND',
      });
    });

    it('a rotation after a retirement demotes the active version and leaves retired ones retired', async () => {
      const store = await factory();
      const t = tenant();
      await store.createVersion(row(t, 1), null);
      await store.createVersion(row(t, 2), 1);
      await store.retireVersions(t, 'k', 2);
      expect((await store.createVersion(row(t, 3), 2))?.state).toBe('active');
      expect((await store.getVersion(t, 'k', 1))?.state).toBe('retired');
      expect((await store.getVersion(t, 'k', 2))?.state).toBe('decrypt-only');
    });

    it('rewrapVersion re-wraps a retired version, which stays retired', async () => {
      const store = await factory();
      const t = tenant();
      await store.createVersion(row(t, 1), null);
      await store.createVersion(row(t, 2), 1);
      await store.retireVersions(t, 'k', 2);
      const retired = (await store.getVersion(t, 'k', 1))!;
      const next = { providerId: 'p2', masterKeyId: 'm2', wrapped: new Uint8Array(73).fill(5) };
      expect(await store.rewrapVersion(retired, next)).toBe(true);
      const after = (await store.getVersion(t, 'k', 1))!;
      expect(after).toMatchObject({ state: 'retired', providerId: 'p2', masterKeyId: 'm2' });
      expect(Buffer.from(after.wrapped).equals(Buffer.alloc(73, 5))).toBe(true);
    });

    it('shredTenant shreds retired versions too, and a shredded version cannot be reinstated', async () => {
      const store = await factory();
      const t = tenant();
      await store.createVersion(row(t, 1), null);
      await store.createVersion(row(t, 2), 1);
      await store.retireVersions(t, 'k', 2);
      const shredded = await store.shredTenant(t);
      expect(shredded.map((v) => v.version).sort()).toEqual([1, 2]);
      const v1 = (await store.getVersion(t, 'k', 1))!;
      expect(v1.state).toBe('shredded');
      expect(v1.wrapped.byteLength).toBe(0);
      await expect(store.reinstateVersion(t, 'k', 1)).rejects.toMatchObject({
        code: 'ERR_KEY_SHREDDED',
        details: { keyRef: 'k@1' },
      });
      expect(await store.retireVersions(t, 'k', 3)).toEqual([]);
      expect((await store.getVersion(t, 'k', 1))?.state).toBe('shredded');
    });

    it('rotations racing retirements never leave the active version retired', async () => {
      const store = await factory();
      const t = tenant();
      await store.createVersion(row(t, 1), null);
      for (let v = 1; v <= 12; v++) {
        // Rotate v -> v+1 while retiring everything below v+1: the retirement either runs
        // first (v is still active: refused) or after (v is decrypt-only: retired).
        const rotate = () => store.createVersion(row(t, v + 1), v);
        const retire = () =>
          store.retireVersions(t, 'k', v + 1).then(
            (versions) => ({ ok: true as const, versions }),
            (err: unknown) => ({ ok: false as const, err }),
          );
        // Start them in both orders (a store without real concurrency then covers both cases).
        const [rotated, retired] =
          v % 2 === 0
            ? await Promise.all([rotate(), retire()])
            : await Promise.all([retire(), rotate()]).then(([b, a]) => [a, b] as const);
        expect(rotated?.state).toBe('active');
        if (retired.ok) {
          expect(retired.versions).toContain(v);
        } else {
          expect(retired.err).toMatchObject({ code: 'ERR_KEY_VERSION_ACTIVE' });
          expect((await store.getVersion(t, 'k', v))?.state).toBe('decrypt-only');
        }
        const rows = await store.listVersions(t);
        expect(rows.filter((r) => r.state === 'active').map((r) => r.version)).toEqual([v + 1]);
      }
    });

    // Key commitments (issue #11, defect 4): stored with a version, kept by rewrap, destroyed
    // by shred, set once on legacy rows by compare-and-set.
    const commitment = (fill: number): Uint8Array => new Uint8Array(32).fill(fill);
    const hex = (bytes: Uint8Array | undefined): string | undefined =>
      bytes === undefined ? undefined : Buffer.from(bytes).toString('hex');
    const withCommitment = (t: string, version: number, fill: number, keyId = 'k') => ({
      ...row(t, version, keyId),
      commitment: commitment(fill),
    });
    const setCommitment = (store: KeyStore, r: StoredKeyVersion, c: Uint8Array) => {
      if (store.setCommitment === undefined) throw new Error(`${name} has no setCommitment`);
      return store.setCommitment(r, c);
    };

    it('a commitment round-trips through createVersion, getVersion, getActiveVersion and listVersions', async () => {
      const store = await factory();
      const t = tenant();
      const created = (await store.createVersion(withCommitment(t, 1, 0xc1), null))!;
      expect(hex(created.commitment)).toBe(hex(commitment(0xc1)));
      await store.createVersion(withCommitment(t, 2, 0xc2), 1);
      await store.createVersion(withCommitment(t, 1, 0xd1, 'other'), null);
      expect(hex((await store.getActiveVersion(t, 'k'))?.commitment)).toBe(hex(commitment(0xc2)));
      expect(hex((await store.getVersion(t, 'k', 1))?.commitment)).toBe(hex(commitment(0xc1)));
      expect(hex((await store.getVersion(t, 'k', 2))?.commitment)).toBe(hex(commitment(0xc2)));
      const listed = Object.fromEntries(
        (await store.listVersions(t)).map((r) => [`${r.keyId}@${r.version}`, hex(r.commitment)]),
      );
      expect(listed).toEqual({
        'k@1': hex(commitment(0xc1)),
        'k@2': hex(commitment(0xc2)),
        'other@1': hex(commitment(0xd1)),
      });
      // Retirement and reinstatement change the state only.
      await store.retireVersions(t, 'k', 2);
      expect(hex((await store.getVersion(t, 'k', 1))?.commitment)).toBe(hex(commitment(0xc1)));
      await store.reinstateVersion(t, 'k', 1);
      expect(hex((await store.getVersion(t, 'k', 1))?.commitment)).toBe(hex(commitment(0xc1)));
    });

    it('the stored commitment is a copy: changing the caller’s or a returned array changes nothing', async () => {
      const store = await factory();
      const t = tenant();
      const record = withCommitment(t, 1, 0xc1);
      const created = (await store.createVersion(record, null))!;
      record.commitment.fill(0);
      created.commitment?.fill(0);
      (await store.getVersion(t, 'k', 1))?.commitment?.fill(0);
      expect(hex((await store.getVersion(t, 'k', 1))?.commitment)).toBe(hex(commitment(0xc1)));
    });

    it('legacy rows (created without a commitment) read back with commitment undefined', async () => {
      const store = await factory();
      const t = tenant();
      const created = (await store.createVersion(row(t, 1), null))!;
      expect(created.commitment).toBeUndefined();
      expect((await store.getActiveVersion(t, 'k'))?.commitment).toBeUndefined();
      expect((await store.getVersion(t, 'k', 1))?.commitment).toBeUndefined();
      expect((await store.listVersions(t))[0]?.commitment).toBeUndefined();
    });

    it('createVersion refuses a commitment that is not 32 bytes, storing nothing', async () => {
      const store = await factory();
      const t = tenant();
      for (const bad of [new Uint8Array(31), new Uint8Array(33), new Uint8Array(0)]) {
        await expect(store.createVersion({ ...row(t, 1), commitment: bad }, null)).rejects.toThrow(
          RangeError,
        );
      }
      await expect(
        store.createVersion({ ...row(t, 1), commitment: 'x'.repeat(32) as never }, null),
      ).rejects.toThrow(TypeError);
      expect(await store.getVersion(t, 'k', 1)).toBeUndefined();
    });

    it('rewrapVersion keeps the commitment (the data key does not change), present or absent', async () => {
      const store = await factory();
      const t = tenant();
      const v1 = (await store.createVersion(withCommitment(t, 1, 0xc1), null))!;
      const legacy = (await store.createVersion(row(t, 1, 'legacy'), null))!;
      const next = { providerId: 'p2', masterKeyId: 'm2', wrapped: new Uint8Array(73).fill(6) };
      expect(await store.rewrapVersion(v1, next)).toBe(true);
      expect(await store.rewrapVersion(legacy, next)).toBe(true);
      const after = (await store.getVersion(t, 'k', 1))!;
      expect(after).toMatchObject({ providerId: 'p2', masterKeyId: 'm2' });
      expect(hex(after.commitment)).toBe(hex(commitment(0xc1)));
      expect((await store.getVersion(t, 'legacy', 1))?.commitment).toBeUndefined();
    });

    it('shredTenant destroys the commitment with the wrapped bytes', async () => {
      const store = await factory();
      const t = tenant();
      await store.createVersion(withCommitment(t, 1, 0xc1), null);
      await store.createVersion(withCommitment(t, 2, 0xc2), 1);
      await store.retireVersions(t, 'k', 2);
      await store.shredTenant(t);
      for (const r of await store.listVersions(t)) {
        expect(r.state).toBe('shredded');
        expect(r.wrapped.byteLength).toBe(0);
        expect(r.commitment).toBeUndefined();
      }
      expect((await store.getVersion(t, 'k', 2))?.commitment).toBeUndefined();
    });

    it('setCommitment gives a legacy row its commitment once (compare-and-set, never overwrites)', async () => {
      const store = await factory();
      const t = tenant();
      const legacy = (await store.createVersion(row(t, 1), null))!;
      expect(await setCommitment(store, legacy, commitment(0xa1))).toBe(true);
      expect(hex((await store.getVersion(t, 'k', 1))?.commitment)).toBe(hex(commitment(0xa1)));
      expect(hex((await store.getActiveVersion(t, 'k'))?.commitment)).toBe(hex(commitment(0xa1)));
      // A second call (another process, another key) is refused and changes nothing.
      expect(await setCommitment(store, legacy, commitment(0xa2))).toBe(false);
      const again = (await store.getVersion(t, 'k', 1))!;
      expect(await setCommitment(store, again, commitment(0xa2))).toBe(false);
      expect(hex((await store.getVersion(t, 'k', 1))?.commitment)).toBe(hex(commitment(0xa1)));
      // A row created with a commitment never takes another one.
      const committed = (await store.createVersion(withCommitment(t, 1, 0xc1, 'c'), null))!;
      expect(await setCommitment(store, committed, commitment(0xa3))).toBe(false);
      expect(hex((await store.getVersion(t, 'c', 1))?.commitment)).toBe(hex(commitment(0xc1)));
    });

    it('setCommitment is refused for a row that changed, was shredded or does not exist', async () => {
      const store = await factory();
      const t = tenant();
      const v1 = (await store.createVersion(row(t, 1), null))!;
      // Re-wrapped since it was read: the caller unwrapped other bytes than the row now holds.
      const next = { providerId: 'p2', masterKeyId: 'm2', wrapped: new Uint8Array(73).fill(8) };
      expect(await store.rewrapVersion(v1, next)).toBe(true);
      expect(await setCommitment(store, v1, commitment(0xb1))).toBe(false);
      expect((await store.getVersion(t, 'k', 1))?.commitment).toBeUndefined();
      // A demoted row is unchanged as far as its key goes: still accepted.
      const current = (await store.getVersion(t, 'k', 1))!;
      await store.createVersion(row(t, 2), 1);
      expect(await setCommitment(store, current, commitment(0xb2))).toBe(true);
      // Unknown rows, another tenant's coordinates, shredded rows: false.
      expect(await setCommitment(store, { ...current, version: 9 }, commitment(0xb3))).toBe(false);
      expect(await setCommitment(store, { ...current, tenant: tenant() }, commitment(0xb3))).toBe(
        false,
      );
      const v2 = (await store.getVersion(t, 'k', 2))!;
      await store.shredTenant(t);
      expect(await setCommitment(store, v2, commitment(0xb4))).toBe(false);
      expect((await store.getVersion(t, 'k', 2))?.commitment).toBeUndefined();
    });

    it('setCommitment refuses a commitment that is not 32 bytes', async () => {
      const store = await factory();
      const t = tenant();
      const legacy = (await store.createVersion(row(t, 1), null))!;
      await expect(setCommitment(store, legacy, new Uint8Array(31))).rejects.toThrow(RangeError);
      await expect(setCommitment(store, legacy, [1, 2] as never)).rejects.toThrow(TypeError);
      expect((await store.getVersion(t, 'k', 1))?.commitment).toBeUndefined();
    });

    it('concurrent setCommitment calls on one legacy row: exactly one wins', async () => {
      const store = await factory();
      const t = tenant();
      const legacy = (await store.createVersion(row(t, 1), null))!;
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => setCommitment(store, legacy, commitment(i + 1))),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = results.indexOf(true) + 1;
      expect(hex((await store.getVersion(t, 'k', 1))?.commitment)).toBe(hex(commitment(winner)));
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
