import { inspect } from 'node:util';
import {
  CreateTableCommand,
  GetItemCommand,
  PutItemCommand,
  ScanCommand as RawScan,
  DeleteItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DynamoDBDocumentClient,
  SearchVectorsCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { Entity } from 'electrodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  createBlindIndexer,
  createFieldseal,
  defineModel,
  EnvSecretSource,
  field,
  isFieldsealError,
  type BlindIndexer,
} from '../../src/index.js';
import {
  createBlindIndexSecretsTable,
  findByBlindIndex,
  sealDocumentClient,
} from '../../src/dynamodb/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';
import { describeDynamo, startDynamoLocal, type DynamoLocal } from './dynamodb-local.js';

/*
 * Blind indexes through sealDocumentClient on DynamoDB Local: every Put and every Update that
 * sets a blind-indexed attribute writes its index attribute (computed from the plaintext,
 * never taken from the caller), findByBlindIndex finds items through a GSI and re-checks them
 * after decryption, and fieldseal's index attributes cannot be set or matched by hand.
 */
const CANARY = 'CANARY-docbidx-71e4';
const TABLE = 'sealed-customers';
const SECRETS = 'docclient-bidx-secrets';

const Customer = defineModel({
  table: TABLE,
  tenant: 'tenantId',
  key: ['tenantId', 'id'],
  fields: {
    tenantId: field.string(),
    id: field.string(),
    name: field.string(),
    email: field
      .string()
      .encrypted({ storage: 'text' })
      .blindIndex({ normalize: ['trim', 'lowercase'] }),
    nickname: field.string().encrypted().blindIndex().optional(),
  },
});

const customer = (tenantId: string, id: string, email = `${CANARY}-${id}@example.com`) => ({
  tenantId,
  id,
  name: `name ${id}`,
  email,
  nickname: `${CANARY}-nick-${id}`,
});

/**
 * Create a customers table keyed by two string attributes, with one GSI per index attribute
 * (projection ALL or KEYS_ONLY).
 */
async function createCustomersTable(
  client: DynamoDBClient,
  TableName = TABLE,
  [partition, sort] = ['tenantId', 'id'],
): Promise<void> {
  const gsi = (IndexName: string, attribute: string, all: boolean) => ({
    IndexName,
    KeySchema: [{ AttributeName: attribute, KeyType: 'HASH' as const }],
    Projection: { ProjectionType: all ? ('ALL' as const) : ('KEYS_ONLY' as const) },
  });
  await client.send(
    new CreateTableCommand({
      TableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: partition, AttributeType: 'S' },
        { AttributeName: sort, AttributeType: 'S' },
        { AttributeName: 'email_bidx_v1', AttributeType: 'S' },
        { AttributeName: 'nickname_bidx_v1', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: partition, KeyType: 'HASH' },
        { AttributeName: sort, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        gsi('by-email', 'email_bidx_v1', true),
        gsi('by-nickname-keys', 'nickname_bidx_v1', false),
      ],
    }),
  );
}

async function refusal(
  p: Promise<unknown> | (() => unknown),
): Promise<{ code: string; field?: string; message: string }> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    if (isFieldsealError(err))
      return { code: err.code, field: err.details.field, message: err.message };
    if (err instanceof TypeError) return { code: 'TypeError', message: err.message };
    throw err;
  }
  throw new Error('expected a refusal');
}

/** What ElectroDB stores: its key attributes, and an indexed email. */
const ElectroCustomer = defineModel({
  table: 'electro-customers',
  tenant: 'tenantId',
  key: ['pk', 'sk'],
  fields: {
    pk: field.string(),
    sk: field.string(),
    tenantId: field.string(),
    id: field.string(),
    email: field
      .string()
      .encrypted({ storage: 'text' })
      .blindIndex({ normalize: ['lowercase'] }),
  },
});

