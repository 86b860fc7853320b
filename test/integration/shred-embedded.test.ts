// Issue #11, defect 3: a store-mode client opened self-contained (embedded) envelopes whenever
// their master key was accepted, so a shredded tenant's embedded values (written before a move
// to store mode, or by an embedded ingest service) kept decrypting while the receipt said
// "shredded". Now a shredded tenant is unreadable in every form through store-mode clients,
// and the receipt says what happened to its embedded envelopes.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createFieldseal, type KeyStore } from '../../src/index.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';
import { onEveryKeyStore } from './repository-backends.js';

const ctx = (tenant: string) => ({ tenant, table: 'users', field: 'ssn', record: 'r1' });
const SHREDDED = { code: 'ERR_KEY_SHREDDED' };

function embeddedSuite(name: string, makeStore: () => KeyStore): void {
  describe(`shred reaches embedded envelopes on ${name}`, () => {
    it('a shredded tenant’s embedded values no longer decrypt through any store-mode client', async () => {
      const store = makeStore();
      const provider = new MemoryKeyProvider();
      const cache = { maxAgeMs: 60_000 };
      const ingest = createFieldseal({
        admin: true,
        provider,
        keys: { mode: 'embedded', masterKeyId: 'master' },
        cache,
      });
      const storeOptions = {
        admin: true,
        provider,
        keys: { mode: 'store' as const, store, masterKeyId: 'master', keyId: 'k' },
        cache,
      };
      const app = createFieldseal(storeOptions);
      const provisioned = `p-${randomBytes(4).toString('hex')}`;
      const neverProvisioned = `n-${randomBytes(4).toString('hex')}`;
      await app.provisionTenant(provisioned);
      const values = {
        [provisioned]: await ingest.encrypt('embedded one', ctx(provisioned)),
        [neverProvisioned]: await ingest.encrypt('embedded two', ctx(neverProvisioned)),
      };
      const compact = await app.encrypt('compact', ctx(provisioned));
      expect(await app.decrypt(values[provisioned]!, ctx(provisioned))).toBe('embedded one');
      expect(await app.decrypt(values[neverProvisioned]!, ctx(neverProvisioned))).toBe(
        'embedded two',
      );

      for (const tenant of [provisioned, neverProvisioned]) {
        const receipt = await app.shredTenant(tenant);
        expect(receipt.embeddedEnvelopes).toBe('refused');
        // A tenant the store never saw gets a tombstone: version 1, created and destroyed.
        expect(receipt.versions).toEqual([{ keyId: 'k', version: 1 }]);
        await expect(app.decrypt(values[tenant]!, ctx(tenant))).rejects.toMatchObject(SHREDDED);
        const cold = createFieldseal(storeOptions);
        await expect(cold.decrypt(values[tenant]!, ctx(tenant))).rejects.toMatchObject(SHREDDED);
        await expect(cold.provisionTenant(tenant)).rejects.toMatchObject(SHREDDED);
        cold.close();
      }
      await expect(app.decrypt(compact, ctx(provisioned))).rejects.toMatchObject(SHREDDED);
      app.close();
      ingest.close();
    });

    it('with a dedicated master key destroyed, embedded envelopes are unrecoverable everywhere', async () => {
      const store = makeStore();
      const provider = new MemoryKeyProvider({ masterKeys: [] });
      const tenant = `d-${randomBytes(4).toString('hex')}`;
      provider.createMasterKey(`mk-${tenant}`);
      const keys = { masterKeyId: (t: string) => `mk-${t}`, dedicatedMasterKeys: true };
      const cache = { maxAgeMs: 60_000 };
      const ingest = createFieldseal({
        admin: true,
        provider,
        keys: { mode: 'embedded', ...keys },
        cache,
      });
      const app = createFieldseal({
        admin: true,
        provider,
        keys: { mode: 'store', store, keyId: 'k', ...keys },
        cache,
      });
      await app.provisionTenant(tenant);
      const stored = await ingest.encrypt('embedded', ctx(tenant));
      const receipt = await app.shredTenant(tenant);
      expect(receipt.embeddedEnvelopes).toBe('unrecoverable');
      ingest.clearCache();
      await expect(ingest.decrypt(stored, ctx(tenant))).rejects.toMatchObject({
        code: expect.stringMatching(/^ERR_(KEY_SHREDDED|KEY_NOT_CONFIGURED)$/) as unknown,
      });
      await expect(app.decrypt(stored, ctx(tenant))).rejects.toMatchObject(SHREDDED);
    });
  });
}

onEveryKeyStore(embeddedSuite);
