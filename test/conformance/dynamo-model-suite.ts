import {
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import {
  isFieldsealError,
  type AnyModel,
  type Fieldseal,
  type FieldPolicy,
} from '../../src/index.js';
import {
  createDynamoRepository,
  type DynamoKeyValue,
  type DynamoTableKeys,
} from '../../src/dynamodb/index.js';
import type { MemoryKeyProvider } from '../../src/testing/index.js';
import {
  countRequests,
  fieldsealFailure,
  itemText,
  keyAttribute,
  rejection,
  type RequestLog,
} from '../integration/dynamodb-fixtures.js';

/**
 * The behaviour docs/dynamodb.md promises for every operation of a DynamoDB repository, run
 * against DynamoDB Local for each client kind, storage, table shape and model shape.
 */

/** The marker every encrypted string, bytes or JSON value of a fixture record contains. */
export const CANARY = 'CANARY-';

/** A record as the suite sees it (the fixture's model decides the fields). */
export type SuiteRecord = Record<string, unknown>;

/**
 * One fresh repository environment: a DynamoDB client, a key store behind `fieldseal()`, a
 * model and a table that does not exist yet (the suite creates it). Tenants `acme`, `globex`,
 * `umbrella` and `initech` are provisioned by the suite; `nokey` never is.
 */
export interface DynamoModelFixture {
  /** The client the repository uses (the suite counts its requests with a middleware). */
  readonly client: DynamoDBClient | DynamoDBDocumentClient;
  /** A physical table name of its own (the suite calls `createTable`). */
  readonly tableName: string;
  /** The model; every encrypted field uses `storage`. */
  readonly model: AnyModel;
  /** The table keys (the model's key). */
  readonly keys: DynamoTableKeys;
  /** A global secondary index on plain fields, when the fixture declares one. */
  readonly index?: { readonly name: string } & DynamoTableKeys;
  /** How the model's encrypted attributes are stored: `B` (binary) or `fs1:` `S` (text). */
  readonly storage: 'binary' | 'text';
  /** The key provider behind `fieldseal()`, to count its calls. */
  readonly provider: MemoryKeyProvider;
  /**
   * A new fieldseal client (empty data-key cache) over the fixture's key store, configured with
   * `fields` (the model's policies when not given).
   */
  fieldseal(fields?: Readonly<Record<string, FieldPolicy>>): Fieldseal;
  /**
   * Record `i` of `tenant` in `bucket` (a test's own set of items). Its key is unique per
   * (tenant, bucket, i); with a sort key, the records of one tenant and bucket share a partition
   * and the sort key orders them by `i`. The index partition of record `i` is the same for
   * every tenant and depends only on `bucket` and `i`; the index sort key orders by `i`. Every
   * encrypted string / bytes / JSON value contains {@link CANARY}, no plain value does.
   */
  record(tenant: string, i: number, bucket: string): SuiteRecord;
  /** Changes for `update`: encrypted and plain fields, one encrypted value holding CANARY. */
  readonly changes: SuiteRecord;
  /** Optional fields that `update` may remove (none for a model without optional fields). */
  readonly removable: readonly string[];
}

type Key = Record<string, DynamoKeyValue>;
interface Page {
  readonly items: SuiteRecord[];
  readonly nextKey: Key | undefined;
}
interface PageOptions {
  readonly limit?: number;
  readonly startKey?: Key;
  readonly descending?: boolean;
}
/** The repository with the model's record type erased (the suite is model-agnostic). */
interface SuiteRepository {
  createTable(): Promise<void>;
  save(record: SuiteRecord): Promise<void>;
  get(tenant: string, key: Key): Promise<SuiteRecord | undefined>;
  update(tenant: string, key: Key, changes: SuiteRecord): Promise<SuiteRecord | undefined>;
  delete(tenant: string, key: Key): Promise<boolean>;
  query(tenant: string, partition: DynamoKeyValue, options?: PageOptions): Promise<Page>;
  queryIndex(
    tenant: string,
    indexName: string,
    partition: DynamoKeyValue,
    options?: PageOptions,
  ): Promise<Page>;
  scan(tenant: string, options?: PageOptions): Promise<Page>;
  batchWrite(records: readonly SuiteRecord[]): Promise<void>;
  batchGet(tenant: string, keys: readonly Key[]): Promise<(SuiteRecord | undefined)[]>;
  transactWrite(
    writes: readonly ({ put: SuiteRecord } | { delete: { tenant: string; key: Key } })[],
  ): Promise<void>;
  transactGet(tenant: string, keys: readonly Key[]): Promise<(SuiteRecord | undefined)[]>;
}

const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from }, (_, i) => from + i);

