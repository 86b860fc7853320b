import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { KeyStore, NewKeyVersion, StoredKeyVersion } from '../index.js';
import type { ContractTestFunctions } from './repository-contract.js';
import { assertFieldsealError, assertRejectsWithCode } from './suite-assertions.js';

/**
 * Register the behaviour every {@link KeyStore} must have: versions created, rotated (the old
 * one decrypt-only), re-wrapped by compare-and-set, retired and reinstated, shredded; refusals
 * of a stale rotation, of a retirement bound covering the active version
 * (`ERR_KEY_VERSION_ACTIVE`), of out-of-range numbers (`RangeError`), of reinstating an unknown
 * (`ERR_KEY_NOT_FOUND`) or shredded (`ERR_KEY_SHREDDED`) version; scoping by tenant and key id;
 * key commitments (stored as copies, kept by rewrap, destroyed by shred, set once on legacy rows
 * by the optional `setCommitment`, which the store must implement); races (concurrent first
 * versions, rotations against retirements, concurrent `setCommitment`) with exactly one winner.
 * Tenants are unique per case, so one database can serve the whole suite. Assertions use
 * `node:assert/strict`; errors are checked by `err.code` and `err.details.keyRef`.
 * @param test the test functions of your runner (`beforeAll`/`afterAll` are not used)
 * @param name what the suite is run on (in the `describe` title)
 * @param factory called once per case: the store (a new one, or the same one every time)
 * @example
 * ```ts
 * import { afterAll, beforeAll, describe, it } from 'vitest';
 * import { runKeyStoreSuite } from 'fieldseal/testing';
 * const store = new MyKeyStore({ db });
 * beforeAll(() => store.createTable());
 * runKeyStoreSuite({ describe, it, beforeAll, afterAll }, 'MyKeyStore', () => store);
 * ```
 */
