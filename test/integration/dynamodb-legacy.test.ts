import {
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createBlindIndexer,
  createFieldseal,
  defineModel,
  EnvSecretSource,
  field,
  inspectEnvelope,
  isFieldsealError,
  type BlindIndexer,
  type FieldsealError,
} from '../../src/index.js';
import { createDynamoRepository, type DynamoLegacyFormat } from '../../src/dynamodb/index.js';
import { tenantMasterKeyAlias, type AwsKmsKeyProvider } from '../../src/kms/aws/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';
import { startAwsKmsFixture, type AwsKmsFixture } from '../loopback/aws-kms-fixture.js';
import { pydynoxEncrypt } from '../loopback/pydynox-writer.js';
import { describeDynamo, startDynamoLocal, type DynamoLocal } from './dynamodb-local.js';

/**
 * Migration from the DynamoDB seed's (pydynox) `ENC:` values: items written exactly as pydynox
 * writes them (real KMS SDK GenerateDataKey against the loopback KMS, AES-256-GCM, no AAD),
 * read through the explicit per-attribute `legacy` option, rewritten by save and by the
 * backfill, and refused everywhere else.
 */
const User = defineModel({
  table: 'users',
  tenant: 'tenantId',
  key: ['pk', 'sk'],
  fields: {
    pk: field.string(),
    sk: field.string(),
    tenantId: field.string(),
    email: field.string(), // plain in the seed, too
    ssn: field.string().encrypted().blindIndex({ bits: 32 }),
    note: field.string().encrypted({ storage: 'text' }).optional(),
  },
});

const PII = { tenant: 'acme-corp', purpose: 'pii' };
const TABLE = 'users-legacy';
const CANARY = '987-65-4321';

const pydynox = (
  f: AwsKmsFixture,
  keyId: string,
  plaintext: string,
  context: Record<string, string> = PII,
): Promise<string> => pydynoxEncrypt(f.admin, keyId, context, plaintext);

async function failure(p: Promise<unknown>): Promise<FieldsealError> {
  try {
    await p;
  } catch (err) {
    if (isFieldsealError(err)) return err;
    throw err;
  }
  throw new Error('expected a failure');
}

