import { describe, expect, it } from 'vitest';
import { createFieldseal } from '../../src/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';

/*
 * Fieldseal.checkKeyVersion (what `fieldseal doctor` runs on every tenant's stored versions):
 * unwraps one stored version as a read would, without admin and without caching it, and fails
 * with the code a read would fail with.
 */

function setup(provider = new MemoryKeyProvider({ masterKeys: ['master'] })) {
  const store = new MemoryKeyStore();
  const options = {
    provider,
    keys: { mode: 'store' as const, store, masterKeyId: 'master', keyId: 'k' },
    cache: { maxAgeMs: 60_000 },
  };
  return {
    store,
    options,
    admin: createFieldseal({ ...options, admin: true }),
    reader: createFieldseal(options),
  };
}

describe('checkKeyVersion', () => {
  it('unwraps active, decrypt-only and retired versions without admin and caches nothing', async () => {
    const { admin, reader } = setup();
    await admin.provisionTenant('acme');
    await admin.rotateTenantKey('acme');
    await admin.rotateTenantKey('acme');
    expect(await admin.retireKeyVersions('acme', 2)).toEqual([1]);
    for (const v of [1, 2, 3])
      await expect(reader.checkKeyVersion('acme', v)).resolves.toBeUndefined();
    expect(reader.stats().cache.entries).toBe(0);
    expect(Object.values(reader.stats().providerCalls)[0]?.unwrap).toBe(3);
  });

  it('names what a read would fail with: missing, shredded, another master key', async () => {
    const { admin, reader, store, options } = setup();
    await admin.provisionTenant('acme');
    await expect(reader.checkKeyVersion('acme', 2)).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_FOUND',
      details: { keyRef: 'k@2' },
    });
    await expect(reader.checkKeyVersion('nobody', 1)).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_FOUND',
    });
    // The same store read with another master key of the same name: every read would fail.
    const wrong = createFieldseal({
      ...options,
      provider: new MemoryKeyProvider({ masterKeys: ['master'] }),
      keys: { ...options.keys, store },
    });
    await expect(wrong.checkKeyVersion('acme', 1)).rejects.toMatchObject({
      code: 'ERR_KEY_UNWRAP_FAILED',
    });
    await admin.shredTenant('acme');
    await expect(reader.checkKeyVersion('acme', 1)).rejects.toMatchObject({
      code: 'ERR_KEY_SHREDDED',
    });
  });

  it('refuses bad arguments and embedded mode', async () => {
    const { reader } = setup();
    await expect(reader.checkKeyVersion('', 1)).rejects.toThrow(TypeError);
    await expect(reader.checkKeyVersion('acme', 0)).rejects.toThrow(RangeError);
    const embedded = createFieldseal({
      provider: new MemoryKeyProvider({ masterKeys: ['master'] }),
      keys: { mode: 'embedded', masterKeyId: 'master' },
      cache: { maxAgeMs: 1000 },
    });
    await expect(embedded.checkKeyVersion('acme', 1)).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
    });
  });
});
