import { CreateAliasCommand, CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  createFieldseal,
  defineModel,
  field,
  type Fieldseal,
  type FieldsealOptions,
} from '../../src/index.js';
import { createDynamoRepository } from '../../src/dynamodb/index.js';
import { AwsKmsKeyProvider, type AwsKmsKeyProviderOptions } from '../../src/kms/aws/index.js';
import { LoopbackKms } from '../loopback/aws-kms-server.js';
import {
  describeDynamo,
  startDynamoLocal,
  type DynamoLocal,
} from '../integration/dynamodb-local.js';

/*
 * Seed 000 (pydynox's EncryptedAttribute), written in fieldseal as a pydynox user would: a
 * DynamoDB model whose `ssn` is encrypted under `alias/my-app-key`, with the seed's context
 * `{"tenant": "acme-corp", "purpose": "pii"}`, on DynamoDB Local, through the real AWS SDK
 * against the loopback KMS (whose trail is CloudTrail and whose simulated IAM applies
 * kms:EncryptionContext conditions). Each `it` is named after the sentence of the seed it
 * proves.
 *
 * The seed's `context=` is `keyContext` here: sent to the KMS with every GenerateDataKey and
 * Decrypt (and, being fieldseal, the value's AAD also binds tenant, table, field and record).
 * One deviation, documented in docs/seeds.md: fieldseal models name a tenant attribute (the
 * seed's model has none; single-tenant models are not in yet), so the model adds `tenantId`.
 */

const KEY = 'alias/my-app-key';
const PII = { tenant: 'acme-corp', purpose: 'pii' } as const;
const SSN = '123-45-6789';

/** The seed's `User`; `ssn` is `EncryptedAttribute(key_id=..., context=...)`. */
const userModel = (masterKeyId: string, keyContext: Readonly<Record<string, string>>) =>
  defineModel({
    table: 'users',
    tenant: 'tenantId',
    key: ['pk', 'sk'],
    fields: {
      pk: field.string(),
      sk: field.string(),
      tenantId: field.string(),
      email: field.string(),
      ssn: field.string().encrypted({ masterKeyId, keyContext, storage: 'text' }),
    },
  });
const User = userModel(KEY, PII);
const user = {
  pk: 'USER#ENC',
  sk: 'PROFILE',
  tenantId: 'acme-corp',
  email: 'john@example.com',
  ssn: SSN,
};

