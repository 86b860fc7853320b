import { inspect } from 'node:util';
import { ScanCommand as RawScan, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocument,
  NumberValue,
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  ExecuteStatementCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactGetCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createFieldseal, defineModel, field, isFieldsealError } from '../../src/index.js';
import { sealDocumentClient } from '../../src/dynamodb/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';
import { createStringKeyTable } from './dynamodb-fixtures.js';
import { describeDynamo, startDynamoLocal, type DynamoLocal } from './dynamodb-local.js';

/*
 * sealDocumentClient against DynamoDB Local through the real AWS SDK: each write command
 * seals with each item's context, each read decrypts, what cannot be bound to an item or
 * evaluated on ciphertext is refused before any request, the caller's client is untouched,
 * and a raw scan shows envelopes only.
 */
const CANARY = 'CANARY-docclient-3b9e';
const TABLE = 'sealed-docs';

const Note = defineModel({
  table: TABLE,
  tenant: 'tenantId',
  key: ['tenantId', 'id'],
  fields: {
    tenantId: field.string(),
    id: field.string(),
    title: field.string(),
    body: field.string().encrypted(),
    secret: field.string().encrypted({ storage: 'text' }).optional(),
    score: field.number().encrypted().optional(),
  },
});

const note = (tenantId: string, id: string) => ({
  tenantId,
  id,
  title: `title ${id}`,
  body: `${CANARY}-body-${tenantId}-${id}`,
  secret: `${CANARY}-secret-${id}`,
  score: 7.5,
});

async function refusal(
  p: Promise<unknown> | (() => unknown),
): Promise<{ code: string; field?: string }> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    if (isFieldsealError(err)) return { code: err.code, field: err.details.field };
    if (err instanceof TypeError) return { code: 'TypeError' };
    throw err;
  }
  throw new Error('expected a refusal');
}

