import { inspect } from 'node:util';
import {
  GetItemCommand,
  PutItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactGetCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createFieldseal,
  isFieldsealError,
  type AnyModel,
  type Fieldseal,
} from '../../src/index.js';
import { createDynamoRepository, sealDocumentClient } from '../../src/dynamodb/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';
import { CANARY, type SuiteRecord } from '../conformance/dynamo-model-suite.js';
import { itemChanges, itemModel, itemRecord } from './dynamodb-conformance-fixtures.js';
import { itemText } from './dynamodb-fixtures.js';
import { describeDynamo, startDynamoLocal, type DynamoLocal } from './dynamodb-local.js';

/*
 * The DynamoDB model conformance suite's cases (test/conformance/dynamo-model-suite.ts), as far
 * as they apply to a document client (which has no tenant of its own to scope reads to), through
 * sealDocumentClient: the same fixtures (every field kind, both storages, both key shapes) and
 * the same promises — round trips through every read command, envelopes at rest, updates and
 * removals, pagination of queries, scans and a GSI, batches and transactions, refusals before
 * any request, moved values refused, one key fetch per tenant or data key.
 */

const ENCRYPTED = [
  'secret',
  'amount',
  'balance',
  'verified',
  'dob',
  'apiKey',
  'profile',
  'ssn',
  'notes',
] as const;

/** A record as the document client takes it: plain dates and bigints as text (SDK types). */
function toDocument(r: SuiteRecord): SuiteRecord {
  const out: SuiteRecord = {};
  for (const [k, v] of Object.entries(r)) {
    const sealed = (ENCRYPTED as readonly string[]).includes(k);
    out[k] = sealed
      ? v
      : v instanceof Date
        ? v.toISOString()
        : typeof v === 'bigint'
          ? String(v)
          : v;
  }
  return out;
}

/** A value in a form toStrictEqual compares across Buffer / Uint8Array, NaN and dates. */
function comparable(value: unknown): unknown {
  if (value instanceof Uint8Array) return `bytes:${Buffer.from(value).toString('hex')}`;
  if (value instanceof Date) return `date:${value.toISOString()}`;
  if (typeof value === 'bigint') return `bigint:${value}`;
  if (typeof value === 'number' && Number.isNaN(value)) return 'NaN';
  if (Array.isArray(value)) return value.map(comparable);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, comparable(v)]),
    );
  }
  return value;
}

const same = (got: unknown, want: unknown) =>
  expect(comparable(got)).toStrictEqual(comparable(want));

async function refusal(p: Promise<unknown>): Promise<{ code: string; field?: string }> {
  try {
    await p;
  } catch (err) {
    if (isFieldsealError(err)) return { code: err.code, field: err.details.field };
    throw err;
  }
  throw new Error('expected a refusal');
}