describeDynamo('sealDocumentClient blind indexes (DynamoDB Local)', () => {
  let local: DynamoLocal;
  let client: DynamoDBClient;
  let indexer: BlindIndexer;
  let docs: ReturnType<typeof sealDocumentClient>;
  const provider = new MemoryKeyProvider();
  const fs = createFieldseal({
    admin: true,
    provider,
    keys: { mode: 'store', store: new MemoryKeyStore(), masterKeyId: 'master' },
    cache: { maxAgeMs: 60_000 },
    models: [Customer, ElectroCustomer],
  });

  beforeAll(async () => {
    local = await startDynamoLocal();
    client = local.client();
    indexer = await createBlindIndexer({
      source: new EnvSecretSource({
        keys: { 'blind-index': 'BI_ROOT' },
        env: { BI_ROOT: `base64:${Buffer.alloc(32, 0x3c).toString('base64')}` },
      }),
      reference: 'blind-index',
    });
    for (const t of ['acme', 'globex', 'doomed']) await fs.provisionTenant(t);
    await createCustomersTable(client);
    await createBlindIndexSecretsTable(client, SECRETS);
    docs = sealDocumentClient(client, {
      fs,
      tables: { [TABLE]: { model: Customer, blindIndex: { indexer, secretsTable: SECRETS } } },
    });
  }, 120_000);
  afterAll(async () => {
    client?.destroy();
    fs.close();
    await local?.stop();
  });

  const raw = async (tenantId: string, id: string) =>
    (
      await client.send(
        new GetItemCommand({ TableName: TABLE, Key: { tenantId: { S: tenantId }, id: { S: id } } }),
      )
    ).Item;
  const find = (tenant: string, values: string[], f = 'email', IndexName = 'by-email') =>
    findByBlindIndex(docs, { TableName: TABLE, IndexName, tenant, field: f, values });
  const ids = (items: readonly Record<string, unknown>[]) => items.map((i) => i.id).sort();
  /** A sealed client of the customers table that writes and reads these index versions. */
  const withVersions = (write: number[], read: number) =>
    sealDocumentClient(client, {
      fs,
      tables: {
        [TABLE]: {
          model: Customer,
          blindIndex: {
            indexer,
            secretsTable: SECRETS,
            versions: { email: { write, read }, nickname: { write, read } },
          },
        },
      },
    });

  it('a blind-indexed model needs blindIndex, and only such a model takes one', async () => {
    expect(
      await refusal(() => sealDocumentClient(client, { fs, tables: { [TABLE]: Customer } })),
    ).toMatchObject({
      code: 'TypeError',
      message: expect.stringContaining('blindIndex') as string,
    });
    const Plain = defineModel({
      table: 'plain',
      tenant: 'tenantId',
      key: ['tenantId', 'id'],
      fields: { tenantId: field.string(), id: field.string(), secret: field.string().encrypted() },
    });
    const withPlain = createFieldseal({
      admin: true,
      provider,
      keys: { mode: 'store', store: new MemoryKeyStore(), masterKeyId: 'master' },
      cache: { maxAgeMs: 60_000 },
      models: [Plain],
    });
    expect(
      await refusal(() =>
        sealDocumentClient(client, {
          fs: withPlain,
          tables: { plain: { model: Plain, blindIndex: { indexer } } },
        }),
      ),
    ).toMatchObject({ code: 'TypeError' });
    expect(
      await refusal(() =>
        sealDocumentClient(client, {
          fs,
          tables: { [TABLE]: { model: Customer, blindIndex: { indexer }, extra: 1 } as never },
        }),
      ),
    ).toMatchObject({ code: 'TypeError' });
    withPlain.close();
  });

  it("put writes each index from the plaintext, replacing the caller's; lookups re-check", async () => {
    await docs.send(
      new PutCommand({ TableName: TABLE, Item: customer('acme', 'c1', 'Ada@Example.com') }),
    );
    await docs.send(
      new PutCommand({ TableName: TABLE, Item: customer('globex', 'c1', 'ada@example.com') }),
    );
    // A forged index attribute (another value's) is replaced by the item's own.
    const ada = (await raw('acme', 'c1'))!;
    await docs.send(
      new PutCommand({
        TableName: TABLE,
        Item: {
          ...customer('acme', 'c2', 'grace@example.com'),
          email_bidx_v1: ada.email_bidx_v1!.S,
        },
      }),
    );
    const grace = (await raw('acme', 'c2'))!;
    expect(ada.email_bidx_v1?.S).toMatch(/^bi1:1:/);
    expect(grace.email_bidx_v1?.S).not.toBe(ada.email_bidx_v1?.S);
    expect(ada.nickname_bidx_v1?.S).toMatch(/^bi1:1:/);
    // Each tenant's index differs for the same value.
    expect((await raw('globex', 'c1'))!.email_bidx_v1?.S).not.toBe(ada.email_bidx_v1?.S);

    expect(ids(await find('acme', ['  ADA@example.COM ']))).toEqual(['c1']);
    expect(ids(await find('globex', ['Ada@Example.com']))).toEqual(['c1']);
    expect(ids(await find('acme', ['ada@example.com', 'grace@example.com', 'nobody@x']))).toEqual([
      'c1',
      'c2',
    ]);
    expect(await find('acme', [])).toEqual([]);
    const [found] = await find('acme', ['ada@example.com']);
    expect(found).toMatchObject({ email: 'Ada@Example.com', nickname: `${CANARY}-nick-c1` });

    // A candidate that only shares the index (its value is another's) is dropped.
    await client.send(
      new PutItemCommand({
        TableName: TABLE,
        Item: { ...grace, id: { S: 'c3' }, email_bidx_v1: ada.email_bidx_v1! },
      }),
    );
    await expect(
      docs.send(new GetCommand({ TableName: TABLE, Key: { tenantId: 'acme', id: 'c3' } })),
    ).rejects.toMatchObject({ code: 'ERR_BATCH_FAILED' }); // grace's value is bound to c2
    await expect(find('acme', ['ada@example.com'])).rejects.toMatchObject({
      code: 'ERR_BATCH_FAILED',
    });
    await client.send(
      new DeleteItemCommand({
        TableName: TABLE,
        Key: { tenantId: { S: 'acme' }, id: { S: 'c3' } },
      }),
    );
    await client.send(
      new PutItemCommand({
        TableName: TABLE,
        Item: { ...(await raw('acme', 'c2'))!, email_bidx_v1: ada.email_bidx_v1! },
      }),
    );
    expect(ids(await find('acme', ['ada@example.com']))).toEqual(['c1']); // c2 re-checked away
    await docs.send(
      new PutCommand({ TableName: TABLE, Item: customer('acme', 'c2', 'grace@example.com') }),
    );
    const dump = inspect((await client.send(new RawScan({ TableName: TABLE }))).Items, {
      depth: 6,
    });
    expect(dump).not.toContain(CANARY);
    expect(dump.toLowerCase()).not.toContain('ada@example.com');
  });

  it('an optional indexed attribute left out gets no index attribute, even a forged one', async () => {
    const bare: Record<string, unknown> = customer('acme', 'n1');
    delete bare.nickname;
    const forged = (await raw('acme', 'c1'))!.nickname_bidx_v1!.S;
    await docs.send(
      new PutCommand({ TableName: TABLE, Item: { ...bare, nickname_bidx_v1: forged } }),
    );
    expect((await raw('acme', 'n1'))!.nickname_bidx_v1).toBeUndefined();
    expect((await raw('acme', 'n1'))!.email_bidx_v1?.S).toMatch(/^bi1:1:/);
  });

  it('an update moves the index with the value, in one expression with its other clauses', async () => {
    await docs.send(
      new PutCommand({ TableName: TABLE, Item: customer('acme', 'u1', 'old@example.com') }),
    );
    const out = await docs.send(
      new UpdateCommand({
        TableName: TABLE,
        Key: { tenantId: 'acme', id: 'u1' },
        UpdateExpression: 'SET #e = :e, #n = :name REMOVE nickname',
        ExpressionAttributeNames: { '#e': 'email', '#n': 'name' },
        ExpressionAttributeValues: { ':e': 'new@example.com', ':name': 'renamed' },
        ReturnValues: 'ALL_NEW',
      }),
    );
    expect(out.Attributes).toMatchObject({ email: 'new@example.com', name: 'renamed' });
    expect(out.Attributes!.nickname).toBeUndefined();
    expect(ids(await find('acme', ['old@example.com']))).toEqual([]);
    expect(ids(await find('acme', ['NEW@example.com']))).toEqual(['u1']);
    const item = (await raw('acme', 'u1'))!;
    expect(item.nickname_bidx_v1).toBeUndefined();
    // Setting an optional indexed attribute adds its index; removing it alone removes it.
    await docs.send(
      new UpdateCommand({
        TableName: TABLE,
        Key: { tenantId: 'acme', id: 'u1' },
        UpdateExpression: 'SET nickname = :nick',
        ExpressionAttributeValues: { ':nick': 'Nick' },
      }),
    );
    expect((await raw('acme', 'u1'))!.nickname_bidx_v1?.S).toMatch(/^bi1:1:/);
    await docs.send(
      new UpdateCommand({
        TableName: TABLE,
        Key: { tenantId: 'acme', id: 'u1' },
        UpdateExpression: 'REMOVE #nick',
        ExpressionAttributeNames: { '#nick': 'nickname' },
      }),
    );
    expect((await raw('acme', 'u1'))!.nickname_bidx_v1).toBeUndefined();
    // A null for a field that is not .nullable() is refused before any request.
    expect(
      await refusal(
        docs.send(
          new UpdateCommand({
            TableName: TABLE,
            Key: { tenantId: 'acme', id: 'u1' },
            UpdateExpression: 'SET nickname = :nick',
            ExpressionAttributeValues: { ':nick': null },
          }),
        ),
      ),
    ).toMatchObject({ code: 'ERR_UNSUPPORTED_VALUE' });
    // An update of other attributes leaves the index alone.
    await docs.send(
      new UpdateCommand({
        TableName: TABLE,
        Key: { tenantId: 'acme', id: 'u1' },
        UpdateExpression: 'SET #n = :n',
        ExpressionAttributeNames: { '#n': 'name' },
        ExpressionAttributeValues: { ':n': 'again' },
      }),
    );
    expect(ids(await find('acme', ['new@example.com']))).toEqual(['u1']);
  });

  it('batch and transaction writes index every item, one secrets load per request', async () => {
    const items = Array.from({ length: 10 }, (_, i) =>
      customer(i % 2 === 0 ? 'acme' : 'globex', `b${i}`, `batch${i}@example.com`),
    );
    await docs.send(
      new BatchWriteCommand({
        RequestItems: { [TABLE]: items.map((Item) => ({ PutRequest: { Item } })) },
      }),
    );
    expect(ids(await find('acme', ['batch0@example.com', 'batch2@example.com']))).toEqual([
      'b0',
      'b2',
    ]);
    expect(ids(await find('globex', ['batch1@example.com', 'batch2@example.com']))).toEqual(['b1']);
    await docs.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: TABLE, Item: customer('acme', 't1', 'tx@example.com') } },
          {
            Update: {
              TableName: TABLE,
              Key: { tenantId: 'acme', id: 'b0' },
              UpdateExpression: 'SET email = :e',
              ExpressionAttributeValues: { ':e': 'moved@example.com' },
            },
          },
        ],
      }),
    );
    expect(
      ids(await find('acme', ['tx@example.com', 'moved@example.com', 'batch0@example.com'])),
    ).toEqual(['b0', 't1']);
  });

  it('no index attribute outside what the table writes survives a put or an update', async () => {
    // A put: attributes of versions the table does not write, and look-alike names, go too.
    await docs.send(
      new PutCommand({
        TableName: TABLE,
        Item: {
          ...customer('acme', 'v1', 'v1@example.com'),
          email_bidx_v2: 'bi1:2:forged',
          email_bidx_v01: 'bi1:1:forged',
          nickname_bidx_v3: 'bi1:3:forged',
        },
      }),
    );
    const put = (await raw('acme', 'v1'))!;
    expect(
      Object.keys(put)
        .filter((k) => k.includes('_bidx_'))
        .sort(),
    ).toEqual(['email_bidx_v1', 'nickname_bidx_v1']);
    // After a rotation to version 2, an update of the value removes the version-1 index of
    // the old value instead of leaving it stale.
    const rotated = withVersions([2], 2);
    await rotated.send(
      new UpdateCommand({
        TableName: TABLE,
        Key: { tenantId: 'acme', id: 'v1' },
        UpdateExpression: 'SET email = :e REMOVE nickname',
        ExpressionAttributeValues: { ':e': 'v2@example.com' },
      }),
    );
    const updated = (await raw('acme', 'v1'))!;
    expect(Object.keys(updated).filter((k) => k.includes('_bidx_'))).toEqual(['email_bidx_v2']);
  });

  it("fieldseal's index attributes cannot be set, removed or matched by hand", async () => {
    const key = { tenantId: 'acme', id: 'c1' };
    const attempts: Promise<unknown>[] = [
      docs.send(
        new UpdateCommand({
          TableName: TABLE,
          Key: key,
          UpdateExpression: 'SET email_bidx_v1 = :x',
          ExpressionAttributeValues: { ':x': 'bi1:1:forged' },
        }),
      ),
      docs.send(
        new UpdateCommand({
          TableName: TABLE,
          Key: key,
          UpdateExpression: 'REMOVE #i',
          ExpressionAttributeNames: { '#i': 'nickname_bidx_v1' },
        }),
      ),
      docs.send(
        new UpdateCommand({
          TableName: TABLE,
          Key: key,
          UpdateExpression: 'SET #n = :n',
          ConditionExpression: 'email_bidx_v1 = :x',
          ExpressionAttributeNames: { '#n': 'name' },
          ExpressionAttributeValues: { ':n': 'x', ':x': 'bi1:1:x' },
        }),
      ),
      docs.send(
        new QueryCommand({
          TableName: TABLE,
          IndexName: 'by-email',
          KeyConditionExpression: 'email_bidx_v1 = :x',
          ExpressionAttributeValues: { ':x': 'bi1:1:x' },
        }),
      ),
      docs.send(
        new ScanCommand({
          TableName: TABLE,
          FilterExpression: 'attribute_exists(#i)',
          ExpressionAttributeNames: { '#i': 'email_bidx_v9' },
        }),
      ),
    ];
    for (const attempt of attempts) {
      expect(await refusal(attempt)).toMatchObject({
        code: 'ERR_UNSUPPORTED_OPTION',
        field: expect.stringMatching(/^sealed-customers\.(email|nickname)_bidx_v\d$/) as string,
      });
    }
    // Nothing was changed.
    expect(ids(await find('acme', ['ada@example.com']))).toEqual(['c1']);
  });

  it('findByBlindIndex refuses what it cannot answer, and fails closed', async () => {
    const plain = DynamoDBDocumentClient.from(client);
    const base = {
      TableName: TABLE,
      IndexName: 'by-email',
      tenant: 'acme',
      field: 'email',
      values: ['a'],
    };
    for (const bad of [
      () => findByBlindIndex(plain, base),
      () => findByBlindIndex(docs, { ...base, TableName: 'other' }),
      () => findByBlindIndex(docs, { ...base, field: 'name' }),
      () => findByBlindIndex(docs, { ...base, tenant: '' }),
      () => findByBlindIndex(docs, { ...base, values: Array.from({ length: 101 }, () => 'a') }),
      () => findByBlindIndex(docs, { ...base, values: [1] as never }),
      () => findByBlindIndex(docs, { ...base, IndexName: '' }),
    ]) {
      expect(await refusal(bad)).toMatchObject({ code: 'TypeError' });
    }
    // A GSI that does not project the attribute: refused, never "no match".
    expect(
      await refusal(find('acme', [`${CANARY}-nick-c1`], 'nickname', 'by-nickname-keys')),
    ).toMatchObject({
      code: 'ERR_UNSUPPORTED_OPTION',
      field: `${TABLE}.nickname`,
    });
    // A tenant without index secrets has nothing indexed.
    await fs.provisionTenant('fresh');
    expect(await find('fresh', ['ada@example.com'])).toEqual([]);
    // A shredded tenant: writes and lookups fail closed.
    await docs.send(
      new PutCommand({ TableName: TABLE, Item: customer('doomed', 'd1', 'doom@example.com') }),
    );
    await fs.shredTenant('doomed');
    const lookup = await refusal(find('doomed', ['doom@example.com']));
    expect(lookup.code).toMatch(/^ERR_/);
    expect(lookup.message).not.toContain('doom@example.com');
    const write = await refusal(
      docs.send(
        new PutCommand({ TableName: TABLE, Item: customer('doomed', 'd2', 'doom2@example.com') }),
      ),
    );
    expect(write.code).toMatch(/^ERR_/);
    expect(await raw('doomed', 'd2')).toBeUndefined();
  });

  it('ElectroDB: its puts and updates are indexed; findByBlindIndex items parse as its own', async () => {
    const TableName = 'electro-customers';
    await createCustomersTable(client, TableName, ['pk', 'sk']);
    const electroDocs = sealDocumentClient(client, {
      fs,
      tables: {
        [TableName]: { model: ElectroCustomer, blindIndex: { indexer, secretsTable: SECRETS } },
      },
    });
    const customers = new Entity(
      {
        model: { entity: 'customer', version: '1', service: 'app' },
        attributes: {
          tenantId: { type: 'string', required: true },
          id: { type: 'string', required: true },
          email: { type: 'string', required: true },
        },
        indexes: {
          primary: {
            pk: { field: 'pk', composite: ['tenantId'] },
            sk: { field: 'sk', composite: ['id'] },
          },
        },
      },
      { client: electroDocs, table: TableName },
    );
    await customers.put({ tenantId: 'acme', id: 'e1', email: `${CANARY}@Example.com` }).go();
    await customers.put({ tenantId: 'acme', id: 'e2', email: 'other@example.com' }).go();
    await customers.update({ tenantId: 'acme', id: 'e2' }).set({ email: 'moved@example.com' }).go();
    const lookup = (values: string[]) =>
      findByBlindIndex(electroDocs, {
        TableName,
        IndexName: 'by-email',
        tenant: 'acme',
        field: 'email',
        values,
      });
    const found = await lookup([`${CANARY}@example.COM`]);
    expect(customers.parse({ Items: found }).data).toEqual([
      { tenantId: 'acme', id: 'e1', email: `${CANARY}@Example.com` },
    ]);
    expect(ids(await lookup(['other@example.com']))).toEqual([]);
    expect(ids(await lookup(['moved@example.com']))).toEqual(['e2']);
    // The tenant is in ElectroDB's composite key, set by the update itself: the attributes
    // it returns are read with that tenant's context.
    const updated = await customers
      .update({ tenantId: 'acme', id: 'e2' })
      .set({ email: `${CANARY}-updated@example.com` })
      .go({ response: 'updated_new' });
    expect(updated.data).toMatchObject({ email: `${CANARY}-updated@example.com` });
    const dump = inspect((await client.send(new RawScan({ TableName }))).Items, { depth: 6 });
    expect(dump).not.toContain(CANARY);
  });

  it('a second review: outputs are copies, unknown commands refused, batches matched per table', async () => {
    const both = sealDocumentClient(client, {
      fs,
      tables: {
        [TABLE]: { model: Customer, blindIndex: { indexer, secretsTable: SECRETS } },
        'electro-customers': {
          model: ElectroCustomer,
          blindIndex: { indexer, secretsTable: SECRETS },
        },
      },
    });
    // Middleware inside the sealing that keeps what it saw, and reports the first table's put
    // of a batch as unprocessed.
    const kept: unknown[] = [];
    both.middlewareStack.add(
      (next) => async (args) => {
        const result = await next(args);
        kept.push(args.input, result.output);
        const requests = (args.input as { RequestItems?: Record<string, unknown[]> }).RequestItems;
        if (requests?.[TABLE] !== undefined) {
          (result.output as Record<string, unknown>).UnprocessedItems = {
            [TABLE]: requests[TABLE],
          };
        }
        return result;
      },
      { step: 'initialize', priority: 'low', name: 'keepOutputs' },
    );
    const inA = customer('acme', 'same', `${CANARY}-a@example.com`);
    const inB = {
      pk: 'acme',
      sk: 'same',
      tenantId: 'acme',
      id: 'same',
      email: `${CANARY}-b@example.com`,
    };
    // The same tenant and key values in two tables: each unprocessed put is matched to its own.
    const { UnprocessedItems } = await both.send(
      new BatchWriteCommand({
        RequestItems: {
          [TABLE]: [{ PutRequest: { Item: inA } }],
          'electro-customers': [{ PutRequest: { Item: inB } }],
        },
      }),
    );
    expect(UnprocessedItems).toEqual({ [TABLE]: [{ PutRequest: { Item: inA } }] });
    await both.send(new PutCommand({ TableName: TABLE, Item: inA }));
    const { Item } = await both.send(
      new GetCommand({ TableName: TABLE, Key: { tenantId: 'acme', id: 'same' } }),
    );
    expect(Item?.email).toBe(inA.email);
    const found = await findByBlindIndex(both, {
      TableName: TABLE,
      IndexName: 'by-email',
      tenant: 'acme',
      field: 'email',
      values: [inA.email],
    });
    expect(found.map((i) => i.id)).toEqual(['same']);
    // What the middleware kept never held plaintext: the caller got decrypted copies.
    expect(inspect(kept, { depth: 12 })).not.toContain(CANARY);
    // A document command the sealing does not know is not sent.
    expect(
      await refusal(
        both.send(
          new SearchVectorsCommand({
            TableName: TABLE,
            IndexName: 'vectors',
            TopK: 3,
            SearchVector: [1, 2],
            SearchConditionExpression: '#e = :e',
            ExpressionAttributeNames: { '#e': 'email' },
            ExpressionAttributeValues: { ':e': inA.email },
          }),
        ),
      ),
    ).toMatchObject({ code: 'ERR_UNSUPPORTED_OPTION' });
  });

  it('an update whose expression with its index clauses is too long for DynamoDB is refused', async () => {
    const names: Record<string, string> = { '#e': 'email' };
    const values: Record<string, unknown> = { ':e': 'long@example.com' };
    const sets = ['#e = :e'];
    for (let i = 0; sets.join(', ').length < 4000; i++) {
      names[`#a_long_placeholder_name_${i}`] = `plain_${i}`;
      values[`:a_long_placeholder_value_${i}`] = i;
      sets.push(`#a_long_placeholder_name_${i} = :a_long_placeholder_value_${i}`);
    }
    // One more clause, its value placeholder long enough to bring the caller's expression to
    // 4,090 characters: valid for DynamoDB, but not with the index clauses added.
    const head = `SET ${sets.join(', ')}, #pad = :`;
    const pad = `:${'p'.repeat(4090 - head.length)}`;
    names['#pad'] = 'padding';
    values[pad] = 'x';
    const expression = `SET ${sets.join(', ')}, #pad = ${pad}`;
    expect(expression.length).toBe(4090);
    expect(
      await refusal(
        docs.send(
          new UpdateCommand({
            TableName: TABLE,
            Key: { tenantId: 'acme', id: 'c1' },
            UpdateExpression: expression,
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
          }),
        ),
      ),
    ).toMatchObject({
      code: 'ERR_UNSUPPORTED_OPTION',
      message: expect.stringContaining('4096') as string,
    });
  });

  it('an update after a rollback of a rotation removes the newer index it no longer writes', async () => {
    await withVersions([1, 2], 1).send(
      new PutCommand({ TableName: TABLE, Item: customer('acme', 'rb', 'before@example.com') }),
    );
    expect((await raw('acme', 'rb'))!.email_bidx_v2?.S).toMatch(/^bi1:2:/);
    await withVersions([1], 1).send(
      new UpdateCommand({
        TableName: TABLE,
        Key: { tenantId: 'acme', id: 'rb' },
        UpdateExpression: 'SET email = :e',
        ExpressionAttributeValues: { ':e': 'after@example.com' },
      }),
    );
    const item = (await raw('acme', 'rb'))!;
    expect(item.email_bidx_v2).toBeUndefined();
    expect(item.email_bidx_v1?.S).toMatch(/^bi1:1:/);
  });
});