describeDynamo('sealDocumentClient (DynamoDB Local)', () => {
  let local: DynamoLocal;
  let client: DynamoDBClient;
  let requests = 0;
  const provider = new MemoryKeyProvider();
  const fs = createFieldseal({
    admin: true,
    provider,
    keys: { mode: 'store', store: new MemoryKeyStore(), masterKeyId: 'master' },
    cache: { maxAgeMs: 60_000 },
    models: [Note],
  });
  let docs: ReturnType<typeof sealDocumentClient>;

  beforeAll(async () => {
    local = await startDynamoLocal();
    client = local.client();
    client.middlewareStack.add(
      (next) => async (args) => {
        requests++;
        return next(args);
      },
      { step: 'finalizeRequest', name: 'countRequests' },
    );
    for (const t of ['acme', 'globex']) await fs.provisionTenant(t);
    await createStringKeyTable(client, TABLE, 'tenantId', 'id');
    docs = sealDocumentClient(client, { fs, tables: { [TABLE]: Note } });
  });
  afterAll(async () => {
    client?.destroy();
    fs.close();
    await local?.stop();
  });

  const rawScan = async () =>
    inspect((await client.send(new RawScan({ TableName: TABLE }))).Items, { depth: 6 });

  it("put, get, query, scan: sealed with each item's context, read back as written", async () => {
    const stackBefore = client.middlewareStack.identify().length;
    await docs.send(new PutCommand({ TableName: TABLE, Item: note('acme', 'n1') }));
    await docs.send(new PutCommand({ TableName: TABLE, Item: note('globex', 'n1') }));
    expect(client.middlewareStack.identify().length).toBe(stackBefore);
    const got = await docs.send(
      new GetCommand({ TableName: TABLE, Key: { tenantId: 'acme', id: 'n1' } }),
    );
    expect(got.Item).toEqual(note('acme', 'n1'));
    const queried = await docs.send(
      new QueryCommand({
        TableName: TABLE,
        KeyConditionExpression: 'tenantId = :t',
        ExpressionAttributeValues: { ':t': 'globex' },
      }),
    );
    expect(queried.Items).toEqual([note('globex', 'n1')]);
    const scanned = await docs.send(new ScanCommand({ TableName: TABLE }));
    expect(scanned.Items).toHaveLength(2);
    const dump = await rawScan();
    expect(dump).not.toContain(CANARY);
    expect(dump).toContain('title n1');
    // The caller's own client reads envelopes: it was not changed.
    const plain = await client.send(new RawScan({ TableName: TABLE }));
    expect(plain.Items![0]!.secret!.S).toMatch(/^fs1:/);
  });

  it('a value moved to another item or tenant is refused, naming the attribute', async () => {
    const raw = await client.send(new RawScan({ TableName: TABLE }));
    const acme = raw.Items!.find((i) => i.tenantId!.S === 'acme')!;
    await client.send(
      new PutItemCommand({ TableName: TABLE, Item: { ...acme, id: { S: 'moved' } } }),
    );
    const err = await docs
      .send(new GetCommand({ TableName: TABLE, Key: { tenantId: 'acme', id: 'moved' } }))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toMatchObject({ code: 'ERR_BATCH_FAILED' });
    expect(inspect(err, { depth: 8 })).not.toContain(CANARY);
    // Plaintext written around the client is refused on read, never returned.
    await client.send(
      new PutItemCommand({
        TableName: TABLE,
        Item: {
          tenantId: { S: 'acme' },
          id: { S: 'plain' },
          title: { S: 't' },
          body: { B: Buffer.from(CANARY) },
        },
      }),
    );
    await expect(
      docs.send(new GetCommand({ TableName: TABLE, Key: { tenantId: 'acme', id: 'plain' } })),
    ).rejects.toMatchObject({ code: 'ERR_BATCH_FAILED' });
    await client.send(
      new DeleteCommand({ TableName: TABLE, Key: { tenantId: 'acme', id: 'moved' } }),
    );
    await client.send(
      new DeleteCommand({ TableName: TABLE, Key: { tenantId: 'acme', id: 'plain' } }),
    );
  });

  it('batch write and get, transactions: one key fetch per tenant per request', async () => {
    const items = Array.from({ length: 20 }, (_, i) =>
      note(i % 2 === 0 ? 'acme' : 'globex', `b${i}`),
    );
    const unwrapsBefore = provider.calls.unwrap;
    await docs.send(
      new BatchWriteCommand({
        RequestItems: { [TABLE]: items.map((Item) => ({ PutRequest: { Item } })) },
      }),
    );
    expect(provider.calls.unwrap - unwrapsBefore).toBeLessThanOrEqual(2);
    const batch = await docs.send(
      new BatchGetCommand({
        RequestItems: {
          [TABLE]: { Keys: items.slice(0, 6).map(({ tenantId, id }) => ({ tenantId, id })) },
        },
      }),
    );
    expect(new Set(batch.Responses![TABLE]!.map((i) => i.body as unknown))).toEqual(
      new Set(items.slice(0, 6).map((i) => i.body)),
    );
    await docs.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: TABLE, Item: note('acme', 't1') } },
          {
            Update: {
              TableName: TABLE,
              Key: { tenantId: 'acme', id: 'b0' },
              UpdateExpression: 'SET #s = :s, title = :title',
              ExpressionAttributeNames: { '#s': 'secret' },
              ExpressionAttributeValues: { ':s': `${CANARY}-updated`, ':title': 'new title' },
            },
          },
        ],
      }),
    );
    const pair = await docs.send(
      new TransactGetCommand({
        TransactItems: [
          { Get: { TableName: TABLE, Key: { tenantId: 'acme', id: 't1' } } },
          { Get: { TableName: TABLE, Key: { tenantId: 'acme', id: 'b0' } } },
        ],
      }),
    );
    expect(pair.Responses!.map((r) => r.Item?.secret as unknown)).toEqual([
      note('acme', 't1').secret,
      `${CANARY}-updated`,
    ]);
    expect(await rawScan()).not.toContain(CANARY);
  });

  it("update sets an encrypted attribute with the Key's context; ReturnValues are decrypted", async () => {
    const updated = await docs.send(
      new UpdateCommand({
        TableName: TABLE,
        Key: { tenantId: 'acme', id: 'n1' },
        UpdateExpression: 'SET body = :b',
        ExpressionAttributeValues: { ':b': `${CANARY}-new-body` },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    expect(updated.Attributes).toEqual({ body: `${CANARY}-new-body` });
    const old = await docs.send(
      new DeleteCommand({
        TableName: TABLE,
        Key: { tenantId: 'globex', id: 'n1' },
        ReturnValues: 'ALL_OLD',
      }),
    );
    expect(old.Attributes).toEqual(note('globex', 'n1'));
    expect(await rawScan()).not.toContain(CANARY);
  });

  it('a review: placeholders named like keywords, boxed strings, ARNs, mixed entries, inputs changed after send', async () => {
    const plaintextStored = async (tag: string, run: () => Promise<unknown>) => {
      await run().catch(() => undefined);
      const { Items } = await client.send(new RawScan({ TableName: TABLE }));
      // Only encrypted attributes are checked: a plain attribute may hold what was asked.
      return (Items ?? []).some((i) =>
        ['body', 'secret'].some((a) => JSON.stringify(i[a] ?? null).includes(`${CANARY}-${tag}`)),
      );
    };
    const key = { tenantId: 'acme', id: 'review' };
    await docs.send(new PutCommand({ TableName: TABLE, Item: note('acme', 'review') }));
    const arn = `arn:aws:dynamodb:us-east-1:000000000000:table/${TABLE}`;
    const update = (extra: Record<string, unknown>) =>
      docs.send(
        new UpdateCommand({
          TableName: TABLE,
          Key: key,
          ExpressionAttributeValues: { ':v': `${CANARY}-u` },
          ...extra,
        }),
      );
    const attempts: [string, () => Promise<unknown>][] = [
      [
        'u',
        () =>
          update({
            UpdateExpression: 'SET #SET = :v',
            ExpressionAttributeNames: { '#SET': 'body' },
          }),
      ],
      [
        'u',
        () =>
          update({
            UpdateExpression: 'SET #delete = :v',
            ExpressionAttributeNames: { '#delete': 'body' },
          }),
      ],
      ['u', () => update({ UpdateExpression: new String('SET body = :v') })],
      [
        'p1',
        () =>
          docs.send(
            new PutCommand({
              TableName: new String(TABLE) as never,
              Item: { ...note('acme', 'p1'), body: `${CANARY}-p1` },
            }),
          ),
      ],
      [
        't1',
        () =>
          docs.send(
            new TransactWriteCommand({
              TransactItems: [
                {
                  Junk: {},
                  Put: { TableName: TABLE, Item: { ...note('acme', 't9'), body: `${CANARY}-t1` } },
                } as never,
              ],
            }),
          ),
      ],
      [
        'g1',
        () => {
          const names = { '#n': 'title' };
          return docs.send(
            new UpdateCommand({
              TableName: TABLE,
              Key: key,
              UpdateExpression: 'SET #n = :v',
              ExpressionAttributeNames: Object.defineProperty(names, '#n', {
                get: () => 'body',
                enumerable: true,
              }),
              ExpressionAttributeValues: { ':v': `${CANARY}-g1` },
            }),
          );
        },
      ],
      [
        'b1',
        async () => {
          const request: Record<string, unknown> = {
            DeleteRequest: { Key: { tenantId: 'acme', id: 'none' } },
          };
          const sent = docs.send(
            new BatchWriteCommand({ RequestItems: { [TABLE]: [request as never] } }),
          );
          delete request.DeleteRequest;
          request.PutRequest = { Item: { ...note('acme', 'b1'), body: `${CANARY}-b1` } };
          return sent;
        },
      ],
    ];
    for (const [i, [tag, run]] of attempts.entries()) {
      expect(await plaintextStored(tag, run), `attempt ${i}`).toBe(false);
    }
    // A table named by its ARN is the same table: sealed.
    await docs.send(
      new PutCommand({ TableName: arn, Item: { ...note('acme', 'arn'), body: `${CANARY}-arn` } }),
    );
    await docs.send(
      new BatchWriteCommand({
        RequestItems: {
          [arn]: [{ PutRequest: { Item: { ...note('acme', 'arn2'), body: `${CANARY}-arn` } } }],
        },
      }),
    );
    expect(await plaintextStored('arn', async () => {})).toBe(false);
    const viaArn = await docs.send(
      new GetCommand({ TableName: arn, Key: { tenantId: 'acme', id: 'arn' } }),
    );
    expect(viaArn.Item?.body).toBe(`${CANARY}-arn`);
    // A wrapper sharing the sealed stack cannot send low-level commands either.
    await expect(
      (async () =>
        DynamoDBDocument.from(docs).send(
          new UpdateItemCommand({
            TableName: TABLE,
            Key: { tenantId: { S: 'acme' }, id: { S: 'review' } },
            UpdateExpression: 'SET title = :v',
            ExpressionAttributeValues: { ':v': { S: 'low' } },
          }) as never,
        ))(),
    ).rejects.toThrow(/DocumentMarshall/);
  });

  it('a second review: objects of classes are refused, never sent by reference', async () => {
    const before = requests;
    const key = { tenantId: 'acme', id: 'review2' };
    const stored = `${CANARY}-r2`;
    // Read differently by the SDK than by the checks: a getter answering by who asks.
    const twoFaced = (forChecks: string, forSdk: string) => () =>
      new Error().stack?.includes('ShapeSerializer') === true ? forSdk : forChecks;
    class Names {
      constructor() {
        Object.defineProperty(this, '#a', { get: twoFaced('title', 'body'), enumerable: true });
      }
    }
    class Input {
      Item = { ...note('acme', 'review2'), body: stored };
      constructor() {
        Object.defineProperty(this, 'TableName', {
          get: twoFaced('not-sealed', TABLE),
          enumerable: true,
        });
      }
    }
    class Entry {
      Delete = undefined;
      get Put() {
        return { TableName: TABLE, Item: { ...note('acme', 'review2'), body: stored } };
      }
    }
    const attempts: (() => Promise<unknown>)[] = [
      () =>
        docs.send(
          new UpdateCommand({
            TableName: TABLE,
            Key: key,
            UpdateExpression: 'SET #a = :v',
            ExpressionAttributeNames: new Names() as never,
            ExpressionAttributeValues: { ':v': stored },
          }),
        ),
      () => docs.send(new PutCommand(new Input() as never)),
      () => docs.send(new TransactWriteCommand({ TransactItems: [new Entry() as never] })),
      () =>
        docs.send(
          new PutCommand({ TableName: TABLE, Item: { ...note('acme', 'review2'), at: new Map() } }),
        ),
      () =>
        docs.send(
          new UpdateCommand({
            TableName: TABLE,
            Key: key,
            UpdateExpression: ['SET body = :v'] as never,
            ExpressionAttributeValues: { ':v': stored },
          }),
        ),
      () =>
        docs.send(
          new PutCommand({ TableName: [TABLE] as never, Item: { ...note('acme', 'review2') } }),
        ),
      () =>
        docs.send(
          new QueryCommand({
            TableName: TABLE,
            KeyConditionExpression: ['tenantId = :t'] as never,
            ExpressionAttributeValues: { ':t': 'acme' },
          }),
        ),
      // DynamoDB refuses a repeated action; the rebuild must not merge it into a valid one.
      () =>
        docs.send(
          new UpdateCommand({
            TableName: TABLE,
            Key: key,
            UpdateExpression: 'SET title = :t SET body = :v',
            ExpressionAttributeValues: { ':t': 't', ':v': stored },
          }),
        ),
    ];
    for (const [i, attempt] of attempts.entries()) {
      expect(await refusal(attempt()), `attempt ${i}`).toMatchObject({
        code: 'ERR_UNSUPPORTED_OPTION',
      });
    }
    expect(requests).toBe(before);
    expect(await rawScan()).not.toContain(stored);
    // The value classes the client marshals are copied and sent.
    await docs.send(
      new PutCommand({
        TableName: TABLE,
        Item: {
          ...note('acme', 'review2'),
          tags: new Set(['a', 'b']),
          blob: Buffer.from('blob'),
          big: NumberValue.from('12345678901234567890'),
        },
      }),
    );
    const { Item } = await docs.send(new GetCommand({ TableName: TABLE, Key: key }));
    expect(Item).toMatchObject({ body: note('acme', 'review2').body, tags: new Set(['a', 'b']) });
    expect(Buffer.from(Item!.blob as Uint8Array).toString()).toBe('blob');
    expect(String(Item!.big)).toBe('12345678901234567890');
  });

  it('outputs keep the shape the SDK gave them: no key added where there was none', async () => {
    const put = await docs.send(new PutCommand({ TableName: TABLE, Item: note('acme', 'shape') }));
    expect(Object.hasOwn(put, 'Attributes')).toBe(false);
    const missing = await docs.send(
      new GetCommand({ TableName: TABLE, Key: { tenantId: 'acme', id: 'no-such-item' } }),
    );
    expect(Object.hasOwn(missing, 'Item')).toBe(false);
    const { Responses } = await docs.send(
      new TransactGetCommand({
        TransactItems: [
          { Get: { TableName: TABLE, Key: { tenantId: 'acme', id: 'no-such-item' } } },
          { Get: { TableName: TABLE, Key: { tenantId: 'acme', id: 'shape' } } },
        ],
      }),
    );
    expect(Object.hasOwn(Responses![0]!, 'Item')).toBe(false);
    expect(Responses![1]!.Item).toEqual(note('acme', 'shape'));
  });

  it("the base client's logger sees envelopes only, in requests and in responses", async () => {
    const lines: string[] = [];
    const log = (...args: unknown[]) => lines.push(inspect(args, { depth: 12 }));
    const logged = local.client({ logger: { debug: log, info: log, warn: log, error: log } });
    const loggedDocs = sealDocumentClient(logged, { fs, tables: { [TABLE]: Note } });
    await loggedDocs.send(new PutCommand({ TableName: TABLE, Item: note('acme', 'logged') }));
    await loggedDocs.send(
      new UpdateCommand({
        TableName: TABLE,
        Key: { tenantId: 'acme', id: 'logged' },
        UpdateExpression: 'SET body = :b',
        ExpressionAttributeValues: { ':b': `${CANARY}-logged-update` },
        ReturnValues: 'ALL_NEW',
      }),
    );
    const { Item } = await loggedDocs.send(
      new GetCommand({ TableName: TABLE, Key: { tenantId: 'acme', id: 'logged' } }),
    );
    expect(Item?.body).toBe(`${CANARY}-logged-update`);
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines.join('\n')).not.toContain(CANARY);
    expect(lines.join('\n')).toContain('fs1:'); // the secret attribute, as stored
    logged.destroy();
  });

  it('refuses, before any request, what cannot be bound to an item or evaluated on ciphertext', async () => {
    const before = requests;
    const key = { tenantId: 'acme', id: 'n1' };
    const cases: [Promise<unknown> | (() => unknown), string][] = [
      [
        docs.send(new PutCommand({ TableName: TABLE, Item: { id: 'x', title: 't', body: 'b' } })),
        `${TABLE}.tenantId`,
      ],
      [
        docs.send(
          new PutCommand({
            TableName: TABLE,
            Item: note('acme', 'x'),
            ConditionExpression: 'body <> :b',
            ExpressionAttributeValues: { ':b': 'x' },
          }),
        ),
        `${TABLE}.body`,
      ],
      [
        docs.send(
          new ScanCommand({
            TableName: TABLE,
            FilterExpression: 'contains(#b, :v)',
            ExpressionAttributeNames: { '#b': 'body' },
            ExpressionAttributeValues: { ':v': 'x' },
          }),
        ),
        `${TABLE}.body`,
      ],
      [
        docs.send(
          new UpdateCommand({
            TableName: TABLE,
            Key: key,
            UpdateExpression: 'SET score = score + :one',
            ExpressionAttributeValues: { ':one': 1 },
          }),
        ),
        `${TABLE}.score`,
      ],
      [
        docs.send(
          // Part of an encrypted attribute (a whole optional one may be removed).
          new UpdateCommand({ TableName: TABLE, Key: key, UpdateExpression: 'REMOVE secret[0]' }),
        ),
        `${TABLE}.secret`,
      ],
      [
        docs.send(
          new UpdateCommand({
            TableName: TABLE,
            Key: key,
            UpdateExpression: 'SET body = :v, title = :v',
            ExpressionAttributeValues: { ':v': 'x' },
          }),
        ),
        `${TABLE}.body`,
      ],
      [
        docs.send(new GetCommand({ TableName: TABLE, Key: key, ProjectionExpression: 'body' })),
        `${TABLE}.body`,
      ],
      [
        docs.send(new GetCommand({ TableName: TABLE, Key: { ...key, body: 'x' } })),
        `${TABLE}.body`,
      ],
      [docs.send(new ExecuteStatementCommand({ Statement: `SELECT * FROM "${TABLE}"` })), '*.*'],
      [
        docs.send(new PutCommand({ TableName: TABLE, Item: { ...note('acme', 'x'), body: 42 } })),
        `${TABLE}.body`,
      ],
    ];
    for (const [i, [attempt, fieldName]] of cases.entries()) {
      const got = await refusal(attempt);
      expect(got.field ?? got.code, `case ${i}`).toBe(fieldName);
    }
    expect(
      await refusal(() => docs.send(new PutItemCommand({ TableName: TABLE, Item: {} }) as never)),
    ).toEqual({ code: 'TypeError' });
    expect(requests).toBe(before);
  });

  it('reads plaintext only from an attribute in a declared migration, and counts it', async () => {
    const MIGRATING = 'sealed-docs-migrating';
    const Legacy = defineModel({
      table: MIGRATING,
      tenant: 'tenantId',
      key: ['tenantId', 'id'],
      fields: {
        tenantId: field.string(),
        id: field.string(),
        legacy: field.string().encrypted({ storage: 'text', allowPlaintextRead: true }),
        strict: field.string().encrypted({ storage: 'text' }).optional(),
      },
    });
    const migrating = createFieldseal({
      provider,
      keys: { mode: 'store', store: new MemoryKeyStore(), masterKeyId: 'master' },
      cache: { maxAgeMs: 60_000 },
      models: [Legacy],
      admin: true,
    });
    await migrating.provisionTenant('acme');
    await createStringKeyTable(client, MIGRATING, 'tenantId', 'id');
    const sealed = sealDocumentClient(client, { fs: migrating, tables: { [MIGRATING]: Legacy } });
    await client.send(
      new PutItemCommand({
        TableName: MIGRATING,
        Item: {
          tenantId: { S: 'acme' },
          id: { S: 'old' },
          legacy: { S: 'written before fieldseal' },
        },
      }),
    );
    const { Item } = await sealed.send(
      new GetCommand({ TableName: MIGRATING, Key: { tenantId: 'acme', id: 'old' } }),
    );
    expect(Item?.legacy).toBe('written before fieldseal');
    expect(migrating.stats().plaintextReads[`${MIGRATING}.legacy`]).toBe(1);
    await client.send(
      new PutItemCommand({
        TableName: MIGRATING,
        Item: {
          tenantId: { S: 'acme' },
          id: { S: 'older' },
          legacy: { S: 'x' },
          strict: { S: 'not in migration' },
        },
      }),
    );
    const refused = await refusal(
      sealed.send(new GetCommand({ TableName: MIGRATING, Key: { tenantId: 'acme', id: 'older' } })),
    );
    expect(refused.code).toBe('ERR_BATCH_FAILED');
    // A write always seals, migration or not.
    await sealed.send(
      new PutCommand({
        TableName: MIGRATING,
        Item: { tenantId: 'acme', id: 'new', legacy: CANARY },
      }),
    );
    expect(
      inspect((await client.send(new RawScan({ TableName: MIGRATING }))).Items, { depth: 6 }),
    ).not.toContain(CANARY);
    migrating.close();
  });
});
