import { randomBytes } from 'node:crypto';
import { CreateKeyCommand, DescribeKeyCommand, ListResourceTagsCommand } from '@aws-sdk/client-kms';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createFieldseal } from '../../src/index.js';
import { MemoryKeyStore } from '../../src/testing/index.js';
import { importTenantMasterKey } from '../../src/kms/aws/index.js';
import { startAwsKmsFixture, type AwsKmsFixture } from '../loopback/aws-kms-fixture.js';

// BYOK: importTenantMasterKey through the real SDK client against the loopback KMS, which
// implements CreateKey (Origin EXTERNAL), GetParametersForImport and ImportKeyMaterial with a
// real RSA-OAEP wrapping key.

describe('importTenantMasterKey (BYOK)', () => {
  let f: AwsKmsFixture;
  beforeAll(async () => {
    f = await startAwsKmsFixture();
  });
  afterEach(() => f.kms.faults.clear());
  afterAll(() => f.close());

  it('creates an EXTERNAL key holding exactly the given material, tagged and aliased', async () => {
    const material = randomBytes(32);
    const original = Buffer.from(material);
    const key = await importTenantMasterKey({
      client: f.admin,
      tenant: 'byok-a',
      keyMaterial: material,
      wrappingKeySpec: 'RSA_2048',
    });
    expect(key.alias).toBe('alias/fieldseal/byok-a');
    expect(material.equals(original)).toBe(true); // the caller's buffer is left alone
    expect(f.kms.keyMaterial(key.keyId).equals(original)).toBe(true);
    const meta = await f.admin.send(new DescribeKeyCommand({ KeyId: key.alias }));
    expect(meta.KeyMetadata).toMatchObject({ Origin: 'EXTERNAL', KeyState: 'Enabled' });
    const tags = await f.admin.send(new ListResourceTagsCommand({ KeyId: key.keyId }));
    expect(tags.Tags).toContainEqual({ TagKey: 'tenant_id', TagValue: 'byok-a' });
    // The import used OAEP-SHA-256 over a fresh wrapping key, and never sent the material.
    const sent = f.kms.trail.filter((e) => e.keyId === key.keyId).map((e) => e.operation);
    expect(sent).toEqual(['GetParametersForImport', 'ImportKeyMaterial', 'ListResourceTags']);
  });

  it('serves a tenant like any other key: provision, encrypt, decrypt, shred', async () => {
    await importTenantMasterKey({
      client: f.admin,
      tenant: 'byok-b',
      keyMaterial: randomBytes(32),
      wrappingKeySpec: 'RSA_2048',
      validTo: new Date(Date.now() + 86_400_000),
    });
    const fs = createFieldseal({
      admin: true,
      provider: f.provider(),
      keys: {
        mode: 'store',
        store: new MemoryKeyStore(),
        masterKeyId: (t) => `alias/fieldseal/${t}`,
        dedicatedMasterKeys: true,
      },
      cache: { maxAgeMs: 60_000 },
    });
    await fs.provisionTenant('byok-b');
    const ctx = { tenant: 'byok-b', table: 't', field: 'f', record: '1' };
    const stored = await fs.encrypt('secret', ctx);
    fs.clearCache();
    expect(await fs.decrypt(stored, ctx)).toBe('secret');
    await fs.shredTenant('byok-b');
    await expect(fs.decrypt(stored, ctx)).rejects.toMatchObject({ code: 'ERR_KEY_SHREDDED' });
    fs.close();
  });

  it('refuses material that is not 32 bytes before calling KMS', async () => {
    const before = f.kms.count();
    for (const keyMaterial of [randomBytes(31), randomBytes(33), new Uint8Array(0)]) {
      await expect(
        importTenantMasterKey({ client: f.admin, tenant: 'byok-bad', keyMaterial }),
      ).rejects.toMatchObject({ code: 'ERR_INVALID_KEY_MATERIAL' });
    }
    await expect(
      importTenantMasterKey({
        client: f.admin,
        tenant: 'byok-bad',
        keyMaterial: 'x'.repeat(32) as never,
      }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_KEY_MATERIAL' });
    expect(f.kms.count()).toBe(before);
  });

  it('a failed import leaves no usable key and no alias: the new key is scheduled for deletion', async () => {
    f.kms.faults.inject('server-error', { operations: ['ImportKeyMaterial'] });
    const from = f.kms.trail.length;
    await expect(
      importTenantMasterKey({
        client: f.admin,
        tenant: 'byok-fail',
        keyMaterial: randomBytes(32),
        wrappingKeySpec: 'RSA_2048',
      }),
    ).rejects.toMatchObject({ code: 'ERR_PROVIDER_UNAVAILABLE' });
    const created = f.kms.trail.slice(from).find((e) => e.operation === 'ScheduleKeyDeletion');
    expect(created?.keyId).toBeDefined();
    const meta = await f.admin.send(new DescribeKeyCommand({ KeyId: created!.keyId }));
    expect(meta.KeyMetadata?.KeyState).toBe('PendingDeletion');
    await expect(
      f.admin.send(new DescribeKeyCommand({ KeyId: 'alias/fieldseal/byok-fail' })),
    ).rejects.toMatchObject({ name: 'NotFoundException' });
  });

  it('a key still pending import refuses every use (fail closed)', async () => {
    const created = await f.admin.send(
      new CreateKeyCommand({ KeySpec: 'SYMMETRIC_DEFAULT', Origin: 'EXTERNAL' }),
    );
    const keyId = created.KeyMetadata!.KeyId!;
    expect(created.KeyMetadata?.KeyState).toBe('PendingImport');
    const err = await f
      .provider({ retry: { maxAttempts: 1 } })
      .generateDataKey(keyId, { tenant: 'x' })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_PROVIDER_UNAVAILABLE' });
    expect(String((err as Error & { cause?: unknown }).cause)).toContain(
      'KMSInvalidStateException',
    );
  });
});
