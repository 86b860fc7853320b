import { ListResourceTagsCommand, DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createFieldseal,
  evaluateHealth,
  type EncryptionContext,
  type Fieldseal,
} from '../../src/index.js';
import { MemoryKeyStore } from '../../src/testing/index.js';
import { randomBytes } from 'node:crypto';
import {
  AwsKmsKeyProvider,
  createTenantMasterKey,
  importTenantMasterKey,
  tenantMasterKeyAlias,
} from '../../src/kms/aws/index.js';
import { startAwsKmsFixture, type AwsKmsFixture } from '../loopback/aws-kms-fixture.js';

/*
 * Seed 003 (per-tenant encryption and key management), written in fieldseal the way a reader
 * of the guide would: a CMK per tenant tagged tenant_id with alias/tenant/<id>, tenant_id in the
 * KMS encryption context and the GCM AAD, a cache keyed by tenant and version, versions with
 * lazy re-encryption, crypto-shredding, and the health table. Through the real AWS SDK against
 * the loopback KMS, whose trail records each request's encryption context (CloudTrail) and
 * whose simulated IAM applies kms:EncryptionContext conditions. Each `it` is named after the
 * sentence of the guide it proves.
 */

const alias = (tenant: string): string => tenantMasterKeyAlias(tenant, 'tenant');
const row = (tenant: string, record = 'r1', field = 'email'): EncryptionContext => ({
  tenant,
  table: 'customers',
  field,
  record,
});

