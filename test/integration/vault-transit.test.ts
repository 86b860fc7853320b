import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataKey } from '../../src/index.js';
import {
  VaultTransitKeyProvider,
  vaultKeyVersion,
  type VaultTransitKeyProviderOptions,
} from '../../src/vault/index.js';
import { runKeyProviderSuite } from '../../src/testing/index.js';
import { startVaultServer, type LoopbackVault } from '../loopback/vault-server.js';

/**
 * Vault Transit through the real provider over HTTP. Server: the in-process loopback Vault
 * (test/loopback/vault-server.ts), started on 127.0.0.1:0 by this file; nothing to install.
 */
let vault: LoopbackVault;
beforeAll(async () => {
  vault = await startVaultServer();
  vault.createTransitKey('tenants-a');
  vault.createTransitKey('tenants-b');
});
afterAll(async () => {
  await vault.close();
});

function provider(options: Partial<VaultTransitKeyProviderOptions> = {}): VaultTransitKeyProvider {
  return new VaultTransitKeyProvider({
    address: vault.address,
    auth: { method: 'token', token: vault.createToken() },
    backoffMs: 1,
    now: vault.now,
    ...options,
  });
}

const ctx = Object.freeze({ tenant: 'acme' });

runKeyProviderSuite(
  { describe, it, beforeAll, afterAll },
  'VaultTransitKeyProvider (loopback Vault over HTTP)',
  () =>
    Promise.resolve({
      provider: provider(),
      masterKeys: ['tenants-a', 'tenants-b'] as const,
      unknownMasterKey: 'missing',
    }),
);

