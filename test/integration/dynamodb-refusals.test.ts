import { GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BatchError,
  createBlindIndexer,
  createFieldseal,
  defineModel,
  EnvSecretSource,
  field,
  isFieldsealError,
  type BlindIndexer,
  type FieldPolicy,
  type FieldsealError,
  type InferRecord,
  type Mode,
} from '../../src/index.js';
import { createDynamoRepository, type DynamoRepository } from '../../src/dynamodb/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';
import { countRequests, type RequestLog } from './dynamodb-fixtures.js';
import { describeDynamo, startDynamoLocal, type DynamoLocal } from './dynamodb-local.js';

/*
 * Issue #11, defects 13, 14 and 15 (second half), against DynamoDB Local:
 * - options and condition operators the repository does not understand are refused with
 *   ERR_UNSUPPORTED_OPTION before any request (never ignored);
 * - what each mode (client and field) may do is decided, and refused with ERR_MODE_FORBIDDEN,
 *   before any request: no write-then-throw, no read that tells a WriteOnly service whether an
 *   item exists;
 * - multi-item reads of wrongly typed encrypted attributes fail with a BatchError naming the
 *   items' indexes.
 * "Before any request" is proven by counting the commands that reach the SDK's middleware
 * stack, and by reading the item back.
 */

const Doc = defineModel({
  table: 'docs',
  tenant: 'tenantId',
  key: ['pk', 'sk'],
  fields: {
    pk: field.string(),
    sk: field.string(),
    tenantId: field.string(),
    group: field.string(),
    version: field.number(),
    title: field.string().optional(),
    body: field.string().encrypted(),
    note: field.string().encrypted({ storage: 'text' }).nullable().optional(),
  },
});
type DocRecord = InferRecord<typeof Doc>;

/** A model with one WriteOnly field (the client itself is ReadWrite). */
const Vault = defineModel({
  table: 'vault',
  tenant: 'tenantId',
  key: ['pk'],
  fields: {
    pk: field.string(),
    tenantId: field.string(),
    version: field.number(),
    secret: field.string().encrypted({ mode: 'WriteOnly' }),
    label: field.string().encrypted().optional(),
  },
});

/** A model with one ReadOnly field (the client itself is ReadWrite). */
const Ledger = defineModel({
  table: 'ledger',
  tenant: 'tenantId',
  key: ['pk'],
  fields: {
    pk: field.string(),
    tenantId: field.string(),
    version: field.number(),
    sealed: field.string().encrypted({ mode: 'ReadOnly' }).nullable().optional(),
    memo: field.string().encrypted().optional(),
  },
});

/** The same table as another service sees it: `sealed` is an ordinary field there. */
const LedgerWriter = defineModel({
  table: 'ledger',
  tenant: 'tenantId',
  key: ['pk'],
  fields: {
    pk: field.string(),
    tenantId: field.string(),
    version: field.number(),
    sealed: field.string().encrypted().nullable().optional(),
    memo: field.string().encrypted().optional(),
  },
});

/** A model with a blind index, for findBy / findByAny. */
const Person = defineModel({
  table: 'persons',
  tenant: 'tenantId',
  key: ['pk'],
  fields: {
    pk: field.string(),
    tenantId: field.string(),
    email: field.string().encrypted().blindIndex({ bits: 16 }),
  },
});

const CANARY = 'canary-5c1e@refusals.example';

function doc(sk: string, extra: Partial<DocRecord> = {}): DocRecord {
  return {
    pk: 'acme#docs',
    sk,
    tenantId: 'acme',
    group: 'g1',
    version: 1,
    body: `${CANARY} ${sk}`,
    ...extra,
  };
}

async function failure(p: Promise<unknown>): Promise<FieldsealError> {
  let result: unknown;
  try {
    result = await p;
  } catch (err) {
    if (isFieldsealError(err)) {
      expect(JSON.stringify(err) + err.message + String(err.stack)).not.toContain(CANARY);
      return err;
    }
    throw err;
  }
  throw new Error(`expected a FieldsealError, got ${String(result)}`);
}

/** Loosen a repository's static types, to pass what TypeScript would refuse (as JS callers can). */
function loose(repo: unknown): Record<string, (...args: unknown[]) => Promise<unknown>> {
  return repo as Record<string, (...args: unknown[]) => Promise<unknown>>;
}