describe('seed 003: per-tenant encryption and key management', () => {
  let f: AwsKmsFixture;
  let provider: AwsKmsKeyProvider;
  let store: MemoryKeyStore;
  let fs: Fieldseal;
  const client = (): Fieldseal =>
    createFieldseal({
      admin: true,
      provider,
      keys: { mode: 'store', store, masterKeyId: alias, dedicatedMasterKeys: true },
      cache: { maxAgeMs: 30_000 },
    });

  beforeAll(async () => {
    f = await startAwsKmsFixture();
    provider = f.provider({ encryptionContextKeys: { tenant: 'tenant_id' } });
    store = new MemoryKeyStore();
    fs = client();
  });
  afterAll(async () => {
    fs.close();
    await f.close();
  });

  it('Provision a CMK per tenant: tagged tenant_id, aliased alias/tenant/{tenant_id}', async () => {
    for (const tenant of ['acme', 'globex', 'initech', 'doomed']) {
      const key = await createTenantMasterKey({ client: f.admin, tenant, aliasPrefix: 'tenant' });
      expect(key.alias).toBe(`alias/tenant/${tenant}`);
      const tags = await f.admin.send(new ListResourceTagsCommand({ KeyId: key.keyId }));
      expect(tags.Tags).toContainEqual({ TagKey: 'tenant_id', TagValue: tenant });
      await fs.provisionTenant(tenant);
    }
  });

  it('EncryptionContext={"tenant_id": tenant_id}: bound into the wrap, and must match on Decrypt', async () => {
    const from = f.kms.trail.length;
    const cold = client();
    await cold.decrypt(await fs.encrypt('ada@example.com', row('acme')), row('acme'));
    const sent = f.kms.trail.slice(from).filter((e) => e.operation === 'Decrypt');
    expect(sent.length).toBeGreaterThan(0);
    for (const e of sent) expect(e.encryptionContext?.tenant_id).toBe('acme');
    cold.close();
  });

  it("A ciphertext blob physically copied into another tenant's row cannot be decrypted", async () => {
    const stored = await fs.encrypt('ada@example.com', row('acme'));
    await expect(fs.decrypt(stored, row('globex'))).rejects.toMatchObject({
      code: expect.stringMatching(
        /^ERR_(KEY_NOT_FOUND|AUTHENTICATION_FAILED|WRONG_KEY)$/,
      ) as unknown,
    });
    await expect(fs.decrypt(stored, row('acme', 'r2'))).rejects.toMatchObject({
      code: 'ERR_AUTHENTICATION_FAILED',
    });
  });

  it("Scope the key policy and IAM to the specific CMK in the request's tenant context, never a wildcard", async () => {
    const credentials = f.kms.restrictedCredentials('acme-only', ['Decrypt'], {
      encryptionContext: { tenant_id: 'acme' },
    });
    const kms = new KMSClient({
      region: f.kms.region,
      endpoint: f.kms.endpoint,
      credentials,
      maxAttempts: 1,
    });
    const scoped = createFieldseal({
      provider: new AwsKmsKeyProvider({
        client: kms,
        encryptionContextKeys: { tenant: 'tenant_id' },
        retry: { baseDelayMs: 1, maxDelayMs: 2 },
      }),
      mode: 'ReadOnly',
      keys: { mode: 'store', store, masterKeyId: alias, dedicatedMasterKeys: true },
      cache: { maxAgeMs: 30_000 },
    });
    try {
      const a = await fs.encrypt('a', row('acme'));
      const g = await fs.encrypt('g', row('globex'));
      expect(await scoped.decrypt(a, row('acme'))).toBe('a');
      await expect(scoped.decrypt(g, row('globex'))).rejects.toMatchObject({
        code: 'ERR_ACCESS_DENIED',
      });
    } finally {
      scoped.close();
      kms.destroy();
    }
  });

  it('Cache the plaintext data key keyed by tenant and data-key version: a read burst collapses into one unwrap', async () => {
    const reader = client();
    const values = await Promise.all(
      Array.from({ length: 50 }, (_, i) => fs.encrypt(`v${i}`, row('initech', `r${i}`))),
    );
    const before = f.kms.count('Decrypt');
    await Promise.all(values.map((v, i) => reader.decrypt(v, row('initech', `r${i}`))));
    expect(f.kms.count('Decrypt') - before).toBe(1);
    const s = reader.stats();
    expect(s.cache.hits).toBeGreaterThanOrEqual(49);
    reader.close();
  });

  it('Stamp rows with a data-key version, issue a new version, and re-encrypt lazily', async () => {
    const old = await fs.encrypt('555-0100', row('globex', 'p1', 'phone'));
    await fs.rotateTenantKey('globex');
    expect(await fs.decrypt(old, row('globex', 'p1', 'phone'))).toBe('555-0100'); // still readable
    const { stored, changed } = await fs.reencrypt(old, row('globex', 'p1', 'phone'));
    expect(changed).toBe(true);
    expect(await fs.decrypt(stored, row('globex', 'p1', 'phone'))).toBe('555-0100');
    const versions = await store.listVersions('globex');
    const states = versions
      .map((v) => [v.version, v.state])
      .sort((a, b) => Number(a[0]) - Number(b[0]));
    expect(states).toEqual([
      [1, 'decrypt-only'],
      [2, 'active'],
    ]);
  });

  it('Crypto-shredding: destroy the tenant key and its data is provably unreadable', async () => {
    const stored = await fs.encrypt('gone', row('doomed'));
    const receipt = await fs.shredTenant('doomed');
    expect(receipt.masterKeys[0]).toMatchObject({ state: 'pending-deletion' });
    const meta = await f.admin.send(new DescribeKeyCommand({ KeyId: alias('doomed') }));
    expect(meta.KeyMetadata?.KeyState).toBe('PendingDeletion');
    await expect(fs.decrypt(stored, row('doomed'))).rejects.toMatchObject({
      code: 'ERR_KEY_SHREDDED',
    });
    const cold = client();
    await expect(cold.decrypt(stored, row('doomed'))).rejects.toMatchObject({
      code: 'ERR_KEY_SHREDDED',
    });
    cold.close();
  });

  it("With BYOK you import your own key material into the provider's KMS, which then holds and uses it", async () => {
    const material = randomBytes(32); // generated and escrowed by the customer
    const key = await importTenantMasterKey({
      client: f.admin,
      tenant: 'byok-corp',
      aliasPrefix: 'tenant',
      keyMaterial: material,
      wrappingKeySpec: 'RSA_2048',
    });
    expect(key.alias).toBe('alias/tenant/byok-corp');
    expect(f.kms.keyMaterial(key.keyId).equals(material)).toBe(true);
    await fs.provisionTenant('byok-corp');
    const stored = await fs.encrypt('contract terms', row('byok-corp'));
    const cold = client();
    expect(await cold.decrypt(stored, row('byok-corp'))).toBe('contract terms');
    cold.close();
    material.fill(0);
  });

  it('KMS request throttling — ThrottlingException seen — Request quota increase; batch via data keys', async () => {
    const watched = createFieldseal({
      provider: f.provider({
        encryptionContextKeys: { tenant: 'tenant_id' },
        retry: { baseDelayMs: 1, maxDelayMs: 2 },
      }),
      keys: { mode: 'store', store, masterKeyId: alias, dedicatedMasterKeys: true },
      cache: { maxAgeMs: 30_000 },
    });
    const stored = await fs.encrypt('x', row('acme'));
    f.kms.faults.inject('throttle', { times: 1, operations: ['Decrypt'] });
    expect(await watched.decrypt(stored, row('acme'))).toBe('x'); // retried, succeeded
    const throttling = evaluateHealth(watched.stats()).findings.find(
      (x) => x.metric === 'kms-throttling',
    );
    expect(throttling).toMatchObject({ status: 'warning', display: '1 event' });
    expect(throttling?.mitigation).toContain('quota increase');
    watched.close();
  });

  it('Key versions per tenant — many old versions readable — Backfill re-encrypt to retire old versions', async () => {
    const values: string[] = [];
    for (let v = 0; v < 4; v++) {
      values.push(await fs.encrypt(`v${v}`, row('acme', `k${v}`)));
      await fs.rotateTenantKey('acme');
    }
    const reader = client();
    for (const [i, v] of values.entries()) await reader.decrypt(v, row('acme', `k${i}`));
    const report = evaluateHealth(reader.stats());
    const versions = report.findings.find((x) => x.metric === 'key-versions-per-tenant');
    expect(versions).toMatchObject({ status: 'warning', value: 4 });
    expect(versions?.mitigation).toContain('backfill');
    expect(report.status).toBe('warning');
    expect(JSON.stringify(report)).not.toContain('acme');
    reader.close();
  });
});