/** The attribute docs/dynamodb.md promises for a plain value (by its JavaScript type). */
function plainAttribute(value: unknown): AttributeValue | undefined {
  if (value === undefined) return undefined;
  if (value === null) return { NULL: true };
  if (typeof value === 'string') return { S: value };
  if (typeof value === 'number' || typeof value === 'bigint') return { N: String(value) };
  if (typeof value === 'boolean') return { BOOL: value };
  if (value instanceof Date) return { S: value.toISOString() };
  if (value instanceof Uint8Array) return { B: new Uint8Array(value) };
  return { S: JSON.stringify(value) };
}

/** Every page of a paginated read, until `nextKey` is undefined. */
async function allPages(
  read: (startKey: Key | undefined) => Promise<Page>,
): Promise<{ items: SuiteRecord[]; pages: number }> {
  const items: SuiteRecord[] = [];
  let startKey: Key | undefined;
  let pages = 0;
  do {
    const page = await read(startKey);
    items.push(...page.items);
    startKey = page.nextKey;
    pages += 1;
    if (pages > 500) throw new Error('pagination does not end');
  } while (startKey !== undefined);
  return { items, pages };
}

/**
 * Run the conformance suite: `setup` is called once, before the suite's tests, and must
 * return a fresh environment (its own key store and table).
 */
