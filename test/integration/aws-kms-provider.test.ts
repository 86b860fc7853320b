import { DescribeKeyCommand, ListResourceTagsCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspect } from 'node:util';
import { createFieldseal, DataKey, type KeyProvider } from '../../src/index.js';
import { MemoryKeyStore, runKeyProviderSuite } from '../../src/testing/index.js';
import {
  AwsKmsKeyProvider,
  createTenantMasterKey,
  tenantMasterKeyAlias,
} from '../../src/kms/aws/index.js';
import { startAwsKmsFixture, type AwsKmsFixture } from '../loopback/aws-kms-fixture.js';

// Server: test/loopback/aws-kms-server.ts, an in-process loopback KMS on 127.0.0.1:0, reached
// through the real @aws-sdk/client-kms client.

runKeyProviderSuite(
  { describe, it, beforeAll, afterAll },
  'AwsKmsKeyProvider (loopback KMS, real SDK client)',
  async () => {
    const f = await startAwsKmsFixture();
    const [, b] = await f.tenants('conf-a', 'conf-b');
    const arn = `arn:aws:kms:${f.kms.region}:111122223333:key/${b}`;
    return {
      provider: f.provider(),
      // An alias name and a key ARN: both forms of master key id.
      masterKeys: [tenantMasterKeyAlias('conf-a'), arn] as const,
      unknownMasterKey: 'alias/fieldseal/nobody',
      teardown: () => f.close(),
    };
  },
);

const ctx = Object.freeze({ tenant: 'acme' });
const valueCtx = (tenant: string) => ({ tenant, table: 'users', field: 'ssn', record: 'r1' });

