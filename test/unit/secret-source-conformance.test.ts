import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { EnvSecretSource, FileSecretSource } from '../../src/index.js';
import { VaultKvSecretSource } from '../../src/vault/index.js';
import { runSecretSourceSuite } from '../../src/testing/index.js';
import { startVaultServer, type LoopbackVault } from '../loopback/vault-server.js';

runSecretSourceSuite({ describe, it, beforeAll, afterAll }, 'EnvSecretSource', (secrets) => {
  const keys: Record<string, string> = {};
  const env: Record<string, string> = {};
  for (const [ref, text] of Object.entries(secrets)) {
    keys[ref] = `FS_TEST_${ref.toUpperCase()}`;
    if (text !== undefined) env[keys[ref]] = text;
  }
  return Promise.resolve().then(() => ({ source: new EnvSecretSource({ keys, env }) }));
});

runSecretSourceSuite({ describe, it, beforeAll, afterAll }, 'FileSecretSource', async (secrets) => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldseal-ss-'));
  const teardown = (): Promise<void> => {
    rmSync(dir, { recursive: true, force: true });
    return Promise.resolve();
  };
  const keys: Record<string, string> = {};
  for (const [ref, text] of Object.entries(secrets)) {
    keys[ref] = join(dir, `${ref}.key`);
    if (text !== undefined) writeFileSync(keys[ref], text, { mode: 0o600 });
  }
  try {
    return { source: new FileSecretSource({ keys }), teardown };
  } catch (err) {
    await teardown();
    throw err;
  }
});

let vault: LoopbackVault;
beforeAll(async () => {
  vault = await startVaultServer();
});
afterAll(async () => {
  await vault.close();
});

let run = 0;
runSecretSourceSuite(
  { describe, it, beforeAll, afterAll },
  'VaultKvSecretSource (loopback Vault over HTTP)',
  async (secrets) => {
    const prefix = `conformance/${++run}`;
    const keys: Record<string, string> = {};
    for (const [ref, text] of Object.entries(secrets)) {
      keys[ref] = `${prefix}/${ref}`;
      if (text !== undefined) vault.putSecret(keys[ref], { key: text });
    }
    const source = new VaultKvSecretSource({
      address: vault.address,
      auth: { method: 'token', token: vault.createToken({ allow: ['secret/data/conformance/'] }) },
      keys,
      backoffMs: 1,
    });
    await source.init();
    return { source };
  },
);
