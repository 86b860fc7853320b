import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VaultTransitKeyProvider, type VaultAuth } from '../../src/vault/index.js';
import { startVaultServer, type LoopbackVault } from '../loopback/vault-server.js';

/**
 * Token and AppRole auth of the Vault client: login, renewal before expiry, lease expiry,
 * re-login after a 403. Server: the in-process loopback Vault (test/loopback/vault-server.ts)
 * on 127.0.0.1:0, whose clock the client shares (`now: vault.now`) so leases pass instantly.
 */
let vault: LoopbackVault;
beforeAll(async () => {
  vault = await startVaultServer();
  vault.createTransitKey('k');
  vault.createTransitKey('k', { namespace: 'team-b' });
});
afterAll(async () => {
  await vault.close();
});

const ctx = { tenant: 'acme' };
const TTL = 60_000;

function provider(auth: VaultAuth, namespace?: string): VaultTransitKeyProvider {
  return new VaultTransitKeyProvider({
    address: vault.address,
    auth,
    namespace,
    backoffMs: 1,
    now: vault.now,
    requireDerived: false, // keeps the request lists below about auth only
  });
}

async function use(p: VaultTransitKeyProvider): Promise<void> {
  (await p.generateDataKey('k', ctx)).key.release();
}

/** What the server saw since `from`, as paths. */
function seen(from: number): string[] {
  return vault.requests.slice(from).map((r) => r.path);
}

describe('AppRole auth', () => {
  it('logs in once, reuses the token, renews it after 80% of its lease', async () => {
    const role = vault.createAppRole({ ttlMs: TTL });
    const p = provider({ method: 'approle', ...role });
    const from = vault.requests.length;
    await use(p);
    await use(p);
    expect(seen(from)).toEqual([
      'auth/approle/login',
      'transit/datakey/plaintext/k',
      'transit/datakey/plaintext/k',
    ]);
    vault.advance(TTL * 0.85);
    const mid = vault.requests.length;
    await use(p);
    expect(seen(mid)).toEqual(['auth/token/renew-self', 'transit/datakey/plaintext/k']);
    // past the original expiry: the renewed token still works, no new login
    vault.advance(TTL * 0.5);
    const late = vault.requests.length;
    await use(p);
    expect(seen(late)).toEqual(['transit/datakey/plaintext/k']);
  });

  it('renewal failing transiently keeps the live token; a refused renewal logs in again', async () => {
    const role = vault.createAppRole({ ttlMs: TTL });
    const p = provider({ method: 'approle', ...role });
    await use(p);
    vault.advance(TTL * 0.85);
    vault.inject({ kind: 'status', status: 503 }, 3, 'auth/token/renew-self');
    let from = vault.requests.length;
    await use(p);
    expect(seen(from).filter((x) => !x.startsWith('auth/token/renew-self'))).toEqual([
      'transit/datakey/plaintext/k',
    ]);
    vault.inject({ kind: 'status', status: 400 }, 1, 'auth/token/renew-self');
    from = vault.requests.length;
    await use(p);
    expect(seen(from)).toEqual([
      'auth/token/renew-self',
      'auth/approle/login',
      'transit/datakey/plaintext/k',
    ]);
  });

  it('after the lease has expired, logs in again instead of using the dead token', async () => {
    const role = vault.createAppRole({ ttlMs: TTL });
    const p = provider({ method: 'approle', ...role });
    await use(p);
    vault.advance(TTL * 2);
    const from = vault.requests.length;
    await use(p);
    expect(seen(from)).toEqual(['auth/approle/login', 'transit/datakey/plaintext/k']);
  });

  it('a token revoked server-side (403) gets one fresh login and the call succeeds', async () => {
    const role = vault.createAppRole({ ttlMs: TTL });
    const p = provider({ method: 'approle', ...role });
    await use(p);
    vault.inject({ kind: 'status', status: 403 }, 1, 'transit/');
    const from = vault.requests.length;
    await use(p);
    expect(seen(from)).toEqual([
      'transit/datakey/plaintext/k',
      'auth/approle/login',
      'transit/datakey/plaintext/k',
    ]);
  });

  it('a policy that keeps denying after the re-login → ERR_ACCESS_DENIED', async () => {
    const role = vault.createAppRole({ ttlMs: TTL, allow: ['transit/decrypt/'] });
    const p = provider({ method: 'approle', ...role });
    await expect(use(p)).rejects.toMatchObject({ code: 'ERR_ACCESS_DENIED' });
  });

  it('a wrong secret id → ERR_ACCESS_DENIED; no secret id or token in inspect, JSON or errors', async () => {
    const role = vault.createAppRole({ ttlMs: TTL });
    const p = provider({ method: 'approle', roleId: role.roleId, secretId: 'wrong-secret-id' });
    const err = await use(p).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_ACCESS_DENIED' });
    const good = provider({ method: 'approle', ...role });
    await use(good);
    for (const text of [
      inspect(err, { depth: 10 }),
      JSON.stringify(err),
      inspect(good, { depth: 10, showHidden: true }),
      JSON.stringify(good),
    ]) {
      expect(text).not.toContain('wrong-secret-id');
      expect(text).not.toContain(role.secretId);
      expect(text).not.toContain('hvs.');
    }
  });

  it('logs in inside its namespace', async () => {
    const role = vault.createAppRole({ ttlMs: TTL, namespace: 'team-b' });
    const p = provider({ method: 'approle', ...role }, 'team-b');
    const from = vault.requests.length;
    await use(p);
    expect(vault.requests.slice(from).map((r) => r.namespace)).toEqual(['team-b', 'team-b']);
  });
});

describe('token auth', () => {
  it('a static token works until Vault expires it, then ERR_ACCESS_DENIED (fail closed)', async () => {
    const token = vault.createToken({ ttlMs: TTL, renewable: false });
    const p = provider({ method: 'token', token });
    await use(p);
    vault.advance(TTL + 1);
    await expect(use(p)).rejects.toMatchObject({ code: 'ERR_ACCESS_DENIED' });
  });

  it('renew: true renews on first use and again before 80% of the lease', async () => {
    const token = vault.createToken({ ttlMs: TTL, renewable: true });
    const p = provider({ method: 'token', token, renew: true });
    const from = vault.requests.length;
    await use(p);
    await use(p);
    expect(seen(from)).toEqual([
      'auth/token/renew-self',
      'transit/datakey/plaintext/k',
      'transit/datakey/plaintext/k',
    ]);
    for (let i = 0; i < 3; i++) {
      vault.advance(TTL * 0.85);
      await use(p);
    }
    expect(vault.count('auth/token/renew-self')).toBeGreaterThanOrEqual(4);
  });

  it('a token that cannot be renewed is still used until it expires', async () => {
    const token = vault.createToken({ ttlMs: TTL, renewable: false });
    const p = provider({ method: 'token', token, renew: true });
    await use(p);
    const from = vault.requests.length;
    await use(p);
    expect(seen(from)).toEqual(['transit/datakey/plaintext/k']);
  });
});
