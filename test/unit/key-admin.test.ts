import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createFieldseal,
  type Fieldseal,
  type FieldsealOptions,
  type KeyAdminOperation,
  type KeyStore,
  type MasterKeyDestruction,
  type Mode,
} from '../../src/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';

/**
 * Issue #11, defect 11: key-lifecycle operations were governed by nothing. A WriteOnly ingest
 * client could shred, retire, rewrap and rotate any tenant; a ReadOnly client could provision
 * and rotate. Now each needs the operation named in the client's `admin` option, the mode
 * still rules out wrapping (ReadOnly) and unwrapping (rewrap needs ReadWrite), and a refusal
 * happens before any key-store or provider call.
 */

/** A memory provider that also counts master-key destructions (the other calls it counts). */
class CountingProvider extends MemoryKeyProvider {
  destructions = 0;
  override async scheduleMasterKeyDeletion(masterKeyId: string): Promise<MasterKeyDestruction> {
    this.destructions++;
    return super.scheduleMasterKeyDeletion(masterKeyId);
  }
}

/** `inner`, counting every method call the client makes on it. */
function countingStore(inner: KeyStore): { store: KeyStore; calls: () => number } {
  let calls = 0;
  const store = new Proxy(inner, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]): unknown => {
        calls++;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, calls: () => calls };
}

const OPERATIONS: readonly KeyAdminOperation[] = [
  'provision',
  'rotate',
  'rewrap',
  'retire',
  'reinstate',
  'shred',
];
const MODES: readonly Mode[] = ['ReadWrite', 'WriteOnly', 'ReadOnly'];

/**
 * A tenant with three data-key versions (v1 retired, v2 decrypt-only, v3 active) under its
 * own (dedicated) master key, one value written under v3, and a fresh client factory.
 */
async function world() {
  const tenant = `t-${randomUUID()}`;
  const newcomer = `n-${randomUUID()}`;
  const provider = new CountingProvider({
    masterKeys: [`mk-${tenant}`, `mk-${newcomer}`, 'mk-next'],
  });
  const counted = countingStore(new MemoryKeyStore());
  const base: FieldsealOptions = {
    provider,
    keys: {
      mode: 'store',
      store: counted.store,
      masterKeyId: (t) => `mk-${t}`,
      dedicatedMasterKeys: true,
      acceptMasterKeyIds: ['mk-next'],
      keyId: 'k',
    },
    cache: { maxAgeMs: 60_000 },
  };
  const client = (options: Partial<FieldsealOptions> = {}): Fieldseal =>
    createFieldseal({ ...base, ...options });
  const admin = client({ admin: true });
  await admin.provisionTenant(tenant);
  await admin.rotateTenantKey(tenant);
  await admin.rotateTenantKey(tenant);
  await admin.retireKeyVersions(tenant, 2);
  const ctx = { tenant, table: 'users', field: 'ssn', record: 'r1' };
  const stored = await admin.encrypt('078-05-1120', ctx);
  const snapshot = async () =>
    (await counted.store.listVersions(tenant)).map((v) => `${v.version}:${v.state}`).sort();
  const run: Record<KeyAdminOperation, (fs: Fieldseal) => Promise<unknown>> = {
    provision: (fs) => fs.provisionTenant(newcomer),
    rotate: (fs) => fs.rotateTenantKey(tenant),
    rewrap: (fs) => fs.rewrapTenantKeys(tenant, { masterKeyId: 'mk-next' }),
    retire: (fs) => fs.retireKeyVersions(tenant, 3),
    reinstate: (fs) => fs.reinstateKeyVersion(tenant, 1),
    shred: (fs) => fs.shredTenant(tenant),
  };
  const providerCalls = () => {
    const c = provider.calls;
    return c.generate + c.wrap + c.unwrap + provider.destructions;
  };
  return {
    tenant,
    newcomer,
    provider,
    client,
    admin,
    ctx,
    stored,
    run,
    snapshot,
    storeCalls: counted.calls,
    providerCalls,
  };
}

type World = Awaited<ReturnType<typeof world>>;

/**
 * `operation` on `fs` fails with ERR_MODE_FORBIDDEN, with no key-store or provider call, and
 * changes nothing (the tenant's versions, the newcomer, the stored value all as before).
 * @returns the error message.
 */
async function expectRefused(w: World, fs: Fieldseal, operation: KeyAdminOperation) {
  const before = await w.snapshot();
  const storeCalls = w.storeCalls();
  const providerCalls = w.providerCalls();
  const err: unknown = await w.run[operation](fs).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `${operation} must be refused`).toMatchObject({ code: 'ERR_MODE_FORBIDDEN' });
  expect(w.storeCalls() - storeCalls, `${operation}: key-store calls`).toBe(0);
  expect(w.providerCalls() - providerCalls, `${operation}: provider calls`).toBe(0);
  expect(await w.snapshot()).toEqual(before);
  expect(await w.admin.decrypt(w.stored, w.ctx)).toBe('078-05-1120');
  return (err as Error).message;
}

