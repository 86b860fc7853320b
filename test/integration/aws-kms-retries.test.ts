import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { inspect } from 'node:util';
import { MultiKeyProvider, createFieldseal, isFieldsealError } from '../../src/index.js';
import { AwsKmsKeyProvider } from '../../src/kms/aws/index.js';
import { startAwsKmsFixture, type AwsKmsFixture } from '../loopback/aws-kms-fixture.js';
import type { KmsFault } from '../loopback/aws-kms-faults.js';

// Server: test/loopback/aws-kms-server.ts (in-process, 127.0.0.1:0) through the real SDK client.

const ctx = Object.freeze({ tenant: 'acme' });
const TRANSIENT: readonly KmsFault[] = ['throttle', 'server-error', 'drop', 'malformed', 'hang'];

describe('AWS KMS retries (MongoDB-style retryable reads and writes)', () => {
  let f: AwsKmsFixture;
  let mk: string;
  beforeAll(async () => {
    f = await startAwsKmsFixture();
    [mk] = (await f.tenants('retry-t')) as [string];
  });
  afterEach(() => f.kms.faults.clear());
  afterAll(() => f.close());

  const provider = () => f.provider({ retry: { attemptTimeoutMs: 300 } });

  it.each(TRANSIENT)('one transient failure (%s) is retried and succeeds', async (fault) => {
    const p = provider();
    const { key, wrapped } = await p.generateDataKey(mk, ctx);
    key.release();
    f.kms.faults.inject(fault, { operations: ['Decrypt'] });
    const before = f.kms.count('Decrypt');
    (await p.unwrapDataKey(mk, wrapped, ctx)).release();
    expect(f.kms.count('Decrypt')).toBe(before + 2);
    expect(f.kms.faults.injected[fault]).toBeGreaterThan(0);
  });

  it('counts every throttled attempt, the last one included, and nothing else', async () => {
    const p = provider();
    const fs = createFieldseal({
      provider: p,
      keys: { mode: 'embedded', masterKeyId: mk },
      cache: { maxAgeMs: 60_000 },
    });
    f.kms.faults.inject('server-error', { times: 1 });
    f.kms.faults.inject('throttle', { times: 1 });
    await fs.encrypt('v', { tenant: 'acme', table: 't', field: 'f', record: '1' });
    expect(p.throttles).toBe(1); // the 5xx is not throttling
    f.kms.faults.inject('throttle', { times: 3 });
    await expect(
      fs.encrypt('v', { tenant: 'beta', table: 't', field: 'f', record: '1' }),
    ).rejects.toMatchObject({ code: 'ERR_PROVIDER_UNAVAILABLE' });
    expect(p.throttles).toBe(4);
    expect(fs.stats().throttling).toEqual({ events: 4, byProvider: { 'aws-kms': 4 } });
  });

  it('throttling behind a MultiKeyProvider reaches stats() through it', async () => {
    const inner = provider();
    const multi = new MultiKeyProvider({
      masterKeys: { pair: [{ provider: inner, masterKeyId: mk }] },
    });
    const fs = createFieldseal({
      provider: multi,
      keys: { mode: 'embedded', masterKeyId: 'pair' },
      cache: { maxAgeMs: 60_000 },
    });
    f.kms.faults.inject('throttle', { times: 2 });
    await fs.encrypt('v', { tenant: 'acme', table: 't', field: 'f', record: '1' });
    expect(inner.throttles).toBe(2);
    expect(fs.stats().throttling).toEqual({ events: 2, byProvider: { multi: 2 } });
  });

  it('four transient failures in a row: ERR_PROVIDER_UNAVAILABLE after exactly 3 attempts', async () => {
    const p = provider();
    f.kms.faults.inject('throttle', { times: 4 });
    const before = f.kms.count('GenerateDataKey');
    const err = await p.generateDataKey(mk, ctx).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'ERR_PROVIDER_UNAVAILABLE',
      message: 'AWS KMS is unavailable (retries exhausted)',
      cause: { awsName: 'ThrottlingException', httpStatus: 400 },
    });
    expect(f.kms.count('GenerateDataKey')).toBe(before + 3);
  });

  it.each([
    ['hang', 'Timeout'],
    ['drop', 'ECONNRESET'],
    ['malformed', 'MalformedResponse'],
    ['server-error', 'KMSInternalException'],
  ] as const)('%s on every attempt → ERR_PROVIDER_UNAVAILABLE (%s)', async (fault, name) => {
    const p = provider();
    const { key, wrapped } = await p.generateDataKey(mk, ctx);
    key.release();
    f.kms.faults.inject(fault, { times: Infinity });
    const started = Date.now();
    const err = await p.unwrapDataKey(mk, wrapped, ctx).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_PROVIDER_UNAVAILABLE', cause: { awsName: name } });
    if (fault === 'hang') expect(Date.now() - started).toBeGreaterThanOrEqual(3 * 300 - 20);
    // The truncated body never reaches the error (a parser message can quote it).
    expect(inspect(err, { depth: 8 })).not.toContain('arn:aws:kms:trunc');
  });

  it('never retries final errors: invalid ciphertext, not found', async () => {
    const p = provider();
    const { key, wrapped } = await p.generateDataKey(mk, ctx);
    key.release();
    const before = f.kms.count();
    await expect(p.unwrapDataKey(mk, wrapped, { tenant: 'x' })).rejects.toMatchObject({
      code: 'ERR_KEY_UNWRAP_FAILED',
    });
    await expect(p.generateDataKey('alias/none', ctx)).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
    });
    expect(f.kms.count()).toBe(before + 2);
  });

  it('backs off exponentially with full jitter (base, cap, random and sleep injectable)', async () => {
    const sleeps: number[] = [];
    const p = f.provider({
      retry: {
        baseDelayMs: 100,
        maxDelayMs: 150,
        random: () => 0.999,
        sleep: (ms) => Promise.resolve(void sleeps.push(ms)),
      },
    });
    f.kms.faults.inject('server-error', { times: 3 });
    await expect(p.generateDataKey(mk, ctx)).rejects.toMatchObject({
      code: 'ERR_PROVIDER_UNAVAILABLE',
    });
    expect(sleeps).toEqual([99, 149]); // 0.999 × min(150, 100), 0.999 × min(150, 200)
    const zero: number[] = [];
    const q = f.provider({
      retry: { random: () => 0, sleep: (ms) => Promise.resolve(void zero.push(ms)) },
    });
    f.kms.faults.inject('throttle', { times: 2 });
    const { key } = await q.generateDataKey(mk, ctx);
    key.release();
    expect(zero).toEqual([0, 0]);
    for (const maxAttempts of [0, 4]) {
      expect(() => new AwsKmsKeyProvider({ retry: { maxAttempts } })).toThrow(RangeError);
    }
  });

  it('200 concurrent cold-cache decrypts under 50% throttling: plaintext or ERR_PROVIDER_UNAVAILABLE only', async () => {
    const options = {
      provider: f.provider({ retry: { baseDelayMs: 10, maxDelayMs: 100 } }),
      keys: { mode: 'embedded', masterKeyId: mk },
      cache: { maxAgeMs: 60_000 },
    } as const;
    const writer = createFieldseal(options);
    const items = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const context = { tenant: `t${i}`, table: 'users', field: 'ssn', record: `r${i}` };
        const value = `secret-${i}-${'x'.repeat(8)}`;
        return { context, value, stored: await writer.encrypt(value, context) };
      }),
    );
    const reader = createFieldseal(options); // cold cache: one Decrypt per tenant
    f.kms.faults.inject('throttle', { times: Infinity, probability: 0.5, operations: ['Decrypt'] });
    const before = f.kms.count('Decrypt');
    const results = await Promise.allSettled(
      items.map((it) => reader.decrypt(it.stored, it.context)),
    );
    const failed: number[] = [];
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') expect(r.value).toBe(items[i]!.value);
      else {
        expect(isFieldsealError(r.reason) && r.reason.code).toBe('ERR_PROVIDER_UNAVAILABLE');
        const text = inspect(r.reason, { depth: 8 }) + JSON.stringify(r.reason);
        expect(text).not.toContain(items[i]!.value);
        failed.push(i);
      }
    });
    // 3 attempts at 50%: each read fails with probability 1/8 (expected 25 of 200).
    expect(failed.length).toBeLessThan(60);
    expect(f.kms.count('Decrypt') - before).toBeGreaterThan(200); // retries happened
    f.kms.faults.clear();
    for (const i of failed) {
      expect(await reader.decrypt(items[i]!.stored, items[i]!.context)).toBe(items[i]!.value);
    }
  });
});
