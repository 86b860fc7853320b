import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KMSClient } from '@aws-sdk/client-kms';
import { createFieldseal } from '../../src/index.js';
import { MemoryKeyStore, runKeyProviderSuite } from '../../src/testing/index.js';
import { AwsKmsKeyProvider, tenantMasterKeyAlias } from '../../src/kms/aws/index.js';
import { validateProviderConfig } from '../../src/config/provider-config.js';
import { startAwsKmsFixture, type AwsKmsFixture } from '../loopback/aws-kms-fixture.js';

// `encryptionContextKeys`: the provider context under other names in the KMS encryption
// context (seed 003's `tenant_id`), through the real SDK client against the loopback KMS,
// whose trail records every request's context and whose simulated IAM checks
// `kms:EncryptionContext:<name>` conditions.

runKeyProviderSuite(
  { describe, it, beforeAll, afterAll },
  'AwsKmsKeyProvider with renamed encryption context keys',
  async () => {
    const f = await startAwsKmsFixture();
    await f.tenants('names-a', 'names-b');
    return {
      provider: f.provider({ encryptionContextKeys: { tenant: 'tenant_id', version: 'v' } }),
      masterKeys: [tenantMasterKeyAlias('names-a'), tenantMasterKeyAlias('names-b')] as const,
      unknownMasterKey: 'alias/fieldseal/nobody',
      teardown: () => f.close(),
    };
  },
);

const valueCtx = (tenant: string) => ({ tenant, table: 'users', field: 'ssn', record: 'r1' });

