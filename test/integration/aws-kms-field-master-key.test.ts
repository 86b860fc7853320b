/**
 * A master key per field (`.encrypted({ masterKeyId })`, `FieldPolicy.masterKeyId`) in
 * embedded mode with AwsKmsKeyProvider: two fields under two KMS keys named by ARNs of two
 * regions, next to the client's own master key (an alias in the default region).
 *
 * Server: test/loopback/aws-kms-server.ts, an in-process loopback KMS on 127.0.0.1:0 started by
 * startAwsKmsFixture() (test/loopback/aws-kms-fixture.ts), reached through the real SDK client.
 * The loopback has one region and counts requests by operation only, so each provider here
 * gets a client supplier that records, per request, the region its client was made for, the
 * operation, the KeyId and the encryption context.
 */
import { CreateAliasCommand, CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createFieldseal,
  decryptRecord,
  defineModelFromSeedShape,
  encryptRecord,
  inspectEnvelope,
  type FieldPolicy,
} from '../../src/index.js';
import { AwsKmsKeyProvider, type KmsClientLike } from '../../src/kms/aws/index.js';
import { startAwsKmsFixture, type AwsKmsFixture } from '../loopback/aws-kms-fixture.js';

interface KmsCall {
  readonly region: string | undefined;
  readonly operation: string;
  readonly keyId: string | undefined;
  readonly context: Readonly<Record<string, string>> | undefined;
}

const ACCOUNT = '111122223333';