describe('AwsKmsKeyProvider against the loopback KMS', () => {
  let f: AwsKmsFixture;
  beforeAll(async () => {
    f = await startAwsKmsFixture();
  });
  afterAll(() => f.close());

  it('passes the provider context as the KMS encryption context (key id, ARN or alias)', async () => {
    const [id] = await f.tenants('ctx-t');
    const provider = f.provider();
    const { key, wrapped } = await provider.generateDataKey(id!, ctx);
    key.release();
    // Decrypt without our provider: the SDK with the same EncryptionContext works, another fails.
    const alias = tenantMasterKeyAlias('ctx-t');
    const back = await provider.unwrapDataKey(alias, wrapped, { tenant: 'acme' });
    back.release();
    await expect(provider.unwrapDataKey(alias, wrapped, { tenant: 'ACME' })).rejects.toMatchObject({
      code: 'ERR_KEY_UNWRAP_FAILED',
    });
  });

  it('per-tenant keys: CreateKey with a tenant_id tag and an alias/fieldseal/<tenant> alias', async () => {
    const key = await createTenantMasterKey({ client: f.admin, tenant: 'globex' });
    expect(key.alias).toBe('alias/fieldseal/globex');
    const described = await f.admin.send(new DescribeKeyCommand({ KeyId: key.alias }));
    expect(described.KeyMetadata?.KeyId).toBe(key.keyId);
    expect(described.KeyMetadata?.Arn).toBe(key.arn);
    const tags = await f.admin.send(new ListResourceTagsCommand({ KeyId: key.keyId }));
    expect(tags.Tags).toEqual([{ TagKey: 'tenant_id', TagValue: 'globex' }]);
    // A second key for the same tenant: the alias exists, the orphan key is scheduled for deletion.
    const before = f.kms.count('ScheduleKeyDeletion');
    await expect(
      createTenantMasterKey({ client: f.admin, tenant: 'globex' }),
    ).rejects.toMatchObject({ code: 'ERR_PROVIDER_UNAVAILABLE' });
    expect(f.kms.count('ScheduleKeyDeletion')).toBe(before + 1);
    expect(() => tenantMasterKeyAlias('a/b')).toThrow(TypeError);
    expect(() => tenantMasterKeyAlias('x', 'aws')).toThrow(TypeError);
  });

  it('a disabled key is ERR_PROVIDER_UNAVAILABLE, not retried; enabling it again restores access', async () => {
    await f.tenants('disabled-t');
    const mk = tenantMasterKeyAlias('disabled-t');
    const provider = f.provider();
    const { key, wrapped } = await provider.generateDataKey(mk, ctx);
    key.release();
    f.kms.setKeyState(mk, 'Disabled');
    const before = f.kms.count('Decrypt');
    const err = await provider.unwrapDataKey(mk, wrapped, ctx).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'ERR_PROVIDER_UNAVAILABLE',
      message: 'AWS KMS master key is disabled',
    });
    expect(f.kms.count('Decrypt')).toBe(before + 1);
    await expect(provider.generateDataKey(mk, ctx)).rejects.toMatchObject({
      code: 'ERR_PROVIDER_UNAVAILABLE',
    });
    f.kms.setKeyState(mk, 'Enabled');
    (await provider.unwrapDataKey(mk, wrapped, ctx)).release();
  });

  it('a key pending deletion is ERR_KEY_SHREDDED, not retried', async () => {
    await f.tenants('pending-t');
    const mk = tenantMasterKeyAlias('pending-t');
    const provider = f.provider();
    const { key, wrapped } = await provider.generateDataKey(mk, ctx);
    key.release();
    const receipt = await provider.scheduleMasterKeyDeletion(mk);
    expect(receipt.state).toBe('pending-deletion');
    const days = (receipt.deletionDate!.getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThanOrEqual(30);
    const before = f.kms.count('Decrypt');
    await expect(provider.unwrapDataKey(mk, wrapped, ctx)).rejects.toMatchObject({
      code: 'ERR_KEY_SHREDDED',
    });
    expect(f.kms.count('Decrypt')).toBe(before + 1);
    // A repeated deletion reports the same pending date instead of failing.
    const again = await provider.scheduleMasterKeyDeletion(mk);
    expect(again.deletionDate?.getTime()).toBe(receipt.deletionDate?.getTime());
  });

  it('the deletion window is configurable from 7 to 30 days', async () => {
    await f.tenants('window-t');
    const provider = f.provider({ deletionWindowDays: 7 });
    const r = await provider.scheduleMasterKeyDeletion(tenantMasterKeyAlias('window-t'));
    const days = (r.deletionDate!.getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThanOrEqual(7);
    expect(() => f.provider({ deletionWindowDays: 6 })).toThrow(RangeError);
    expect(() => f.provider({ deletionWindowDays: 31 })).toThrow(RangeError);
  });

  it('an unknown key is ERR_KEY_NOT_CONFIGURED; access denied is ERR_ACCESS_DENIED; neither retried', async () => {
    const provider = f.provider();
    const before = f.kms.count();
    await expect(provider.generateDataKey('alias/fieldseal/none', ctx)).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
      details: { keyRef: 'aws-kms:alias/fieldseal/none' },
    });
    expect(f.kms.count()).toBe(before + 1);
    const denied = new AwsKmsKeyProvider({
      client: {
        send: () =>
          Promise.reject(
            Object.assign(new Error('User is not authorized to perform: kms:Decrypt'), {
              name: 'AccessDeniedException',
              $fault: 'client',
              $metadata: { httpStatusCode: 400 },
            }),
          ),
      },
    });
    const err = await denied
      .unwrapDataKey('alias/x', new Uint8Array(64), ctx)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_ACCESS_DENIED' });
    expect(denied.calls.unwrap).toBe(1);
  });

  it('wrong-key ciphertext (a blob of another key) is ERR_KEY_UNWRAP_FAILED, naming no key bytes', async () => {
    const [a, b] = await f.tenants('wk-a', 'wk-b');
    const provider = f.provider();
    const { key, wrapped } = await provider.generateDataKey(a!, ctx);
    const hex = Buffer.from(key.exposeBytes()).toString('hex');
    const b64 = Buffer.from(key.exposeBytes()).toString('base64');
    key.release();
    const err = await provider.unwrapDataKey(b!, wrapped, ctx).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_KEY_UNWRAP_FAILED' });
    for (const text of [inspect(err, { depth: 8 }), JSON.stringify(err), String(err)]) {
      expect(text).not.toContain(hex);
      expect(text).not.toContain(b64);
    }
    expect((err as Error).cause).toMatchObject({
      awsName: 'IncorrectKeyException',
      httpStatus: 400,
    });
  });

  it('wrapDataKey uses Encrypt with the context; the result unwraps through Decrypt', async () => {
    const [id] = await f.tenants('wrap-t');
    const provider = f.provider();
    const key = DataKey.fromBytes(Buffer.alloc(32, 9));
    const before = f.kms.count('Encrypt');
    const wrapped = await provider.wrapDataKey(id!, key, ctx);
    key.release();
    expect(f.kms.count('Encrypt')).toBe(before + 1);
    const back = await provider.unwrapDataKey(id!, wrapped, ctx);
    expect(Buffer.from(back.exposeBytes())).toEqual(Buffer.alloc(32, 9));
    back.release();
  });

  it('shredTenant schedules the deletion of the tenant master key; the receipt carries the date', async () => {
    await f.tenants('shred-a', 'shred-b');
    const provider: KeyProvider = f.provider();
    const fs = createFieldseal({
      admin: true,
      provider,
      keys: {
        mode: 'store',
        store: new MemoryKeyStore(),
        masterKeyId: (t) => 'alias/fieldseal/' + t,
        dedicatedMasterKeys: true,
      },
      cache: { maxAgeMs: 60_000 },
    });
    await fs.provisionTenant('shred-a');
    await fs.provisionTenant('shred-b');
    const a = await fs.encrypt('123-45-6789', valueCtx('shred-a'));
    const b = await fs.encrypt('987-65-4321', valueCtx('shred-b'));
    const before = Date.now();
    const receipt = await fs.shredTenant('shred-a');
    expect(receipt.masterKeys).toHaveLength(1);
    const [mk] = receipt.masterKeys;
    expect(mk).toMatchObject({
      providerId: 'aws-kms',
      masterKeyId: 'alias/fieldseal/shred-a',
      state: 'pending-deletion',
    });
    const days = ((mk?.deletionDate?.getTime() ?? 0) - before) / 86_400_000;
    expect(days).toBeGreaterThan(29.99);
    expect(days).toBeLessThan(30.01);
    const meta = await f.admin.send(new DescribeKeyCommand({ KeyId: 'alias/fieldseal/shred-a' }));
    expect(meta.KeyMetadata?.KeyState).toBe('PendingDeletion');
    expect(meta.KeyMetadata?.DeletionDate?.getTime()).toBe(mk?.deletionDate?.getTime());
    await expect(fs.decrypt(a, valueCtx('shred-a'))).rejects.toMatchObject({
      code: 'ERR_KEY_SHREDDED',
    });
    fs.clearCache();
    expect(await fs.decrypt(b, valueCtx('shred-b'))).toBe('987-65-4321');
  });

  it('embedded keys: after the shred, KMS itself refuses the tenant (ERR_KEY_SHREDDED)', async () => {
    await f.tenants('emb-a');
    const options = {
      admin: true,
      provider: f.provider(),
      keys: { mode: 'embedded', masterKeyId: (t: string) => tenantMasterKeyAlias(t) },
      cache: { maxAgeMs: 60_000 },
    } as const;
    const writer = createFieldseal(options);
    const stored = await writer.encrypt('123-45-6789', valueCtx('emb-a'));
    await options.provider.scheduleMasterKeyDeletion(tenantMasterKeyAlias('emb-a'));
    const reader = createFieldseal(options); // cold cache
    await expect(reader.decrypt(stored, valueCtx('emb-a'))).rejects.toMatchObject({
      code: 'ERR_KEY_SHREDDED',
    });
  });
});