describe('key administration needs an explicit capability (issue #11, defect 11)', () => {
  describe.each(MODES)('a %s client created without admin', (mode) => {
    it.each(OPERATIONS)(
      '%s: ERR_MODE_FORBIDDEN, 0 key-store calls, 0 provider calls, nothing changed',
      async (operation) => {
        const w = await world();
        const fs = w.client({ mode });
        const message = await expectRefused(w, fs, operation);
        // The message says how to fix it, and names no tenant.
        expect(message).toContain(`admin: ['${operation}']`);
        expect(message).toContain('docs/modes.md');
        expect(message).not.toContain(w.tenant);
        expect(message).not.toContain(w.newcomer);
        // admin: false is the same as no admin.
        await expectRefused(w, w.client({ mode, admin: false }), operation);
      },
    );
  });

  it('a WriteOnly ingest client writes, but cannot shred, retire, rewrap or rotate any tenant', async () => {
    const w = await world();
    const ingest = w.client({ mode: 'WriteOnly' });
    const written = await ingest.encrypt('123-45-6789', { ...w.ctx, record: 'r2' });
    for (const operation of ['shred', 'retire', 'rewrap', 'rotate'] as const) {
      await expectRefused(w, ingest, operation);
    }
    expect(await w.admin.decrypt(written, { ...w.ctx, record: 'r2' })).toBe('123-45-6789');
  });

  it('a ReadOnly client cannot provision, rotate or rewrap even with admin: true (each wraps)', async () => {
    const w = await world();
    const reader = w.client({ mode: 'ReadOnly', admin: true });
    for (const operation of ['provision', 'rotate', 'rewrap'] as const) {
      const message = await expectRefused(w, reader, operation);
      expect(message).toContain('ReadOnly');
      expect(message).not.toContain(w.tenant);
    }
    expect(await reader.decrypt(w.stored, w.ctx)).toBe('078-05-1120');
    // What needs no wrapping is the key store's business: a ReadOnly admin may retire.
    expect(await reader.retireKeyVersions(w.tenant, 3)).toEqual([2]);
  });

  it('rewrap needs ReadWrite: refused in WriteOnly even with admin: true; allowed in ReadWrite', async () => {
    const w = await world();
    const writer = w.client({ mode: 'WriteOnly', admin: true });
    const message = await expectRefused(w, writer, 'rewrap');
    expect(message).toContain('WriteOnly');
    // WriteOnly may still create keys when it is given the capability (it only wraps).
    expect(await writer.provisionTenant(w.newcomer)).toMatchObject({ version: 1 });
    expect(await writer.rotateTenantKey(w.tenant)).toMatchObject({ version: 4 });

    const rewrapper = w.client({ admin: ['rewrap'] });
    const { rewrapped } = await rewrapper.rewrapTenantKeys(w.tenant, { masterKeyId: 'mk-next' });
    expect(rewrapped.length).toBeGreaterThan(0);
    for (const operation of ['provision', 'rotate', 'retire', 'reinstate', 'shred'] as const) {
      await expectRefused(w, rewrapper, operation);
    }
  });

  it("admin: ['shred'] allows the shred and nothing else", async () => {
    const w = await world();
    const eraser = w.client({ admin: ['shred'] });
    for (const operation of OPERATIONS.filter((o) => o !== 'shred')) {
      await expectRefused(w, eraser, operation);
    }
    const receipt = await eraser.shredTenant(w.tenant);
    expect(receipt.versions.map((v) => v.version).sort()).toEqual([1, 2, 3]);
    expect(w.provider.destructions).toBe(1);
    w.admin.clearCache();
    await expect(w.admin.decrypt(w.stored, w.ctx)).rejects.toMatchObject({
      code: 'ERR_KEY_SHREDDED',
    });
  });

  it('admin: true allows all six operations to a ReadWrite client', async () => {
    const w = await world();
    const fs = w.client({ admin: true });
    await expect(w.run.provision(fs)).resolves.toMatchObject({ version: 1 });
    await expect(w.run.rotate(fs)).resolves.toMatchObject({ version: 4 });
    await expect(w.run.rewrap(fs)).resolves.toMatchObject({ skipped: [] });
    await expect(w.run.retire(fs)).resolves.toEqual([2]);
    await expect(w.run.reinstate(fs)).resolves.toBe(true);
    await expect(w.run.shred(fs)).resolves.toMatchObject({ tenant: w.tenant });
  });

  it.each([
    ['an unknown operation', ['bogus']],
    ['a known operation next to an unknown one', ['shred', 'destroy']],
    ['a string', 'yes'],
    ['a number', 1],
    ['an object', { shred: true }],
    ['null', null],
  ])('admin as %s is a TypeError at construction', async (_, admin) => {
    const w = await world();
    expect(() => w.client({ admin: admin as unknown as KeyAdminOperation[] })).toThrow(TypeError);
  });
});