describeDynamo('DynamoDB repository refusals (DynamoDB Local)', () => {
  let local: DynamoLocal;
  let client: DynamoDBClient;
  let log: RequestLog;
  let indexer: BlindIndexer;
  const provider = new MemoryKeyProvider();
  const store = new MemoryKeyStore();
  const fsOf = (mode: Mode, fields: Readonly<Record<string, FieldPolicy>> = Doc.policies) =>
    createFieldseal({
      admin: true,
      provider,
      keys: { mode: 'store', store, masterKeyId: 'master' },
      cache: { maxAgeMs: 60_000 },
      mode,
      fields: { ...fields },
    });
  const docs = (mode: Mode = 'ReadWrite'): DynamoRepository<typeof Doc> =>
    createDynamoRepository({
      client,
      fs: fsOf(mode),
      model: Doc,
      tableName: 'docs-refusals',
      keys: { partition: 'pk', sort: 'sk' },
      indexes: { 'by-group': { partition: 'group', sort: 'sk' } },
    });
  const vault = () =>
    createDynamoRepository({
      client,
      fs: fsOf('ReadWrite', Vault.policies),
      model: Vault,
      tableName: 'vault-refusals',
      keys: { partition: 'pk' },
    });
  const ledger = () =>
    createDynamoRepository({
      client,
      fs: fsOf('ReadWrite', Ledger.policies),
      model: Ledger,
      tableName: 'ledger-refusals',
      keys: { partition: 'pk' },
    });
  const persons = (mode: Mode = 'ReadWrite') =>
    createDynamoRepository({
      client,
      fs: fsOf(mode, Person.policies),
      model: Person,
      tableName: 'persons-refusals',
      keys: { partition: 'pk' },
      indexes: { 'by-email': { blindIndex: 'email' } },
      blindIndex: { indexer, secretsTable: 'refusals-bi-secrets' },
    });
  const rawDoc = async (sk: string) =>
    (
      await client.send(
        new GetItemCommand({
          TableName: 'docs-refusals',
          Key: { pk: { S: 'acme#docs' }, sk: { S: sk } },
          ConsistentRead: true,
        }),
      )
    ).Item;
  const keyOf = (sk: string) => ({ pk: 'acme#docs', sk });

  /** Run `fn` and assert that it sent no request to DynamoDB. */
  async function noRequest<T>(fn: () => Promise<T>): Promise<T> {
    const before = log.count();
    try {
      return await fn();
    } finally {
      expect(log.sent.slice(before)).toEqual([]);
    }
  }

  beforeAll(async () => {
    local = await startDynamoLocal();
    client = local.client();
    log = countRequests(client);
    indexer = await createBlindIndexer({
      source: new EnvSecretSource({
        keys: { 'blind-index': 'BI_ROOT' },
        env: { BI_ROOT: `base64:${Buffer.alloc(32, 0x3c).toString('base64')}` },
      }),
      reference: 'blind-index',
    });
    await fsOf('ReadWrite').provisionTenant('acme');
    await docs().createTable();
    await vault().createTable();
    await ledger().createTable();
    await persons().createTable();
  }, 120_000);
  afterAll(async () => {
    client?.destroy();
    await local?.stop();
  });

  describe('defect 13: options and operators it does not understand', () => {
    it('a misspelt `equal` version check never overwrites a newer version', async () => {
      const r = docs();
      await r.save(doc('v1'));
      await r.update('acme', keyOf('v1'), { body: 'second' }, { increment: { version: 1 } });
      const stored = await rawDoc('v1');
      expect(stored?.version?.N).toBe('2');
      const stale = { equal: { version: 1 } };
      const err = await noRequest(() =>
        failure(r.update('acme', keyOf('v1'), { body: CANARY }, { condition: stale } as never)),
      );
      expect(err.code).toBe('ERR_UNSUPPORTED_OPTION');
      expect(err.message).toContain('equal');
      expect(await rawDoc('v1')).toEqual(stored);
    });

    it('unknown condition operators are refused by save, update, delete and transactWrite', async () => {
      const r = docs();
      await r.save(doc('ops'));
      const stored = await rawDoc('ops');
      const conditions: unknown[] = [
        { beginsWith: { group: 'g' } },
        { contains: { group: 'g' } },
        { not: { equals: { version: 1 } } },
        { or: [{ equals: { version: 1 } }, { equals: { version: 2 } }] },
        { equal: { version: 1 } },
        { equals: { version: 1 }, notequals: { version: 2 } },
        { ConditionExpression: 'attribute_exists(pk)' },
      ];
      for (const condition of conditions) {
        const calls: (() => Promise<unknown>)[] = [
          () => r.save(doc('ops', { version: 9 }), { condition } as never),
          () => r.update('acme', keyOf('ops'), { version: 9 }, { condition } as never),
          () => r.delete('acme', keyOf('ops'), { condition } as never),
          () => r.transactWrite([{ put: doc('ops', { version: 9 }), condition } as never]),
          () =>
            r.transactWrite([
              { delete: { tenant: 'acme', key: keyOf('ops') }, condition } as never,
            ]),
        ];
        for (const call of calls) {
          const err = await noRequest(() => failure(call()));
          expect(err.code).toBe('ERR_UNSUPPORTED_OPTION');
        }
      }
      expect(await rawDoc('ops')).toEqual(stored);
    });

    it('raw expressions and unknown keys are refused in every options object, before any request', async () => {
      const r = loose(docs());
      await docs().save(doc('keys'));
      const stored = await rawDoc('keys');
      const key = keyOf('keys');
      const calls: [string, () => Promise<unknown>][] = [
        ['save', () => r.save!(doc('keys', { version: 5 }), { ConditionExpression: 'x' })],
        ['save', () => r.save!(doc('keys', { version: 5 }), { returnold: true })],
        ['get', () => r.get!('acme', key, { ProjectionExpression: 'pk' })],
        ['update', () => r.update!('acme', key, { version: 5 }, { UpdateExpression: 'SET x = y' })],
        ['update', () => r.update!('acme', key, { version: 5 }, { ConditionExpression: 'x' })],
        ['update', () => r.update!('acme', key, { version: 5 }, { returnValue: 'ALL_OLD' })],
        ['update', () => r.update!('acme', key, { version: 5 }, { returnValues: 'UPDATED_NEW' })],
        ['delete', () => r.delete!('acme', key, { ifAbsent: true })],
        ['delete', () => r.delete!('acme', key, { ReturnValues: 'ALL_OLD' })],
        ['deleteMany', () => r.deleteMany!('acme', [key], { concurency: 2 })],
        ['query', () => r.query!('acme', 'acme#docs', { limt: 1 })],
        ['query', () => r.query!('acme', 'acme#docs', { FilterExpression: 'x' })],
        ['queryIndex', () => r.queryIndex!('acme', 'by-group', 'g1', { reverse: true })],
        ['scan', () => r.scan!('acme', { descending: true })],
        ['scan', () => r.scan!('acme', { segment: 1 })],
        ['batchWrite', () => r.batchWrite!([doc('keys2')], { overwrite: true })],
        ['batchGet', () => r.batchGet!('acme', [key], { consistentRead: false })],
        ['transactWrite', () => r.transactWrite!([{ put: doc('keys', { version: 5 }) }], {})],
        [
          'transactWrite',
          () => r.transactWrite!([{ put: doc('keys', { version: 5 }), returnOld: true }]),
        ],
        [
          'transactWrite',
          () =>
            r.transactWrite!([
              { put: doc('keys', { version: 5 }), delete: { tenant: 'acme', key } },
            ]),
        ],
        [
          'transactWrite',
          () => r.transactWrite!([{ delete: { tenant: 'acme', key, force: true } }]),
        ],
        [
          'transactWrite',
          () => r.transactWrite!([{ delete: { tenant: 'acme', key }, ifAbsent: true }]),
        ],
        ['transactGet', () => r.transactGet!('acme', [key], { projection: ['pk'] })],
        ['backfill', () => r.backfill!({ dryRun: true })],
        ['backfill', () => r.backfill!({ segment: { index: 0, total: 1, of: 2 } })],
      ];
      for (const [name, call] of calls) {
        const err = await noRequest(() => failure(call()));
        expect([name, err.code]).toEqual([name, 'ERR_UNSUPPORTED_OPTION']);
      }
      const p = loose(persons());
      for (const call of [
        () => p.findBy!('acme', 'email', 'a@example.com', { consistent: true }),
        () => p.findByAny!('acme', 'email', ['a@example.com'], { limit: 1 }),
      ]) {
        const err = await noRequest(() => failure(call()));
        expect(err.code).toBe('ERR_UNSUPPORTED_OPTION');
      }
      expect(await rawDoc('keys')).toEqual(stored);
      expect(await rawDoc('keys2')).toBeUndefined();
      // the repository's own options too: a mode flag it does not have is not a mode
      expect(() =>
        createDynamoRepository({
          client,
          fs: fsOf('ReadWrite'),
          model: Doc,
          tableName: 'docs-refusals',
          keys: { partition: 'pk', sort: 'sk' },
          readOnly: true,
        } as never),
      ).toThrow(expect.objectContaining({ code: 'ERR_UNSUPPORTED_OPTION' }) as Error);
    });

    it('options are read once, own enumerable data properties only (hostile objects)', async () => {
      const r = docs();
      await r.save(doc('hostile'));
      const stored = await rawDoc('hostile');
      // an inherited option is not an option: the save below is not create-only...
      const inherited = Object.create({ ifAbsent: true, returnOld: true }) as object;
      expect(await r.save(doc('hostile', { version: 2 }), inherited)).toBeUndefined();
      // ...and an inherited condition operator is no condition (nor an error)
      const cond = Object.create({ equals: { version: 99 } }) as object;
      await r.update('acme', keyOf('hostile'), { version: 3 }, { condition: cond } as never);
      expect((await rawDoc('hostile'))?.version?.N).toBe('3');
      // a getter could answer differently on each read: refused, never called
      let reads = 0;
      const getter = {
        get ifAbsent(): boolean {
          reads++;
          return reads > 1;
        },
      };
      const before = await rawDoc('hostile');
      const err = await noRequest(() => failure(r.save(doc('hostile', { version: 7 }), getter)));
      expect(err.code).toBe('ERR_UNSUPPORTED_OPTION');
      expect(reads).toBe(0);
      const sym = { [Symbol('ifAbsent')]: true };
      expect(
        (await noRequest(() => failure(r.save(doc('hostile', { version: 7 }), sym)))).code,
      ).toBe('ERR_UNSUPPORTED_OPTION');
      expect(await rawDoc('hostile')).toEqual(before);
      expect(stored).toBeDefined();
      // a key read twice could name one item in the request and another in the AAD
      let keyReads = 0;
      const flipping = {
        pk: 'acme#docs',
        get sk(): string {
          return keyReads++ === 0 ? 'hostile' : 'elsewhere';
        },
      };
      await r.update('acme', flipping, { body: 'flipped' }, { returnValues: 'NONE' });
      expect((await r.get('acme', keyOf('hostile')))?.body).toBe('flipped');
      // a mistyped flag is an error, not "off" (an unguarded write)
      await expect(
        noRequest(() => r.save(doc('hostile'), { ifAbsent: 'yes' } as never)),
      ).rejects.toThrow(TypeError);
      await expect(
        noRequest(() => r.delete('acme', keyOf('hostile'), { returnOld: 1 } as never)),
      ).rejects.toThrow(TypeError);
    });
  });

  describe('defect 14: what each mode may do, refused before any request', () => {
    it('a WriteOnly repository writes without asking for anything it cannot decrypt', async () => {
      const rw = docs();
      const wo = docs('WriteOnly');
      await rw.save(doc('wo1'));
      // update: nothing comes back by default; the write happened
      expect(
        await wo.update('acme', keyOf('wo1'), { body: 'written', version: 2 }),
      ).toBeUndefined();
      expect(await rw.get('acme', keyOf('wo1'))).toMatchObject({ body: 'written', version: 2 });
      // returnValues: 'NONE' says whether the tenant's item was updated
      expect(await wo.update('acme', keyOf('wo1'), { version: 3 }, { returnValues: 'NONE' })).toBe(
        true,
      );
      expect(
        await wo.update('acme', keyOf('absent'), { version: 3 }, { returnValues: 'NONE' }),
      ).toBe(false);
      expect(await rawDoc('absent')).toBeUndefined();
      const stored = await rawDoc('wo1');
      for (const call of [
        () => wo.update('acme', keyOf('wo1'), { body: CANARY }, { returnValues: 'ALL_NEW' }),
        () => wo.update('acme', keyOf('wo1'), { body: CANARY }, { returnValues: 'ALL_OLD' }),
        () => wo.save(doc('wo1', { body: CANARY }), { returnOld: true }),
        () => wo.delete('acme', keyOf('wo1'), { returnOld: true }),
      ]) {
        const err = await noRequest(() => failure(call()));
        expect(err.code).toBe('ERR_MODE_FORBIDDEN');
      }
      expect(await rawDoc('wo1')).toEqual(stored);
      // plain writes go through
      await wo.save(doc('wo2'));
      await wo.batchWrite([doc('wo3'), doc('wo4')]);
      await wo.transactWrite([{ put: doc('wo5') }]);
      expect(await rw.get('acme', keyOf('wo5'))).toEqual(doc('wo5'));
      expect(await wo.delete('acme', keyOf('wo5'))).toBe(true);
      expect(await wo.deleteMany('acme', [keyOf('wo4')])).toEqual([true]);
    });

    it('a WriteOnly repository sends no read request (it cannot tell whether an item exists)', async () => {
      const wo = docs('WriteOnly');
      await docs().save(doc('wo-read'));
      const key = keyOf('wo-read');
      for (const call of [
        () => wo.get('acme', key),
        () => wo.get('acme', keyOf('nothing-here')),
        () => wo.query('acme', 'acme#docs'),
        () => wo.queryIndex('acme', 'by-group', 'g1'),
        () => wo.scan('acme'),
        () => wo.batchGet('acme', [key]),
        () => wo.transactGet('acme', [key]),
        () => wo.backfill(),
        () => persons('WriteOnly').findBy('acme', 'email', 'a@example.com'),
        () => persons('WriteOnly').findByAny('acme', 'email', ['a@example.com']),
      ]) {
        const err = await noRequest(() => failure(call()));
        expect(err.code).toBe('ERR_MODE_FORBIDDEN');
      }
    });

    it('a ReadOnly repository reads, and changes nothing: no write request at all', async () => {
      const ro = docs('ReadOnly');
      await docs().save(doc('ro1'));
      const key = keyOf('ro1');
      const stored = await rawDoc('ro1');
      expect(await ro.get('acme', key)).toEqual(doc('ro1'));
      expect((await ro.batchGet('acme', [key]))[0]).toEqual(doc('ro1'));
      for (const call of [
        () => ro.save(doc('ro1', { version: 4 })),
        () => ro.save(doc('ro-new')),
        () => ro.update('acme', key, { version: 4 }), // a plain attribute only
        () => ro.update('acme', key, {}, { increment: { version: 1 } }),
        () => ro.update('acme', key, { title: undefined }, { returnValues: 'NONE' }),
        () => ro.delete('acme', key),
        () => ro.deleteMany('acme', [key]),
        () => ro.batchWrite([doc('ro-new')]),
        () => ro.transactWrite([{ delete: { tenant: 'acme', key } }]),
        () => ro.backfill(),
      ]) {
        const err = await noRequest(() => failure(call()));
        expect(err.code).toBe('ERR_MODE_FORBIDDEN');
      }
      expect(await rawDoc('ro1')).toEqual(stored);
      expect(await rawDoc('ro-new')).toBeUndefined();
    });

    it('a WriteOnly field: its records are never read, and writes return nothing decrypted', async () => {
      const r = vault();
      await r.save({ pk: 'acme#1', tenantId: 'acme', version: 1, secret: CANARY });
      const key = { pk: 'acme#1' };
      const raw = async () =>
        (
          await client.send(
            new GetItemCommand({
              TableName: 'vault-refusals',
              Key: { pk: { S: 'acme#1' } },
              ConsistentRead: true,
            }),
          )
        ).Item;
      for (const call of [
        () => r.get('acme', key),
        () => r.get('acme', { pk: 'acme#absent' }),
        () => r.scan('acme'),
        () => r.query('acme', 'acme#1'),
        () => r.batchGet('acme', [key]),
        () => r.transactGet('acme', [key]),
      ]) {
        const err = await noRequest(() => failure(call()));
        expect(err.code).toBe('ERR_MODE_FORBIDDEN');
        expect(err.details.field).toBe('vault.secret');
      }
      // update returns nothing by default, and writes
      expect(await r.update('acme', key, { version: 2 })).toBeUndefined();
      expect((await raw())?.version?.N).toBe('2');
      const stored = await raw();
      for (const call of [
        () => r.update('acme', key, { version: 3 }, { returnValues: 'ALL_NEW' }),
        () =>
          r.save({ pk: 'acme#1', tenantId: 'acme', version: 3, secret: 'x' }, { returnOld: true }),
        () => r.delete('acme', key, { returnOld: true }),
      ]) {
        const err = await noRequest(() => failure(call()));
        expect(err.code).toBe('ERR_MODE_FORBIDDEN');
        expect(err.details.field).toBe('vault.secret');
      }
      expect(await raw()).toEqual(stored);
      expect(await r.delete('acme', key)).toBe(true);
    });

    it('a ReadOnly field: never written, removed or replaced by a put', async () => {
      const rw = createDynamoRepository({
        client,
        fs: fsOf('ReadWrite', LedgerWriter.policies), // another service, which may seal it
        model: LedgerWriter,
        tableName: 'ledger-refusals',
        keys: { partition: 'pk' },
      });
      await rw.save({ pk: 'acme#1', tenantId: 'acme', version: 1, sealed: CANARY });
      const r = ledger();
      const key = { pk: 'acme#1' };
      expect(await r.get('acme', key)).toMatchObject({ sealed: CANARY });
      const before = await client.send(
        new GetItemCommand({ TableName: 'ledger-refusals', Key: { pk: { S: 'acme#1' } } }),
      );
      for (const call of [
        // a put replaces every attribute: it would remove or replace the ReadOnly value
        () => r.save({ pk: 'acme#1', tenantId: 'acme', version: 2 }),
        () => r.save({ pk: 'acme#2', tenantId: 'acme', version: 1 }, { ifAbsent: true }),
        () => r.batchWrite([{ pk: 'acme#2', tenantId: 'acme', version: 1 }]),
        () => r.transactWrite([{ put: { pk: 'acme#2', tenantId: 'acme', version: 1 } }]),
        () => r.update('acme', key, { sealed: null }),
        () => r.update('acme', key, { sealed: undefined }),
        () => r.update('acme', key, { sealed: 'new' }),
      ]) {
        const err = await noRequest(() => failure(call()));
        expect(err.code).toBe('ERR_MODE_FORBIDDEN');
        expect(err.details.field).toBe('ledger.sealed');
      }
      const after = await client.send(
        new GetItemCommand({ TableName: 'ledger-refusals', Key: { pk: { S: 'acme#1' } } }),
      );
      expect(after.Item).toEqual(before.Item);
      // the other fields are updated, and the record comes back decrypted
      expect(await r.update('acme', key, { memo: 'm', version: 2 })).toMatchObject({
        memo: 'm',
        sealed: CANARY,
        version: 2,
      });
    });
  });

  describe('defect 15b: multi-item reads of wrongly typed encrypted attributes', () => {
    it('batchGet, transactGet, query and scan fail with a BatchError naming the items', async () => {
      const r = docs();
      await r.save(doc('bt0', { group: 'bt' }));
      await r.save(doc('bt2', { group: 'bt' }));
      // bt1: its encrypted `body` is a number; bt3: its text `note` is a BOOL
      for (const [sk, name, value] of [
        ['bt1', 'body', { N: '42' }],
        ['bt3', 'note', { BOOL: true }],
      ] as const) {
        await client.send(
          new PutItemCommand({
            TableName: 'docs-refusals',
            Item: {
              pk: { S: 'acme#docs' },
              sk: { S: sk },
              tenantId: { S: 'acme' },
              group: { S: 'bt' },
              version: { N: '1' },
              body: { B: Buffer.from('x') },
              [name]: value,
            },
          }),
        );
      }
      const keys = ['bt0', 'bt1', 'bt2', 'bt3'].map(keyOf);
      const expectBatch = (err: FieldsealError, indexes: number[]) => {
        expect(err.code).toBe('ERR_BATCH_FAILED');
        expect(err).toBeInstanceOf(BatchError);
        const failures = (err as BatchError).failures;
        expect(failures.map((f) => f.index)).toEqual(indexes);
        const codes = new Map(failures.map((f) => [f.index, f.error]));
        expect(codes.get(1)?.code).toBe('ERR_MALFORMED_CIPHERTEXT');
        expect(codes.get(1)?.details.field).toBe('docs.body');
      };
      expectBatch(await failure(r.batchGet('acme', keys)), [1, 3]);
      expectBatch(await failure(r.transactGet('acme', keys)), [1, 3]);
      const queried = await failure(r.queryIndex('acme', 'by-group', 'bt'));
      expect(queried.code).toBe('ERR_BATCH_FAILED');
      expect((queried as BatchError).failures.map((f) => f.index)).toEqual([1, 3]);
      expect((queried as BatchError).failures[1]?.error.details.field).toBe('docs.note');
      const scanned = await failure(r.scan('acme'));
      expect(scanned.code).toBe('ERR_BATCH_FAILED');
      // get still throws the one failing field's error (as documented)
      expect((await failure(r.get('acme', keyOf('bt1')))).code).toBe('ERR_MALFORMED_CIPHERTEXT');
    });
  });
});
