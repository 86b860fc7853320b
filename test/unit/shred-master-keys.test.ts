import { describe, expect, it } from 'vitest';
import {
  createFieldseal,
  EnvSecretSource,
  LocalKeyProvider,
  type AuditEvent,
  type KeyProvider,
} from '../../src/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';

const ctx = (tenant: string) => ({ tenant, table: 'users', field: 'ssn', record: 'r1' });

function client(provider: KeyProvider, perTenant: boolean, events: AuditEvent[] = []) {
  return createFieldseal({
    admin: true,
    provider,
    keys: {
      mode: 'store',
      store: new MemoryKeyStore(),
      masterKeyId: perTenant ? (t) => `mk-${t}` : 'master',
      dedicatedMasterKeys: perTenant,
    },
    cache: { maxAgeMs: 60_000 },
    audit: { record: (e) => Promise.resolve(void events.push(e)) },
    actor: 'test',
  });
}

async function twoTenants(fs: ReturnType<typeof client>) {
  await fs.provisionTenant('acme');
  await fs.provisionTenant('globex');
  await fs.rotateTenantKey('acme');
  return {
    acme: await fs.encrypt('123-45-6789', ctx('acme')),
    globex: await fs.encrypt('987-65-4321', ctx('globex')),
  };
}

describe('shredTenant and the tenant master key', () => {
  it('destroys a per-tenant master key at the provider; other tenants keep theirs', async () => {
    const provider = new MemoryKeyProvider({ masterKeys: ['mk-acme', 'mk-globex'] });
    const events: AuditEvent[] = [];
    const fs = client(provider, true, events);
    const stored = await twoTenants(fs);
    const receipt = await fs.shredTenant('acme');
    expect(receipt.versions).toHaveLength(2);
    expect(receipt.masterKeys).toEqual([
      { providerId: 'memory', masterKeyId: 'mk-acme', state: 'destroyed' },
    ]);
    expect(provider.hasMasterKey('mk-acme')).toBe(false);
    expect(provider.hasMasterKey('mk-globex')).toBe(true);
    await expect(fs.decrypt(stored.acme, ctx('acme'))).rejects.toMatchObject({
      code: 'ERR_KEY_SHREDDED',
    });
    fs.clearCache();
    expect(await fs.decrypt(stored.globex, ctx('globex'))).toBe('987-65-4321');
    const shred = events.find((e) => e.operation === 'shred');
    expect(shred?.detail).toMatchObject({
      masterKeys: [{ providerId: 'memory', masterKeyId: 'mk-acme', state: 'destroyed' }],
    });
  });

  it('reports a pending deletion where the provider has a waiting period', async () => {
    const provider = new MemoryKeyProvider({
      masterKeys: ['mk-acme', 'mk-globex'],
      deletionWindowDays: 7,
    });
    const fs = client(provider, true);
    await twoTenants(fs);
    const before = Date.now();
    const [mk] = (await fs.shredTenant('acme')).masterKeys;
    expect(mk?.state).toBe('pending-deletion');
    const days = ((mk?.deletionDate?.getTime() ?? 0) - before) / 86_400_000;
    expect(days).toBeGreaterThanOrEqual(7 - 1e-3);
    expect(days).toBeLessThan(7.01);
    expect(provider.hasMasterKey('mk-acme')).toBe(false); // disabled at once
  });

  it('never destroys a shared master key, and refuses an explicit request before shredding', async () => {
    const provider = new MemoryKeyProvider({ masterKeys: ['master'] });
    const fs = client(provider, false);
    const stored = await twoTenants(fs);
    await expect(fs.shredTenant('acme', { destroyMasterKeys: true })).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
    });
    // Nothing happened: acme still reads.
    expect(await fs.decrypt(stored.acme, ctx('acme'))).toBe('123-45-6789');
    const receipt = await fs.shredTenant('acme');
    expect(receipt.masterKeys).toEqual([
      {
        providerId: 'memory',
        masterKeyId: 'master',
        state: 'kept',
        reason: 'not declared dedicated to this tenant (keys.dedicatedMasterKeys)',
      },
    ]);
    expect(provider.hasMasterKey('master')).toBe(true);
    expect(await fs.decrypt(stored.globex, ctx('globex'))).toBe('987-65-4321');
  });

  it('keeps keys of a provider that cannot destroy them, unless destruction is required', async () => {
    const hex = 'ab'.repeat(32);
    const provider = new LocalKeyProvider({
      source: new EnvSecretSource({
        keys: { 'mk-acme': 'A', 'mk-globex': 'G' },
        env: { A: `hex:${hex}`, G: `hex:${'cd'.repeat(32)}` },
      }),
    });
    expect(provider.canDestroyMasterKeys).toBe(false);
    const fs = client(provider, true);
    const stored = await twoTenants(fs);
    await expect(fs.shredTenant('acme', { destroyMasterKeys: true })).rejects.toMatchObject({
      code: 'ERR_MODE_FORBIDDEN',
    });
    expect(await fs.decrypt(stored.acme, ctx('acme'))).toBe('123-45-6789');
    const receipt = await fs.shredTenant('acme');
    expect(receipt.masterKeys).toEqual([
      {
        providerId: 'local',
        masterKeyId: 'mk-acme',
        state: 'kept',
        reason: 'the provider cannot destroy master keys',
      },
    ]);
  });

  it('a per-tenant function is not enough: without dedicatedMasterKeys nothing is destroyed', async () => {
    // Two tenants share one key through the function: destroying it would erase both.
    const provider = new MemoryKeyProvider({ masterKeys: ['alias/eu'] });
    const fs = createFieldseal({
      admin: true,
      provider,
      keys: { mode: 'store', store: new MemoryKeyStore(), masterKeyId: () => 'alias/eu' },
      cache: { maxAgeMs: 60_000 },
    });
    await fs.provisionTenant('eu-acme');
    await fs.provisionTenant('eu-globex');
    const globex = await fs.encrypt('987-65-4321', ctx('eu-globex'));
    const receipt = await fs.shredTenant('eu-acme');
    expect(receipt.masterKeys).toMatchObject([{ masterKeyId: 'alias/eu', state: 'kept' }]);
    expect(provider.hasMasterKey('alias/eu')).toBe(true);
    fs.clearCache();
    expect(await fs.decrypt(globex, ctx('eu-globex'))).toBe('987-65-4321');
  });

  it("destroys only the tenant's own key, never another one its old versions name", async () => {
    const provider = new MemoryKeyProvider({ masterKeys: ['mk-acme', 'mk-acme-old', 'mk-globex'] });
    const store = new MemoryKeyStore();
    const old = createFieldseal({
      admin: true,
      provider,
      keys: { mode: 'store', store, masterKeyId: () => 'mk-acme-old' },
      cache: { maxAgeMs: 60_000 },
    });
    await old.provisionTenant('acme'); // version 1 wrapped under a key of another scheme
    const fresh = createFieldseal({
      admin: true,
      provider,
      keys: { mode: 'store', store, masterKeyId: (t) => `mk-${t}`, dedicatedMasterKeys: true },
      cache: { maxAgeMs: 60_000 },
    });
    await fresh.rotateTenantKey('acme'); // version 2 under mk-acme
    const receipt = await fresh.shredTenant('acme');
    expect(receipt.masterKeys).toEqual(
      expect.arrayContaining([
        { providerId: 'memory', masterKeyId: 'mk-acme', state: 'destroyed' },
        expect.objectContaining({ masterKeyId: 'mk-acme-old', state: 'kept' }),
      ]),
    );
    expect(provider.hasMasterKey('mk-acme-old')).toBe(true);
  });

  it('a shred whose key destruction failed can be run again to finish it', async () => {
    const provider = new MemoryKeyProvider({ masterKeys: ['mk-acme', 'mk-globex'] });
    const fs = client(provider, true);
    await twoTenants(fs);
    provider.injectFault('unavailable', Infinity);
    const first = await fs.shredTenant('acme');
    provider.injectFault('unavailable', 0);
    expect(first.masterKeys).toMatchObject([{ masterKeyId: 'mk-acme', state: 'failed' }]);
    const second = await fs.shredTenant('acme');
    expect(second.versions).toEqual([]);
    expect(second.masterKeys).toEqual([
      { providerId: 'memory', masterKeyId: 'mk-acme', state: 'destroyed' },
    ]);
    expect(provider.hasMasterKey('mk-acme')).toBe(false);
    // And a third run finds nothing left to do but says so.
    const third = await fs.shredTenant('acme');
    expect(third.masterKeys).toMatchObject([{ masterKeyId: 'mk-acme', state: 'destroyed' }]);
  });

  it('reports a failed destruction; the data keys are shredded all the same', async () => {
    const provider = new MemoryKeyProvider({ masterKeys: ['mk-acme', 'mk-globex'] });
    const fs = client(provider, true);
    const stored = await twoTenants(fs);
    fs.clearCache();
    provider.injectFault('unavailable', Infinity);
    // The store shred needs no provider call; the destruction does and fails.
    const receipt = await fs.shredTenant('acme');
    provider.injectFault('unavailable', 0);
    expect(receipt.masterKeys).toEqual([
      {
        providerId: 'memory',
        masterKeyId: 'mk-acme',
        state: 'failed',
        reason: 'ERR_PROVIDER_UNAVAILABLE',
      },
    ]);
    await expect(fs.decrypt(stored.acme, ctx('acme'))).rejects.toMatchObject({
      code: 'ERR_KEY_SHREDDED',
    });
    expect(provider.hasMasterKey('mk-acme')).toBe(true);
  });
});
