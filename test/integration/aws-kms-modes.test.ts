import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFieldseal, type FieldsealOptions, type Mode } from '../../src/index.js';
import { MemoryKeyStore } from '../../src/testing/index.js';
import { tenantMasterKeyAlias } from '../../src/kms/aws/index.js';
import { startAwsKmsFixture, type AwsKmsFixture } from '../loopback/aws-kms-fixture.js';

// Server: test/loopback/aws-kms-server.ts (in-process, 127.0.0.1:0) through the real SDK client.
// The loopback plays IAM too: restricted credentials may call only the operations listed.

const TENANTS = ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9'];
const ctx = (tenant: string, i: number) => ({
  tenant,
  table: 'users',
  field: 'ssn',
  record: `r${i}`,
});

describe('AWS KMS least privilege per mode, and KMS calls per 1,000 reads', () => {
  let f: AwsKmsFixture;
  let stored: { tenant: string; i: number; value: string; stored: string }[] = [];
  beforeAll(async () => {
    f = await startAwsKmsFixture();
    await f.tenants(...TENANTS);
  });
  afterAll(() => f.close());

  const client = (mode: Mode, allowed?: readonly string[], extra: Partial<FieldsealOptions> = {}) =>
    createFieldseal({
      admin: true,
      provider: f.provider(
        allowed === undefined
          ? {}
          : { clientConfig: { credentials: f.kms.restrictedCredentials(mode, allowed) } },
      ),
      keys: { mode: 'embedded', masterKeyId: (t) => tenantMasterKeyAlias(t) },
      cache: { maxAgeMs: 5 * 60_000, maxUses: 1_000_000 },
      mode,
      ...extra,
    });

  /** The operations the loopback received while `fn` ran. */
  async function opsDuring(fn: () => Promise<void>): Promise<Set<string>> {
    const start = f.kms.operations.length;
    await fn();
    return new Set(f.kms.operations.slice(start));
  }

  it('WriteOnly (embedded) calls only GenerateDataKey: kms:GenerateDataKey alone suffices', async () => {
    const writer = client('WriteOnly', ['GenerateDataKey']);
    const ops = await opsDuring(async () => {
      stored = [];
      for (const tenant of TENANTS) {
        for (let i = 0; i < 100; i++) {
          const value = `${tenant}-${i}-521-44-8790`;
          stored.push({ tenant, i, value, stored: await writer.encrypt(value, ctx(tenant, i)) });
        }
      }
      await expect(writer.decrypt(stored[0]!.stored, ctx('m0', 0))).rejects.toMatchObject({
        code: 'ERR_MODE_FORBIDDEN',
      });
    });
    expect(ops).toEqual(new Set(['GenerateDataKey']));
    expect(f.kms.count('GenerateDataKey')).toBe(TENANTS.length); // one data key per tenant
  });

  it('ReadOnly calls only Decrypt: kms:Decrypt alone suffices', async () => {
    const reader = client('ReadOnly', ['Decrypt']);
    const ops = await opsDuring(async () => {
      for (const s of stored.slice(0, 200)) {
        expect(await reader.decrypt(s.stored, ctx(s.tenant, s.i))).toBe(s.value);
      }
      await expect(reader.encrypt('x', ctx('m0', 0))).rejects.toMatchObject({
        code: 'ERR_MODE_FORBIDDEN',
      });
    });
    expect(ops).toEqual(new Set(['Decrypt']));
  });

  it('ReadWrite calls GenerateDataKey and Decrypt only', async () => {
    const rw = client('ReadWrite', ['GenerateDataKey', 'Decrypt']);
    const ops = await opsDuring(async () => {
      const s = stored[150]!;
      expect(await rw.decrypt(s.stored, ctx(s.tenant, s.i))).toBe(s.value);
      const mine = await rw.encrypt('new', ctx('m3', 9));
      expect(await rw.decrypt(mine, ctx('m3', 9))).toBe('new');
    });
    expect(ops).toEqual(new Set(['GenerateDataKey', 'Decrypt']));
  });

  it('a write-only credential cannot decrypt even through a ReadWrite client: ERR_ACCESS_DENIED, not retried', async () => {
    const sneaky = client('ReadWrite', ['GenerateDataKey']);
    const before = f.kms.count('Decrypt');
    await expect(sneaky.decrypt(stored[0]!.stored, ctx('m0', 0))).rejects.toMatchObject({
      code: 'ERR_ACCESS_DENIED',
    });
    expect(f.kms.count('Decrypt')).toBe(before + 1);
  });

  it('measures KMS calls per 1,000 reads with the data-key cache', async () => {
    // This counts calls per key; it is not about the guard against hung loads (joiners stop
    // waiting after maxJoinWaitMs, 250 ms by default, tested in provider-timeouts). On a loaded
    // CI machine one loopback unwrap can take longer than that, so the guard is out of the way.
    const cache = { maxAgeMs: 5 * 60_000, maxUses: 1_000_000, maxJoinWaitMs: 60_000 };
    const embedded = client('ReadOnly', undefined, { cache });
    const before = f.kms.count();
    await Promise.all(
      stored.map(async (s) =>
        expect(await embedded.decrypt(s.stored, ctx(s.tenant, s.i))).toBe(s.value),
      ),
    );
    const embeddedCalls = f.kms.count() - before;
    // A second pass is all cache hits.
    const warm = f.kms.count();
    for (const s of stored) await embedded.decrypt(s.stored, ctx(s.tenant, s.i));
    expect(f.kms.count() - warm).toBe(0);

    const store = new MemoryKeyStore();
    const opts = {
      admin: true,
      provider: f.provider(),
      keys: { mode: 'store', store, masterKeyId: (t: string) => tenantMasterKeyAlias(t) },
      cache,
    } as const;
    const admin = createFieldseal(opts);
    for (const t of TENANTS) await admin.provisionTenant(t);
    const values = await Promise.all(
      stored.map(async (s) => ({ ...s, stored: await admin.encrypt(s.value, ctx(s.tenant, s.i)) })),
    );
    const cold = createFieldseal(opts);
    const storeBefore = f.kms.count();
    await Promise.all(
      values.map(async (s) =>
        expect(await cold.decrypt(s.stored, ctx(s.tenant, s.i))).toBe(s.value),
      ),
    );
    const storeCalls = f.kms.count() - storeBefore;
    console.log(
      `KMS calls per 1,000 cold-cache reads over ${TENANTS.length} tenants: ` +
        `embedded ${embeddedCalls}, store ${storeCalls}; warm cache: 0`,
    );
    expect(embeddedCalls).toBe(TENANTS.length);
    expect(storeCalls).toBe(TENANTS.length);
  });
});
