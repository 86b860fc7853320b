import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFieldseal, MultiKeyProvider } from '../../src/index.js';
import { MemoryKeyProvider, MemoryKeyStore, runKeyProviderSuite } from '../../src/testing/index.js';

function pair() {
  const eu = new MemoryKeyProvider({ id: 'kms-eu', masterKeys: ['fs-a', 'fs-b'] });
  const us = new MemoryKeyProvider({ id: 'kms-us', masterKeys: ['fs-a', 'fs-b'] });
  const provider = new MultiKeyProvider({
    masterKeys: {
      a: [
        { provider: eu, masterKeyId: 'fs-a' },
        { provider: us, masterKeyId: 'fs-a' },
      ],
      b: [
        { provider: eu, masterKeyId: 'fs-b' },
        { provider: us, masterKeyId: 'fs-b' },
      ],
    },
  });
  return { eu, us, provider };
}

runKeyProviderSuite({ describe, it, beforeAll, afterAll }, 'MultiKeyProvider (two regions)', () =>
  Promise.resolve({
    provider: pair().provider,
    masterKeys: ['a', 'b'] as const,
    unknownMasterKey: 'missing',
  }),
);

describe('MultiKeyProvider: any one master key can decrypt', () => {
  const ctx = { tenant: 'acme', table: 'users', field: 'ssn', record: 'r1' };
  const client = (provider: MultiKeyProvider, store: MemoryKeyStore) =>
    createFieldseal({
      admin: true,
      provider,
      keys: { mode: 'store', store, masterKeyId: 'a' },
      cache: { maxAgeMs: 60_000 },
    });

  it('reads survive the loss of either region, and fail only when both are gone', async () => {
    const { eu, us, provider } = pair();
    const store = new MemoryKeyStore();
    const fs = client(provider, store);
    await fs.provisionTenant('acme');
    const stored = await fs.encrypt('123-45-6789', ctx);
    expect(eu.calls.wrap + eu.calls.generate).toBeGreaterThan(0);
    expect(us.calls.wrap).toBe(1);

    eu.injectFault('unavailable', Infinity); // region outage
    expect(await client(provider, store).decrypt(stored, ctx)).toBe('123-45-6789');
    eu.injectFault('unavailable', 0);

    us.destroyMasterKey('fs-a'); // the other region's key is gone
    expect(await client(provider, store).decrypt(stored, ctx)).toBe('123-45-6789');

    eu.injectFault('unavailable', Infinity);
    await expect(client(provider, store).decrypt(stored, ctx)).rejects.toMatchObject({
      code: 'ERR_KEY_UNWRAP_FAILED',
    });
    eu.injectFault('unavailable', 0);
  });

  it('an outage of every region is ERR_PROVIDER_UNAVAILABLE, not a key failure', async () => {
    const { eu, us, provider } = pair();
    const store = new MemoryKeyStore();
    const fs = client(provider, store);
    await fs.provisionTenant('acme');
    const stored = await fs.encrypt('x', ctx);
    eu.injectFault('unavailable', Infinity);
    us.injectFault('unavailable', Infinity);
    await expect(client(provider, store).decrypt(stored, ctx)).rejects.toMatchObject({
      code: 'ERR_PROVIDER_UNAVAILABLE',
    });
  });

  it('shredding with per-tenant logical keys destroys every copy', async () => {
    const { eu, us, provider } = pair();
    const fs = createFieldseal({
      admin: true,
      provider,
      keys: {
        mode: 'store',
        store: new MemoryKeyStore(),
        masterKeyId: () => 'b',
        dedicatedMasterKeys: true,
      },
      cache: { maxAgeMs: 60_000 },
    });
    await fs.provisionTenant('acme');
    const receipt = await fs.shredTenant('acme');
    expect(receipt.masterKeys).toEqual([
      { providerId: 'multi', masterKeyId: 'b', state: 'destroyed' },
    ]);
    expect(eu.hasMasterKey('fs-b') || us.hasMasterKey('fs-b')).toBe(false);
    expect(eu.hasMasterKey('fs-a') && us.hasMasterKey('fs-a')).toBe(true);
  });
});
