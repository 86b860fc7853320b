import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataKey, LocalKeyProvider } from '../../src/index.js';
import { VaultKvSecretSource, type VaultKvSecretSourceOptions } from '../../src/vault/index.js';
import { startVaultServer, type LoopbackVault } from '../loopback/vault-server.js';

/**
 * Vault KV v2 as a SecretSource, through the real source over HTTP. Server: the in-process
 * loopback Vault (test/loopback/vault-server.ts) on 127.0.0.1:0, whose clock the source shares.
 */
let vault: LoopbackVault;
beforeAll(async () => {
  vault = await startVaultServer();
});
afterAll(async () => {
  await vault.close();
});

const KEY_A = Buffer.alloc(32, 0xa1);
const KEY_B = Buffer.alloc(32, 0xb2);
let n = 0;

/** A fresh secret path holding `key` and a source for it. */
function setup(
  options: Partial<VaultKvSecretSourceOptions> = {},
  key: Buffer = KEY_A,
): { source: VaultKvSecretSource; path: string } {
  const path = `fieldseal/kv-${++n}`;
  vault.putSecret(path, { key: `base64:${key.toString('base64')}` }, options.namespace);
  const source = new VaultKvSecretSource({
    address: vault.address,
    auth: { method: 'token', token: vault.createToken({ namespace: options.namespace }) },
    keys: { master: path },
    backoffMs: 1,
    now: vault.now,
    ...options,
  });
  return { source, path };
}

async function bytes(source: VaultKvSecretSource): Promise<Buffer> {
  return (await source.getKey('master')).use((b) => Buffer.from(b));
}

describe('VaultKvSecretSource caching', () => {
  it('caches for 80% of the default lease when KV returns none: no call before, one after', async () => {
    const { source, path } = setup({ defaultLeaseMs: 10_000 });
    await source.init();
    const reads = (): number => vault.count(`secret/data/${path}`);
    expect(reads()).toBe(1);
    vault.advance(7_000);
    expect((await bytes(source)).equals(KEY_A)).toBe(true);
    expect(reads()).toBe(1);
    vault.advance(1_500);
    await bytes(source);
    expect(reads()).toBe(2);
    await bytes(source);
    expect(reads()).toBe(2);
  });

  it("honours Vault's lease_duration when present and picks up a rotated secret after it", async () => {
    vault.setKvLease(100);
    try {
      const { source, path } = setup({ defaultLeaseMs: 1_000 });
      await source.init();
      vault.putSecret(path, { key: `hex:${KEY_B.toString('hex')}` });
      vault.advance(70_000);
      expect((await bytes(source)).equals(KEY_A)).toBe(true);
      vault.advance(15_000);
      expect((await bytes(source)).equals(KEY_B)).toBe(true);
      expect(vault.count(`secret/data/${path}`)).toBe(2);
    } finally {
      vault.setKvLease(0);
    }
  });

  it('concurrent reads of an expired key make one request', async () => {
    const { source, path } = setup();
    await Promise.all([bytes(source), bytes(source), bytes(source)]);
    expect(vault.count(`secret/data/${path}`)).toBe(1);
  });
});

