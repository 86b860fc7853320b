import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFieldseal, type Fieldseal, type KeysConfig } from '../../src/index.js';
import { VaultTransitKeyProvider } from '../../src/vault/index.js';
import { MemoryKeyStore } from '../../src/testing/index.js';
import { startVaultServer, type LoopbackVault } from '../loopback/vault-server.js';

/**
 * What Vault sees for 1,000 writes and 1,000 reads through a fieldseal client with the
 * default-style data-key cache (docs/providers.md quotes these numbers). Server: the
 * in-process loopback Vault (test/loopback/vault-server.ts) on 127.0.0.1:0.
 */
let vault: LoopbackVault;
beforeAll(async () => {
  vault = await startVaultServer();
  vault.createTransitKey('fieldseal');
});
afterAll(async () => {
  await vault.close();
});

const TENANTS = ['acme', 'globex', 'initech'];

function client(keys: KeysConfig): Fieldseal {
  const provider = new VaultTransitKeyProvider({
    address: vault.address,
    auth: { method: 'token', token: vault.createToken() },
  });
  return createFieldseal({
    admin: true,
    provider,
    keys,
    cache: { maxAgeMs: 5 * 60_000, maxUses: 1_000_000, maxEntries: 1_000 },
  });
}

async function measure(keys: KeysConfig, setup?: (fs: Fieldseal) => Promise<void>) {
  const writer = client(keys);
  await setup?.(writer);
  const ctx = (i: number) => ({
    tenant: TENANTS[i % TENANTS.length]!,
    table: 'customers',
    field: 'ssn',
    record: `cus_${i}`,
  });
  let from = vault.count('transit/');
  const stored: string[] = [];
  for (let i = 0; i < 1_000; i++) stored.push(await writer.encrypt(`521-44-${i}`, ctx(i)));
  const writes = vault.count('transit/') - from;
  const reader = client(keys); // another process: empty cache
  from = vault.count('transit/');
  for (let i = 0; i < 1_000; i++)
    expect(await reader.decrypt(stored[i]!, ctx(i))).toBe(`521-44-${i}`);
  const reads = vault.count('transit/') - from;
  return { writes, reads };
}

describe('Vault calls per 1,000 operations (3 tenants, data-key cache)', () => {
  it('embedded keys: one datakey per tenant for writes, one decrypt per tenant for reads', async () => {
    const { writes, reads } = await measure({ mode: 'embedded', masterKeyId: 'fieldseal' });
    console.log(`embedded: ${writes} Vault calls per 1,000 writes, ${reads} per 1,000 reads`);
    expect(writes).toBeLessThanOrEqual(TENANTS.length + 1); // + one derived-key check per process
    expect(reads).toBeLessThanOrEqual(TENANTS.length + 1);
  });

  it('key store: one decrypt per tenant key version, whatever the number of reads', async () => {
    const store = new MemoryKeyStore();
    const keys: KeysConfig = { mode: 'store', store, masterKeyId: 'fieldseal' };
    const { writes, reads } = await measure(keys, async (fs) => {
      for (const t of TENANTS) await fs.provisionTenant(t);
    });
    console.log(`store: ${writes} Vault calls per 1,000 writes, ${reads} per 1,000 reads`);
    expect(writes).toBeLessThanOrEqual(TENANTS.length + 1); // + one derived-key check per process
    expect(reads).toBeLessThanOrEqual(TENANTS.length + 1);
  });
});
