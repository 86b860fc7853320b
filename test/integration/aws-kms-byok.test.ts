import { randomBytes } from 'node:crypto';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DescribeKeyCommand,
  ListResourceTagsCommand,
} from '@aws-sdk/client-kms';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createFieldseal } from '../../src/index.js';
import { MemoryKeyStore } from '../../src/testing/index.js';
import {
  createTenantMasterKey,
  importTenantMasterKey,
  type KmsClientLike,
} from '../../src/kms/aws/index.js';
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

  it('an alias answer lost after KMS created it keeps the key (both helpers); no key is discarded', async () => {
    const lossy: KmsClientLike = {
      send: async (command: Parameters<KmsClientLike['send']>[0]) => {
        const out: unknown = await f.admin.send(command as never);
        if (command instanceof CreateAliasCommand) {
          throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
        }
        return out as never;
      },
    } as KmsClientLike;
    const imported = await importTenantMasterKey({
      client: lossy,
      tenant: 'byok-lost',
      keyMaterial: randomBytes(32),
      wrappingKeySpec: 'RSA_2048',
    });
    const created = await createTenantMasterKey({ client: lossy, tenant: 'cmk-lost' });
    for (const { alias, keyId } of [imported, created]) {
      const meta = await f.admin.send(new DescribeKeyCommand({ KeyId: alias }));
      expect(meta.KeyMetadata).toMatchObject({ KeyId: keyId, KeyState: 'Enabled' });
    }
  });

  it('a key whose deletion cannot be scheduled either is named in the error, to be deleted by hand', async () => {
    f.kms.faults.inject('server-error', { operations: ['ImportKeyMaterial'] });
    f.kms.faults.inject('server-error', { operations: ['ScheduleKeyDeletion'] });
    const from = f.kms.trail.length;
    const err = await importTenantMasterKey({
      client: f.admin,
      tenant: 'byok-orphan',
      keyMaterial: randomBytes(32),
      wrappingKeySpec: 'RSA_2048',
    }).catch((e: unknown) => e as Error);
    const keyId = f.kms.trail
      .slice(from)
      .find((e) => e.operation === 'GetParametersForImport')?.keyId;
    expect(keyId).toBeDefined();
    expect(err).toMatchObject({ code: 'ERR_PROVIDER_UNAVAILABLE' });
    expect((err as Error).message).toContain(
      `the new key ${keyId!} could not be scheduled for deletion`,
    );
  });

  it('reads the material through the typed array itself: no Proxy, getter, length or valueOf', async () => {
    const real = randomBytes(32);
    const before = f.kms.count();
    const proxy = new Proxy(real, {});
    await expect(
      importTenantMasterKey({ client: f.admin, tenant: 'byok-proxy', keyMaterial: proxy }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_KEY_MATERIAL' });
    const short = new Proxy(randomBytes(16), {
      get: (t, k) => (k === 'byteLength' || k === 'length' ? 32 : (Reflect.get(t, k) as unknown)),
    });
    await expect(
      importTenantMasterKey({ client: f.admin, tenant: 'byok-short', keyMaterial: short }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_KEY_MATERIAL' });
    expect(f.kms.count()).toBe(before);
    const spoofed = Buffer.from(real);
    Object.defineProperty(spoofed, 'length', { value: 16 });
    Object.defineProperty(spoofed, 'valueOf', { value: () => Buffer.alloc(32) });
    const key = await importTenantMasterKey({
      client: f.admin,
      tenant: 'byok-spoofed',
      keyMaterial: spoofed,
      wrappingKeySpec: 'RSA_2048',
    });
    expect(f.kms.keyMaterial(key.keyId).equals(real)).toBe(true);
  });

  it('validTo: within the next 365 days, read once; the material then expires and the key refuses use', async () => {
    for (const bad of [
      new Date(Date.now() - 1000),
      new Date(Date.now() + 400 * 86_400_000),
      new Date(NaN),
      '2030-01-01',
    ]) {
      await expect(
        importTenantMasterKey({
          client: f.admin,
          tenant: 'byok-date',
          keyMaterial: randomBytes(32),
          validTo: bad as Date,
        }),
      ).rejects.toThrow(TypeError);
    }
    const validTo = new Date(Date.now() + 30 * 86_400_000);
    const pending = importTenantMasterKey({
      client: f.admin,
      tenant: 'byok-expiring',
      keyMaterial: randomBytes(32),
      wrappingKeySpec: 'RSA_2048',
      validTo,
    });
    validTo.setTime(0); // too late: the date was read when the call began
    const key = await pending;
    const meta = await f.admin.send(new DescribeKeyCommand({ KeyId: key.alias }));
    expect(meta.KeyMetadata?.ExpirationModel).toBe('KEY_MATERIAL_EXPIRES');
    const p = f.provider({ retry: { maxAttempts: 1 } });
    const { key: dataKey, wrapped } = await p.generateDataKey(key.alias, { tenant: 'x' });
    dataKey.release();
    f.kms.expireKeyMaterial(key.alias);
    await expect(p.unwrapDataKey(key.alias, wrapped, { tenant: 'x' })).rejects.toMatchObject({
      code: 'ERR_PROVIDER_UNAVAILABLE',
    });
  });

  it('refuses a wrapping key weaker than asked for, and discards the key', async () => {
    f.kms.importWrappingKeyBits = 1024;
    const from = f.kms.trail.length;
    try {
      await expect(
        importTenantMasterKey({
          client: f.admin,
          tenant: 'byok-weak',
          keyMaterial: randomBytes(32),
          wrappingKeySpec: 'RSA_2048',
        }),
      ).rejects.toMatchObject({
        code: 'ERR_PROVIDER_UNAVAILABLE',
        message: expect.stringContaining('a wrapping key that is not RSA-2048') as unknown,
      });
    } finally {
      f.kms.importWrappingKeyBits = undefined;
    }
    const ops = f.kms.trail.slice(from).map((e) => e.operation);
    expect(ops).not.toContain('ImportKeyMaterial');
    expect(ops).toContain('ScheduleKeyDeletion');
  });
});
