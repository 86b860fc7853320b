// Issue #11, defect 4: key-store rows carried no commitment, so a provider that returned a
// wrong 32-byte key for the active version made every value written during that cache
// lifetime unreadable. Rows now carry a commitment checked after every unwrap: writes (and
// reads) under a wrong key are ERR_KEY_COMMITMENT_MISMATCH, and rows written before
// commitments get one on their first unwrap.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createFieldseal, DataKey, type KeyContext, type KeyStore } from '../../src/index.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';
import { onEveryKeyStore } from './repository-backends.js';

/** A provider that, when told to, answers unwraps with a random (wrong) 32-byte key. */
class LyingProvider extends MemoryKeyProvider {
  lie = false;
  override async unwrapDataKey(
    masterKeyId: string,
    wrapped: Uint8Array,
    context: KeyContext,
  ): Promise<DataKey> {
    const key = await super.unwrapDataKey(masterKeyId, wrapped, context);
    if (!this.lie) return key;
    key.release();
    return DataKey.fromBytes(randomBytes(32));
  }
}

const ctx = (tenant: string) => ({ tenant, table: 'users', field: 'ssn', record: 'r1' });

function commitmentSuite(name: string, makeStore: () => KeyStore): void {
  describe(`store-row key commitments on ${name}`, () => {
    it('a wrong key from the provider is refused for writes and reads, and never cached', async () => {
      const store = makeStore();
      const provider = new LyingProvider();
      const fs = createFieldseal({
        admin: true,
        provider,
        keys: { mode: 'store', store, masterKeyId: 'master', keyId: 'k' },
        cache: { maxAgeMs: 60_000 },
      });
      const tenant = `c-${randomBytes(4).toString('hex')}`;
      await fs.provisionTenant(tenant);
      const row = await store.getActiveVersion(tenant, 'k');
      expect(row?.commitment?.byteLength).toBe(32);
      const stored = await fs.encrypt('before', ctx(tenant));
      fs.clearCache();
      provider.lie = true;
      await expect(fs.encrypt('during', ctx(tenant))).rejects.toMatchObject({
        code: 'ERR_KEY_COMMITMENT_MISMATCH',
      });
      await expect(fs.decrypt(stored, ctx(tenant))).rejects.toMatchObject({
        code: 'ERR_KEY_COMMITMENT_MISMATCH',
      });
      provider.lie = false;
      expect(await fs.decrypt(stored, ctx(tenant))).toBe('before');
      expect(await fs.decrypt(await fs.encrypt('after', ctx(tenant)), ctx(tenant))).toBe('after');
      fs.close();
    });

    it('a row written before commitments gets one on its first unwrap (trust on first use)', async () => {
      const store = makeStore();
      const provider = new LyingProvider();
      const tenant = `l-${randomBytes(4).toString('hex')}`;
      // A legacy row: created without a commitment, as releases before 0.2.0 did.
      const generated = await provider.generateDataKey('master', {
        tenant,
        key: 'k',
        version: '1',
      });
      generated.key.release();
      await store.createVersion(
        {
          tenant,
          keyId: 'k',
          version: 1,
          providerId: provider.id,
          masterKeyId: 'master',
          wrapped: generated.wrapped,
        },
        null,
      );
      expect((await store.getVersion(tenant, 'k', 1))?.commitment).toBeUndefined();
      const fs = createFieldseal({
        admin: true,
        provider,
        keys: { mode: 'store', store, masterKeyId: 'master', keyId: 'k' },
        cache: { maxAgeMs: 60_000 },
      });
      const stored = await fs.encrypt('legacy', ctx(tenant));
      expect((await store.getVersion(tenant, 'k', 1))?.commitment?.byteLength).toBe(32);
      // From now on the row is checked.
      fs.clearCache();
      provider.lie = true;
      await expect(fs.decrypt(stored, ctx(tenant))).rejects.toMatchObject({
        code: 'ERR_KEY_COMMITMENT_MISMATCH',
      });
      fs.close();
    });
  });
}

onEveryKeyStore(commitmentSuite);
