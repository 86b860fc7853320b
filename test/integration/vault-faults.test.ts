import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VaultTransitKeyProvider } from '../../src/vault/index.js';
import { startVaultServer, type LoopbackVault, type VaultFault } from '../loopback/vault-server.js';

/**
 * Retries, timeouts and faults of the Vault client, through the Transit provider over HTTP.
 * Server: the in-process loopback Vault (test/loopback/vault-server.ts) on 127.0.0.1:0.
 */
let vault: LoopbackVault;
beforeAll(async () => {
  vault = await startVaultServer();
  vault.createTransitKey('k');
});
afterAll(async () => {
  await vault.close();
});

const ctx = { tenant: 'acme' };

/** A provider that has already checked its key, so each operation below is one request. */
async function provider(): Promise<VaultTransitKeyProvider> {
  const p = new VaultTransitKeyProvider({
    address: vault.address,
    auth: { method: 'token', token: vault.createToken() },
    backoffMs: 5,
    timeoutMs: 300,
  });
  await p.generateDataKey('k', ctx).then(({ key }) => key.release());
  return p;
}

describe('Vault client retries (3 attempts, exponential backoff)', () => {
  const transient: [string, VaultFault][] = [
    ['HTTP 500', { kind: 'status', status: 500 }],
    ['HTTP 503', { kind: 'status', status: 503 }],
    ['HTTP 429', { kind: 'status', status: 429 }],
    ['a dropped connection', { kind: 'drop' }],
    ['a hung request (timeout)', { kind: 'hang' }],
  ];

  for (const [name, fault] of transient) {
    it(`one ${name} is retried and succeeds`, async () => {
      const p = await provider();
      vault.inject(fault, 1, 'transit/');
      const before = vault.count('transit/');
      const { key } = await p.generateDataKey('k', ctx);
      key.release();
      expect(vault.count('transit/') - before).toBe(2);
    });
  }

  it('counts each HTTP 429 as a throttling event (a 503 is not one)', async () => {
    const p = await provider();
    vault.inject({ kind: 'status', status: 429 }, 1, 'transit/');
    vault.inject({ kind: 'status', status: 503 }, 1, 'transit/');
    const { key } = await p.generateDataKey('k', ctx);
    key.release();
    expect(p.throttles).toBe(1);
    vault.inject({ kind: 'status', status: 429 }, 3, 'transit/');
    await expect(p.generateDataKey('k', ctx)).rejects.toMatchObject({
      code: 'ERR_PROVIDER_UNAVAILABLE',
    });
    expect(p.throttles).toBe(4);
  });

  it('four 503s in a row → ERR_PROVIDER_UNAVAILABLE after exactly 3 attempts', async () => {
    const p = await provider();
    vault.inject({ kind: 'status', status: 503 }, 4, 'transit/');
    const before = vault.count('transit/');
    const err = await p.generateDataKey('k', ctx).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_PROVIDER_UNAVAILABLE' });
    expect((err as Error).message).toMatch(/3 attempt\(s\) \(HTTP 503\)/);
    expect(vault.count('transit/') - before).toBe(3);
    // the fourth fault is consumed by the next call, which then succeeds on its retry
    (await p.generateDataKey('k', ctx)).key.release();
  });

  it('hangs past the per-call timeout, three times → ERR_PROVIDER_UNAVAILABLE (timeout)', async () => {
    const p = await provider();
    vault.inject({ kind: 'hang' }, 3, 'transit/');
    const started = Date.now();
    const err = await p.generateDataKey('k', ctx).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_PROVIDER_UNAVAILABLE' });
    expect((err as Error).message).toMatch(/timeout/);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('latency below the timeout is just slower', async () => {
    const p = await provider();
    vault.inject({ kind: 'latency', ms: 100 }, 1, 'transit/');
    (await p.generateDataKey('k', ctx)).key.release();
  });

  it('malformed JSON → ERR_PROVIDER_UNAVAILABLE, not retried, no plaintext guessed', async () => {
    const p = await provider();
    vault.inject({ kind: 'malformed' }, 1, 'transit/');
    const before = vault.count('transit/');
    await expect(p.generateDataKey('k', ctx)).rejects.toMatchObject({
      code: 'ERR_PROVIDER_UNAVAILABLE',
    });
    expect(vault.count('transit/') - before).toBe(1);
  });

  it('a malformed body holding key material is not quoted in the error or its cause', async () => {
    const p = await provider();
    const secret = randomBytes(32).toString('base64');
    vault.inject({ kind: 'malformed', body: `{"data": {"plaintext": ${secret}}}` }, 1, 'transit/');
    const err = await p.generateDataKey('k', ctx).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_PROVIDER_UNAVAILABLE' });
    // V8's SyntaxError would quote about ten characters of the body around the error
    for (const text of [inspect(err, { depth: 10 }), JSON.stringify(err)]) {
      expect(text).not.toContain(secret.slice(0, 6));
    }
  });

  it('4xx answers are never retried: 403 → ERR_ACCESS_DENIED, unknown key → ERR_KEY_NOT_CONFIGURED', async () => {
    const p = await provider();
    vault.inject({ kind: 'status', status: 403 }, 1, 'transit/');
    let before = vault.count('transit/');
    await expect(p.generateDataKey('k', ctx)).rejects.toMatchObject({ code: 'ERR_ACCESS_DENIED' });
    expect(vault.count('transit/') - before).toBe(1);
    before = vault.count('transit/');
    await expect(p.generateDataKey('nope', ctx)).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
    });
    expect(vault.count('transit/') - before).toBe(1);
  });
});

describe('Vault client: redirects and header values', () => {
  it('refuses a redirect instead of sending the token and body to another origin', async () => {
    const { createServer } = await import('node:http');
    const seen: string[] = [];
    const other = createServer((req, res) => {
      seen.push(String(req.headers['x-vault-token']));
      res.end('{}');
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    const otherPort = (other.address() as AddressInfo).port;
    const redirector = createServer((req, res) => {
      res.writeHead(307, { location: `http://127.0.0.1:${otherPort}${req.url ?? '/'}` });
      res.end();
    });
    await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', r));
    const port = (redirector.address() as AddressInfo).port;
    try {
      const provider = new VaultTransitKeyProvider({
        address: `http://127.0.0.1:${port}`,
        auth: { method: 'token', token: 's.REDIRECT-CANARY' },
        requireDerived: false,
        maxAttempts: 1,
      });
      const err = await provider.generateDataKey('k', { tenant: 'acme' }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'ERR_PROVIDER_UNAVAILABLE' });
      expect(seen).toEqual([]);
      expect(inspect(err, { depth: 10 })).not.toContain('REDIRECT-CANARY');
    } finally {
      redirector.close();
      other.close();
    }
  });

  it('refuses a token that cannot be a header value, without quoting it', async () => {
    const provider = new VaultTransitKeyProvider({
      address: 'http://127.0.0.1:9',
      auth: { method: 'token', token: 'hvs.SECRET-TOKEN\u0000x' },
      requireDerived: false,
      maxAttempts: 1,
    });
    const err = await provider.generateDataKey('k', { tenant: 'acme' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_KEY_NOT_CONFIGURED' });
    expect(inspect(err, { depth: 10 })).not.toContain('SECRET-TOKEN');
  });
});