describeDynamo('seed 000: EncryptedAttribute (pydynox)', () => {
  let local: DynamoLocal;
  let ddb: DynamoDBClient;
  let kms: LoopbackKms;
  let fs: Fieldseal;
  const made: Fieldseal[] = [];

  /** pydynox's attribute inherits the DynamoDB client's region and credentials: so do we. */
  const provider = (options: AwsKmsKeyProviderOptions = {}) =>
    new AwsKmsKeyProvider({
      configFrom: ddb,
      endpoint: kms.endpoint,
      retry: { baseDelayMs: 1, maxDelayMs: 2, attemptTimeoutMs: 2000 },
      ...options,
    });
  const client = (options: Partial<FieldsealOptions> = {}): Fieldseal => {
    const c = createFieldseal({
      provider: provider(),
      keys: { mode: 'embedded', masterKeyId: KEY },
      cache: { maxAgeMs: 60_000 },
      models: [User],
      ...options,
    });
    made.push(c);
    return c;
  };
  const repo = (with_: Fieldseal = fs, model = User) =>
    createDynamoRepository({
      client: ddb,
      fs: with_,
      model,
      tableName: 'users',
      keys: { partition: 'pk', sort: 'sk' },
    });
  const rawItem = async (pk = user.pk) =>
    (
      await ddb.send(
        new GetItemCommand({ TableName: 'users', Key: { pk: { S: pk }, sk: { S: 'PROFILE' } } }),
      )
    ).Item;

  beforeAll(async () => {
    local = await startDynamoLocal();
    ddb = local.client();
    const region = await ddb.config.region();
    // A KMS of the DynamoDB client's Region only: a call signed for any other is refused.
    kms = await LoopbackKms.start({ region });
    const admin = new KMSClient({
      region,
      endpoint: kms.endpoint,
      credentials: kms.credentials,
      maxAttempts: 1,
    });
    const { KeyMetadata } = await admin.send(new CreateKeyCommand({}));
    await admin.send(new CreateAliasCommand({ AliasName: KEY, TargetKeyId: KeyMetadata!.KeyId! }));
    admin.destroy();
    fs = client();
    await repo().createTable();
  });
  afterAll(async () => {
    for (const c of made) c.close();
    ddb?.destroy();
    await kms?.close();
    await local?.stop();
  });

  it('Add EncryptedAttribute to fields that need encryption: encrypted before saving, decrypted automatically when read back', async () => {
    await repo().save(user);
    expect(await repo().get('acme-corp', { pk: user.pk, sk: 'PROFILE' })).toEqual(user);
    const item = await rawItem();
    expect(item?.email).toEqual({ S: 'john@example.com' }); // a plain attribute stays plain
    expect(JSON.stringify(item)).not.toContain(SSN);
  });

  it('In DynamoDB, the value looks like ENC:base64data... (fieldseal: fs1:base64url...)', async () => {
    const item = await rawItem();
    expect(item?.ssn?.S).toMatch(/^fs1:[A-Za-z0-9_-]+$/);
  });

  it('No size limit (works with fields up to 400KB)', async () => {
    const big = { ...user, pk: 'USER#BIG', ssn: 'x'.repeat(300_000) };
    await repo().save(big);
    expect((await repo().get('acme-corp', { pk: 'USER#BIG', sk: 'PROFILE' }))?.ssn).toBe(big.ssn);
  });

  it('The context is passed to KMS on encrypt/decrypt', async () => {
    const from = kms.trail.length;
    const cold = client();
    await repo(cold).save({ ...user, pk: 'USER#CTX' });
    await repo(client()).get('acme-corp', { pk: 'USER#CTX', sk: 'PROFILE' });
    const calls = kms.trail.slice(from).filter((e) => e.operation !== 'DescribeKey');
    expect(calls.map((e) => e.operation)).toEqual(['GenerateDataKey', 'Decrypt']);
    for (const e of calls) expect(e.encryptionContext).toEqual(PII);
  });

  it('Audit - Context is logged in CloudTrail', () => {
    const logged = kms.trail.filter((e) => e.operation === 'Decrypt');
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.every((e) => e.encryptionContext?.purpose === 'pii')).toBe(true);
    expect(JSON.stringify(kms.trail)).not.toContain(SSN);
  });

  it("If the context doesn't match, decryption fails", async () => {
    const Billing = userModel(KEY, { tenant: 'acme-corp', purpose: 'billing' });
    const r = repo(client({ models: [Billing] }), Billing);
    const err = await r.get('acme-corp', { pk: user.pk, sk: 'PROFILE' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_KEY_UNWRAP_FAILED' });
    expect(String(err)).not.toContain(SSN);
    expect(kms.trail.at(-1)).toMatchObject({
      operation: 'Decrypt',
      encryptionContext: { tenant: 'acme-corp', purpose: 'billing' },
      errorCode: 'InvalidCiphertextException',
    });
  });

  it('Multi-tenant apps - Include tenant ID in context: another tenant is refused before any KMS call', async () => {
    const from = kms.trail.length;
    await expect(
      repo().save({ ...user, pk: 'USER#GLOBEX', tenantId: 'globex' }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_CONTEXT', details: { field: 'users.ssn' } });
    expect(kms.trail.length).toBe(from);
    expect(await rawItem('USER#GLOBEX')).toBeUndefined();
  });

  it('Extra validation - Ensure data is decrypted in the right context: a value moved to another item fails', async () => {
    const item = await rawItem();
    await ddb.send(
      new PutItemCommand({ TableName: 'users', Item: { ...item!, pk: { S: 'USER#MOVED' } } }),
    );
    await expect(
      repo().get('acme-corp', { pk: 'USER#MOVED', sk: 'PROFILE' }),
    ).rejects.toMatchObject({ code: 'ERR_AUTHENTICATION_FAILED', details: { field: 'users.ssn' } });
  });

  it('Inherits credentials from DynamoDBClient - Uses the same AWS credentials configured in your DynamoDBClient', async () => {
    const { accessKeyId } = await ddb.config.credentials();
    const region = await ddb.config.region();
    const from = kms.trail.length;
    await repo(client()).save({ ...user, pk: 'USER#INHERIT' });
    const calls = kms.trail.slice(from);
    expect(calls.map((e) => e.operation)).toEqual(['GenerateDataKey']);
    for (const e of calls) expect(e).toMatchObject({ accessKeyId, signedRegion: region });
    // Given explicitly, a region wins over the inherited one: this KMS serves the DynamoDB
    // client's Region only, and refuses a request signed for another.
    const elsewhere = createFieldseal({
      provider: provider({ region: 'ap-south-1' }),
      keys: { mode: 'embedded', masterKeyId: KEY },
      cache: { maxAgeMs: 60_000 },
      models: [User],
    });
    made.push(elsewhere);
    const row = { tenant: 'acme-corp', table: 'users', field: 'ssn', record: 'r' };
    await expect(elsewhere.encrypt(SSN, row)).rejects.toMatchObject({ code: 'ERR_ACCESS_DENIED' });
  });

  it('IAM permissions: kms:GenerateDataKey and kms:Decrypt on the key, conditions on the encryption context', async () => {
    const creds = kms.restrictedCredentials('pii-only', ['GenerateDataKey', 'Decrypt'], {
      encryptionContext: { purpose: 'pii' },
    });
    const scoped = createFieldseal({
      provider: provider({
        configFrom: undefined,
        region: await ddb.config.region(),
        clientConfig: { credentials: creds },
      }),
      keys: { mode: 'embedded', masterKeyId: KEY },
      cache: { maxAgeMs: 60_000 },
      models: [User],
    });
    made.push(scoped);
    await repo(scoped).save({ ...user, pk: 'USER#IAM' });
    expect(await repo(scoped).get('acme-corp', { pk: 'USER#IAM', sk: 'PROFILE' })).toMatchObject({
      ssn: SSN,
    });
    // A field without the condition's context is denied by the same credentials.
    await expect(
      scoped.encrypt('x', { tenant: 'acme-corp', table: 'users', field: 'notes', record: 'r' }),
    ).rejects.toMatchObject({ code: 'ERR_ACCESS_DENIED' });
  });

  it('For ReadOnly mode, you only need kms:Decrypt; WriteOnly cannot decrypt, ReadOnly cannot encrypt', async () => {
    const decryptOnly = kms.restrictedCredentials('decrypt-only', ['Decrypt']);
    const generateOnly = kms.restrictedCredentials('generate-only', ['GenerateDataKey']);
    const region = await ddb.config.region();
    const reporting = client({
      mode: 'ReadOnly',
      provider: provider({
        configFrom: undefined,
        region,
        clientConfig: { credentials: decryptOnly },
      }),
    });
    const ingest = client({
      mode: 'WriteOnly',
      provider: provider({
        configFrom: undefined,
        region,
        clientConfig: { credentials: generateOnly },
      }),
    });
    expect(await repo(reporting).get('acme-corp', { pk: user.pk, sk: 'PROFILE' })).toEqual(user);
    await expect(repo(reporting).save({ ...user, pk: 'USER#RO' })).rejects.toMatchObject({
      code: 'ERR_MODE_FORBIDDEN',
    });
    await repo(ingest).save({ ...user, pk: 'USER#WO' });
    await expect(
      repo(ingest).get('acme-corp', { pk: 'USER#WO', sk: 'PROFILE' }),
    ).rejects.toMatchObject({ code: 'ERR_MODE_FORBIDDEN' });
    expect(await repo().get('acme-corp', { pk: 'USER#WO', sk: 'PROFILE' })).toEqual({
      ...user,
      pk: 'USER#WO',
    });
  });

  it('Fewer KMS calls - One call per operation instead of one per field (fieldseal: one per tenant and key per cache lifetime)', async () => {
    const cold = client();
    const before = kms.count('GenerateDataKey');
    await repo(cold).batchWrite(
      Array.from({ length: 20 }, (_, i) => ({ ...user, pk: `USER#B${i}` })),
    );
    expect(kms.count('GenerateDataKey') - before).toBe(1);
  });

  it('Values without the ENC: prefix are treated as plaintext (fieldseal: refused, unless the field is in a counted migration)', async () => {
    await ddb.send(
      new PutItemCommand({
        TableName: 'users',
        Item: {
          pk: { S: 'USER#LEGACY' },
          sk: { S: 'PROFILE' },
          tenantId: { S: 'acme-corp' },
          email: { S: 'old@example.com' },
          ssn: { S: SSN },
        },
      }),
    );
    const err = await repo()
      .get('acme-corp', { pk: 'USER#LEGACY', sk: 'PROFILE' })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'ERR_PLAINTEXT_IN_ENCRYPTED_FIELD',
      details: { field: 'users.ssn' },
    });
    expect(String(err)).not.toContain(SSN);
  });

  it('Common errors: KMS key not found (wrong key ID or alias), and nothing is written', async () => {
    const Missing = userModel('alias/no-such-key', PII);
    const r = repo(client({ models: [Missing] }), Missing);
    await expect(r.save({ ...user, pk: 'USER#NOKEY' })).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
    });
    expect(await rawItem('USER#NOKEY')).toBeUndefined();
  });

  it('Common errors: Decryption failed (data corrupted)', async () => {
    const item = await rawItem();
    const text = item!.ssn!.S!;
    const flipped = text.slice(0, -6) + (text.at(-6) === 'A' ? 'B' : 'A') + text.slice(-5);
    await ddb.send(
      new PutItemCommand({
        TableName: 'users',
        Item: { ...item!, pk: { S: 'USER#CORRUPT' }, ssn: { S: flipped } },
      }),
    );
    await expect(
      repo().get('acme-corp', { pk: 'USER#CORRUPT', sk: 'PROFILE' }),
    ).rejects.toMatchObject({
      code: expect.stringMatching(/^ERR_(AUTHENTICATION_FAILED|MALFORMED_CIPHERTEXT)$/) as unknown,
    });
  });
});
