import { describe, expect, it } from 'vitest';
import { createFieldseal, inspectEnvelope } from '../../src/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';

const ctx = (record = 'r1') => ({ tenant: 'acme', table: 'users', field: 'ssn', record });

function setup() {
  const provider = new MemoryKeyProvider();
  const store = new MemoryKeyStore();
  const options = {
    admin: true,
    provider,
    keys: { mode: 'store' as const, store, masterKeyId: 'master', keyId: 'k' },
    cache: { maxAgeMs: 60_000 },
  };
  return { provider, store, options, fs: createFieldseal(options) };
}

describe('rotateTenantKey', () => {
  it('makes a new version active without touching old values, which stay readable', async () => {
    const { fs, store } = setup();
    await fs.provisionTenant('acme');
    const old = await fs.encrypt('123-45-6789', ctx());
    expect(inspectEnvelope(old)?.keyLabel).toBe('k@1');
    const rotated = await fs.rotateTenantKey('acme');
    expect(rotated).toMatchObject({ version: 2, state: 'active' });
    expect(rotated).not.toHaveProperty('wrapped');
    expect((await store.getVersion('acme', 'k', 1))?.state).toBe('decrypt-only');
    const fresh = await fs.encrypt('987-65-4321', ctx('r2'));
    expect(inspectEnvelope(fresh)?.keyLabel).toBe('k@2');
    expect(await fs.decrypt(old, ctx())).toBe('123-45-6789');
    expect(await fs.decrypt(fresh, ctx('r2'))).toBe('987-65-4321');
  });

  it('the rotating process writes under the new version at once, without an extra unwrap', async () => {
    const { fs, provider } = setup();
    await fs.provisionTenant('acme');
    await fs.encrypt('x', ctx());
    const unwraps = provider.calls.unwrap;
    await fs.rotateTenantKey('acme');
    expect(inspectEnvelope(await fs.encrypt('y', ctx()))?.keyLabel).toBe('k@2');
    expect(provider.calls.unwrap).toBe(unwraps);
  });

  it('two clients rotating at once create exactly one new version and both report it', async () => {
    const { options, store } = setup();
    const a = createFieldseal(options);
    const b = createFieldseal(options);
    await a.provisionTenant('acme');
    const [ra, rb] = await Promise.all([a.rotateTenantKey('acme'), b.rotateTenantKey('acme')]);
    expect(ra.version).toBe(2);
    expect(rb.version).toBe(2);
    expect((await store.getActiveVersion('acme', 'k'))?.version).toBe(2);
    expect(await store.getVersion('acme', 'k', 3)).toBeUndefined();
    // Both clients now write with the same data key: each reads the other's values.
    expect(await b.decrypt(await a.encrypt('from a', ctx()), ctx())).toBe('from a');
    expect(await a.decrypt(await b.encrypt('from b', ctx()), ctx())).toBe('from b');
  });

  it('fails closed for a tenant that was never provisioned, and in embedded mode', async () => {
    const { fs, provider } = setup();
    await expect(fs.rotateTenantKey('nobody')).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
    });
    const embedded = createFieldseal({
      admin: true,
      provider,
      keys: { mode: 'embedded', masterKeyId: 'master' },
      cache: { maxAgeMs: 1000 },
    });
    await expect(embedded.rotateTenantKey('acme')).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
    });
  });
});

describe('reencrypt', () => {
  it('moves a value to the active version, keeps its encoding, and leaves current values alone', async () => {
    const { fs } = setup();
    await fs.provisionTenant('acme');
    const text = await fs.encrypt('123-45-6789', ctx());
    const bytes = await fs.encryptToBytes(42n, ctx('r2'));
    const same = await fs.reencrypt(text, ctx());
    expect(same).toEqual({ stored: text, changed: false });
    await fs.rotateTenantKey('acme');
    const movedText = await fs.reencrypt(text, ctx());
    expect(movedText.changed).toBe(true);
    expect(typeof movedText.stored).toBe('string');
    expect(inspectEnvelope(movedText.stored)?.keyLabel).toBe('k@2');
    expect(await fs.decrypt(movedText.stored, ctx())).toBe('123-45-6789');
    const movedBytes = await fs.reencrypt(bytes, ctx('r2'));
    expect(Buffer.isBuffer(movedBytes.stored)).toBe(true);
    expect(await fs.decrypt(movedBytes.stored, ctx('r2'))).toBe(42n);
  });

  it('never re-encrypts what does not authenticate, even when it is current', async () => {
    const { fs } = setup();
    await fs.provisionTenant('acme');
    const text = await fs.encrypt('x', ctx());
    await expect(fs.reencrypt(text, ctx('elsewhere'))).rejects.toMatchObject({
      code: 'ERR_AUTHENTICATION_FAILED',
    });
    await fs.rotateTenantKey('acme');
    await expect(fs.reencrypt(text, ctx('elsewhere'))).rejects.toMatchObject({
      code: 'ERR_AUTHENTICATION_FAILED',
    });
  });
});
