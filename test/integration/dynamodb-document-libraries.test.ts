import { inspect } from 'node:util';
import { ScanCommand as RawScan, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  Entity as ToolboxEntity,
  GetItemCommand as ToolboxGet,
  item,
  PutItemCommand as ToolboxPut,
  QueryCommand as ToolboxQuery,
  string,
  Table,
  UpdateItemCommand as ToolboxUpdate,
} from 'dynamodb-toolbox';
import { Entity } from 'electrodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createFieldseal, defineModel, field } from '../../src/index.js';
import { sealDocumentClient } from '../../src/dynamodb/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';
import { createStringKeyTable } from './dynamodb-fixtures.js';
import { describeDynamo, startDynamoLocal, type DynamoLocal } from './dynamodb-local.js';

/*
 * ElectroDB and dynamodb-toolbox used unchanged on top of sealDocumentClient, on DynamoDB
 * Local: their writes are sealed, their reads decrypted, and a raw scan shows envelopes only.
 */
const CANARY = 'CANARY-libraries-5c1d';
const TABLE = 'electro-notes';
const TOOLBOX = 'toolbox-notes';

/** What a library stores: its key attributes, its own bookkeeping attributes pass through. */
const storedNote = <T extends string>(table: T) =>
  defineModel({
    table,
    tenant: 'tenantId',
    key: ['pk', 'sk'],
    fields: {
      pk: field.string(),
      sk: field.string(),
      tenantId: field.string(),
      id: field.string(),
      title: field.string().optional(),
      body: field.string().encrypted({ storage: 'text' }),
    },
  });
const StoredNote = storedNote(TABLE);
const ToolboxNote = storedNote(TOOLBOX);

describeDynamo('document-client libraries on sealDocumentClient (DynamoDB Local)', () => {
  let local: DynamoLocal;
  let client: DynamoDBClient;
  const fs = createFieldseal({
    admin: true,
    provider: new MemoryKeyProvider(),
    keys: { mode: 'store', store: new MemoryKeyStore(), masterKeyId: 'master' },
    cache: { maxAgeMs: 60_000 },
    models: [StoredNote, ToolboxNote],
  });

  beforeAll(async () => {
    local = await startDynamoLocal();
    client = local.client();
    for (const t of ['acme', 'globex']) await fs.provisionTenant(t);
    for (const TableName of [TABLE, TOOLBOX]) {
      await createStringKeyTable(client, TableName, 'pk', 'sk');
    }
  });
  afterAll(async () => {
    client?.destroy();
    fs.close();
    await local?.stop();
  });

  const rawScan = async (TableName = TABLE) =>
    inspect((await client.send(new RawScan({ TableName }))).Items, { depth: 6 });

  it('ElectroDB: put, get, query, update, batch and pagination through the sealed client', async () => {
    const docs = sealDocumentClient(client, { fs, tables: { [TABLE]: StoredNote } });
    const notes = new Entity(
      {
        model: { entity: 'note', version: '1', service: 'app' },
        attributes: {
          tenantId: { type: 'string', required: true },
          id: { type: 'string', required: true },
          title: { type: 'string' },
          body: { type: 'string', required: true },
        },
        indexes: {
          primary: {
            pk: { field: 'pk', composite: ['tenantId'] },
            sk: { field: 'sk', composite: ['id'] },
          },
        },
      },
      { client: docs, table: TABLE },
    );
    const body = (t: string, i: number) => `${CANARY}-${t}-${i}`;
    await notes.put({ tenantId: 'acme', id: 'n1', title: 'one', body: body('acme', 1) }).go();
    const got = await notes.get({ tenantId: 'acme', id: 'n1' }).go();
    expect(got.data).toEqual({ tenantId: 'acme', id: 'n1', title: 'one', body: body('acme', 1) });
    await notes
      .put(
        Array.from({ length: 30 }, (_, i) => ({
          tenantId: 'globex',
          id: `g${String(i).padStart(2, '0')}`,
          body: body('globex', i),
        })),
      )
      .go();
    const all = await notes.query.primary({ tenantId: 'globex' }).go({ pages: 'all', limit: 7 });
    expect(all.data.map((n) => n.body)).toEqual(
      Array.from({ length: 30 }, (_, i) => body('globex', i)),
    );
    await notes
      .update({ tenantId: 'acme', id: 'n1' })
      .set({ body: `${CANARY}-updated` })
      .go();
    expect((await notes.get({ tenantId: 'acme', id: 'n1' }).go()).data?.body).toBe(
      `${CANARY}-updated`,
    );
    expect(await rawScan()).not.toContain(CANARY);
    // An update that sets the tenant is sealed under it only if the stored item has it.
    await expect(
      docs.send(
        new UpdateCommand({
          TableName: TABLE,
          Key: { pk: '$app#tenantid_acme', sk: '$note_1#id_n1' },
          UpdateExpression: 'SET #t = :t, body = :b',
          ExpressionAttributeNames: { '#t': 'tenantId' },
          ExpressionAttributeValues: { ':t': 'globex', ':b': `${CANARY}-moved` },
        }),
      ),
    ).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
    expect((await notes.get({ tenantId: 'acme', id: 'n1' }).go()).data?.body).toBe(
      `${CANARY}-updated`,
    );
  });

  it('dynamodb-toolbox (v2): put, get, query, update through the sealed client', async () => {
    const docs = sealDocumentClient(client, { fs, tables: { [TOOLBOX]: ToolboxNote } });
    const table = new Table({
      name: TOOLBOX,
      partitionKey: { name: 'pk', type: 'string' },
      sortKey: { name: 'sk', type: 'string' },
      documentClient: docs,
    });
    const Note = new ToolboxEntity({
      name: 'note',
      table,
      schema: item({
        tenantId: string().key(),
        id: string().key(),
        title: string().optional(),
        body: string(),
      }),
      computeKey: ({ tenantId, id }) => ({ pk: `T#${tenantId}`, sk: `N#${id}` }),
    });
    for (let i = 0; i < 12; i++) {
      await Note.build(ToolboxPut)
        .item({ tenantId: 'acme', id: `t${String(i).padStart(2, '0')}`, body: `${CANARY}-${i}` })
        .send();
    }
    const { Item } = await Note.build(ToolboxGet).key({ tenantId: 'acme', id: 't03' }).send();
    expect(Item).toMatchObject({ tenantId: 'acme', id: 't03', body: `${CANARY}-3` });
    const pages: string[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await table
        .build(ToolboxQuery)
        .entities(Note)
        .query({ partition: 'T#acme' })
        .options({ limit: 5, ...(start === undefined ? {} : { exclusiveStartKey: start }) })
        .send();
      pages.push(...(page.Items ?? []).map((n) => n.body));
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    expect(pages).toEqual(Array.from({ length: 12 }, (_, i) => `${CANARY}-${i}`));
    await Note.build(ToolboxUpdate)
      .item({ tenantId: 'acme', id: 't03', body: `${CANARY}-updated` })
      .send();
    const after = await Note.build(ToolboxGet).key({ tenantId: 'acme', id: 't03' }).send();
    expect(after.Item?.body).toBe(`${CANARY}-updated`);
    expect(await rawScan(TOOLBOX)).not.toContain(CANARY);
  });
});