export function runDynamoModelSuite(
  name: string,
  setup: () => DynamoModelFixture | Promise<DynamoModelFixture>,
): void {
  describe(`DynamoDB model conformance: ${name}`, () => {
    let fx: DynamoModelFixture;
    let log: RequestLog;
    let encrypted: string[] = [];
    let policies: Readonly<Record<string, FieldPolicy>> = {};

    const repo = (fs: Fieldseal = fx.fieldseal()): SuiteRepository =>
      createDynamoRepository({
        client: fx.client,
        fs,
        model: fx.model,
        tableName: fx.tableName,
        keys: fx.keys,
        ...(fx.index === undefined
          ? {}
          : {
              indexes: {
                [fx.index.name]: {
                  partition: fx.index.partition,
                  ...(fx.index.sort === undefined ? {} : { sort: fx.index.sort }),
                },
              },
            }),
      }) as unknown as SuiteRepository;
    const qualified = (f: string): string => `${fx.model.table}.${f}`;
    const keyOf = (r: SuiteRecord): Key => {
      const key: Key = { [fx.keys.partition]: r[fx.keys.partition] as DynamoKeyValue };
      if (fx.keys.sort !== undefined) key[fx.keys.sort] = r[fx.keys.sort] as DynamoKeyValue;
      return key;
    };
    const idOf = (r: SuiteRecord): string =>
      Object.values(keyOf(r))
        .map((v) => `${typeof v}:${String(v)}`)
        .join('|');
    const byId = (a: SuiteRecord, b: SuiteRecord): number => idOf(a).localeCompare(idOf(b));
    const partitionOf = (r: SuiteRecord): DynamoKeyValue => r[fx.keys.partition] as DynamoKeyValue;
    /** Records grouped by a field value, each group in the given order. */
    const groupBy = (
      records: readonly SuiteRecord[],
      f: string,
    ): Map<DynamoKeyValue, SuiteRecord[]> => {
      const groups = new Map<DynamoKeyValue, SuiteRecord[]>();
      for (const r of records) {
        const v = r[f] as DynamoKeyValue;
        groups.set(v, [...(groups.get(v) ?? []), r]);
      }
      return groups;
    };
    const records = (tenant: string, is: readonly number[], bucket: string): SuiteRecord[] =>
      is.map((i) => fx.record(tenant, i, bucket));

    // Raw access, beside the repository (the same client, so the requests are counted too).
    const raw = (): DynamoDBClient => fx.client;
    const rawKey = (r: SuiteRecord): Record<string, AttributeValue> =>
      Object.fromEntries(Object.entries(keyOf(r)).map(([n, v]) => [n, keyAttribute(v)]));
    const rawGet = async (r: SuiteRecord): Promise<Record<string, AttributeValue> | undefined> =>
      (
        await raw().send(
          new GetItemCommand({ TableName: fx.tableName, Key: rawKey(r), ConsistentRead: true }),
        )
      ).Item;
    const rawPut = async (item: Record<string, AttributeValue>): Promise<void> => {
      await raw().send(new PutItemCommand({ TableName: fx.tableName, Item: item }));
    };
    const rawDelete = async (r: SuiteRecord): Promise<void> => {
      await raw().send(new DeleteItemCommand({ TableName: fx.tableName, Key: rawKey(r) }));
    };
    /** The encrypted attributes stored as envelopes (not NULL, not absent) in a raw item. */
    const sealedAttributes = (item: Record<string, AttributeValue>): string[] =>
      encrypted.filter((f) => item[f] !== undefined && item[f].NULL !== true);

    /** An encrypted attribute as the storage says: B, or an `fs1:` S. */
    const expectSealed = (value: AttributeValue | undefined, f: string): void => {
      if (fx.storage === 'binary') {
        expect(value?.B, f).toBeInstanceOf(Uint8Array);
        expect(value?.S, f).toBeUndefined();
      } else {
        expect(value?.S?.startsWith('fs1:'), f).toBe(true);
        expect(value?.B, f).toBeUndefined();
      }
    };
    /** The raw item of `r`: no canary, every encrypted attribute sealed, null / absent as such. */
    const expectStoredSealed = async (r: SuiteRecord): Promise<void> => {
      const item = await rawGet(r);
      if (item === undefined) throw new Error(`no item for ${idOf(r)}`);
      expect(itemText(item)).not.toContain(CANARY);
      for (const f of encrypted) {
        if (!(f in r) || r[f] === undefined) expect(item[f], f).toBeUndefined();
        else if (r[f] === null) expect(item[f], f).toEqual({ NULL: true });
        else expectSealed(item[f], f);
      }
      for (const [f, v] of Object.entries(r)) {
        if (!encrypted.includes(f)) expect(item[f], f).toEqual(plainAttribute(v));
      }
      for (const f of Object.keys(item)) expect(f in r, `undeclared attribute ${f}`).toBe(true);
    };

    beforeAll(async () => {
      fx = await setup();
      log = countRequests(fx.client, `count-${name}`);
      policies = (fx.model as AnyModel & { policies: Record<string, FieldPolicy> }).policies;
      encrypted = Object.keys(policies).map((q) => q.slice(q.indexOf('.') + 1));
      expect(encrypted.length).toBeGreaterThanOrEqual(2);
      const fs = fx.fieldseal();
      for (const tenant of ['acme', 'globex', 'umbrella', 'initech']) {
        await fs.provisionTenant(tenant);
      }
      await repo(fs).createTable();
    });

    it('round-trips every field through save / get / query / scan / batchGet / transactGet', async () => {
      const r = repo();
      const saved = records('acme', range(0, 8), 'rt');
      for (const rec of saved) await r.save(rec);
      const reader = repo();
      for (const rec of saved) expect(await reader.get('acme', keyOf(rec))).toStrictEqual(rec);
      for (const [partition, group] of groupBy(saved, fx.keys.partition)) {
        const { items } = await allPages((startKey) =>
          reader.query('acme', partition, { startKey }),
        );
        expect(items).toStrictEqual(group);
      }
      expect(await reader.batchGet('acme', saved.map(keyOf))).toStrictEqual(saved);
      expect(await reader.transactGet('acme', saved.map(keyOf))).toStrictEqual(saved);
      const ids = new Set(saved.map(idOf));
      const { items } = await allPages((startKey) => reader.scan('acme', { startKey }));
      expect(items.filter((x) => ids.has(idOf(x))).sort(byId)).toStrictEqual([...saved].sort(byId));
    });

    it('stores encrypted attributes sealed (B or fs1: S per storage), never the plaintext', async () => {
      const saved = records('acme', range(0, 8), 'raw');
      await repo().batchWrite(saved);
      for (const rec of saved) await expectStoredSealed(rec);
      // The fixture covers a null and an absent value of an encrypted field somewhere.
      const kinds = saved.flatMap((rec) =>
        encrypted.map((f) => (rec[f] === null ? 'null' : rec[f] === undefined ? 'absent' : 'set')),
      );
      expect(kinds).toContain('set');
    });

    it('scopes every read to the tenant: another tenant sees nothing', async () => {
      const saved = records('acme', range(0, 6), 'scope');
      await repo().batchWrite(saved);
      const r = repo();
      const keys = saved.map(keyOf);
      for (const key of keys) expect(await r.get('globex', key)).toBeUndefined();
      for (const partition of new Set(saved.map(partitionOf))) {
        const { items } = await allPages((startKey) =>
          r.query('globex', partition, { startKey, limit: 2 }),
        );
        expect(items).toEqual([]);
      }
      expect(await r.batchGet('globex', keys)).toEqual(keys.map(() => undefined));
      expect(await r.transactGet('globex', keys)).toEqual(keys.map(() => undefined));
      const scanned = await allPages((startKey) => r.scan('globex', { startKey }));
      expect(scanned.items.every((x) => x[fx.model.tenant] === 'globex')).toBe(true);
      if (fx.index !== undefined) {
        const index = fx.index;
        for (const partition of new Set(saved.map((x) => x[index.partition] as DynamoKeyValue))) {
          const { items } = await allPages((startKey) =>
            r.queryIndex('globex', index.name, partition, { startKey }),
          );
          expect(items).toEqual([]);
        }
      }
      // The owner still sees them.
      expect(await r.batchGet('acme', keys)).toStrictEqual(saved);
    });

    it('updates encrypted and plain attributes, removes optional ones, returns the item decrypted', async () => {
      const r = repo();
      const rec = fx.record('acme', 2, 'upd');
      await r.save(rec);
      const key = keyOf(rec);
      const changes: SuiteRecord = { ...fx.changes };
      for (const f of fx.removable) changes[f] = undefined;
      const expected: SuiteRecord = { ...rec, ...fx.changes };
      for (const f of fx.removable) delete expected[f];
      const updated = await r.update('acme', key, changes);
      expect(updated).toEqual(expected);
      for (const f of fx.removable) expect(updated?.[f]).toBeUndefined();
      expect(await repo().get('acme', key)).toStrictEqual(expected);
      const item = await rawGet(rec);
      expect(itemText(item!)).not.toContain(CANARY);
      for (const f of Object.keys(fx.changes)) {
        if (encrypted.includes(f) && fx.changes[f] !== null) expectSealed(item![f], f);
      }
      for (const f of fx.removable) expect(item![f], f).toBeUndefined();
      expect(Object.keys(fx.changes).some((f) => encrypted.includes(f))).toBe(true);
    });

    it('update and delete touch only an existing item of the tenant', async () => {
      const r = repo();
      const rec = fx.record('acme', 1, 'upd-scope');
      await r.save(rec);
      const key = keyOf(rec);
      expect(await r.update('globex', key, fx.changes)).toBeUndefined();
      expect(await r.get('acme', key)).toStrictEqual(rec);
      const missing = fx.record('acme', 99, 'upd-scope');
      expect(await r.update('acme', keyOf(missing), fx.changes)).toBeUndefined();
      expect(await rawGet(missing)).toBeUndefined();
      expect(await r.delete('globex', key)).toBe(false);
      expect(await r.get('acme', key)).toStrictEqual(rec);
      expect(await r.delete('acme', key)).toBe(true);
      expect(await r.get('acme', key)).toBeUndefined();
      expect(await rawGet(rec)).toBeUndefined();
      expect(await r.delete('acme', key)).toBe(false);
      expect(await r.update('acme', key, fx.changes)).toBeUndefined();
      expect(await rawGet(rec)).toBeUndefined();
    });

    it('pages through query with small limits, each item once, ascending and descending', async () => {
      const saved = records('acme', range(0, 11), 'page');
      await repo().batchWrite([...saved, ...records('globex', range(0, 3), 'page')]);
      const r = repo();
      for (const [partition, group] of groupBy(saved, fx.keys.partition)) {
        const up = await allPages((startKey) => r.query('acme', partition, { startKey, limit: 3 }));
        expect(new Set(up.items.map(idOf)).size).toBe(up.items.length);
        expect(up.items).toStrictEqual(group);
        if (group.length > 3) expect(up.pages).toBeGreaterThan(3);
        const down = await allPages((startKey) =>
          r.query('acme', partition, { startKey, limit: 4, descending: true }),
        );
        expect(down.items).toStrictEqual([...group].reverse());
        const foreign = await allPages((startKey) =>
          r.query('globex', partition, { startKey, limit: 2 }),
        );
        expect(foreign.items).toEqual([]);
      }
      const first = await r.query('acme', partitionOf(saved[0]!), { limit: 1, descending: true });
      expect(first.items).toStrictEqual(
        fx.keys.sort === undefined ? [saved[0]] : [saved[saved.length - 1]],
      );
    });

    it('pages through scan with small limits, each of the tenant’s items exactly once', async () => {
      const saved = records('umbrella', range(0, 13), 'scan');
      await repo().batchWrite(saved);
      const { items, pages } = await allPages((startKey) =>
        repo().scan('umbrella', { startKey, limit: 7 }),
      );
      expect(pages).toBeGreaterThan(2);
      expect(new Set(items.map(idOf)).size).toBe(items.length);
      expect(items.sort(byId)).toStrictEqual([...saved].sort(byId));
      const nobody = await allPages((startKey) => repo().scan('nobody', { startKey, limit: 50 }));
      expect(nobody.items).toEqual([]);
    });

    it('queries the global secondary index page by page, the tenant’s items only', async (ctx) => {
      const index = fx.index;
      if (index === undefined) {
        ctx.skip();
        return;
      }
      const saved = records('acme', range(0, 9), 'gsi');
      await repo().batchWrite([...saved, ...records('globex', range(0, 9), 'gsi')]);
      const r = repo();
      const groups = groupBy(saved, index.partition);
      expect(groups.size).toBeGreaterThan(1);
      for (const [partition, group] of groups) {
        const up = await allPages((startKey) =>
          r.queryIndex('acme', index.name, partition, { startKey, limit: 2 }),
        );
        expect(up.items).toStrictEqual(group);
        const down = await allPages((startKey) =>
          r.queryIndex('acme', index.name, partition, { startKey, limit: 2, descending: true }),
        );
        expect(down.items).toStrictEqual([...group].reverse());
        const theirs = await allPages((startKey) =>
          r.queryIndex('globex', index.name, partition, { startKey, limit: 3 }),
        );
        expect(theirs.items.map((x) => x[fx.model.tenant])).toEqual(group.map(() => 'globex'));
      }
      await expect(r.queryIndex('acme', 'no-such-index', 'x')).rejects.toThrow(TypeError);
    });

    it('batchWrite writes more than 25 items; batchGet reads more than 100 keys, aligned', async () => {
      const mine = records('acme', range(0, 55), 'bulk');
      const theirs = records('globex', range(0, 5), 'bulk');
      const before = log.sent.length;
      await repo().batchWrite([...mine, ...theirs]);
      expect(log.sent.slice(before)).toEqual(Array(3).fill('BatchWriteItemCommand'));
      const absent = records('acme', range(100, 145), 'bulk');
      const wanted = [
        ...mine.slice(0, 30),
        ...absent.slice(0, 20),
        ...theirs,
        ...mine.slice(0, 10), // duplicates
        ...mine.slice(30),
        ...absent.slice(20),
      ];
      expect(wanted.length).toBeGreaterThan(100);
      const mark = log.sent.length;
      const got = await repo().batchGet('acme', wanted.map(keyOf));
      expect(log.sent.slice(mark)).toEqual(['BatchGetItemCommand', 'BatchGetItemCommand']);
      expect(got).toHaveLength(wanted.length);
      expect(got).toStrictEqual(
        wanted.map((x) => (x[fx.model.tenant] === 'acme' && !absent.includes(x) ? x : undefined)),
      );
      expect(await repo().batchGet('globex', theirs.map(keyOf))).toStrictEqual(theirs);
      expect(await repo().batchGet('acme', [])).toEqual([]);
    });

    it('transactWrite puts and deletes atomically; transactGet reads aligned', async () => {
      const r = repo();
      const old = fx.record('acme', 0, 'tx');
      const foreign = fx.record('globex', 0, 'tx');
      await r.save(old);
      await r.save(foreign);
      const a1 = fx.record('acme', 1, 'tx');
      const g1 = fx.record('globex', 1, 'tx');
      await r.transactWrite([
        { put: a1 },
        { put: g1 },
        { delete: { tenant: 'acme', key: keyOf(old) } },
      ]);
      const absent = fx.record('acme', 9, 'tx');
      expect(await r.transactGet('acme', [a1, old, g1, absent, foreign].map(keyOf))).toStrictEqual([
        a1,
        undefined,
        undefined,
        undefined,
        undefined,
      ]);
      expect(await r.transactGet('globex', [foreign, g1, a1].map(keyOf))).toStrictEqual([
        foreign,
        g1,
        undefined,
      ]);
      // A delete of another tenant's item cancels everything.
      const a2 = fx.record('acme', 2, 'tx');
      const a3 = fx.record('acme', 3, 'tx');
      const err = await rejection(
        r.transactWrite([
          { put: a2 },
          { delete: { tenant: 'acme', key: keyOf(a1) } },
          { put: a3 },
          { delete: { tenant: 'acme', key: keyOf(foreign) } },
        ]),
      );
      expect((err as { name?: string }).name).toBe('TransactionCanceledException');
      expect(await rawGet(a2)).toBeUndefined();
      expect(await rawGet(a3)).toBeUndefined();
      expect(await r.transactGet('acme', [a1, a2, a3].map(keyOf))).toStrictEqual([
        a1,
        undefined,
        undefined,
      ]);
      expect(await r.get('globex', keyOf(foreign))).toStrictEqual(foreign);
      // So does a delete of an absent item.
      const absentDelete = await rejection(
        r.transactWrite([{ put: a2 }, { delete: { tenant: 'acme', key: keyOf(absent) } }]),
      );
      expect((absentDelete as { name?: string }).name).toBe('TransactionCanceledException');
      expect(await rawGet(a2)).toBeUndefined();
    });

    it('fails closed: other policies, no tenant key, bad values → no request reaches DynamoDB', async () => {
      const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((m) =>
        vi.spyOn(console, m),
      );
      try {
        await failClosedChecks();
        for (const spy of spies) expect(spy).not.toHaveBeenCalled(); // nothing is logged
      } finally {
        for (const spy of spies) spy.mockRestore();
      }
    });

    const failClosedChecks = async (): Promise<void> => {
      const existing = fx.record('acme', 0, 'fc-existing');
      await repo().save(existing);
      const fresh = records('acme', [1, 2], 'fc');
      const noKey = fx.record('nokey', 3, 'fc');
      const encryptedFields = encrypted.map(qualified);
      const before = log.count();

      // A client without the model's policies differs in effect only when a policy is not the
      // default (a pad, a mode, plaintext reads): the repository refuses it then. A client with
      // other policies (every field WriteOnly, which would still let writes through) always.
      const isDefault = (p: FieldPolicy): boolean =>
        p.pad === undefined &&
        (p.mode ?? 'ReadWrite') === 'ReadWrite' &&
        p.allowPlaintextRead !== true;
      const misconfigured: Record<string, FieldPolicy>[] = [
        Object.fromEntries(
          Object.entries(policies).map(([q, p]) => [q, { ...p, mode: 'WriteOnly' }]),
        ),
      ];
      if (!Object.values(policies).every(isDefault)) misconfigured.push({});
      for (const fields of misconfigured) {
        const blind = repo(fx.fieldseal(fields));
        const saveErr = await fieldsealFailure(blind.save(fresh[0]!), CANARY);
        expect(saveErr.code).toBe('ERR_KEY_NOT_CONFIGURED');
        expect(encryptedFields).toContain(saveErr.details.field);
        const updErr = await fieldsealFailure(
          blind.update('acme', keyOf(existing), fx.changes),
          CANARY,
        );
        expect(updErr.code).toBe('ERR_KEY_NOT_CONFIGURED');
        expect(encryptedFields).toContain(updErr.details.field);
        const batchErr = await fieldsealFailure(blind.batchWrite(fresh), CANARY);
        expect(['ERR_KEY_NOT_CONFIGURED', 'ERR_BATCH_FAILED']).toContain(batchErr.code);
        const txErr = await fieldsealFailure(
          blind.transactWrite([
            { put: fresh[0]! },
            { delete: { tenant: 'acme', key: keyOf(existing) } },
          ]),
          CANARY,
        );
        expect(['ERR_KEY_NOT_CONFIGURED', 'ERR_BATCH_FAILED']).toContain(txErr.code);
      }

      const r = repo();
      const noKeySave = await fieldsealFailure(r.save(noKey), CANARY);
      expect(noKeySave.code).toBe('ERR_KEY_NOT_CONFIGURED');
      expect(encryptedFields).toContain(noKeySave.details.field);
      const noKeyUpdate = await fieldsealFailure(
        r.update('nokey', keyOf(existing), fx.changes),
        CANARY,
      );
      expect(encryptedFields).toContain(noKeyUpdate.details.field);
      const noKeyBatch = await fieldsealFailure(
        r.batchWrite([fresh[0]!, noKey, fresh[1]!]),
        CANARY,
      );
      expect(noKeyBatch.code).toBe('ERR_BATCH_FAILED');
      const batchFailures = (noKeyBatch as unknown as { failures: { index: number }[] }).failures;
      expect(new Set(batchFailures.map((f) => f.index))).toEqual(new Set([1]));
      const noKeyTx = await fieldsealFailure(
        r.transactWrite([{ put: fresh[0]! }, { put: noKey }]),
        CANARY,
      );
      expect(noKeyTx.code).toBe('ERR_BATCH_FAILED');

      // Wrong values, an item over 400 KB, two writes of one item, a tenant or key change.
      const big = encrypted.find((f) => typeof fresh[0]![f] === 'string');
      if (big !== undefined) {
        const huge = { ...fresh[0]!, [big]: `${CANARY}${'x'.repeat(410 * 1024)}` };
        for (const write of [
          () => r.save(huge),
          () => r.batchWrite([fresh[1]!, huge]),
          () => r.transactWrite([{ put: huge }]),
          () => r.update('acme', keyOf(existing), { [big]: huge[big] }),
        ]) {
          const tooLarge = await fieldsealFailure(write(), CANARY);
          expect(tooLarge.code).toBe('ERR_VALUE_TOO_LARGE');
          expect(tooLarge.details.field).toBe(qualified(big));
        }
      }
      const wrong = { ...fresh[0]!, [encrypted[0]!]: Symbol('not a value') };
      await expect(r.save(wrong)).rejects.toThrow();
      await expect(r.batchWrite([fresh[1]!, wrong])).rejects.toThrow();
      await expect(r.batchWrite([fresh[0]!, fresh[1]!, fresh[0]!])).rejects.toThrow(
        'records 0 and 2 have the same key',
      );
      for (const f of [fx.model.tenant, fx.keys.partition, fx.keys.sort]) {
        if (f === undefined) continue;
        await expect(r.update('acme', keyOf(existing), { [f]: fresh[1]![f] })).rejects.toThrow(
          TypeError,
        );
      }

      expect(log.count()).toBe(before); // zero requests reached DynamoDB
      for (const rec of [...fresh, noKey]) expect(await rawGet(rec)).toBeUndefined();
      expect(await r.get('acme', keyOf(existing))).toStrictEqual(existing);
    };

    it('refuses an attribute copied to another item, another attribute or another tenant, naming the field', async () => {
      const r = repo();
      const items = records('acme', range(0, 6), 'tamper');
      const theirs = fx.record('globex', 3, 'tamper');
      await r.batchWrite([...items, theirs]);
      try {
        await tamperChecks(r, items, theirs);
      } finally {
        // Tampered items would fail every later scan of acme and globex.
        for (const rec of [...items, theirs]) await rawDelete(rec);
      }
    });

    const tamperChecks = async (
      r: SuiteRepository,
      items: SuiteRecord[],
      theirs: SuiteRecord,
    ): Promise<void> => {
      const [a0, a1, a2, a3, a4] = items as [
        SuiteRecord,
        SuiteRecord,
        SuiteRecord,
        SuiteRecord,
        SuiteRecord,
      ];
      const raw0 = (await rawGet(a0))!;
      const [f, g] = sealedAttributes(raw0) as [string, string];
      expect(g).toBeDefined();
      const check = async (p: Promise<unknown>, field: string, code?: string) => {
        const err = await fieldsealFailure(p, CANARY);
        if (code !== undefined) expect(err.code).toBe(code);
        expect(err.details.field).toBe(qualified(field));
        return err;
      };

      // Another item of the same tenant (another key).
      await rawPut({ ...(await rawGet(a1))!, [f]: raw0[f]! });
      await check(r.get('acme', keyOf(a1)), f, 'ERR_AUTHENTICATION_FAILED');
      // Another attribute of the same item.
      const raw2 = (await rawGet(a2))!;
      await rawPut({ ...raw2, [g]: raw2[f]! });
      await check(r.get('acme', keyOf(a2)), g, 'ERR_AUTHENTICATION_FAILED');
      // Another tenant's item.
      await rawPut({ ...(await rawGet(theirs))!, [f]: (await rawGet(a3))![f]! });
      await check(r.get('globex', keyOf(theirs)), f);
      // The item relabelled to another tenant.
      await rawPut({ ...(await rawGet(a4))!, [fx.model.tenant]: { S: 'globex' } });
      const relabelled = await fieldsealFailure(r.get('globex', keyOf(a4)), CANARY);
      expect(encrypted.map(qualified)).toContain(relabelled.details.field);

      // Batch reads: a BatchError at the item's index, all or nothing.
      const absent = fx.record('acme', 77, 'tamper');
      for (const read of [
        () => r.batchGet('acme', [absent, a0, a1].map(keyOf)),
        () => r.transactGet('acme', [absent, a0, a1].map(keyOf)),
      ]) {
        const err = await fieldsealFailure(read(), CANARY);
        expect(err.code).toBe('ERR_BATCH_FAILED');
        const failures = (err as unknown as { failures: { index: number; error: unknown }[] })
          .failures;
        expect(new Set(failures.map((x) => x.index))).toEqual(new Set([2]));
        for (const x of failures) {
          expect(isFieldsealError(x.error)).toBe(true);
          expect(String((x.error as Error).message)).not.toContain(CANARY);
        }
      }
      // query: the failing items' indexes in the page (a4 now belongs to globex: filtered out).
      const page = items.filter((x) => x !== a4 && partitionOf(x) === partitionOf(a1));
      const queried = await fieldsealFailure(r.query('acme', partitionOf(a1)), CANARY);
      expect(queried.code).toBe('ERR_BATCH_FAILED');
      const queryFailures = (queried as unknown as { failures: { index: number }[] }).failures;
      expect(new Set(queryFailures.map((x) => x.index))).toEqual(
        new Set([a1, a2].map((x) => page.indexOf(x)).filter((i) => i >= 0)),
      );
      const scanned = await fieldsealFailure(
        allPages((startKey) => r.scan('acme', { startKey })),
        CANARY,
      );
      expect(scanned.code).toBe('ERR_BATCH_FAILED');
      // The untouched items still read.
      expect(await r.get('acme', keyOf(a0))).toStrictEqual(a0);
    };

    it('calls the key provider once per tenant when writing, once per data key when reading', async () => {
      const unwraps = (): number => {
        const c = fx.provider.calls;
        return c.unwrap + c.wrap + c.generate;
      };
      const mine = records('acme', range(0, 6), 'calls');
      const theirs = records('globex', range(0, 6), 'calls');
      let before = unwraps();
      await repo().batchWrite([...mine, ...theirs]);
      expect(unwraps() - before).toBe(2);
      before = unwraps();
      await repo().transactWrite([
        { put: fx.record('acme', 10, 'calls') },
        { put: fx.record('globex', 10, 'calls') },
      ]);
      expect(unwraps() - before).toBe(2);
      before = unwraps();
      await repo().save(fx.record('acme', 11, 'calls'));
      expect(unwraps() - before).toBe(1);
      for (const read of [
        (r: SuiteRepository) => r.batchGet('acme', mine.map(keyOf)),
        (r: SuiteRepository) => r.transactGet('acme', mine.map(keyOf)),
        (r: SuiteRepository) => r.query('acme', partitionOf(mine[0]!)),
        (r: SuiteRepository) => allPages((startKey) => r.scan('globex', { startKey })),
      ]) {
        before = unwraps();
        await read(repo());
        expect(unwraps() - before).toBe(1);
      }
      // Two data keys: records written before and after a rotation.
      const fs = fx.fieldseal();
      const early = records('initech', range(0, 3), 'calls');
      await repo(fs).batchWrite(early);
      await fs.rotateTenantKey('initech');
      const late = records('initech', range(3, 6), 'calls');
      await repo().batchWrite(late);
      const all = [...early, ...late];
      for (const read of [
        (r: SuiteRepository) => r.batchGet('initech', all.map(keyOf)),
        (r: SuiteRepository) => r.transactGet('initech', all.map(keyOf)),
        (r: SuiteRepository) => allPages((startKey) => r.scan('initech', { startKey })),
      ]) {
        before = unwraps();
        const got = await read(repo());
        expect(unwraps() - before).toBe(2);
        const items = Array.isArray(got) ? got : got.items;
        expect([...items].sort((a, b) => byId(a!, b!))).toStrictEqual([...all].sort(byId));
      }
    });
  });
}