describeDynamo('sealDocumentClient: the DynamoDB model conformance cases (DynamoDB Local)', () => {
  let local: DynamoLocal;
  const clients: DynamoDBClient[] = [];
  beforeAll(async () => {
    local = await startDynamoLocal();
  });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await local?.stop();
  });

  for (const storage of ['binary', 'text'] as const) {
    for (const sorted of [true, false]) {
      const shape = sorted ? 'pk-sk' : 'pk';
      describe(`${storage}, ${shape}`, () => {
        const tableName = `sealed-doc-${storage}-${shape}`;
        const model: AnyModel = itemModel(storage, sorted);
        const record = (tenant: string, i: number, bucket: string) =>
          toDocument(itemRecord(sorted)(tenant, i, bucket));
        const keyOf = (r: SuiteRecord) => (sorted ? { pk: r.pk, seq: r.seq } : { pk: r.pk });
        const range = (from: number, to: number) =>
          Array.from({ length: to - from }, (_, i) => from + i);
        let base: DynamoDBClient;
        let docs: DynamoDBDocumentClient;
        let provider: MemoryKeyProvider;
        let fs: Fieldseal;
        let sent = 0;
        const store = new MemoryKeyStore();
        const client = () =>
          createFieldseal({
            provider,
            keys: { mode: 'store', store, masterKeyId: 'master' },
            cache: { maxAgeMs: 60_000 },
            models: [model],
            admin: ['provision', 'rotate'],
          });
        /** A sealed client over a fresh fieldseal client (cold key cache). */
        const sealed = (f: Fieldseal = client()) => {
          const d = sealDocumentClient(base, { fs: f, tables: { [tableName]: model } });
          d.middlewareStack.add(
            (next) => async (args) => {
              sent++;
              return next(args);
            },
            { step: 'finalizeRequest', name: 'countSent' },
          );
          return d;
        };
        const rawGet = async (r: SuiteRecord) =>
          (
            await base.send(
              new GetItemCommand({
                TableName: tableName,
                Key: Object.fromEntries(
                  Object.entries(keyOf(r)).map(([k, v]) => [
                    k,
                    typeof v === 'number' ? { N: String(v) } : { S: String(v) },
                  ]),
                ),
                ConsistentRead: true,
              }),
            )
          ).Item!;
        const put = (items: readonly SuiteRecord[]) =>
          docs.send(
            new BatchWriteCommand({
              RequestItems: { [tableName]: items.map((Item) => ({ PutRequest: { Item } })) },
            }),
          );
        const unwraps = () => provider.calls.unwrap + provider.calls.wrap + provider.calls.generate;

        beforeAll(async () => {
          base = local.client();
          clients.push(base);
          provider = new MemoryKeyProvider();
          fs = client();
          for (const t of ['acme', 'globex', 'initech']) await fs.provisionTenant(t);
          // The repository only creates the table (with the by-group GSI) here.
          await createDynamoRepository({
            client: base,
            fs,
            model,
            tableName,
            keys: sorted ? { partition: 'pk', sort: 'seq' } : { partition: 'pk' },
            indexes: { 'by-group': { partition: 'group', sort: 'seq' } },
          }).createTable();
          docs = sealed(fs);
        });

        it('round-trips every field through put / get / query / scan / batchGet / transactGet', async () => {
          const saved = range(0, 8).map((i) => record('acme', i, 'rt'));
          for (const Item of saved) await docs.send(new PutCommand({ TableName: tableName, Item }));
          const reader = sealed();
          for (const r of saved) {
            same(
              (await reader.send(new GetCommand({ TableName: tableName, Key: keyOf(r) }))).Item,
              r,
            );
          }
          const partitions = [...new Set(saved.map((r) => r.pk))];
          const queried = [];
          for (const pk of partitions) {
            const out = await reader.send(
              new QueryCommand({
                TableName: tableName,
                KeyConditionExpression: 'pk = :pk',
                ExpressionAttributeValues: { ':pk': pk },
              }),
            );
            queried.push(...out.Items!);
          }
          same(queried, saved);
          const got = await reader.send(
            new BatchGetCommand({ RequestItems: { [tableName]: { Keys: saved.map(keyOf) } } }),
          );
          same(
            [...got.Responses![tableName]!].sort((a, b) => Number(a.seq) - Number(b.seq)),
            saved,
          );
          const tx = await reader.send(
            new TransactGetCommand({
              TransactItems: saved.map((r) => ({ Get: { TableName: tableName, Key: keyOf(r) } })),
            }),
          );
          same(
            tx.Responses!.map((r) => r.Item),
            saved,
          );
          const scanned = await reader.send(
            new ScanCommand({
              TableName: tableName,
              FilterExpression: 'begins_with(#g, :b)',
              ExpressionAttributeNames: { '#g': 'group' },
              ExpressionAttributeValues: { ':b': 'rt#' },
            }),
          );
          same(
            [...scanned.Items!].sort((a, b) => Number(a.seq) - Number(b.seq)),
            saved,
          );
        });

        it('stores encrypted attributes sealed (B or fs1: S per storage), never the plaintext', async () => {
          const saved = range(0, 8).map((i) => record('acme', i, 'raw'));
          await put(saved);
          for (const r of saved) {
            const item = await rawGet(r);
            expect(itemText(item)).not.toContain(CANARY);
            for (const f of ENCRYPTED) {
              if (r[f] === undefined) expect(item[f], f).toBeUndefined();
              else if (r[f] === null) expect(item[f], f).toEqual({ NULL: true });
              else if (storage === 'binary') expect(item[f]?.B, f).toBeInstanceOf(Uint8Array);
              else expect(item[f]?.S?.startsWith('fs1:'), f).toBe(true);
            }
          }
        });

        it('updates encrypted and plain attributes, removes optional ones, returns the item decrypted', async () => {
          const r = record('acme', 1, 'upd');
          await docs.send(new PutCommand({ TableName: tableName, Item: r }));
          const changes = toDocument(itemChanges);
          const names = Object.keys(changes);
          const out = await docs.send(
            new UpdateCommand({
              TableName: tableName,
              Key: { ...keyOf(r), ...(sorted ? {} : {}) },
              UpdateExpression: `SET ${names.map((n, i) => `#n${i} = :v${i}`).join(', ')}, #t = :t REMOVE #r0, #r1`,
              ExpressionAttributeNames: {
                ...Object.fromEntries(names.map((n, i) => [`#n${i}`, n])),
                '#t': 'tenantId',
                '#r0': 'notes',
                '#r1': 'photo',
              },
              ExpressionAttributeValues: {
                ...Object.fromEntries(names.map((n, i) => [`:v${i}`, changes[n]])),
                ':t': 'acme',
              },
              ReturnValues: 'ALL_NEW',
            }),
          );
          const kept = { ...r, ...changes };
          delete kept.notes;
          delete kept.photo;
          same(out.Attributes, kept);
          same(
            (await sealed().send(new GetCommand({ TableName: tableName, Key: keyOf(r) }))).Item,
            kept,
          );
          expect(itemText(await rawGet(r))).not.toContain(CANARY);
          // A required encrypted attribute cannot be removed.
          const removed = await refusal(
            docs.send(
              new UpdateCommand({
                TableName: tableName,
                Key: keyOf(r),
                UpdateExpression: 'REMOVE secret',
              }),
            ),
          );
          expect(removed.code).toBe('ERR_UNSUPPORTED_VALUE');
        });

        it('pages through query, scan and the GSI with small limits, each item once', async () => {
          const saved = range(0, 9).map((i) => record('globex', i, 'page'));
          await put(saved);
          const pages = async (
            input: Record<string, unknown>,
            Command: typeof QueryCommand | typeof ScanCommand,
          ) => {
            const items: SuiteRecord[] = [];
            let ExclusiveStartKey: Record<string, unknown> | undefined;
            let count = 0;
            do {
              const out = await docs.send(
                new Command({ ...(input as object), Limit: 2, ExclusiveStartKey } as never),
              );
              items.push(...(out.Items ?? []));
              ExclusiveStartKey = out.LastEvaluatedKey;
              count++;
            } while (ExclusiveStartKey !== undefined);
            expect(count).toBeGreaterThan(1);
            return items;
          };
          if (sorted) {
            for (const forward of [true, false]) {
              const got = await pages(
                {
                  TableName: tableName,
                  KeyConditionExpression: 'pk = :pk',
                  ExpressionAttributeValues: { ':pk': saved[0]!.pk },
                  ScanIndexForward: forward,
                },
                QueryCommand,
              );
              same(got, forward ? saved : [...saved].reverse());
            }
          }
          const scanned = await pages(
            {
              TableName: tableName,
              FilterExpression: 'begins_with(#g, :b)',
              ExpressionAttributeNames: { '#g': 'group' },
              ExpressionAttributeValues: { ':b': 'page#' },
            },
            ScanCommand,
          );
          same(
            scanned.sort((a, b) => Number(a.seq) - Number(b.seq)),
            saved,
          );
          const viaIndex = await pages(
            {
              TableName: tableName,
              IndexName: 'by-group',
              KeyConditionExpression: '#g = :g',
              ExpressionAttributeNames: { '#g': 'group' },
              ExpressionAttributeValues: { ':g': 'page#g0' },
            },
            QueryCommand,
          );
          same(
            viaIndex,
            saved.filter((r) => r.group === 'page#g0'),
          );
        });

        it('batchWrite writes 25 items and batchGet reads 100 keys in one request each, aligned', async () => {
          const saved = range(0, 100).map((i) =>
            record(i % 2 === 0 ? 'acme' : 'globex', i, 'batch'),
          );
          const before = sent;
          for (let at = 0; at < saved.length; at += 25) await put(saved.slice(at, at + 25));
          expect(sent - before).toBe(4);
          const got = await sealed().send(
            new BatchGetCommand({
              RequestItems: { [tableName]: { Keys: saved.map(keyOf), ConsistentRead: true } },
            }),
          );
          expect(got.UnprocessedKeys?.[tableName]).toBeUndefined();
          same(
            [...got.Responses![tableName]!].sort((a, b) => Number(a.seq) - Number(b.seq)),
            saved,
          );
        });

        it('transactWrite puts and deletes atomically; transactGet reads aligned', async () => {
          const [a, b, c] = range(0, 3).map((i) => record('acme', i, 'tx'));
          await docs.send(new PutCommand({ TableName: tableName, Item: a! }));
          // A failing condition cancels the whole transaction: nothing is written.
          await expect(
            docs.send(
              new TransactWriteCommand({
                TransactItems: [
                  { Put: { TableName: tableName, Item: b! } },
                  {
                    Delete: {
                      TableName: tableName,
                      Key: keyOf(c!),
                      ConditionExpression: 'attribute_exists(pk)',
                    },
                  },
                ],
              }),
            ),
          ).rejects.toThrow();
          await docs.send(
            new TransactWriteCommand({
              TransactItems: [
                { Put: { TableName: tableName, Item: b! } },
                { Put: { TableName: tableName, Item: c! } },
                { Delete: { TableName: tableName, Key: keyOf(a!) } },
              ],
            }),
          );
          const tx = await sealed().send(
            new TransactGetCommand({
              TransactItems: [a!, b!, c!].map((r) => ({
                Get: { TableName: tableName, Key: keyOf(r) },
              })),
            }),
          );
          same(
            tx.Responses!.map((r) => r.Item),
            [undefined, b, c],
          );
        });

        it('fails closed: no tenant, a value of another kind, a condition on ciphertext → no request', async () => {
          const r = record('acme', 0, 'closed');
          const before = sent;
          const noTenant = { ...r };
          delete noTenant.tenantId;
          for (const attempt of [
            docs.send(new PutCommand({ TableName: tableName, Item: noTenant })),
            docs.send(new PutCommand({ TableName: tableName, Item: { ...r, secret: 42 } })),
            docs.send(
              new PutCommand({
                TableName: tableName,
                Item: r,
                ConditionExpression: 'secret <> :s',
                ExpressionAttributeValues: { ':s': 'x' },
              }),
            ),
            docs.send(
              new ScanCommand({
                TableName: tableName,
                FilterExpression: 'contains(#p, :s)',
                ExpressionAttributeNames: { '#p': 'profile' },
                ExpressionAttributeValues: { ':s': CANARY },
              }),
            ),
          ]) {
            const refused = await refusal(attempt);
            expect(refused.code).toMatch(/^ERR_/);
          }
          expect(sent).toBe(before);
          expect(
            await base.send(
              new GetItemCommand({
                TableName: tableName,
                Key: { pk: { S: String(r.pk) }, ...(sorted ? { seq: { N: '0' } } : {}) },
              }),
            ),
          ).not.toHaveProperty('Item');
        });

        it('refuses an attribute copied to another item, another attribute or another tenant, naming the field', async () => {
          const [a, b] = [record('acme', 0, 'copy'), record('acme', 1, 'copy')];
          const g = record('globex', 2, 'copy');
          await put([a, b, g]);
          const rawA = await rawGet(a);
          const cases: [SuiteRecord, string, AttributeValue][] = [
            [b, 'secret', rawA.secret!],
            [a, storage === 'binary' ? 'apiKey' : 'dob', rawA.secret!],
            [g, 'secret', rawA.secret!],
          ];
          for (const [target, f, value] of cases) {
            const item = await rawGet(target);
            await base.send(
              new PutItemCommand({ TableName: tableName, Item: { ...item, [f]: value } }),
            );
            const r = await refusal(
              sealed().send(new GetCommand({ TableName: tableName, Key: keyOf(target) })),
            );
            expect(r.code).toBe('ERR_BATCH_FAILED');
            await base.send(new PutItemCommand({ TableName: tableName, Item: item }));
          }
        });

        it('calls the key provider once per tenant when writing, once per data key when reading', async () => {
          const mine = range(0, 6).map((i) => record('acme', i, 'calls'));
          const theirs = range(0, 6).map((i) => record('globex', i, 'calls'));
          docs = sealed();
          let before = unwraps();
          await put([...mine, ...theirs]);
          expect(unwraps() - before).toBe(2);
          before = unwraps();
          await sealed().send(
            new BatchGetCommand({ RequestItems: { [tableName]: { Keys: mine.map(keyOf) } } }),
          );
          expect(unwraps() - before).toBe(1);
          // Two data keys: items written before and after a rotation.
          const f = client();
          const early = range(0, 3).map((i) => record('initech', i, 'calls'));
          docs = sealed(f);
          await put(early);
          await f.rotateTenantKey('initech');
          const late = range(3, 6).map((i) => record('initech', i, 'calls'));
          docs = sealed();
          await put(late);
          before = unwraps();
          const got = await sealed().send(
            new BatchGetCommand({
              RequestItems: { [tableName]: { Keys: [...early, ...late].map(keyOf) } },
            }),
          );
          expect(unwraps() - before).toBe(2);
          same(
            [...got.Responses![tableName]!].sort((x, y) => Number(x.seq) - Number(y.seq)),
            [...early, ...late],
          );
          expect(inspect(got)).not.toContain('fs1:');
        });
      });
    }
  }
});