describe('VaultKvSecretSource reads', () => {
  it('one transient failure is retried; four in a row → ERR_PROVIDER_UNAVAILABLE', async () => {
    const { source, path } = setup();
    vault.inject({ kind: 'status', status: 502 }, 1, 'secret/');
    expect((await bytes(source)).equals(KEY_A)).toBe(true);
    expect(vault.count(`secret/data/${path}`)).toBe(2);
    const other = setup();
    vault.inject({ kind: 'status', status: 503 }, 4, 'secret/');
    await expect(other.source.init()).rejects.toMatchObject({
      code: 'ERR_PROVIDER_UNAVAILABLE',
      details: { reference: 'master' },
    });
    expect(vault.count(`secret/data/${other.path}`)).toBe(3);
    await other.source.init(); // consumes the fourth fault on its first attempt, then succeeds
  });

  it('reads another field, another mount name is used in the path, the namespace header is sent', async () => {
    vault.putSecret('custom/field', { value: `base64:${KEY_B.toString('base64')}` }, 'team-c');
    const source = new VaultKvSecretSource({
      address: vault.address,
      auth: { method: 'token', token: vault.createToken({ namespace: 'team-c' }) },
      namespace: 'team-c',
      keys: { b: { path: 'custom/field', field: 'value' } },
    });
    await source.init();
    expect((await source.getKey('b')).use((k) => Buffer.from(k)).equals(KEY_B)).toBe(true);
    expect(vault.requests.at(-1)).toMatchObject({ namespace: 'team-c' });
  });

  it('a missing field → ERR_KEY_NOT_CONFIGURED; a denied path → ERR_ACCESS_DENIED', async () => {
    vault.putSecret('fieldseal/no-field', { other: 'x' });
    const noField = new VaultKvSecretSource({
      address: vault.address,
      auth: { method: 'token', token: vault.createToken() },
      keys: { m: 'fieldseal/no-field' },
    });
    await expect(noField.init()).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
      details: { reference: 'm' },
    });
    const denied = setup({
      auth: { method: 'token', token: vault.createToken({ allow: ['transit/'] }) },
    });
    await expect(denied.source.init()).rejects.toMatchObject({ code: 'ERR_ACCESS_DENIED' });
  });

  it('AppRole: logs in, renews, and re-logs in after the lease ends', async () => {
    const role = vault.createAppRole({ ttlMs: 60_000 });
    const { source } = setup({ auth: { method: 'approle', ...role }, defaultLeaseMs: 10_000 });
    const logins = vault.count('auth/approle/login');
    await source.init();
    vault.advance(50_000);
    await bytes(source);
    expect(vault.count('auth/approle/login')).toBe(logins + 1);
    expect(vault.count('auth/token/renew-self')).toBeGreaterThanOrEqual(1);
    vault.advance(500_000);
    await bytes(source);
    expect(vault.count('auth/approle/login')).toBe(logins + 2);
  });

  it('serves as the master-key source of the local provider', async () => {
    const { source } = setup();
    await source.init();
    const provider = new LocalKeyProvider({ source });
    const key = DataKey.fromBytes(Buffer.alloc(32, 3));
    const wrapped = await provider.wrapDataKey('master', key, { tenant: 'acme' });
    const back = await provider.unwrapDataKey('master', wrapped, { tenant: 'acme' });
    expect(Buffer.from(back.exposeBytes())).toEqual(Buffer.alloc(32, 3));
    key.release();
    back.release();
  });

  it("reads the GraphQL seed's raw 32-character KV value with a per-key utf8 encoding", async () => {
    const email = '01234567890123456789012345678901';
    const path = `fieldseal/keys/email-${++n}`;
    vault.putSecret(path, { value: email });
    const token = vault.createToken({});
    const source = new VaultKvSecretSource({
      address: vault.address,
      auth: { method: 'token', token },
      keys: {
        email: { path, field: 'value', encoding: 'utf8' },
        master: { path, field: 'value' },
      },
      backoffMs: 1,
      now: vault.now,
    });
    expect(
      (await source.getKey('email')).use((b) => Buffer.from(b).equals(Buffer.from(email))),
    ).toBe(true);
    // The same text for a key without the encoding is refused, not guessed.
    await expect(source.getKey('master')).rejects.toMatchObject({
      code: 'ERR_INVALID_KEY_MATERIAL',
    });
    expect(
      () =>
        new VaultKvSecretSource({
          address: vault.address,
          auth: { method: 'token', token },
          keys: { email: { path, encoding: 'UTF8' as 'utf8' } },
        }),
    ).toThrow(/keys\.email\.encoding/);
  });
});