describe('VaultTransitKeyProvider', () => {
  it('checks the key is derived once, then one Transit call per operation', async () => {
    const p = provider();
    const before = vault.requests.length;
    const { key, wrapped } = await p.generateDataKey('tenants-a', ctx);
    expect(Buffer.from(wrapped).toString('utf8')).toMatch(/^vault:v1:/);
    await p.wrapDataKey('tenants-a', key, ctx);
    (await p.unwrapDataKey('tenants-a', wrapped, ctx)).release();
    key.release();
    expect(vault.requests.slice(before).map((r) => r.path)).toEqual([
      'transit/keys/tenants-a', // once per key per process: refuse a non-derived key
      'transit/datakey/plaintext/tenants-a',
      'transit/encrypt/tenants-a',
      'transit/decrypt/tenants-a',
    ]);
  });

  it('derives per tenant: one transit key, wrapped keys that only open for their tenant', async () => {
    const p = provider();
    const key = DataKey.fromBytes(Buffer.alloc(32, 9));
    const forAcme = await p.wrapDataKey('tenants-a', key, { tenant: 'acme' });
    const forGlobex = await p.wrapDataKey('tenants-a', key, { tenant: 'globex' });
    key.release();
    const back = await p.unwrapDataKey('tenants-a', forGlobex, { tenant: 'globex' });
    expect(Buffer.from(back.exposeBytes())).toEqual(Buffer.alloc(32, 9));
    back.release();
    await expect(p.unwrapDataKey('tenants-a', forAcme, { tenant: 'globex' })).rejects.toMatchObject(
      { code: 'ERR_KEY_UNWRAP_FAILED' },
    );
  });

  it('rotation: new keys use the latest version, rewrap moves old ones, min_decryption_version retires', async () => {
    vault.createTransitKey('rotating');
    const p = provider();
    const { key, wrapped: v1 } = await p.generateDataKey('rotating', ctx);
    expect(vaultKeyVersion(v1)).toBe(1);
    vault.rotateTransitKey('rotating');
    expect(await p.describeKey('rotating')).toEqual({
      latestVersion: 2,
      minDecryptionVersion: 1,
      derived: true,
    });
    const v2 = await p.rewrapDataKey('rotating', v1, ctx);
    expect(vaultKeyVersion(v2)).toBe(2);
    vault.setMinDecryptionVersion('rotating', 2);
    await expect(p.unwrapDataKey('rotating', v1, ctx)).rejects.toMatchObject({
      code: 'ERR_KEY_RETIRED',
    });
    await expect(p.rewrapDataKey('rotating', v1, ctx)).rejects.toMatchObject({
      code: 'ERR_KEY_RETIRED',
    });
    const back = await p.unwrapDataKey('rotating', v2, ctx);
    expect(Buffer.from(back.exposeBytes())).toEqual(Buffer.from(key.exposeBytes()));
    back.release();
    key.release();
    await expect(p.rewrapDataKey('rotating', v2, { tenant: 'x' })).rejects.toMatchObject({
      code: 'ERR_KEY_UNWRAP_FAILED',
    });
  });

  it('modes: WriteOnly cannot unwrap, ReadOnly cannot generate or wrap (before any call)', async () => {
    const writer = provider({ mode: 'WriteOnly' });
    const reader = provider({ mode: 'ReadOnly' });
    const { key, wrapped } = await writer.generateDataKey('tenants-a', ctx);
    const before = vault.requests.length;
    await expect(writer.unwrapDataKey('tenants-a', wrapped, ctx)).rejects.toMatchObject({
      code: 'ERR_MODE_FORBIDDEN',
    });
    await expect(reader.generateDataKey('tenants-a', ctx)).rejects.toMatchObject({
      code: 'ERR_MODE_FORBIDDEN',
    });
    await expect(reader.wrapDataKey('tenants-a', key, ctx)).rejects.toMatchObject({
      code: 'ERR_MODE_FORBIDDEN',
    });
    expect(vault.requests.length).toBe(before);
    (await reader.unwrapDataKey('tenants-a', wrapped, ctx)).release();
    key.release();
  });

  it('a policy that denies the path → ERR_ACCESS_DENIED, not retried', async () => {
    const p = provider({
      auth: { method: 'token', token: vault.createToken({ allow: ['transit/decrypt/'] }) },
    });
    const before = vault.requests.length;
    await expect(p.generateDataKey('tenants-a', ctx)).rejects.toMatchObject({
      code: 'ERR_ACCESS_DENIED',
    });
    expect(vault.requests.length).toBe(before + 1);
    const bad = provider({ auth: { method: 'token', token: 'hvs.not-a-token' } });
    const err = await bad.generateDataKey('tenants-a', ctx).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_ACCESS_DENIED' });
    expect(JSON.stringify(err)).not.toContain('hvs.not-a-token');
  });

  it('namespaces: X-Vault-Namespace selects the keys; another namespace does not know them', async () => {
    vault.createTransitKey('ns-key', { namespace: 'team-a' });
    const token = vault.createToken({ namespace: 'team-a' });
    const p = provider({ auth: { method: 'token', token }, namespace: 'team-a' });
    const { key, wrapped } = await p.generateDataKey('ns-key', ctx);
    key.release();
    expect(vault.requests.at(-1)).toMatchObject({ namespace: 'team-a' });
    (await p.unwrapDataKey('ns-key', wrapped, ctx)).release();
    await expect(provider().generateDataKey('ns-key', ctx)).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
    });
  });

  it('a key created without derived=true is refused before any use (tenants would not be separated)', async () => {
    vault.createTransitKey('flat', { derived: false });
    const p = provider();
    for (let i = 0; i < 2; i++) {
      await expect(p.generateDataKey('flat', ctx)).rejects.toMatchObject({
        code: 'ERR_KEY_NOT_CONFIGURED',
        message: expect.stringMatching(/derived=true/) as unknown,
      });
    }
    expect(vault.count('transit/datakey/plaintext/flat')).toBe(0);
    const unchecked = provider({ requireDerived: false });
    (await unchecked.generateDataKey('flat', ctx)).key.release();
  });

  it('per-tenant transit keys can be destroyed only with allowKeyDeletion', async () => {
    vault.createTransitKey('tenant-doomed');
    const keeper = provider();
    expect(keeper.canDestroyMasterKeys).toBe(false);
    await expect(keeper.scheduleMasterKeyDeletion('tenant-doomed')).rejects.toMatchObject({
      code: 'ERR_MODE_FORBIDDEN',
    });
    const shredder = provider({ allowKeyDeletion: true });
    expect(shredder.canDestroyMasterKeys).toBe(true);
    const { key, wrapped } = await shredder.generateDataKey('tenant-doomed', ctx);
    key.release();
    expect(await shredder.scheduleMasterKeyDeletion('tenant-doomed')).toEqual({
      state: 'destroyed',
    });
    await expect(shredder.unwrapDataKey('tenant-doomed', wrapped, ctx)).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
    });
    await expect(shredder.scheduleMasterKeyDeletion('tenant-doomed')).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
    });
  });

  it('bytes that are not a Vault ciphertext fail locally with ERR_KEY_UNWRAP_FAILED', async () => {
    const p = provider();
    const before = vault.requests.length;
    await expect(
      p.unwrapDataKey('tenants-a', Buffer.from('not a ciphertext'), ctx),
    ).rejects.toMatchObject({ code: 'ERR_KEY_UNWRAP_FAILED' });
    expect(vault.requests.length).toBe(before);
    expect(() => vaultKeyVersion(Buffer.from('vault:vX:AAAA'))).toThrow(/not a Vault ciphertext/);
  });
});
