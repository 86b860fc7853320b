import { DisableKeyCommand } from '@aws-sdk/client-kms';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDoctor, type DoctorCheck } from '../../src/config/index.js';
import { Pkcs11KeyProvider } from '../../src/kms/pkcs11/index.js';
import { startAwsKmsFixture, type AwsKmsFixture } from '../loopback/aws-kms-fixture.js';
import { LoopbackVault } from '../loopback/vault-server.js';
import { createSoftHsmToken, SKIP_PKCS11, SOFTHSM_LIBRARY } from './softhsm-token.js';

/*
 * `fieldseal doctor` (runDoctor) against each configured provider kind: reachable, permitted
 * and usable passes; a disabled key, a missing variable or a missing key is named with a fix.
 */

// One folder, so one embedded database, for every configuration of this file: only the first
// doctor run pays for creating it. Each call rewrites the configuration file with its provider.
let dir: string | undefined;

function configFile(provider: Record<string, unknown>): string {
  dir ??= mkdtempSync(join(tmpdir(), 'fieldseal-doctor-'));
  const path = join(dir, 'fieldseal.config.json');
  writeFileSync(
    path,
    JSON.stringify({
      version: 1,
      database: { kind: 'pglite', dataDir: 'db' },
      provider,
      keyId: 'default',
      cache: { maxAgeSeconds: 60 },
    }),
  );
  return path;
}

const byName = (checks: DoctorCheck[], name: string) => checks.find((c) => c.check === name);

describe('doctor: AWS KMS', () => {
  let f: AwsKmsFixture;
  const saved = { ...process.env };
  beforeAll(async () => {
    f = await startAwsKmsFixture();
    process.env.AWS_ACCESS_KEY_ID = f.kms.credentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = f.kms.credentials.secretAccessKey;
  });
  afterAll(async () => {
    process.env.AWS_ACCESS_KEY_ID = saved.AWS_ACCESS_KEY_ID;
    process.env.AWS_SECRET_ACCESS_KEY = saved.AWS_SECRET_ACCESS_KEY;
    if (saved.AWS_ACCESS_KEY_ID === undefined) delete process.env.AWS_ACCESS_KEY_ID;
    if (saved.AWS_SECRET_ACCESS_KEY === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
    await f.close();
  });

  it('passes with a usable key, and names a disabled or missing key with a fix', async () => {
    const [keyId] = await f.tenants('doctor');
    const provider = {
      kind: 'aws-kms',
      masterKeyId: keyId,
      region: f.kms.region,
      endpoint: f.kms.endpoint,
    };
    const good = await runDoctor(configFile(provider));
    expect(byName(good, 'provider')).toMatchObject({ ok: true, detail: 'aws-kms (aws-kms)' });
    expect(byName(good, 'provider round trip')?.ok).toBe(true);

    await f.admin.send(new DisableKeyCommand({ KeyId: keyId }));
    const disabled = byName(await runDoctor(configFile(provider)), 'provider round trip');
    expect(disabled).toMatchObject({ ok: false });
    expect(disabled?.detail).toContain('ERR_PROVIDER_UNAVAILABLE');
    expect(disabled?.detail).toContain('disabled');

    const missing = byName(
      await runDoctor(configFile({ ...provider, masterKeyId: 'alias/fieldseal/nobody' })),
      'provider round trip',
    );
    expect(missing).toMatchObject({ ok: false });
    expect(missing?.detail).toContain('ERR_KEY_NOT_CONFIGURED');
    expect(missing?.fix).toContain('does not exist');
  });
});

describe('doctor: Vault Transit', () => {
  let vault: LoopbackVault;
  beforeAll(async () => {
    vault = await new LoopbackVault().listen();
    vault.createTransitKey('fieldseal', { derived: true });
  });
  afterAll(() => vault.close());

  it('passes with a token from the environment; names an unset variable and a denied policy', async () => {
    const provider = {
      kind: 'vault-transit',
      masterKeyId: 'fieldseal',
      address: vault.address,
      tokenEnv: 'FS_DOCTOR_VAULT_TOKEN',
    };
    const unset = byName(await runDoctor(configFile(provider)), 'provider');
    expect(unset).toMatchObject({ ok: false, fix: 'set FS_DOCTOR_VAULT_TOKEN' });

    process.env.FS_DOCTOR_VAULT_TOKEN = vault.createToken();
    try {
      const good = await runDoctor(configFile(provider));
      expect(byName(good, 'provider round trip')?.ok).toBe(true);
      // A token whose policy allows no transit operation.
      process.env.FS_DOCTOR_VAULT_TOKEN = vault.createToken({ allow: ['secret/'] });
      const denied = byName(await runDoctor(configFile(provider)), 'provider round trip');
      expect(denied).toMatchObject({ ok: false });
      expect(denied?.detail).toContain('ERR_ACCESS_DENIED');
      expect(denied?.fix).toContain('permissions');
      expect(JSON.stringify(denied)).not.toContain(process.env.FS_DOCTOR_VAULT_TOKEN);
    } finally {
      delete process.env.FS_DOCTOR_VAULT_TOKEN;
    }
  });
});

describe.skipIf(SKIP_PKCS11)('doctor: PKCS#11 (SoftHSM2)', () => {
  it('passes with the PIN from the environment; a wrong label is named', async () => {
    const token = createSoftHsmToken('fieldseal-doctor');
    try {
      const setup = new Pkcs11KeyProvider({
        library: SOFTHSM_LIBRARY,
        tokenLabel: token.label,
        pin: { pin: () => token.pin },
      });
      await setup.createMasterKey('doctor-master');
      await setup.close();
      process.env.FS_DOCTOR_PIN = token.pin;
      const provider = {
        kind: 'pkcs11',
        masterKeyId: 'doctor-master',
        tokenLabel: token.label,
        pinEnv: 'FS_DOCTOR_PIN',
        library: SOFTHSM_LIBRARY,
      };
      const good = await runDoctor(configFile(provider));
      expect(byName(good, 'provider round trip')?.ok).toBe(true);
      expect(JSON.stringify(good)).not.toContain(token.pin);
      const missing = byName(
        await runDoctor(configFile({ ...provider, masterKeyId: 'no-such-key' })),
        'provider round trip',
      );
      expect(missing).toMatchObject({ ok: false });
      expect(missing?.detail).toContain('ERR_KEY_NOT_CONFIGURED');
    } finally {
      delete process.env.FS_DOCTOR_PIN;
      token.cleanup();
    }
  });
});
