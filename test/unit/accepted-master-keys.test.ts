import { describe, expect, it } from 'vitest';
import { createFieldseal, MultiKeyProvider, type KeysConfig } from '../../src/index.js';
import { storeContext } from '../../src/client/keys/provider-context.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';

// Reads open only values and key-store rows whose master key the configuration accepts
// (docs/threat-model.md): an attacker with database write access and a master key of their
// own that the application's credentials can use must not get forged values accepted.

const CACHE = { maxAgeMs: 60_000 };
const ctx = (tenant = 'acme', record = 'r1') => ({
  tenant,
  table: 'users',
  field: 'ssn',
  record,
});

/** One provider holding the application's keys and the attacker's key (IAM on `*`). */
function world(masterKeys: string[] = ['master', 'attacker']) {
  return new MemoryKeyProvider({ masterKeys });
}

/** A value wrapped under `masterKeyId` for `tenant`, planted by someone with write access. */
async function plant(
  provider: MemoryKeyProvider,
  masterKeyId: KeysConfig['masterKeyId'],
  value: string,
  context = ctx(),
): Promise<string> {
  const forger = createFieldseal({
    admin: true,
    provider,
    keys: { mode: 'embedded', masterKeyId },
    cache: CACHE,
  });
  return forger.encrypt(value, context);
}

describe('reads accept only configured master keys (embedded mode)', () => {
  it('a value planted under a foreign master key fails before any provider call', async () => {
    const provider = world();
    const fs = createFieldseal({
      admin: true,
      provider,
      keys: { mode: 'embedded', masterKeyId: 'master' },
      cache: CACHE,
    });
    const genuine = await fs.encrypt('genuine', ctx());
    expect(await fs.decrypt(genuine, ctx())).toBe('genuine'); // the cache is warm
    const forged = await plant(provider, 'attacker', 'forged');
    const unwraps = provider.calls.unwrap;
    for (let i = 0; i < 2; i++) {
      await expect(fs.decrypt(forged, ctx())).rejects.toMatchObject({
        code: 'ERR_KEY_NOT_CONFIGURED',
        details: { keyRef: 'memory:attacker' },
      });
    }
    const settled = await fs.decryptManySettled([
      { stored: forged, context: ctx() },
      { stored: genuine, context: ctx() },
    ]);
    expect(settled[0]).toMatchObject({ ok: false, error: { code: 'ERR_KEY_NOT_CONFIGURED' } });
    expect(settled[1]).toMatchObject({ ok: true, value: 'genuine' });
    expect(provider.calls.unwrap).toBe(unwraps);
  });

  it('the same value is accepted once its master key is listed in acceptMasterKeyIds', async () => {
    const provider = world(['master', 'mk-2025']);
    const old = await plant(provider, 'mk-2025', 'written under the old key');
    const listed = createFieldseal({
      admin: true,
      provider,
      keys: { mode: 'embedded', masterKeyId: 'master', acceptMasterKeyIds: ['mk-2025'] },
      cache: CACHE,
    });
    expect(await listed.decrypt(old, ctx())).toBe('written under the old key');
    const byTenant = createFieldseal({
      admin: true,
      provider,
      keys: {
        mode: 'embedded',
        masterKeyId: 'master',
        acceptMasterKeyIds: (tenant) => (tenant === 'acme' ? ['mk-2025'] : []),
      },
      cache: CACHE,
    });
    expect(await byTenant.decrypt(old, ctx())).toBe('written under the old key');
    const elsewhere = await plant(provider, 'mk-2025', 'x', ctx('globex'));
    await expect(byTenant.decrypt(elsewhere, ctx('globex'))).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
      details: { keyRef: 'memory:mk-2025' },
    });
  });

  it("a masterKeyId function accepts each tenant's own key only: tenant A's key is refused for B", async () => {
    const provider = world(['mk-a', 'mk-b']);
    const keys: KeysConfig = { mode: 'embedded', masterKeyId: (t) => `mk-${t}` };
    const fs = createFieldseal({ admin: true, provider, keys, cache: CACHE });
    const a = await fs.encrypt('for a', ctx('a'));
    const b = await fs.encrypt('for b', ctx('b'));
    expect(await fs.decrypt(a, ctx('a'))).toBe('for a');
    expect(await fs.decrypt(b, ctx('b'))).toBe('for b');
    // Someone who can use mk-a plants a value in tenant b.
    const forged = await plant(provider, () => 'mk-a', 'forged', ctx('b'));
    const unwraps = provider.calls.unwrap;
    await expect(fs.decrypt(forged, ctx('b'))).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
      details: { keyRef: 'memory:mk-a' },
    });
    expect(provider.calls.unwrap).toBe(unwraps);
  });

  it('field master keys of the client are accepted', async () => {
    const provider = world(['master', 'mk-payments', 'attacker']);
    const options = {
      admin: true,
      provider,
      keys: { mode: 'embedded' as const, masterKeyId: 'master' },
      cache: CACHE,
      fields: { 'users.card': { masterKeyId: 'mk-payments' } },
    };
    const card = await createFieldseal(options).encrypt('4111', { ...ctx(), field: 'card' });
    const reader = createFieldseal(options);
    expect(await reader.decrypt(card, { ...ctx(), field: 'card' })).toBe('4111');
    // Any field's master key is accepted, not only the field's own (a key choice, not a rule).
    const planted = await plant(provider, 'attacker', 'x', { ...ctx(), field: 'card' });
    await expect(reader.decrypt(planted, { ...ctx(), field: 'card' })).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
    });
  });

  it('multi-provider logical ids are what the check compares', async () => {
    const a = new MemoryKeyProvider({ masterKeys: ['mk'] });
    const b = new MemoryKeyProvider({ id: 'memory-b', masterKeys: ['mk'] });
    const multi = new MultiKeyProvider({
      masterKeys: {
        'dr-pair': [
          { provider: a, masterKeyId: 'mk' },
          { provider: b, masterKeyId: 'mk' },
        ],
        other: [{ provider: a, masterKeyId: 'mk' }],
      },
    });
    const fs = createFieldseal({
      admin: true,
      provider: multi,
      keys: { mode: 'embedded', masterKeyId: 'dr-pair' },
      cache: CACHE,
    });
    const stored = await fs.encrypt('x', ctx());
    const reader = createFieldseal({
      admin: true,
      provider: multi,
      keys: { mode: 'embedded', masterKeyId: 'dr-pair' },
      cache: CACHE,
    });
    expect(await reader.decrypt(stored, ctx())).toBe('x');
    const other = await plant(a, 'mk', 'x'); // provider id "memory": not configured here
    await expect(reader.decrypt(other, ctx())).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
    });
    const viaOther = createFieldseal({
      admin: true,
      provider: multi,
      keys: { mode: 'embedded', masterKeyId: 'other' },
      cache: CACHE,
    });
    const forged = await viaOther.encrypt('forged', ctx());
    await expect(reader.decrypt(forged, ctx())).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
      details: { keyRef: 'multi:other' },
    });
  });

  it('acceptMasterKeyIds is validated when the client is created', () => {
    const provider = world();
    const make = (acceptMasterKeyIds: unknown) =>
      createFieldseal({
        admin: true,
        provider,
        keys: { mode: 'embedded', masterKeyId: 'master', acceptMasterKeyIds } as KeysConfig,
        cache: CACHE,
      });
    expect(() => make([''])).toThrow(TypeError);
    expect(() => make(['ok', 7])).toThrow(TypeError);
    expect(() => make('mk-2025')).toThrow(TypeError);
    expect(() => make(['mk-2025'])).not.toThrow();
    expect(() => make(() => [])).not.toThrow();
  });
});

