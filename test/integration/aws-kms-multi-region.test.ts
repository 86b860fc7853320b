import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFieldseal, type FieldsealOptions } from '../../src/index.js';
import { MemoryKeyStore } from '../../src/testing/index.js';
import { AwsKmsKeyProvider, type AwsKmsKeyProviderOptions } from '../../src/kms/aws/index.js';
import { LoopbackKms } from '../loopback/aws-kms-server.js';

// Multi-Region keys: three loopback KMS servers, each one Region (ARNs of other Regions are
// refused, as by KMS), reached through the real SDK. The key is created in us-east-1 and
// replicated to eu-west-1 only; ap-southeast-2 has no replica.

describe('multi-Region keys through replicaRegion', () => {
  const servers = new Map<string, LoopbackKms>();
  const clients: KMSClient[] = [];
  let primaryArn: string;

  function clientFor(region: string): KMSClient {
    const kms = servers.get(region)!;
    const c = new KMSClient({
      region,
      endpoint: kms.endpoint,
      credentials: kms.credentials,
      maxAttempts: 1,
    });
    clients.push(c);
    return c;
  }

  /** A provider whose default Region is `home`, with one client per Region it asks for. */
  function provider(home: string, options: AwsKmsKeyProviderOptions = {}): AwsKmsKeyProvider {
    return new AwsKmsKeyProvider({
      client: (region) => clientFor(region ?? home),
      retry: { baseDelayMs: 1, maxDelayMs: 2, maxAttempts: 1 },
      ...options,
    });
  }

  const ctx = { tenant: 'acme', table: 'orders', field: 'card', record: 'o1' };
  const embedded = (p: AwsKmsKeyProvider): FieldsealOptions => ({
    provider: p,
    keys: { mode: 'embedded', masterKeyId: primaryArn },
    cache: { maxAgeMs: 60_000 },
  });

  beforeAll(async () => {
    for (const region of ['us-east-1', 'eu-west-1', 'ap-southeast-2']) {
      servers.set(region, await LoopbackKms.start({ region }));
    }
    const created = await clientFor('us-east-1').send(
      new CreateKeyCommand({ KeySpec: 'SYMMETRIC_DEFAULT', MultiRegion: true }),
    );
    primaryArn = created.KeyMetadata!.Arn!;
    expect(primaryArn).toMatch(/^arn:aws:kms:us-east-1:\d{12}:key\/mrk-[0-9a-f]{32}$/);
    const replica = servers.get('us-east-1')!.replicateTo(primaryArn, servers.get('eu-west-1')!);
    expect(replica).toBe(primaryArn.replace('us-east-1', 'eu-west-1'));
  });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    for (const s of servers.values()) await s.close();
  });

  const decrypts = (region: string): number => servers.get(region)!.count('Decrypt');

  it('a value written in us-east-1 is read in eu-west-1 through the replica, with no call to us-east-1', async () => {
    const stored = await createFieldseal(embedded(provider('us-east-1'))).encrypt('4111', ctx);
    const us = decrypts('us-east-1');
    const reader = createFieldseal(embedded(provider('eu-west-1', { replicaRegion: 'eu-west-1' })));
    expect(await reader.decrypt(stored, ctx)).toBe('4111');
    expect(decrypts('eu-west-1')).toBe(1);
    expect(decrypts('us-east-1')).toBe(us);
    const [call] = servers.get('eu-west-1')!.trail.filter((e) => e.operation === 'Decrypt');
    expect(call?.keyId).toBe(primaryArn.replace('us-east-1', 'eu-west-1'));
  });

  it("a Region without a replica fails closed, and never falls back to the key's own Region", async () => {
    const stored = await createFieldseal(embedded(provider('us-east-1'))).encrypt('4111', ctx);
    const us = decrypts('us-east-1');
    const reader = createFieldseal(
      embedded(provider('ap-southeast-2', { replicaRegion: 'ap-southeast-2' })),
    );
    await expect(reader.decrypt(stored, ctx)).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
    });
    expect(decrypts('us-east-1')).toBe(us);
  });

  it('writes in the replica Region use the replica too, and read back in the primary Region', async () => {
    const writer = createFieldseal(embedded(provider('eu-west-1', { replicaRegion: 'eu-west-1' })));
    const generated = servers.get('eu-west-1')!.count('GenerateDataKey');
    const stored = await writer.encrypt('5500', ctx);
    expect(servers.get('eu-west-1')!.count('GenerateDataKey')).toBe(generated + 1);
    expect(await createFieldseal(embedded(provider('us-east-1'))).decrypt(stored, ctx)).toBe(
      '5500',
    );
  });

  it('store mode: data keys provisioned in one Region unwrap in the other', async () => {
    const store = new MemoryKeyStore(); // a replicated key table
    const options = (p: AwsKmsKeyProvider): FieldsealOptions => ({
      admin: true,
      provider: p,
      keys: { mode: 'store', store, masterKeyId: primaryArn },
      cache: { maxAgeMs: 60_000 },
    });
    const us = createFieldseal(options(provider('us-east-1')));
    await us.provisionTenant('acme');
    const stored = await us.encrypt('ssn', ctx);
    const eu = createFieldseal(options(provider('eu-west-1', { replicaRegion: 'eu-west-1' })));
    expect(await eu.decrypt(stored, ctx)).toBe('ssn');
  });

  it('without replicaRegion an ARN goes to its own Region; single-Region ARNs and aliases are never rewritten', async () => {
    const stored = await createFieldseal(embedded(provider('us-east-1'))).encrypt('x', ctx);
    const us = decrypts('us-east-1');
    expect(await createFieldseal(embedded(provider('eu-west-1'))).decrypt(stored, ctx)).toBe('x');
    expect(decrypts('us-east-1')).toBe(us + 1);

    const single = await clientFor('us-east-1').send(new CreateKeyCommand({}));
    const singleArn = single.KeyMetadata!.Arn!;
    const p = provider('eu-west-1', { replicaRegion: 'eu-west-1' });
    const before = servers.get('us-east-1')!.count('GenerateDataKey');
    const { key } = await p.generateDataKey(singleArn, { tenant: 'acme' });
    key.release();
    expect(servers.get('us-east-1')!.count('GenerateDataKey')).toBe(before + 1);
  });

  it('an ARN that names a multi-Region key in another form never goes to its own Region', async () => {
    const us = servers.get('us-east-1')!.count();
    const p = provider('eu-west-1', { replicaRegion: 'eu-west-1' });
    const upper = primaryArn.replace(
      /mrk-([0-9a-f]+)$/,
      (_, hex: string) => `mrk-${hex.toUpperCase()}`,
    );
    for (const id of [upper, `${primaryArn}0`, primaryArn.replace(/mrk-[0-9a-f]{4}/, 'mrk-')]) {
      await expect(p.generateDataKey(id, { tenant: 'acme' }), id).rejects.toMatchObject({
        code: 'ERR_KEY_NOT_CONFIGURED',
      });
    }
    expect(servers.get('us-east-1')!.count()).toBe(us);
  });

  it('refuses a replicaRegion that is not a Region name', () => {
    for (const bad of ['EU-WEST-1', 'eu-west', 'europe', '', 'eu-west-1 ', 5]) {
      expect(
        () => new AwsKmsKeyProvider({ region: 'us-east-1', replicaRegion: bad as string }),
        String(bad),
      ).toThrow(TypeError);
    }
    expect(() => new AwsKmsKeyProvider({ replicaRegion: 'us-gov-west-1' })).not.toThrow();
  });
});