describeDynamo('DynamoDB: migrating the seed ENC: values (DynamoDB Local + loopback KMS)', () => {
  let local: DynamoLocal;
  let client: DynamoDBClient;
  let kms: AwsKmsFixture;
  let seedKms: AwsKmsKeyProvider;
  let indexer: BlindIndexer;
  let keyId: string;
  const provider = new MemoryKeyProvider();
  const store = new MemoryKeyStore();
  const fs = createFieldseal({
    admin: true,
    provider,
    keys: { mode: 'store', store, masterKeyId: 'master' },
    cache: { maxAgeMs: 60_000 },
    fields: { ...User.policies },
  });
  const legacyFor = (): DynamoLegacyFormat => ({
    format: 'pydynox-enc-v1',
    provider: seedKms,
    masterKeyId: keyId,
    context: PII,
  });
  const repo = (legacy = true, field: 'ssn' | 'note' = 'ssn') =>
    createDynamoRepository({
      client,
      fs,
      model: User,
      tableName: TABLE,
      keys: { partition: 'pk', sort: 'sk' },
      indexes: { 'by-ssn': { blindIndex: 'ssn' } },
      blindIndex: { indexer, secretsTable: 'legacy-bi-secrets' },
      ...(legacy ? { legacy: { [field]: legacyFor() } } : {}),
    });
  /** An item as pydynox wrote it (plus the tenant attribute fieldseal needs). */
  const seedPut = async (sk: string, ssn: string, extra: Record<string, AttributeValue> = {}) =>
    client.send(
      new PutItemCommand({
        TableName: TABLE,
        Item: {
          pk: { S: 'acme#users' },
          sk: { S: sk },
          tenantId: { S: 'acme' },
          email: { S: `${sk}@acme.example` },
          ssn: { S: await pydynox(kms, keyId, ssn) },
          ...extra,
        },
      }),
    );
  const raw = async (sk: string) =>
    (
      await client.send(
        new GetItemCommand({
          TableName: TABLE,
          Key: { pk: { S: 'acme#users' }, sk: { S: sk } },
          ConsistentRead: true,
        }),
      )
    ).Item!;

  beforeAll(async () => {
    [local, kms] = await Promise.all([startDynamoLocal(), startAwsKmsFixture()]);
    client = local.client();
    await kms.tenants('seed-app');
    keyId = tenantMasterKeyAlias('seed-app');
    seedKms = kms.provider();
    indexer = await createBlindIndexer({
      source: new EnvSecretSource({
        keys: { bi: 'BI_ROOT' },
        env: { BI_ROOT: `base64:${Buffer.alloc(32, 7).toString('base64')}` },
      }),
      reference: 'bi',
    });
    await fs.provisionTenant('acme');
    await repo().createTable();
  }, 60_000);
  afterAll(async () => {
    client?.destroy();
    await Promise.all([local?.stop(), kms?.close()]);
  });

  it('fails closed without the option, or on another attribute, and names no value', async () => {
    await seedPut('u0', CANARY);
    for (const r of [repo(false), repo(true, 'note')]) {
      const err = await failure(r.get('acme', { pk: 'acme#users', sk: 'u0' }));
      expect(err.details.field).toBe('users.ssn');
      expect(['ERR_PLAINTEXT_IN_ENCRYPTED_FIELD', 'ERR_MALFORMED_CIPHERTEXT']).toContain(err.code);
      expect(JSON.stringify(err) + String(err.stack) + err.message).not.toContain(CANARY);
    }
    // an ENC: value in an attribute that is not configured stays refused too
    await seedPut('u0b', CANARY, { note: { S: await pydynox(kms, keyId, 'a note') } });
    const err = await failure(repo().get('acme', { pk: 'acme#users', sk: 'u0b' }));
    expect(err.details.field).toBe('users.note');
  });

  it('reads legacy values through the option, counted, one KMS Decrypt per value', async () => {
    for (let i = 1; i <= 5; i++) await seedPut(`u${i}`, `123-00-000${i}`);
    const r = repo();
    const before = kms.kms.count('Decrypt');
    expect(await r.get('acme', { pk: 'acme#users', sk: 'u1' })).toEqual({
      pk: 'acme#users',
      sk: 'u1',
      tenantId: 'acme',
      email: 'u1@acme.example',
      ssn: '123-00-0001',
    });
    const got = await r.batchGet(
      'acme',
      [2, 3, 4, 5].map((i) => ({ pk: 'acme#users', sk: `u${i}` })),
    );
    expect(got.map((u) => u?.ssn)).toEqual([
      '123-00-0002',
      '123-00-0003',
      '123-00-0004',
      '123-00-0005',
    ]);
    expect(kms.kms.count('Decrypt') - before).toBe(5);
    expect(r.stats().legacyReads).toEqual({ 'users.ssn': 5 });
    // reading changed nothing stored
    expect((await raw('u1')).ssn?.S?.startsWith('ENC:')).toBe(true);
  });

  it("refuses pydynox's plaintext pass-through and tampered values, per item", async () => {
    await client.send(
      new PutItemCommand({
        TableName: TABLE,
        Item: {
          pk: { S: 'acme#users' },
          sk: { S: 'p1' },
          tenantId: { S: 'acme' },
          email: { S: 'x' },
          ssn: { S: CANARY },
        },
      }),
    );
    const plain = await failure(repo().get('acme', { pk: 'acme#users', sk: 'p1' }));
    expect(plain.code).toBe('ERR_PLAINTEXT_IN_ENCRYPTED_FIELD');
    const good = await pydynox(kms, keyId, CANARY);
    const bytes = Buffer.from(good.slice(4), 'base64');
    bytes[bytes.length - 1]! ^= 1;
    await seedPut('p2', 'x', { ssn: { S: `ENC:${bytes.toString('base64')}` } });
    const tampered = await failure(repo().get('acme', { pk: 'acme#users', sk: 'p2' }));
    expect(tampered.code).toBe('ERR_AUTHENTICATION_FAILED');
    expect(tampered.details.field).toBe('users.ssn');
    expect(JSON.stringify(tampered) + tampered.message).not.toContain(CANARY);
    await client.send(
      new UpdateItemCommand({
        TableName: TABLE,
        Key: { pk: { S: 'acme#users' }, sk: { S: 'p1' } },
        UpdateExpression: 'REMOVE ssn',
      }),
    );
  });

  it('the next save or update writes a fieldseal value', async () => {
    const r = repo();
    const user = (await r.get('acme', { pk: 'acme#users', sk: 'u1' }))!;
    await r.save(user);
    const item = await raw('u1');
    expect(item.ssn?.B).toBeInstanceOf(Uint8Array);
    expect(inspectEnvelope(item.ssn!.B!)?.keyRef.kind).toBe('store');
    expect(item.ssn_bidx_v1?.S).toMatch(/^bi1:/);
    await r.update('acme', { pk: 'acme#users', sk: 'u2' }, { ssn: '123-00-0002' });
    expect((await raw('u2')).ssn?.B).toBeInstanceOf(Uint8Array);
    expect(await repo(false).get('acme', { pk: 'acme#users', sk: 'u1' })).toMatchObject({
      ssn: '123-00-0001',
    });
  });

  it('backfill migrates the rest, adds blind indexes, resumes, reports failures, keeps app writes', async () => {
    for (let i = 10; i < 40; i++) await seedPut(`b${i}`, `555-00-00${i}`);
    const r = repo();
    // an application write to b20 lands between the backfill's read and its write: it wins
    let raced = false;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as {
          Key?: Record<string, AttributeValue>;
          ConditionExpression?: string;
        };
        if (
          !raced &&
          context.commandName === 'UpdateItemCommand' &&
          input.Key?.sk?.S === 'b20' &&
          input.ConditionExpression?.includes('#e0')
        ) {
          raced = true;
          await repo().update('acme', { pk: 'acme#users', sk: 'b20' }, { ssn: 'app-wrote-this' });
        }
        return next(args);
      },
      { step: 'initialize', name: 'raceB20' },
    );
    const progress: number[] = [];
    const first = await r.backfill({
      pageSize: 10,
      maxPages: 2,
      onProgress: (p) => progress.push(p.scanned),
    });
    expect(first.done).toBe(false);
    expect(first.nextKey).toBeDefined();
    expect(progress).toEqual([10, 20]);
    const rest = await r.backfill({ pageSize: 10, startKey: first.nextKey });
    client.middlewareStack.remove('raceB20');
    expect(rest.done).toBe(true);
    const total = {
      scanned: first.scanned + rest.scanned,
      legacy: first.legacyValues + rest.legacyValues,
      conflicts: first.conflicts + rest.conflicts,
      failures: [...first.failures, ...rest.failures],
    };
    expect(raced).toBe(true);
    expect(total.conflicts).toBe(1);
    // u0 / u0b (note not configured: only ssn migrates), u3..u5, b10..b39 except b20, p2 fails
    expect(total.failures).toEqual([
      {
        key: { pk: 'acme#users', sk: 'p2' },
        field: 'users.ssn',
        code: 'ERR_AUTHENTICATION_FAILED',
      },
    ]);
    expect(total.legacy).toBe(2 + 3 + 29);
    expect((await raw('b20')).ssn?.B).toBeInstanceOf(Uint8Array);
    expect(await r.get('acme', { pk: 'acme#users', sk: 'b20' })).toMatchObject({
      ssn: 'app-wrote-this',
    });
    expect((await raw('p2')).ssn?.S?.startsWith('ENC:')).toBe(true); // left as it was
    for (const sk of ['u0', 'u3', 'b10', 'b39']) {
      const item = await raw(sk);
      expect(item.ssn?.B).toBeInstanceOf(Uint8Array);
      expect(JSON.stringify(item)).not.toContain('555-00');
    }
    // the blind index works for migrated values, read without the legacy option
    const found = await repo(false).findBy('acme', 'ssn', '555-00-0031');
    expect(found.map((u) => u.sk)).toEqual(['b31']);
    // a second run has nothing left to do but the failing value
    const again = await r.backfill({ pageSize: 50 });
    expect(again).toMatchObject({
      rewritten: 0,
      legacyValues: 0,
      conflicts: 0,
      failed: 1,
      done: true,
    });
  });

  it('reencrypt moves values to the tenant active key version', async () => {
    await fs.rotateTenantKey('acme');
    const r = repo();
    const report = await r.backfill({ reencrypt: true, pageSize: 25 });
    expect(report.reencryptedValues).toBeGreaterThan(30);
    expect(report.done).toBe(true);
    const item = await raw('b11');
    const info = inspectEnvelope(item.ssn!.B!);
    expect(info?.keyRef.kind === 'store' && info.keyRef.version).toBe(2);
    expect(await r.get('acme', { pk: 'acme#users', sk: 'b11' })).toMatchObject({
      ssn: '555-00-0011',
    });
    expect((await r.backfill({ reencrypt: true })).reencryptedValues).toBe(0);
  });

  it('parallel scan segments cover every item exactly once', async () => {
    await fs.rotateTenantKey('acme');
    const r = repo();
    const total = (
      await client.send(
        new ScanCommand({ TableName: TABLE, Select: 'COUNT', ConsistentRead: true }),
      )
    ).Count!;
    const reports = await Promise.all(
      [0, 1, 2, 3].map((index) =>
        r.backfill({ reencrypt: true, pageSize: 7, segment: { index, total: 4 } }),
      ),
    );
    expect(reports.every((x) => x.done)).toBe(true);
    expect(reports.reduce((n, x) => n + x.scanned, 0)).toBe(total);
    expect(reports.reduce((n, x) => n + x.conflicts, 0)).toBe(0);
    expect(reports.reduce((n, x) => n + x.reencryptedValues, 0)).toBeGreaterThan(30);
    expect((await r.backfill({ reencrypt: true })).reencryptedValues).toBe(0);
    const info = inspectEnvelope((await raw('b12')).ssn!.B!);
    expect(info?.keyRef.kind === 'store' && info.keyRef.version).toBe(3);
    await expect(r.backfill({ segment: { index: 4, total: 4 } })).rejects.toThrow(TypeError);
  });

  describe('hardening (security review)', () => {
    const Vault = defineModel({
      table: 'vault',
      tenant: 'tenantId',
      key: ['pk'],
      fields: {
        pk: field.string(),
        tenantId: field.string(),
        secret: field.string().encrypted({ mode: 'WriteOnly' }),
        pin: field.string().encrypted({ pad: 'bucket-256' }).optional(),
      },
    });
    const VAULT = 'vault-legacy';
    const vaultFs = createFieldseal({
      admin: true,
      provider,
      keys: { mode: 'store', store, masterKeyId: 'master' },
      cache: { maxAgeMs: 60_000 },
      fields: { ...Vault.policies },
    });
    const bare = createFieldseal({
      admin: true,
      provider,
      keys: { mode: 'store', store, masterKeyId: 'master' },
      cache: { maxAgeMs: 60_000 },
    });
    const vaultRepo = (client2 = vaultFs) =>
      createDynamoRepository({
        client,
        fs: client2,
        model: Vault,
        tableName: VAULT,
        keys: { partition: 'pk' },
        legacy: { secret: legacyFor(), pin: legacyFor() },
      });

    beforeAll(async () => {
      await vaultRepo().createTable();
      for (const tenant of ['acme', 'doomed']) {
        if (tenant === 'doomed') await fs.provisionTenant(tenant);
        await client.send(
          new PutItemCommand({
            TableName: VAULT,
            Item: {
              pk: { S: `${tenant}#1` },
              tenantId: { S: tenant },
              secret: { S: await pydynox(kms, keyId, `${tenant}-${CANARY}`) },
              pin: { S: await pydynox(kms, keyId, '1234') },
            },
          }),
        );
      }
      // an item of another entity in the same table (single-table design)
      await client.send(
        new PutItemCommand({
          TableName: VAULT,
          Item: { pk: { S: 'meta#1' }, kind: { S: 'meta' } },
        }),
      );
    });

    it('a WriteOnly field never opens its legacy values; nor does a client without the policies', async () => {
      const before = kms.kms.count('Decrypt');
      const err = await failure(vaultRepo().get('acme', { pk: 'acme#1' }));
      expect(err.code).toBe('ERR_MODE_FORBIDDEN');
      expect(err.details.field).toBe('vault.secret');
      const bareGet = await failure(vaultRepo(bare).get('acme', { pk: 'acme#1' }));
      expect(bareGet.code).toBe('ERR_KEY_NOT_CONFIGURED');
      const bareFill = await failure(vaultRepo(bare).backfill());
      expect(bareFill.code).toBe('ERR_KEY_NOT_CONFIGURED');
      // the pin (ReadWrite) was opened by the first get only; the WriteOnly secret never
      expect(kms.kms.count('Decrypt') - before).toBeLessThanOrEqual(1);
      const report = await vaultRepo().backfill();
      expect(report.foreign).toBe(1);
      expect(report.failures.filter((f) => f.field === 'vault.secret').map((f) => f.code)).toEqual([
        'ERR_MODE_FORBIDDEN',
        'ERR_MODE_FORBIDDEN',
      ]);
      // the padded pin was migrated with the model's padding
      const raw2 = await client.send(
        new GetItemCommand({
          TableName: VAULT,
          Key: { pk: { S: 'acme#1' } },
          ConsistentRead: true,
        }),
      );
      expect(raw2.Item!.pin!.B!.byteLength).toBeGreaterThan(256);
    });

    it("a shredded tenant's legacy values are never opened, and the backfill can erase them", async () => {
      await fs.shredTenant('doomed');
      const before = kms.kms.count('Decrypt');
      const repo2 = createDynamoRepository({
        client,
        fs,
        model: User,
        tableName: TABLE,
        keys: { partition: 'pk', sort: 'sk' },
        indexes: { 'by-ssn': { blindIndex: 'ssn' } },
        blindIndex: { indexer, secretsTable: 'legacy-bi-secrets' },
        legacy: { ssn: legacyFor() },
      });
      await client.send(
        new PutItemCommand({
          TableName: TABLE,
          Item: {
            pk: { S: 'doomed#users' },
            sk: { S: 'd1' },
            tenantId: { S: 'doomed' },
            email: { S: 'd1@doomed.example' },
            ssn: { S: await pydynox(kms, keyId, CANARY) },
          },
        }),
      );
      const afterWrite = kms.kms.count('Decrypt');
      expect(afterWrite).toBe(before);
      const err = await failure(repo2.get('doomed', { pk: 'doomed#users', sk: 'd1' }));
      expect(err.code).toBe('ERR_KEY_SHREDDED');
      expect(kms.kms.count('Decrypt')).toBe(afterWrite); // not even opened in memory
      const kept = await repo2.backfill();
      expect(kept.shredded).toBeGreaterThanOrEqual(1);
      const rawD1 = async () =>
        (
          await client.send(
            new GetItemCommand({
              TableName: TABLE,
              Key: { pk: { S: 'doomed#users' }, sk: { S: 'd1' } },
              ConsistentRead: true,
            }),
          )
        ).Item!;
      expect((await rawD1()).ssn?.S?.startsWith('ENC:')).toBe(true);
      const erased = await repo2.backfill({ eraseShreddedLegacy: true });
      expect(erased.erasedLegacyValues).toBe(1);
      expect((await rawD1()).ssn).toBeUndefined();
      // the only seed values opened by both runs are the other tenants' failing ones (p2)
      expect(kms.kms.count('Decrypt')).toBe(afterWrite + kept.failed + erased.failed);
      expect(kept.failed + erased.failed).toBe(2);
    });

    it('a context function binds each seed value to its own tenant', async () => {
      await fs.provisionTenant('globex');
      const byTenant: DynamoLegacyFormat = {
        ...legacyFor(),
        context: ({ tenant }) => ({ tenant, app: 'seed' }),
      };
      const repo3 = createDynamoRepository({
        client,
        fs,
        model: User,
        tableName: TABLE,
        keys: { partition: 'pk', sort: 'sk' },
        indexes: { 'by-ssn': { blindIndex: 'ssn' } },
        blindIndex: { indexer, secretsTable: 'legacy-bi-secrets' },
        legacy: { ssn: byTenant },
      });
      const acmeValue = await pydynox(kms, keyId, CANARY, { tenant: 'acme', app: 'seed' });
      const put = (tenant: string, value: string) =>
        client.send(
          new PutItemCommand({
            TableName: TABLE,
            Item: {
              pk: { S: `${tenant}#users` },
              sk: { S: 'ctx' },
              tenantId: { S: tenant },
              email: { S: 'x' },
              ssn: { S: value },
            },
          }),
        );
      await put('acme', acmeValue);
      await put('globex', acmeValue); // copied into another tenant's item
      expect((await repo3.get('acme', { pk: 'acme#users', sk: 'ctx' }))?.ssn).toBe(CANARY);
      const err = await failure(repo3.get('globex', { pk: 'globex#users', sk: 'ctx' }));
      expect(err.code).toBe('ERR_KEY_UNWRAP_FAILED');
      expect(JSON.stringify(err) + err.message).not.toContain(CANARY);
    });
  });
});