export function runKeyStoreSuite(
  test: ContractTestFunctions,
  name: string,
  factory: () => KeyStore | Promise<KeyStore>,
): void {
  const tenant = (): string => `tenant-${randomUUID()}`;
  const row = (t: string, version: number, keyId = 'k', fill = version): NewKeyVersion => ({
    tenant: t,
    keyId,
    version,
    providerId: 'memory',
    masterKeyId: 'master',
    wrapped: new Uint8Array(73).fill(fill),
  });
  const bytesEqual = (actual: Uint8Array | undefined, fill: number, length = 73): boolean =>
    actual !== undefined && Buffer.from(actual).equals(Buffer.alloc(length, fill));
  const firstByte = (r: StoredKeyVersion | undefined): number | undefined =>
    r === undefined ? undefined : Buffer.from(r.wrapped)[0];
  /** The named fields of `r` (a partial match, as the cases check it). */
  const pick = <K extends keyof StoredKeyVersion>(
    r: StoredKeyVersion | undefined,
    keys: readonly K[],
  ): Partial<Pick<StoredKeyVersion, K>> | undefined =>
    r === undefined
      ? undefined
      : (Object.fromEntries(keys.map((k) => [k, r[k]])) as Partial<Pick<StoredKeyVersion, K>>);

  test.describe(`KeyStore conformance: ${name}`, () => {
    test.it('an unknown tenant or key has no versions', async () => {
      const store = await factory();
      const t = tenant();
      assert.equal(await store.getActiveVersion(t, 'k'), undefined, 'getActiveVersion()');
      assert.equal(await store.getVersion(t, 'k', 1), undefined, 'getVersion()');
    });

    test.it('creates the first version as active and returns it intact', async () => {
      const store = await factory();
      const t = tenant();
      const created = await store.createVersion(row(t, 1), null);
      assert.deepEqual(
        pick(created, ['tenant', 'keyId', 'version', 'state']),
        { tenant: t, keyId: 'k', version: 1, state: 'active' },
        'the created version',
      );
      assert.ok(created?.createdAt instanceof Date, 'createdAt is a Date');
      const active = await store.getActiveVersion(t, 'k');
      assert.equal(active?.version, 1, 'the active version');
      assert.ok(bytesEqual(active?.wrapped, 1), 'the wrapped bytes round-trip');
      assert.equal(active?.providerId, 'memory', 'providerId');
      assert.equal(active?.masterKeyId, 'master', 'masterKeyId');
    });

    test.it(
      'refuses a first version when one exists, and a rotation from a stale version',
      async () => {
        const store = await factory();
        const t = tenant();
        assert.notEqual(await store.createVersion(row(t, 1), null), undefined, 'the first one');
        assert.equal(await store.createVersion(row(t, 2), null), undefined, 'a second first');
        assert.equal(await store.createVersion(row(t, 2), 5), undefined, 'from a stale version');
        assert.equal(await store.createVersion(row(t, 1), 1), undefined, 'a duplicate version');
        assert.equal((await store.getActiveVersion(t, 'k'))?.version, 1, 'the active version');
      },
    );

    test.it(
      'rotation makes the new version active and keeps the old one readable as decrypt-only',
      async () => {
        const store = await factory();
        const t = tenant();
        await store.createVersion(row(t, 1), null);
        const v2 = await store.createVersion(row(t, 2), 1);
        assert.equal(v2?.state, 'active', 'the new version');
        assert.equal((await store.getActiveVersion(t, 'k'))?.version, 2, 'the active version');
        const v1 = await store.getVersion(t, 'k', 1);
        assert.equal(v1?.state, 'decrypt-only', 'the old version');
        assert.ok(bytesEqual(v1?.wrapped, 1), 'the wrapped bytes of the old version');
      },
    );

    test.it('versions up to 2^32-1 round-trip', async () => {
      const store = await factory();
      const t = tenant();
      await store.createVersion(row(t, 0xffffffff), null);
      assert.equal((await store.getVersion(t, 'k', 0xffffffff))?.version, 0xffffffff);
    });

    test.it(
      'is scoped by tenant and key id: nothing of another tenant or key id is ever returned',
      async () => {
        const store = await factory();
        const a = tenant();
        const b = tenant();
        await store.createVersion(row(a, 1, 'k', 0xaa), null);
        await store.createVersion(row(a, 1, 'other', 0xab), null);
        assert.equal(await store.getActiveVersion(b, 'k'), undefined, "B's active version");
        assert.equal(await store.getVersion(b, 'k', 1), undefined, "B's version 1");
        await store.createVersion(row(b, 1, 'k', 0xbb), null);
        assert.equal(firstByte(await store.getVersion(b, 'k', 1)), 0xbb, 'B k@1');
        assert.equal(firstByte(await store.getVersion(a, 'k', 1)), 0xaa, 'A k@1');
        assert.equal(firstByte(await store.getVersion(a, 'other', 1)), 0xab, 'A other@1');
      },
    );

    test.it('lists every version of a tenant and nothing of another', async () => {
      const store = await factory();
      const t = tenant();
      await store.createVersion(row(t, 1), null);
      await store.createVersion(row(t, 2), 1);
      await store.createVersion(row(t, 1, 'other'), null);
      await store.createVersion(row(tenant(), 1), null);
      const list = await store.listVersions(t);
      assert.deepEqual(
        list.map((r) => `${r.keyId}@${r.version}`).sort(),
        ['k@1', 'k@2', 'other@1'],
        'listVersions()',
      );
      assert.ok(
        list.every((r) => r.tenant === t),
        'listVersions() returned another tenant',
      );
    });

    test.it(
      'rewrapVersion replaces the wrapped key only while the row is as expected',
      async () => {
        const store = await factory();
        const t = tenant();
        const v1 = (await store.createVersion(row(t, 1), null))!;
        const next = {
          providerId: 'other-provider',
          masterKeyId: 'master-2',
          wrapped: new Uint8Array(73).fill(9),
        };
        assert.equal(await store.rewrapVersion(v1, next), true, 'the first rewrap');
        const after = (await store.getVersion(t, 'k', 1))!;
        assert.deepEqual(
          pick(after, ['providerId', 'masterKeyId', 'state']),
          { providerId: 'other-provider', masterKeyId: 'master-2', state: 'active' },
          'the re-wrapped version',
        );
        assert.ok(bytesEqual(after.wrapped, 9), 'the new wrapped bytes');
        // The old expectation no longer holds: a second rewrap from it is refused.
        assert.equal(
          await store.rewrapVersion(v1, { ...next, wrapped: new Uint8Array(73).fill(7) }),
          false,
          'a rewrap from a stale row',
        );
        assert.equal(firstByte(await store.getVersion(t, 'k', 1)), 9, 'the wrapped bytes kept');
        await store.shredTenant(t);
        assert.equal(await store.rewrapVersion(after, next), false, 'a rewrap of a shredded row');
      },
    );

    test.it(
      'retireVersions retires the decrypt-only versions below the bound, keeping their wrapped bytes',
      async () => {
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
        assert.deepEqual(await store.retireVersions(t, 'k', 3), [1, 2], 'retireVersions(3)');
        const states = async (x: string, keyId = 'k') =>
          Object.fromEntries(
            (await store.listVersions(x))
              .filter((r) => r.keyId === keyId)
              .map((r) => [r.version, r.state]),
          );
        assert.deepEqual(
          await states(t),
          { 1: 'retired', 2: 'retired', 3: 'decrypt-only', 4: 'active' },
          'the states after retireVersions(3)',
        );
        for (const v of [1, 2]) {
          const retired = (await store.getVersion(t, 'k', v))!;
          assert.equal(retired.state, 'retired', `version ${v}`);
          assert.ok(bytesEqual(retired.wrapped, v), `the wrapped bytes of version ${v}`);
        }
        // Another tenant, and another key id of the same tenant, are untouched.
        assert.deepEqual(
          await states(other),
          { 1: 'decrypt-only', 2: 'decrypt-only', 3: 'decrypt-only', 4: 'active' },
          'another tenant',
        );
        assert.deepEqual(
          await states(t, 'other'),
          { 1: 'decrypt-only', 2: 'active' },
          'another key id',
        );
        // Already retired versions are not reported again; a higher bound takes the next one.
        assert.deepEqual(await store.retireVersions(t, 'k', 3), [], 'retireVersions(3) again');
        assert.deepEqual(await store.retireVersions(t, 'k', 4), [3], 'retireVersions(4)');
        assert.deepEqual(await store.retireVersions(t, 'k', 1), [], 'retireVersions(1)');
        assert.equal((await store.getActiveVersion(t, 'k'))?.version, 4, 'the active version');
      },
    );

    test.it(
      'retireVersions refuses, atomically, a bound that would include the active version',
      async () => {
        const store = await factory();
        const t = tenant();
        await store.createVersion(row(t, 1), null);
        await store.createVersion(row(t, 2), 1);
        for (const below of [3, 4, 0x100000000]) {
          const err = await store.retireVersions(t, 'k', below).catch((e: unknown) => e);
          assertFieldsealError(
            err,
            'ERR_KEY_VERSION_ACTIVE',
            { keyRef: 'k@2' },
            `retireVersions(${below})`,
          );
          assert.ok(!(err as Error).message.includes(t), 'the message names the tenant');
        }
        // Nothing changed: version 1 is still readable and version 2 still active.
        assert.equal((await store.getVersion(t, 'k', 1))?.state, 'decrypt-only', 'version 1');
        assert.equal((await store.getActiveVersion(t, 'k'))?.version, 2, 'the active version');
      },
    );

    test.it(
      'retireVersions and reinstateVersion reject out-of-range numbers with a RangeError',
      async () => {
        const store = await factory();
        const t = tenant();
        await store.createVersion(row(t, 1), null);
        for (const below of [0, -1, 1.5, Number.NaN, 0x100000001]) {
          await assert.rejects(
            store.retireVersions(t, 'k', below),
            RangeError,
            `retireVersions(${below})`,
          );
        }
        for (const version of [0, 2.5, 0x100000000]) {
          await assert.rejects(
            store.reinstateVersion(t, 'k', version),
            RangeError,
            `reinstateVersion(${version})`,
          );
        }
      },
    );

    test.it(
      'reinstateVersion makes a retired version decrypt-only again, and only a retired one',
      async () => {
        const store = await factory();
        const t = tenant();
        await store.createVersion(row(t, 1), null);
        await store.createVersion(row(t, 2), 1);
        await store.createVersion(row(t, 3), 2);
        assert.deepEqual(await store.retireVersions(t, 'k', 3), [1, 2], 'retireVersions(3)');
        assert.equal(await store.reinstateVersion(t, 'k', 1), true, 'reinstate a retired one');
        assert.equal((await store.getVersion(t, 'k', 1))?.state, 'decrypt-only', 'version 1');
        assert.equal((await store.getVersion(t, 'k', 2))?.state, 'retired', 'version 2');
        // already readable
        assert.equal(await store.reinstateVersion(t, 'k', 1), false, 'reinstate a readable one');
        // active stays active
        assert.equal(await store.reinstateVersion(t, 'k', 3), false, 'reinstate the active one');
        assert.equal((await store.getActiveVersion(t, 'k'))?.version, 3, 'the active version');
        await assertRejectsWithCode(
          store.reinstateVersion(t, 'k', 9),
          'ERR_KEY_NOT_FOUND',
          { keyRef: 'k@9' },
          'reinstate an unknown version',
        );
        await assertRejectsWithCode(
          store.reinstateVersion(tenant(), 'k', 1),
          'ERR_KEY_NOT_FOUND',
          {},
          'reinstate a version of an unknown tenant',
        );
      },
    );

    test.it(
      'a rotation after a retirement demotes the active version and leaves retired ones retired',
      async () => {
        const store = await factory();
        const t = tenant();
        await store.createVersion(row(t, 1), null);
        await store.createVersion(row(t, 2), 1);
        await store.retireVersions(t, 'k', 2);
        assert.equal((await store.createVersion(row(t, 3), 2))?.state, 'active', 'version 3');
        assert.equal((await store.getVersion(t, 'k', 1))?.state, 'retired', 'version 1');
        assert.equal((await store.getVersion(t, 'k', 2))?.state, 'decrypt-only', 'version 2');
      },
    );

    test.it('rewrapVersion re-wraps a retired version, which stays retired', async () => {
      const store = await factory();
      const t = tenant();
      await store.createVersion(row(t, 1), null);
      await store.createVersion(row(t, 2), 1);
      await store.retireVersions(t, 'k', 2);
      const retired = (await store.getVersion(t, 'k', 1))!;
      const next = { providerId: 'p2', masterKeyId: 'm2', wrapped: new Uint8Array(73).fill(5) };
      assert.equal(await store.rewrapVersion(retired, next), true, 'rewrap a retired version');
      const after = (await store.getVersion(t, 'k', 1))!;
      assert.deepEqual(
        pick(after, ['state', 'providerId', 'masterKeyId']),
        { state: 'retired', providerId: 'p2', masterKeyId: 'm2' },
        'the re-wrapped retired version',
      );
      assert.ok(bytesEqual(after.wrapped, 5), 'the new wrapped bytes');
    });

    test.it(
      'shredTenant shreds retired versions too, and a shredded version cannot be reinstated',
      async () => {
        const store = await factory();
        const t = tenant();
        await store.createVersion(row(t, 1), null);
        await store.createVersion(row(t, 2), 1);
        await store.retireVersions(t, 'k', 2);
        const shredded = await store.shredTenant(t);
        assert.deepEqual(
          shredded.map((v) => v.version).sort(),
          [1, 2],
          'the versions shredTenant() reports',
        );
        const v1 = (await store.getVersion(t, 'k', 1))!;
        assert.equal(v1.state, 'shredded', 'version 1');
        assert.equal(v1.wrapped.byteLength, 0, 'the wrapped bytes of a shredded version');
        await assertRejectsWithCode(
          store.reinstateVersion(t, 'k', 1),
          'ERR_KEY_SHREDDED',
          { keyRef: 'k@1' },
          'reinstate a shredded version',
        );
        assert.deepEqual(await store.retireVersions(t, 'k', 3), [], 'retire shredded versions');
        assert.equal((await store.getVersion(t, 'k', 1))?.state, 'shredded', 'version 1 after');
      },
    );

    test.it('rotations racing retirements never leave the active version retired', async () => {
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
        assert.equal(rotated?.state, 'active', `the rotation to ${v + 1}`);
        if (retired.ok) {
          assert.ok(retired.versions.includes(v), `the retirement below ${v + 1} missed ${v}`);
        } else {
          assertFieldsealError(
            retired.err,
            'ERR_KEY_VERSION_ACTIVE',
            {},
            `the retirement below ${v + 1}`,
          );
          assert.equal(
            (await store.getVersion(t, 'k', v))?.state,
            'decrypt-only',
            `version ${v} after a refused retirement`,
          );
        }
        const rows = await store.listVersions(t);
        assert.deepEqual(
          rows.filter((r) => r.state === 'active').map((r) => r.version),
          [v + 1],
          `the active versions after the rotation to ${v + 1}`,
        );
      }
    });

    // Key commitments: stored with a version, kept by rewrap, destroyed by shred, set once on
    // legacy rows by compare-and-set.
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

    test.it(
      'a commitment round-trips through createVersion, getVersion, getActiveVersion and listVersions',
      async () => {
        const store = await factory();
        const t = tenant();
        const created = (await store.createVersion(withCommitment(t, 1, 0xc1), null))!;
        assert.equal(hex(created.commitment), hex(commitment(0xc1)), 'createVersion()');
        await store.createVersion(withCommitment(t, 2, 0xc2), 1);
        await store.createVersion(withCommitment(t, 1, 0xd1, 'other'), null);
        assert.equal(
          hex((await store.getActiveVersion(t, 'k'))?.commitment),
          hex(commitment(0xc2)),
          'getActiveVersion()',
        );
        assert.equal(
          hex((await store.getVersion(t, 'k', 1))?.commitment),
          hex(commitment(0xc1)),
          'getVersion(1)',
        );
        assert.equal(
          hex((await store.getVersion(t, 'k', 2))?.commitment),
          hex(commitment(0xc2)),
          'getVersion(2)',
        );
        const listed = Object.fromEntries(
          (await store.listVersions(t)).map((r) => [`${r.keyId}@${r.version}`, hex(r.commitment)]),
        );
        assert.deepEqual(
          listed,
          {
            'k@1': hex(commitment(0xc1)),
            'k@2': hex(commitment(0xc2)),
            'other@1': hex(commitment(0xd1)),
          },
          'listVersions()',
        );
        // Retirement and reinstatement change the state only.
        await store.retireVersions(t, 'k', 2);
        assert.equal(
          hex((await store.getVersion(t, 'k', 1))?.commitment),
          hex(commitment(0xc1)),
          'after retireVersions()',
        );
        await store.reinstateVersion(t, 'k', 1);
        assert.equal(
          hex((await store.getVersion(t, 'k', 1))?.commitment),
          hex(commitment(0xc1)),
          'after reinstateVersion()',
        );
      },
    );

    test.it(
      'the stored commitment is a copy: changing the caller’s or a returned array changes nothing',
      async () => {
        const store = await factory();
        const t = tenant();
        const record = withCommitment(t, 1, 0xc1);
        const created = (await store.createVersion(record, null))!;
        record.commitment.fill(0);
        created.commitment?.fill(0);
        (await store.getVersion(t, 'k', 1))?.commitment?.fill(0);
        assert.equal(
          hex((await store.getVersion(t, 'k', 1))?.commitment),
          hex(commitment(0xc1)),
          'the stored commitment',
        );
      },
    );

    test.it(
      'legacy rows (created without a commitment) read back with commitment undefined',
      async () => {
        const store = await factory();
        const t = tenant();
        const created = (await store.createVersion(row(t, 1), null))!;
        assert.equal(created.commitment, undefined, 'createVersion()');
        assert.equal(
          (await store.getActiveVersion(t, 'k'))?.commitment,
          undefined,
          'getActiveVersion()',
        );
        assert.equal((await store.getVersion(t, 'k', 1))?.commitment, undefined, 'getVersion()');
        assert.equal((await store.listVersions(t))[0]?.commitment, undefined, 'listVersions()');
      },
    );

    test.it(
      'createVersion refuses a commitment that is not 32 bytes, storing nothing',
      async () => {
        const store = await factory();
        const t = tenant();
        for (const bad of [new Uint8Array(31), new Uint8Array(33), new Uint8Array(0)]) {
          await assert.rejects(
            store.createVersion({ ...row(t, 1), commitment: bad }, null),
            RangeError,
            `a commitment of ${bad.byteLength} bytes`,
          );
        }
        await assert.rejects(
          store.createVersion({ ...row(t, 1), commitment: 'x'.repeat(32) as never }, null),
          TypeError,
          'a commitment that is a string',
        );
        assert.equal(await store.getVersion(t, 'k', 1), undefined, 'a refused version was stored');
      },
    );

    test.it(
      'rewrapVersion keeps the commitment (the data key does not change), present or absent',
      async () => {
        const store = await factory();
        const t = tenant();
        const v1 = (await store.createVersion(withCommitment(t, 1, 0xc1), null))!;
        const legacy = (await store.createVersion(row(t, 1, 'legacy'), null))!;
        const next = { providerId: 'p2', masterKeyId: 'm2', wrapped: new Uint8Array(73).fill(6) };
        assert.equal(await store.rewrapVersion(v1, next), true, 'rewrap a committed row');
        assert.equal(await store.rewrapVersion(legacy, next), true, 'rewrap a legacy row');
        const after = (await store.getVersion(t, 'k', 1))!;
        assert.deepEqual(
          pick(after, ['providerId', 'masterKeyId']),
          { providerId: 'p2', masterKeyId: 'm2' },
          'the re-wrapped row',
        );
        assert.equal(hex(after.commitment), hex(commitment(0xc1)), 'the kept commitment');
        assert.equal(
          (await store.getVersion(t, 'legacy', 1))?.commitment,
          undefined,
          'the legacy row after rewrap',
        );
      },
    );

    test.it('shredTenant destroys the commitment with the wrapped bytes', async () => {
      const store = await factory();
      const t = tenant();
      await store.createVersion(withCommitment(t, 1, 0xc1), null);
      await store.createVersion(withCommitment(t, 2, 0xc2), 1);
      await store.retireVersions(t, 'k', 2);
      await store.shredTenant(t);
      for (const r of await store.listVersions(t)) {
        assert.equal(r.state, 'shredded', `${r.keyId}@${r.version}`);
        assert.equal(r.wrapped.byteLength, 0, `the wrapped bytes of ${r.keyId}@${r.version}`);
        assert.equal(r.commitment, undefined, `the commitment of ${r.keyId}@${r.version}`);
      }
      assert.equal(
        (await store.getVersion(t, 'k', 2))?.commitment,
        undefined,
        'getVersion(2) after shredTenant()',
      );
    });

    test.it(
      'setCommitment gives a legacy row its commitment once (compare-and-set, never overwrites)',
      async () => {
        const store = await factory();
        const t = tenant();
        const legacy = (await store.createVersion(row(t, 1), null))!;
        assert.equal(await setCommitment(store, legacy, commitment(0xa1)), true, 'the first call');
        assert.equal(
          hex((await store.getVersion(t, 'k', 1))?.commitment),
          hex(commitment(0xa1)),
          'getVersion() after setCommitment()',
        );
        assert.equal(
          hex((await store.getActiveVersion(t, 'k'))?.commitment),
          hex(commitment(0xa1)),
          'getActiveVersion() after setCommitment()',
        );
        // A second call (another process, another key) is refused and changes nothing.
        assert.equal(
          await setCommitment(store, legacy, commitment(0xa2)),
          false,
          'a second call with the legacy row',
        );
        const again = (await store.getVersion(t, 'k', 1))!;
        assert.equal(
          await setCommitment(store, again, commitment(0xa2)),
          false,
          'a second call with the committed row',
        );
        assert.equal(
          hex((await store.getVersion(t, 'k', 1))?.commitment),
          hex(commitment(0xa1)),
          'the first commitment is kept',
        );
        // A row created with a commitment never takes another one.
        const committed = (await store.createVersion(withCommitment(t, 1, 0xc1, 'c'), null))!;
        assert.equal(
          await setCommitment(store, committed, commitment(0xa3)),
          false,
          'a row created with a commitment',
        );
        assert.equal(
          hex((await store.getVersion(t, 'c', 1))?.commitment),
          hex(commitment(0xc1)),
          'the commitment it was created with',
        );
      },
    );

    test.it(
      'setCommitment is refused for a row that changed, was shredded or does not exist',
      async () => {
        const store = await factory();
        const t = tenant();
        const v1 = (await store.createVersion(row(t, 1), null))!;
        // Re-wrapped since it was read: the caller unwrapped other bytes than the row now holds.
        const next = { providerId: 'p2', masterKeyId: 'm2', wrapped: new Uint8Array(73).fill(8) };
        assert.equal(await store.rewrapVersion(v1, next), true, 'the rewrap');
        assert.equal(await setCommitment(store, v1, commitment(0xb1)), false, 'a re-wrapped row');
        assert.equal(
          (await store.getVersion(t, 'k', 1))?.commitment,
          undefined,
          'the commitment after a refused call',
        );
        // A demoted row is unchanged as far as its key goes: still accepted.
        const current = (await store.getVersion(t, 'k', 1))!;
        await store.createVersion(row(t, 2), 1);
        assert.equal(
          await setCommitment(store, current, commitment(0xb2)),
          true,
          'a demoted (decrypt-only) row',
        );
        // Unknown rows, another tenant's coordinates, shredded rows: false.
        assert.equal(
          await setCommitment(store, { ...current, version: 9 }, commitment(0xb3)),
          false,
          'an unknown version',
        );
        assert.equal(
          await setCommitment(store, { ...current, tenant: tenant() }, commitment(0xb3)),
          false,
          'another tenant',
        );
        const v2 = (await store.getVersion(t, 'k', 2))!;
        await store.shredTenant(t);
        assert.equal(await setCommitment(store, v2, commitment(0xb4)), false, 'a shredded row');
        assert.equal(
          (await store.getVersion(t, 'k', 2))?.commitment,
          undefined,
          'the commitment of a shredded row',
        );
      },
    );

    test.it('setCommitment refuses a commitment that is not 32 bytes', async () => {
      const store = await factory();
      const t = tenant();
      const legacy = (await store.createVersion(row(t, 1), null))!;
      await assert.rejects(
        setCommitment(store, legacy, new Uint8Array(31)),
        RangeError,
        'a commitment of 31 bytes',
      );
      await assert.rejects(
        setCommitment(store, legacy, [1, 2] as never),
        TypeError,
        'a commitment that is an array',
      );
      assert.equal(
        (await store.getVersion(t, 'k', 1))?.commitment,
        undefined,
        'a refused commitment was stored',
      );
    });

    test.it('concurrent setCommitment calls on one legacy row: exactly one wins', async () => {
      const store = await factory();
      const t = tenant();
      const legacy = (await store.createVersion(row(t, 1), null))!;
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => setCommitment(store, legacy, commitment(i + 1))),
      );
      assert.equal(results.filter(Boolean).length, 1, 'the winning calls');
      const winner = results.indexOf(true) + 1;
      assert.equal(
        hex((await store.getVersion(t, 'k', 1))?.commitment),
        hex(commitment(winner)),
        "the winner's commitment",
      );
    });

    test.it('concurrent first versions for one tenant: exactly one wins', async () => {
      const store = await factory();
      const t = tenant();
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => store.createVersion(row(t, 1, 'k', i + 1), null)),
      );
      assert.equal(results.filter((r) => r !== undefined).length, 1, 'the winning calls');
      assert.equal((await store.getActiveVersion(t, 'k'))?.version, 1, 'the active version');
    });
  });
}
