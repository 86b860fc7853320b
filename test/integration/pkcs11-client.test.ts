import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFieldseal, type AuditEvent } from '../../src/index.js';
import { Pkcs11KeyProvider } from '../../src/kms/pkcs11/index.js';
import { MemoryKeyStore } from '../../src/testing/index.js';
import {
  createSoftHsmToken,
  SKIP_PKCS11,
  SOFTHSM_LIBRARY,
  type SoftHsmToken,
} from './softhsm-token.js';

// Server: SoftHSM2 (apt-get install -y softhsm2), a fresh token in a temporary directory.
const ctx = (tenant: string, record = 'r1') => ({ tenant, table: 'users', field: 'ssn', record });

let token: SoftHsmToken;
let provider: Pkcs11KeyProvider;

describe.skipIf(SKIP_PKCS11)('createFieldseal with master keys in SoftHSM2', () => {
  beforeAll(async () => {
    token = createSoftHsmToken();
    const pin = token.pin;
    provider = new Pkcs11KeyProvider({
      library: SOFTHSM_LIBRARY,
      tokenLabel: token.label,
      pin: { pin: () => Promise.resolve(pin) },
    });
    await provider.init();
  });

  afterAll(async () => {
    await provider?.close();
    token?.cleanup();
  });

  it('store mode with a shared master key: round trip, context bound, one unwrap per cache miss', async () => {
    await provider.createMasterKey('master');
    const fs = createFieldseal({
      admin: true,
      provider,
      keys: { mode: 'store', store: new MemoryKeyStore(), masterKeyId: 'master' },
      cache: { maxAgeMs: 60_000 },
    });
    await fs.provisionTenant('acme');
    const stored = await fs.encrypt('521-44-8790', ctx('acme'));
    expect(await fs.decrypt(stored, ctx('acme'))).toBe('521-44-8790');
    await expect(fs.decrypt(stored, ctx('acme', 'r2'))).rejects.toMatchObject({
      code: 'ERR_AUTHENTICATION_FAILED',
    });
    fs.clearCache();
    const before = provider.calls.unwrap;
    for (let i = 0; i < 1_000; i++) await fs.decrypt(stored, ctx('acme'));
    expect(provider.calls.unwrap - before).toBe(1);
    fs.close();
  });

  it('per-tenant master keys: shredTenant destroys the tenant key object, the other tenant still decrypts', async () => {
    for (const t of ['acme', 'globex']) await provider.createMasterKey(`mk-${t}`);
    const events: AuditEvent[] = [];
    const fs = createFieldseal({
      admin: true,
      provider,
      keys: {
        mode: 'store',
        store: new MemoryKeyStore(),
        masterKeyId: (t) => `mk-${t}`,
        dedicatedMasterKeys: true,
      },
      cache: { maxAgeMs: 60_000 },
      audit: { record: (e) => Promise.resolve(void events.push(e)) },
      actor: 'test',
    });
    await fs.provisionTenant('acme');
    await fs.provisionTenant('globex');
    await fs.rotateTenantKey('acme');
    const acme = await fs.encrypt('123-45-6789', ctx('acme'));
    const globex = await fs.encrypt('987-65-4321', ctx('globex'));

    const receipt = await fs.shredTenant('acme');
    expect(receipt.versions).toHaveLength(2);
    expect(receipt.masterKeys).toEqual([
      { providerId: 'pkcs11', masterKeyId: 'mk-acme', state: 'destroyed' },
    ]);
    expect(await provider.hasMasterKey('mk-acme')).toBe(false);
    expect(await provider.hasMasterKey('mk-globex')).toBe(true);
    await expect(fs.decrypt(acme, ctx('acme'))).rejects.toMatchObject({ code: 'ERR_KEY_SHREDDED' });
    fs.clearCache();
    expect(await fs.decrypt(globex, ctx('globex'))).toBe('987-65-4321');
    // The key object is gone from the token: a second destruction has nothing to destroy.
    await expect(provider.scheduleMasterKeyDeletion('mk-acme')).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
    });
    expect(events.find((e) => e.operation === 'shred')?.detail).toMatchObject({
      masterKeys: [{ providerId: 'pkcs11', masterKeyId: 'mk-acme', state: 'destroyed' }],
    });
    fs.close();
  });

  it('a tenant without a master key on the token fails closed with ERR_KEY_NOT_CONFIGURED', async () => {
    const fs = createFieldseal({
      admin: true,
      provider,
      keys: {
        mode: 'store',
        store: new MemoryKeyStore(),
        masterKeyId: (t) => `mk-${t}`,
        dedicatedMasterKeys: true,
      },
      cache: { maxAgeMs: 60_000 },
    });
    await expect(fs.provisionTenant('initech')).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
    });
    fs.close();
  });
});