describe('a field master key with AWS KMS (ARNs in two regions)', () => {
  let f: AwsKmsFixture;
  let paymentsId: string;
  let identityId: string;
  /** Alias ARN in eu-west-1. */
  let PAYMENTS: string;
  /** Key ARN in ap-southeast-2. */
  let IDENTITY: string;
  const APP = 'alias/app'; // the client's master key: default region
  const calls: KmsCall[] = [];
  const clients: KMSClient[] = [];

  async function createKey(alias: string): Promise<string> {
    const out = await f.admin.send(new CreateKeyCommand({ Description: alias }));
    const id = out.KeyMetadata!.KeyId!;
    await f.admin.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: id }));
    return id;
  }

  /** A provider whose KMS clients record every request (one client per region asked). */
  function recordingProvider(): AwsKmsKeyProvider {
    return new AwsKmsKeyProvider({
      client: (region): KmsClientLike => {
        const client = new KMSClient({
          region: region ?? f.kms.region,
          endpoint: f.kms.endpoint,
          credentials: f.kms.credentials,
          maxAttempts: 1,
        });
        clients.push(client);
        const send = (
          command: { input: { KeyId?: string; EncryptionContext?: Record<string, string> } },
          options?: unknown,
        ): Promise<unknown> => {
          calls.push({
            region,
            operation: command.constructor.name.replace(/Command$/, ''),
            keyId: command.input.KeyId,
            context: command.input.EncryptionContext,
          });
          return (client.send as (c: unknown, o?: unknown) => Promise<unknown>)(command, options);
        };
        return { send };
      },
      retry: { baseDelayMs: 5, maxDelayMs: 20, attemptTimeoutMs: 2000 },
    });
  }

  function client(fields: Record<string, FieldPolicy>) {
    return createFieldseal({
      provider: recordingProvider(),
      keys: { mode: 'embedded', masterKeyId: APP },
      cache: { maxAgeMs: 60_000, maxUses: 1000 },
      fields,
    });
  }

  let fields: Record<string, FieldPolicy>;

  beforeAll(async () => {
    f = await startAwsKmsFixture();
    paymentsId = await createKey('alias/payments');
    identityId = await createKey('alias/identity');
    await createKey(APP);
    PAYMENTS = `arn:aws:kms:eu-west-1:${ACCOUNT}:alias/payments`;
    IDENTITY = `arn:aws:kms:ap-southeast-2:${ACCOUNT}:key/${identityId}`;
    fields = {
      'users.card': { masterKeyId: PAYMENTS },
      'users.passport': { masterKeyId: IDENTITY },
    };
  });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await f.close();
  });
  beforeEach(() => {
    calls.length = 0;
  });

  const ctx = (tenant: string, field: string, record = 'u1') => ({
    tenant,
    table: 'users',
    field,
    record,
  });
  const masterOf = (stored: string | Uint8Array) => {
    const ref = inspectEnvelope(stored)?.keyRef;
    return ref?.kind === 'embedded' ? ref.masterKeyId : undefined;
  };
  const summary = (operation: string) =>
    calls
      .filter((c) => c.operation === operation)
      .map((c) => `${c.region ?? 'default'} ${c.keyId ?? '-'} ${c.context?.tenant ?? '-'}`)
      .sort();

  it('each field goes to its own key, in the region its ARN names; values round-trip', async () => {
    const fs = client(fields);
    const card = await fs.encrypt('4111 1111 1111 1111', ctx('acme', 'card'));
    const passport = await fs.encrypt('X1234567', ctx('acme', 'passport'));
    const note = await fs.encrypt('vip', ctx('acme', 'note'));
    expect([card, passport, note].map(masterOf)).toEqual([PAYMENTS, IDENTITY, APP]);
    expect(inspectEnvelope(card)?.keyLabel).toBe(`aws-kms:${PAYMENTS}`);
    expect(summary('GenerateDataKey')).toEqual(
      [
        `eu-west-1 ${PAYMENTS} acme`,
        `ap-southeast-2 ${IDENTITY} acme`,
        `default ${APP} acme`,
      ].sort(),
    );
    // The provider context is the embedded one, unchanged: the tenant only.
    expect(calls.every((c) => JSON.stringify(c.context) === '{"tenant":"acme"}')).toBe(true);

    // A fresh client with no field policy refuses the field keys before any KMS request:
    // stored data does not choose its master key.
    calls.length = 0;
    const stranger = client({});
    await expect(stranger.decrypt(card, ctx('acme', 'card'))).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
      details: { keyRef: `aws-kms:${PAYMENTS}` },
    });
    expect(calls).toHaveLength(0);
    // A fresh client with the field policies reads all three.
    const reader = client(fields);
    expect(await reader.decrypt(card, ctx('acme', 'card'))).toBe('4111 1111 1111 1111');
    expect(await reader.decrypt(passport, ctx('acme', 'passport'))).toBe('X1234567');
    expect(await reader.decrypt(note, ctx('acme', 'note'))).toBe('vip');
    expect(summary('Decrypt')).toEqual(
      [
        `eu-west-1 ${PAYMENTS} acme`,
        `ap-southeast-2 ${IDENTITY} acme`,
        `default ${APP} acme`,
      ].sort(),
    );
    expect(calls).toHaveLength(3);
  });

  it('a batch costs one GenerateDataKey per (master key, tenant)', async () => {
    const fs = client(fields);
    const tenants = ['acme', 'globex', 'initech'];
    const items = tenants.flatMap((tenant) =>
      [0, 1, 2, 3].flatMap((i) =>
        ['card', 'passport', 'note'].map((field) => ({
          value: `${tenant}-${field}-${i}`,
          context: ctx(tenant, field, `u${i}`),
        })),
      ),
    );
    const stored = await fs.encryptMany(items);
    expect(summary('GenerateDataKey')).toEqual(
      tenants
        .flatMap((t) => [
          `eu-west-1 ${PAYMENTS} ${t}`,
          `ap-southeast-2 ${IDENTITY} ${t}`,
          `default ${APP} ${t}`,
        ])
        .sort(),
    );
    stored.forEach((s, i) => {
      const field = items[i]!.context.field;
      expect(masterOf(s)).toBe(field === 'card' ? PAYMENTS : field === 'passport' ? IDENTITY : APP);
    });
    // Written and read by the same client: no unwrap at all (the write keys are cached).
    expect(
      await fs.decryptMany(stored.map((s, i) => ({ stored: s, context: items[i]!.context }))),
    ).toEqual(items.map((it) => it.value));
    expect(calls.filter((c) => c.operation !== 'GenerateDataKey')).toEqual([]);
    // A second batch: still served from the cache.
    await fs.encryptMany(items);
    expect(calls).toHaveLength(9);
  });

  it('a disabled field key fails only that field, with a typed error', async () => {
    const writer = client(fields);
    const card = await writer.encrypt('4111', ctx('acme', 'card'));
    const passport = await writer.encrypt('X1', ctx('acme', 'passport'));
    f.kms.setKeyState(paymentsId, 'Disabled');
    try {
      const fs = client(fields);
      await expect(fs.encrypt('4111', ctx('acme', 'card'))).rejects.toMatchObject({
        code: 'ERR_PROVIDER_UNAVAILABLE',
        details: { keyRef: `aws-kms:${PAYMENTS}` },
      });
      expect(await fs.encrypt('X2', ctx('acme', 'passport'))).toMatch(/^fs1:/);
      expect(await fs.encrypt('vip', ctx('acme', 'note'))).toMatch(/^fs1:/);
      const settled = await fs.decryptManySettled([
        { stored: card, context: ctx('acme', 'card') },
        { stored: passport, context: ctx('acme', 'passport') },
      ]);
      expect(settled[0]).toMatchObject({ ok: false, error: { code: 'ERR_PROVIDER_UNAVAILABLE' } });
      expect(settled[1]).toEqual({ ok: true, value: 'X1' });
      // DisabledException is not retried: one request each, all to eu-west-1.
      expect(
        calls.filter((c) => c.keyId === PAYMENTS).map((c) => `${c.region} ${c.operation}`),
      ).toEqual(['eu-west-1 GenerateDataKey', 'eu-west-1 GenerateDataKey', 'eu-west-1 Decrypt']);
    } finally {
      f.kms.setKeyState(paymentsId, 'Enabled');
    }
  });

  it('a seed-shape model maps keyId + region to the field master key', async () => {
    const Credential = defineModelFromSeedShape({
      name: 'Credential',
      table: { name: 'credentials' },
      keys: { partition: { attribute: 'PK', type: 'S' } },
      attributes: [
        { attribute: 'PK', type: 'S', roles: ['pk'] },
        { attribute: 'tenant', type: 'S' },
        {
          attribute: 'secret',
          type: 'S',
          encryption: { v: 1, keyId: PAYMENTS, region: 'eu-west-1', context: { purpose: 'pii' } },
        },
        { attribute: 'other', type: 'S', encryption: { v: 1 } },
      ],
      tenant: 'tenant',
    });
    expect(Credential.policies).toEqual({
      'credentials.secret': { masterKeyId: PAYMENTS },
      'credentials.other': {},
    });
    const fs = client({ ...Credential.policies });
    const record = { PK: 'c1', tenant: 'acme', secret: 's3cret', other: 'o' };
    const row = await encryptRecord(fs, Credential, record);
    expect(masterOf(row.secret)).toBe(PAYMENTS);
    expect(masterOf(row.other)).toBe(APP);
    expect(summary('GenerateDataKey')).toEqual(
      [`eu-west-1 ${PAYMENTS} acme`, `default ${APP} acme`].sort(),
    );
    expect(await decryptRecord(client({ ...Credential.policies }), Credential, row)).toEqual(
      record,
    );
    // A client that was not given the model's policies is refused before any KMS call.
    await expect(encryptRecord(client({}), Credential, record)).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
      details: { field: 'credentials.secret' },
    });
  });
});
