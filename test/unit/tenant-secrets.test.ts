import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFieldseal, type Fieldseal } from '../../src/index.js';
import type {
  SealedSecret,
  SealedSecretPage,
  SealedSecretStorage,
  SealedSecretId,
} from '../../src/blind-index/sealed-secret-storage.js';
import { contextOf, TenantSecrets } from '../../src/blind-index/tenant-secrets.js';
import { inspectEnvelope } from '../../src/envelope/inspect-envelope.js';
import {
  MemoryKeyProvider,
  MemoryKeyStore,
  runSealedSecretStorageSuite,
} from '../../src/testing/index.js';

/** The storage-independent tenant-secret logic, over an in-memory storage. */
class MemoryStorage implements SealedSecretStorage {
  readonly rows = new Map<string, SealedSecret>();
  readonly calls: string[] = [];
  /** Pages hold at most this many rows (fewer than asked), `next` still says where to go on. */
  pageCap = Infinity;
  /** Makes `replaceIf` lose its race (another writer changed the row first). */
  loseRaces = false;

  static #id = (tenant: string, version: number): string => JSON.stringify([tenant, version]);

  async createTable(): Promise<void> {}

  async select(tenants: readonly string[], versions: readonly number[]): Promise<SealedSecret[]> {
    this.calls.push(`select ${tenants.length}x${versions.length}`);
    await Promise.resolve();
    return tenants.flatMap((t) =>
      versions.flatMap((v) => this.rows.get(MemoryStorage.#id(t, v)) ?? []),
    );
  }

  async insertIfAbsent(rows: readonly SealedSecret[]): Promise<void> {
    await Promise.resolve();
    for (const r of rows) {
      const id = MemoryStorage.#id(r.tenant, r.version);
      if (!this.rows.has(id)) this.rows.set(id, { ...r });
    }
  }

  async replaceIf(t: string, v: number, expected: string, next: string): Promise<boolean> {
    await Promise.resolve();
    const row = this.rows.get(MemoryStorage.#id(t, v));
    if (row === undefined || row.sealed !== expected || this.loseRaces) return false;
    this.rows.set(MemoryStorage.#id(t, v), { ...row, sealed: next });
    return true;
  }

  async listPage(after: SealedSecretId | undefined, limit: number): Promise<SealedSecretPage> {
    this.calls.push('listPage');
    await Promise.resolve();
    const all = [...this.rows.values()].sort((a, b) =>
      a.tenant < b.tenant ? -1 : a.tenant > b.tenant ? 1 : a.version - b.version,
    );
    const start =
      after === undefined
        ? 0
        : all.findIndex(
            (r) =>
              r.tenant > after.tenant || (r.tenant === after.tenant && r.version > after.version),
          );
    const rows = start < 0 ? [] : all.slice(start, start + Math.min(limit, this.pageCap));
    const last = rows.at(-1);
    const more = start >= 0 && start + rows.length < all.length;
    return { rows, next: more ? last : undefined };
  }

  async erase(tenant: string): Promise<number> {
    await Promise.resolve();
    const mine = [...this.rows.entries()].filter(([, r]) => r.tenant === tenant);
    for (const [id] of mine) this.rows.delete(id);
    return mine.length;
  }
}

runSealedSecretStorageSuite(
  { describe, it, beforeAll, afterAll },
  'the test MemoryStorage',
  () => new MemoryStorage(),
);

describe('TenantSecrets (storage-independent)', () => {
  const provider = new MemoryKeyProvider();
  const store = new MemoryKeyStore();
  const fsFor = (): Fieldseal =>
    createFieldseal({
      admin: true,
      provider,
      keys: { mode: 'store', store, masterKeyId: 'master' },
      cache: { maxAgeMs: 60_000 },
    });

  it('seals under the historical context, so secrets stored before the split still open', async () => {
    const fs = fsFor();
    expect(contextOf('acme', 3)).toEqual({
      tenant: 'acme',
      table: 'fieldseal_blind_index_secrets',
      field: 'secret',
      record: '3',
    });
    await fs.provisionTenant('legacy');
    const secret = randomBytes(32);
    const storage = new MemoryStorage();
    const sealed = await fs.encrypt(secret, {
      tenant: 'legacy',
      table: 'fieldseal_blind_index_secrets',
      field: 'secret',
      record: '3',
    });
    await storage.insertIfAbsent([{ tenant: 'legacy', version: 3, sealed }]);
    const set = await new TenantSecrets(storage, fs).load(['legacy'], [3], {
      create: true,
      reseal: false,
    });
    expect(set.get('legacy', 3)).toEqual(secret);
    // A secret moved to another version (another record) does not open.
    await storage.insertIfAbsent([{ tenant: 'legacy', version: 4, sealed }]);
    const moved = await new TenantSecrets(storage, fs).load(['legacy'], [4], {
      create: false,
      reseal: false,
    });
    expect(moved.get('legacy', 4)).toMatchObject({ code: 'ERR_AUTHENTICATION_FAILED' });
  });

  it('creates missing secrets once, deduplicating pairs, and wipes what it opened', async () => {
    const storage = new MemoryStorage();
    const fs = fsFor();
    for (const t of ['a', 'b']) await fs.provisionTenant(t);
    const secrets = new TenantSecrets(storage, fs);
    const none = await secrets.load([], [1], { create: true, reseal: true });
    expect(storage.calls).toEqual([]);
    none.wipe();
    const set = await secrets.load(['a', 'b', 'a'], [1, 1, 2], { create: true, reseal: true });
    expect(storage.calls).toEqual(['select 2x2', 'select 2x2']);
    expect(storage.rows.size).toBe(4);
    const a1 = set.get('a', 1) as Buffer;
    expect(a1.byteLength).toBe(32);
    expect(a1.equals(set.get('b', 1) as Buffer)).toBe(false);
    expect(set.get('c', 1)).toBeUndefined();
    const again = await secrets.load(['a'], [1], { create: true, reseal: true });
    expect((again.get('a', 1) as Buffer).equals(a1)).toBe(true);
    again.wipe();
    set.wipe();
    expect(a1.equals(Buffer.alloc(32))).toBe(true);
    expect(set.get('a', 1)).toBeUndefined();
    for (const r of storage.rows.values()) expect(inspectEnvelope(r.sealed)).toBeDefined();
  });

  it('reports a stored value that is not a 32-byte secret as ERR_INVALID_KEY_MATERIAL', async () => {
    const fs = fsFor();
    const storage = new MemoryStorage();
    await fs.provisionTenant('short');
    const sealed = await fs.encrypt(randomBytes(16), contextOf('short', 1));
    await storage.insertIfAbsent([{ tenant: 'short', version: 1, sealed }]);
    const set = await new TenantSecrets(storage, fs).load(['short'], [1], {
      create: true,
      reseal: false,
    });
    expect(set.get('short', 1)).toMatchObject({ code: 'ERR_INVALID_KEY_MATERIAL' });
  });

  it('reseal follows the storage’s pages, counts lost races and shredded tenants', async () => {
    const fs = fsFor();
    const storage = new MemoryStorage();
    const secrets = new TenantSecrets(storage, fs);
    const tenants = ['r1', 'r2', 'r3', 'gone'];
    for (const t of tenants) await fs.provisionTenant(t);
    const before = await secrets.load(tenants, [1, 2], { create: true, reseal: false });
    expect(await secrets.reseal()).toEqual({ checked: 8, resealed: 0, failed: 0 });
    for (const t of tenants) await fs.rotateTenantKey(t);
    await fs.shredTenant('gone');
    storage.pageCap = 3; // short pages that are not the last one
    storage.loseRaces = true;
    storage.calls.length = 0;
    expect(await secrets.reseal()).toEqual({ checked: 8, resealed: 0, failed: 2 });
    expect(storage.calls).toEqual(['listPage', 'listPage', 'listPage']);
    storage.loseRaces = false;
    expect(await secrets.reseal()).toEqual({ checked: 8, resealed: 6, failed: 2 });
    expect(await secrets.reseal()).toEqual({ checked: 8, resealed: 0, failed: 2 });
    const after = await secrets.load(tenants, [1, 2], { create: true, reseal: true });
    for (const t of ['r1', 'r2', 'r3']) {
      expect((after.get(t, 2) as Buffer).equals(before.get(t, 2) as Buffer)).toBe(true);
    }
    expect(after.get('gone', 1)).toMatchObject({ code: 'ERR_KEY_SHREDDED' });
    expect(await secrets.erase('gone')).toBe(2);
    expect(storage.rows.size).toBe(6);
    before.wipe();
    after.wipe();
  });
});