describe('reads accept only configured master keys (store mode)', () => {
  function storeSetup(extra: Partial<Extract<KeysConfig, { mode: 'store' }>> = {}) {
    const provider = world(['master', 'attacker', 'mk-2026']);
    const store = new MemoryKeyStore();
    const options = (keys: Partial<Extract<KeysConfig, { mode: 'store' }>> = {}) => ({
      admin: true,
      provider,
      keys: { mode: 'store' as const, store, masterKeyId: 'master', keyId: 'k', ...extra, ...keys },
      cache: CACHE,
    });
    return { provider, store, options, fs: createFieldseal(options()) };
  }

  it('a key-store row re-pointed at a foreign master key is refused before any unwrap', async () => {
    const { provider, store, options, fs } = storeSetup();
    await fs.provisionTenant('acme');
    const stored = await fs.encrypt('genuine', ctx());
    const row = await store.getVersion('acme', 'k', 1);
    const forged = await provider.generateDataKey('attacker', storeContext('acme', 'k', 1));
    forged.key.release();
    expect(
      await store.rewrapVersion(row!, {
        providerId: 'memory',
        masterKeyId: 'attacker',
        wrapped: forged.wrapped,
      }),
    ).toBe(true);
    const fresh = createFieldseal(options());
    const unwraps = provider.calls.unwrap;
    const refused = { code: 'ERR_KEY_NOT_CONFIGURED', details: { keyRef: 'memory:attacker' } };
    await expect(fresh.decrypt(stored, ctx())).rejects.toMatchObject(refused);
    await expect(fresh.encrypt('new', ctx())).rejects.toMatchObject(refused);
    await expect(fresh.rewrapTenantKeys('acme')).rejects.toMatchObject(refused);
    expect(provider.calls.unwrap).toBe(unwraps);
  });

  it('master-key rotation: the old key is accepted during the move, then no longer needed', async () => {
    const { provider, store, options, fs } = storeSetup();
    await fs.provisionTenant('acme');
    const v1 = await fs.encrypt('one', ctx());
    await fs.rotateTenantKey('acme');
    const v2 = await fs.encrypt('two', ctx());
    // A rewrap onto a key reads would refuse is refused up front: no provider call.
    const calls = provider.calls;
    await expect(fs.rewrapTenantKeys('acme', { masterKeyId: 'mk-2026' })).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
      details: { keyRef: 'memory:mk-2026' },
    });
    expect(provider.calls).toEqual(calls);
    // The new configuration refuses the rows still under the old key...
    const next = createFieldseal(options({ masterKeyId: 'mk-2026' }));
    await expect(next.decrypt(v1, ctx())).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
      details: { keyRef: 'memory:master' },
    });
    // ...unless the migration lists it.
    const migrating = createFieldseal(
      options({ masterKeyId: 'mk-2026', acceptMasterKeyIds: ['master'] }),
    );
    expect(await migrating.decrypt(v1, ctx())).toBe('one');
    const report = await migrating.rewrapTenantKeys('acme');
    expect(report.rewrapped.map((r) => r.version).sort()).toEqual([1, 2]);
    provider.destroyMasterKey('master');
    const after = createFieldseal(options({ masterKeyId: 'mk-2026' }));
    expect(await after.decrypt(v1, ctx())).toBe('one');
    expect(await after.decrypt(v2, ctx())).toBe('two');
    expect((await store.getVersion('acme', 'k', 1))?.masterKeyId).toBe('mk-2026');
  });
});