describe('encryptionContextKeys', () => {
  let f: AwsKmsFixture;
  beforeAll(async () => {
    f = await startAwsKmsFixture();
    await f.tenants('acme', 'globex');
  });
  afterAll(() => f.close());

  function contextsOf(operation: string, from: number): Record<string, string>[] {
    return f.kms.trail
      .slice(from)
      .filter((e) => e.operation === operation)
      .map((e) => ({ ...e.encryptionContext }));
  }

  it('sends the tenant as tenant_id in embedded mode, on generate and on decrypt', async () => {
    const from = f.kms.trail.length;
    const options = {
      provider: f.provider({ encryptionContextKeys: { tenant: 'tenant_id' } }),
      cache: { maxAgeMs: 60_000 },
      keys: { mode: 'embedded', masterKeyId: (t: string) => tenantMasterKeyAlias(t) },
    } as const;
    const stored = await createFieldseal(options).encrypt('123-45-6789', valueCtx('acme'));
    expect(await createFieldseal(options).decrypt(stored, valueCtx('acme'))).toBe('123-45-6789');
    expect(contextsOf('GenerateDataKey', from)).toEqual([{ tenant_id: 'acme' }]);
    expect(contextsOf('Decrypt', from)).toEqual([{ tenant_id: 'acme' }]);
  });

  it('renames every entry of a key-store key (tenant, key id, version)', async () => {
    const from = f.kms.trail.length;
    const fs = createFieldseal({
      admin: true,
      provider: f.provider({
        encryptionContextKeys: {
          tenant: 'tenant_id',
          key: 'data_key',
          version: 'data_key_version',
        },
      }),
      cache: { maxAgeMs: 60_000 },
      keys: { mode: 'store', store: new MemoryKeyStore(), masterKeyId: 'alias/fieldseal/acme' },
    });
    await fs.provisionTenant('acme');
    const stored = await fs.encrypt('x', valueCtx('acme'));
    fs.clearCache();
    expect(await fs.decrypt(stored, valueCtx('acme'))).toBe('x');
    const [generated] = contextsOf('GenerateDataKey', from);
    expect(Object.keys(generated!).sort()).toEqual(['data_key', 'data_key_version', 'tenant_id']);
    expect(generated!.tenant_id).toBe('acme');
    expect(generated!.data_key_version).toBe('1');
    const decrypts = contextsOf('Decrypt', from);
    expect(decrypts.length).toBeGreaterThan(0);
    for (const sent of decrypts) expect(sent).toEqual(generated);
  });

  it('an IAM condition on kms:EncryptionContext:tenant_id admits that tenant and denies another', async () => {
    const credentials = f.kms.restrictedCredentials('acme-app', ['GenerateDataKey', 'Decrypt'], {
      encryptionContext: { tenant_id: 'acme' },
    });
    const client = new KMSClient({
      region: f.kms.region,
      endpoint: f.kms.endpoint,
      credentials,
      maxAttempts: 1,
    });
    try {
      const provider = new AwsKmsKeyProvider({
        client,
        encryptionContextKeys: { tenant: 'tenant_id' },
        retry: { baseDelayMs: 1, maxDelayMs: 2 },
      });
      const fs = createFieldseal({
        provider,
        cache: { maxAgeMs: 60_000 },
        keys: { mode: 'embedded', masterKeyId: (t: string) => tenantMasterKeyAlias(t) },
      });
      const stored = await fs.encrypt('alice@example.com', valueCtx('acme'));
      expect(await fs.decrypt(stored, valueCtx('acme'))).toBe('alice@example.com');
      await expect(fs.encrypt('bob@example.com', valueCtx('globex'))).rejects.toMatchObject({
        code: 'ERR_ACCESS_DENIED',
      });
      // The same policy is useless to a provider sending the default name.
      const defaultNames = createFieldseal({
        provider: new AwsKmsKeyProvider({ client, retry: { baseDelayMs: 1, maxDelayMs: 2 } }),
        cache: { maxAgeMs: 60_000 },
        keys: { mode: 'embedded', masterKeyId: (t: string) => tenantMasterKeyAlias(t) },
      });
      await expect(defaultNames.encrypt('x', valueCtx('acme'))).rejects.toMatchObject({
        code: 'ERR_ACCESS_DENIED',
      });
    } finally {
      client.destroy();
    }
  });

  it('fails closed when the naming changes under existing values (both directions)', async () => {
    const embedded = (names?: { tenant: string }) =>
      ({
        provider: f.provider(names === undefined ? {} : { encryptionContextKeys: names }),
        cache: { maxAgeMs: 60_000 },
        keys: { mode: 'embedded', masterKeyId: (t: string) => tenantMasterKeyAlias(t) },
      }) as const;
    const plain = await createFieldseal(embedded()).encrypt('v', valueCtx('acme'));
    const renamed = await createFieldseal(embedded({ tenant: 'tenant_id' })).encrypt(
      'v',
      valueCtx('acme'),
    );
    await expect(
      createFieldseal(embedded({ tenant: 'tenant_id' })).decrypt(plain, valueCtx('acme')),
    ).rejects.toMatchObject({ code: 'ERR_KEY_UNWRAP_FAILED' });
    await expect(
      createFieldseal(embedded()).decrypt(renamed, valueCtx('acme')),
    ).rejects.toMatchObject({ code: 'ERR_KEY_UNWRAP_FAILED' });
  });

  it('refuses names that are unknown, reserved, malformed or that would collide', () => {
    const bad: unknown[] = [
      { tenantId: 'x' },
      { tenant: '' },
      { tenant: 'aws:tenant' },
      { tenant: 'AWSTenant' },
      { tenant: 'has space' },
      { tenant: '__proto__' },
      { tenant: 'x'.repeat(129) },
      { tenant: 'key' },
      { tenant: 'same', version: 'same' },
      { key: 'Tenant' }, // AWS compares context names without regard to case
      { tenant: 'tenant_id', version: 'TENANT_ID' },
      { tenant: 5 },
      'tenant_id',
      ['tenant_id'],
    ];
    for (const names of bad) {
      expect(
        () => new AwsKmsKeyProvider({ region: 'us-east-1', encryptionContextKeys: names as never }),
        JSON.stringify(names),
      ).toThrow(TypeError);
    }
    // Renaming to the same name and swapping two names are fine (every name stays distinct).
    expect(
      () =>
        new AwsKmsKeyProvider({
          region: 'us-east-1',
          encryptionContextKeys: { tenant: 'tenant', key: 'version', version: 'key' },
        }),
    ).not.toThrow();
  });

  it('refuses a context that already holds a renamed entry, before calling KMS', async () => {
    const provider = f.provider({ encryptionContextKeys: { tenant: 'tenant_id' } });
    const calls = f.kms.count();
    await expect(
      provider.generateDataKey(tenantMasterKeyAlias('acme'), {
        tenant: 'acme',
        tenant_id: 'globex',
      }),
    ).rejects.toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_CONTEXT',
        message: 'encryption context entry "tenant_id" would be sent twice',
      }),
    );
    await expect(
      provider.generateDataKey(tenantMasterKeyAlias('acme'), { tenant: 'acme', Tenant_ID: 'x' }),
    ).rejects.toThrow(expect.objectContaining({ code: 'ERR_INVALID_CONTEXT' }));
    expect(f.kms.count()).toBe(calls);
  });

  it("refuses a field's key context under the renamed key or version name, before calling KMS", async () => {
    // Else the field's data keys would carry exactly a key-store key's encryption context.
    const provider = f.provider({ encryptionContextKeys: { key: 'keyId', version: 'keyVersion' } });
    const fs = createFieldseal({
      provider,
      cache: { maxAgeMs: 60_000 },
      keys: { mode: 'embedded', masterKeyId: tenantMasterKeyAlias('acme') },
      fields: { 'users.ssn': { keyContext: { keyId: 'k1', KeyVersion: '1' } } },
    });
    const calls = f.kms.count();
    await expect(fs.encrypt('x', valueCtx('acme'))).rejects.toMatchObject({
      code: 'ERR_INVALID_CONTEXT',
    });
    await expect(
      provider.generateDataKey(tenantMasterKeyAlias('acme'), { tenant: 'acme', keyversion: '1' }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_CONTEXT' });
    expect(f.kms.count()).toBe(calls);
    // Under the default names a key context may use keyId: it is nobody's name.
    const plain = createFieldseal({
      provider: f.provider(),
      cache: { maxAgeMs: 60_000 },
      keys: { mode: 'embedded', masterKeyId: tenantMasterKeyAlias('acme') },
      fields: { 'users.ssn': { keyContext: { keyId: 'k1' } } },
    });
    expect(await plain.decrypt(await plain.encrypt('y', valueCtx('acme')), valueCtx('acme'))).toBe(
      'y',
    );
  });

  it('is read from the configuration file, and unknown entries there are refused', () => {
    const config = validateProviderConfig(
      { kind: 'aws-kms', masterKeyId: 'alias/x', encryptionContextKeys: { tenant: 'tenant_id' } },
      '/',
    );
    expect(config).toEqual({
      kind: 'aws-kms',
      masterKeyId: 'alias/x',
      encryptionContextKeys: { tenant: 'tenant_id' },
    });
    expect(() =>
      validateProviderConfig(
        { kind: 'aws-kms', masterKeyId: 'alias/x', encryptionContextKeys: { tenant_id: 'x' } },
        '/',
      ),
    ).toThrow(/config\.provider\.encryptionContextKeys\.tenant_id: unknown entry/);
    expect(() =>
      validateProviderConfig(
        { kind: 'aws-kms', masterKeyId: 'alias/x', encryptionContextKeys: { tenant: 1 } },
        '/',
      ),
    ).toThrow(/config\.provider\.encryptionContextKeys\.tenant: expected a non-empty string/);
  });
});
