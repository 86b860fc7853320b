import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  createBlindIndexer,
  createFieldseal,
  EnvSecretSource,
  type BlindIndexer,
  type Fieldseal,
  type FieldsealErrorCode,
  type KeyStore,
} from '../index.js';
import { MemoryKeyStore } from '../keys/memory-key-store.js';
import { MemoryKeyProvider } from './memory-key-provider.js';
import {
  RepositoryContractModel,
  type ContractIndexedField,
  type RepositoryContractRecord,
} from './repository-contract-model.js';
import {
  comparable,
  comparableSet,
  contractRecord,
  contractRecords,
  forbiddenTexts,
  INJECTED,
  storedText,
} from './repository-contract-records.js';
import { assertRefused } from './repository-contract-refusals.js';

/**
 * The test functions of your runner the contract registers its cases with: Vitest's and Jest's
 * as they are; for `node:test`, pass `{ describe, it, beforeAll: before, afterAll: after }`.
 * No timeout is passed: give DynamoDB or a remote database enough in your runner's settings.
 * @example
 * ```ts
 * import { afterAll, beforeAll, describe, it } from 'vitest';
 * const functions: ContractTestFunctions = { describe, it, beforeAll, afterAll };
 * ```
 */
export interface ContractTestFunctions {
  describe(name: string, body: () => void): void;
  it(name: string, body: () => Promise<void>): void;
  beforeAll(body: () => Promise<void>): void;
  afterAll(body: () => Promise<void>): void;
}

/**
 * One stored value: the encrypted `field` of the record `id` of `tenant`.
 * @example
 * ```ts
 * const at: StoredValueRef = { tenant: 'acme', id: 'acme.r001', field: 'binString' };
 * ```
 */
export interface StoredValueRef {
  readonly tenant: string;
  readonly id: string;
  readonly field: keyof RepositoryContractRecord;
}

/**
 * The repository under test, bound to one fieldseal client: the four operations every
 * integration has, on {@link RepositoryContractRecord}s. Wrap your repository's own calls.
 * @example
 * ```ts
 * const repo: RepositoryUnderTest = {
 *   insert: async (records) => void (await customers.insert(records)),
 *   get: (tenant, id) => customers.get(tenant, [id]),
 *   findBy: (tenant, field, value) => customers.findBy(tenant, field, value),
 *   all: (tenant) => customers.list(tenant),
 * };
 * ```
 */
export interface RepositoryUnderTest {
  /** Encrypt and store new records (of one or more tenants), as one batch. */
  insert(records: readonly RepositoryContractRecord[]): Promise<void>;
  /** The record `id` of `tenant`, decrypted; `undefined` when `tenant` has no such record. */
  get(tenant: string, id: string): Promise<RepositoryContractRecord | undefined>;
  /** The tenant's records whose blind-indexed `field` equals `value` (any order). */
  findBy(
    tenant: string,
    field: ContractIndexedField,
    value: string,
  ): Promise<RepositoryContractRecord[]>;
  /** Every record of `tenant`, decrypted (a scan; any order; every page). */
  all(tenant: string): Promise<RepositoryContractRecord[]>;
  /**
   * `findBy` for several values at once (an `in` list): the records equal to any of them.
   * Required when the backend declares `capabilities.findByAny`.
   */
  findByAny?(
    tenant: string,
    field: ContractIndexedField,
    values: readonly string[],
  ): Promise<RepositoryContractRecord[]>;
  /**
   * Run `body` in one database transaction, with a repository bound to it; commit when it
   * resolves, roll back when it throws (and rethrow). Required when the backend declares
   * `capabilities.transactions`.
   */
  transaction?(body: (repository: RepositoryUnderTest) => Promise<void>): Promise<void>;
}

/**
 * What the contract gets from a backend once it is open: repositories bound to the clients it
 * makes, and storage-level access below the repository (the raw driver, no fieldseal).
 * @example
 * ```ts
 * const adapter: RepositoryContractAdapter = {
 *   repository: (fs) => wrap(createPostgresRepository({ sql, fs, model, blindIndex: { indexer } })),
 *   rawRows: async () => (await sql.query('SELECT * FROM contract_records')).rows,
 *   copyStoredValue: (from, to) => copyColumn(sql, from, to),
 *   writeRawValue: (at, value) => setColumn(sql, at, value),
 * };
 * ```
 */
export interface RepositoryContractAdapter {
  /** A repository over the backend's table that encrypts and decrypts with `fs`. */
  repository(fs: Fieldseal): RepositoryUnderTest;
  /** Every stored row / item of the model's table exactly as the driver returns it. */
  rawRows(): Promise<readonly unknown[]>;
  /** Overwrite the stored `to` value with the stored `from` value, bytes as they are. */
  copyStoredValue(from: StoredValueRef, to: StoredValueRef): Promise<void>;
  /**
   * Overwrite the stored value `at` with `value` as it is: a byte string for a field of
   * `binary` storage (BYTEA, DynamoDB `B`), a string for `text` storage (TEXT, DynamoDB `S`).
   */
  writeRawValue(at: StoredValueRef, value: string | Uint8Array): Promise<void>;
  /**
   * Re-encrypt every stored value (and reseal every blind-index secret) of `tenant` under its
   * active key version, with `fs` (an admin client): the backend's backfill. Required when
   * the backend declares `capabilities.reencrypt`.
   */
  reencryptTenant?(fs: Fieldseal, tenant: string): Promise<void>;
  /** Release what `open` took (called once, after the last case). */
  close?(): Promise<void>;
}

/**
 * What the contract hands to {@link RepositoryContractBackend.open}.
 * @example
 * ```ts
 * const open = async ({ model, indexer, fieldseal }: RepositoryContractSetup) => {
 *   await createPostgresRepository({ sql, fs: fieldseal(), model, blindIndex: { indexer } }).createTable();
 *   return adapter;
 * };
 * ```
 */
export interface RepositoryContractSetup {
  /** The model to store (table `contract_records`). */
  readonly model: typeof RepositoryContractModel;
  /** The blind indexer every repository of the contract must use. */
  readonly indexer: BlindIndexer;
  /** A new fieldseal client configured with the model (for creating tables and the like). */
  readonly fieldseal: () => Fieldseal;
}

/**
 * The optional parts of the contract a backend takes on: `findByAny` (an `in` lookup equal to
 * a scan), `transactions` (a rolled-back insert leaves nothing), `reencrypt` (after a key
 * rotation, a backfill and the old version's retirement, every record still reads and is
 * still found).
 * @example
 * ```ts
 * const capabilities: RepositoryContractCapabilities = { findByAny: true, transactions: true, reencrypt: true };
 * ```
 */
export interface RepositoryContractCapabilities {
  readonly findByAny?: boolean;
  readonly transactions?: boolean;
  readonly reencrypt?: boolean;
}

/**
 * A backend for {@link runRepositoryContract}: its name, how to open it (create its table),
 * and optionally the key store the contract's clients use (default: a new `MemoryKeyStore`).
 * @example
 * ```ts
 * const backend: RepositoryContractBackend = {
 *   name: 'PostgreSQL on PGlite',
 *   keyStore: () => new PostgresKeyStore({ sql }),
 *   open: async (setup) => openPostgres(sql, setup),
 * };
 * ```
 */
export interface RepositoryContractBackend {
  readonly name: string;
  /**
   * What the backend offers beyond the four operations; each one declared adds its cases
   * (and the adapter must then implement it). ORM integrations declare all three.
   */
  readonly capabilities?: RepositoryContractCapabilities;
  /** The key store behind every client of the contract (called once, before `open`). */
  keyStore?(): KeyStore | Promise<KeyStore>;
  /** Create the model's table (empty or not) and return the adapter. */
  open(setup: RepositoryContractSetup): Promise<RepositoryContractAdapter>;
}

const TABLE = RepositoryContractModel.table;
const qualified = (f: string): string => `${TABLE}.${f}`;
const MOVED: readonly FieldsealErrorCode[] = ['ERR_AUTHENTICATION_FAILED', 'ERR_WRONG_KEY'];
const SAME_TENANT_MOVE: readonly FieldsealErrorCode[] = ['ERR_AUTHENTICATION_FAILED'];
const OTHER_TENANT_MOVE: readonly FieldsealErrorCode[] = ['ERR_WRONG_KEY'];
const PLAINTEXT: readonly FieldsealErrorCode[] = ['ERR_PLAINTEXT_IN_ENCRYPTED_FIELD'];
const SHREDDED: readonly FieldsealErrorCode[] = ['ERR_KEY_SHREDDED'];

const norm = {
  email: (v: string): string => v.trim().toLowerCase().normalize('NFC'),
  phone: (v: string): string => v.normalize('NFC'),
} as const;

/** Provider calls a client made (each is one key fetch). */
function keyFetches(fs: Fieldseal): number {
  let n = 0;
  for (const calls of Object.values(fs.stats().providerCalls)) {
    n += calls.generate + calls.wrap + calls.unwrap;
  }
  return n;
}

/**
 * Register the repository contract for `backend`: what every fieldseal repository (the
 * PostgreSQL and DynamoDB ones, and each ORM integration) must do with encrypted records —
 * round trips of every field kind in both storages; no plaintext in raw storage; a value
 * moved at the storage level, or plaintext written there, refused with a typed error; tenant
 * scoping; blind-index lookups equal to a full scan; a shredded tenant refused; one key fetch
 * per tenant per batch. Assertions use `node:assert/strict`; errors are checked by `err.code`.
 * Every case uses tenants of its own, so the backend's table may be shared by the cases.
 * @example
 * ```ts
 * import { afterAll, beforeAll, describe, it } from 'vitest';
 * import { runRepositoryContract } from 'fieldseal/testing';
 * runRepositoryContract({ describe, it, beforeAll, afterAll }, {
 *   name: 'my Kysely repository',
 *   open: async ({ model, indexer, fieldseal }) => openKyselyAdapter(db, model, indexer, fieldseal()),
 * });
 * ```
 */
export function runRepositoryContract(
  test: ContractTestFunctions,
  backend: RepositoryContractBackend,
): void {
  test.describe(`repository contract: ${backend.name}`, () => {
    const run = randomBytes(4).toString('hex');
    const provider = new MemoryKeyProvider();
    let store: KeyStore | undefined;
    let adapter: RepositoryContractAdapter | undefined;
    const clients: Fieldseal[] = [];

    /** A new client (empty key cache; `maxAgeMs: 0` caches no key), closed after the cases. */
    const client = (admin = false, maxAgeMs = 60_000): Fieldseal => {
      if (store === undefined) throw new Error('the contract is not set up');
      const fs = createFieldseal({
        provider,
        keys: { mode: 'store', store, masterKeyId: 'master' },
        cache: { maxAgeMs },
        models: [RepositoryContractModel],
        ...(admin ? { admin: true } : {}),
      });
      clients.push(fs);
      return fs;
    };
    const opened = (): RepositoryContractAdapter => {
      if (adapter === undefined) throw new Error('the backend did not open');
      return adapter;
    };
    const repo = (fs: Fieldseal = client()): RepositoryUnderTest => opened().repository(fs);
    /** New tenants for one case, provisioned. */
    const tenants = async (...names: string[]): Promise<string[]> => {
      const admin = client(true);
      const out = names.map((n) => `${n}-${run}`);
      for (const t of out) await admin.provisionTenant(t);
      return out;
    };
    const seed = (records: readonly RepositoryContractRecord[]): Promise<void> =>
      repo().insert(records);
    const ref = (
      record: RepositoryContractRecord,
      field: StoredValueRef['field'],
    ): StoredValueRef => ({ tenant: record.tenantId, id: record.id, field });

    test.beforeAll(async () => {
      store = (await backend.keyStore?.()) ?? new MemoryKeyStore();
      const root = randomBytes(32).toString('base64');
      const indexer = await createBlindIndexer({
        source: new EnvSecretSource({
          keys: { 'contract-blind-index': 'ROOT' },
          env: { ROOT: `base64:${root}` },
        }),
        reference: 'contract-blind-index',
      });
      adapter = await backend.open({
        model: RepositoryContractModel,
        indexer,
        fieldseal: () => client(),
      });
    });

    test.afterAll(async () => {
      for (const fs of clients) fs.close();
      await adapter?.close?.();
    });

    test.it(
      'round-trips every field kind, in both storages, with null and absent values',
      async () => {
        const [t] = await tenants('roundtrip');
        const records = contractRecords(t!, 0, 12);
        await seed(records);
        const r = repo();
        for (const want of records) {
          const got = await r.get(t!, want.id);
          assert.ok(got !== undefined, `get(${want.id}) found nothing`);
          assert.deepStrictEqual(comparable(got), comparable(want), `get(${want.id})`);
        }
        assert.deepStrictEqual(comparableSet(await r.all(t!)), comparableSet(records), 'all()');
        assert.equal(await r.get(t!, `${t!}.absent`), undefined, 'get() of an absent record');
      },
    );

    test.it('raw storage holds no canary: no encrypted plaintext reaches the rows', async () => {
      const [t] = await tenants('canary');
      const records = contractRecords(t!, 0, 12);
      await seed(records);
      const dump = storedText(await opened().rawRows());
      for (const record of records) {
        assert.ok(dump.includes(record.label), `rawRows() lacks the plain label of ${record.id}`);
        for (const text of forbiddenTexts(record)) {
          assert.ok(!dump.includes(text), `raw storage holds plaintext of ${record.id}`);
        }
      }
    });

    const capable = backend.capabilities ?? {};
    /** A declared capability's implementation; a declared one that is missing fails. */
    const required = <T>(name: string, fn: T | undefined): T => {
      if (fn === undefined) assert.fail(`the backend declares ${name} but does not implement it`);
      return fn;
    };

    // Before any case damages stored values: a backfill may rewrite the whole table.
    if (capable.reencrypt === true) {
      test.it(
        'after a key rotation, a backfill and retiring the old version, every record reads and is found',
        async () => {
          const [k] = await tenants('rotated');
          const records = contractRecords(k!, 0, 8);
          await seed(records.slice(0, 4));
          const admin = client(true);
          const { version } = await admin.rotateTenantKey(k!);
          await repo(admin).insert(records.slice(4));
          const adapter = opened();
          await required('reencrypt', adapter.reencryptTenant?.bind(adapter))(admin, k!);
          assert.deepStrictEqual(
            await admin.retireKeyVersions(k!, version),
            [version - 1],
            'the old version is retired',
          );
          const fresh = repo(client());
          assert.deepStrictEqual(comparableSet(await fresh.all(k!)), comparableSet(records));
          const probe = records[1]!.email;
          assert.deepStrictEqual(
            comparableSet(await fresh.findBy(k!, 'email', probe)),
            comparableSet(records.filter((x) => norm.email(x.email) === norm.email(probe))),
            'findBy() after the rotation',
          );
        },
      );
    }

    if (capable.transactions === true) {
      test.it('a transaction commits as a whole; a rolled-back insert leaves nothing', async () => {
        const [x] = await tenants('transaction');
        // The tenant's state (its index secrets) exists before the transactions, as for a tenant
        // in use: an embedded database's ORM transaction may refuse to create it (PGlite).
        const before = contractRecords(x!, 6, 7);
        await seed(before);
        const kept = [...before, ...contractRecords(x!, 0, 3)];
        const lost = contractRecords(x!, 3, 6);
        const r = repo();
        const transaction = required('transactions', r.transaction?.bind(r));
        await transaction(async (t) => {
          await t.insert(kept.slice(1));
          const inside = await t.findBy(x!, 'email', kept[1]!.email);
          assert.ok(inside.length >= 1, 'a lookup inside the transaction sees its own insert');
        });
        const boom = new Error('roll back');
        await assert.rejects(
          transaction(async (t) => {
            await t.insert(lost);
            assert.equal((await t.all(x!)).length, kept.length + lost.length);
            throw boom;
          }),
          (err) => err === boom,
        );
        assert.deepStrictEqual(comparableSet(await r.all(x!)), comparableSet(kept));
        for (const record of lost) {
          assert.equal(await r.get(x!, record.id), undefined, `${record.id} was rolled back`);
        }
        const dump = storedText(await opened().rawRows());
        for (const record of lost) {
          assert.ok(!dump.includes(record.label), `a rolled-back row (${record.id}) is stored`);
        }
      });
    }

    if (capable.findByAny === true) {
      test.it('an in-list lookup (findByAny) returns exactly what a full scan finds', async () => {
        const [l] = await tenants('lookup-any');
        const records = contractRecords(l!, 0, 30);
        await seed(records);
        const r = repo();
        const findByAny = required('findByAny', r.findByAny?.bind(r));
        const scan = await r.all(l!);
        let found = 0;
        for (const f of ['email', 'phone'] as const) {
          const present = [...new Set(records.flatMap((x) => (x[f] === null ? [] : [x[f]])))];
          const lists = [
            present.slice(0, 3),
            [` ${present[0]!.toUpperCase()} `, 'absent value', present[4]!, present[4]!],
            ['absent value'],
            present,
          ];
          for (const values of lists) {
            const want = scan.filter((x) => {
              const v = x[f];
              return v !== null && values.some((q) => norm[f](q) === norm[f](v));
            });
            found += want.length;
            assert.deepStrictEqual(
              comparableSet(await findByAny(l!, f, values)),
              comparableSet(want),
              `findByAny(${f}) differs from the scan for ${values.length} values`,
            );
          }
        }
        assert.ok(found > records.length, 'the lookups found records');
      });
    }

    test.it('a value moved to another record, field or tenant is refused', async () => {
      const [m, n] = await tenants('moved', 'moved-other');
      const mine = contractRecords(m!, 0, 5);
      const other = contractRecord(n!, 0);
      await seed([...mine, other]);
      const [m0, m1, m2, m3, m4] = mine as [
        RepositoryContractRecord,
        RepositoryContractRecord,
        RepositoryContractRecord,
        RepositoryContractRecord,
        RepositoryContractRecord,
      ];
      const raw = opened();
      // another record of the tenant, same field
      await raw.copyStoredValue(ref(m0, 'binString'), ref(m1, 'binString'));
      // another field (same storage), of another record and of the same record
      await raw.copyStoredValue(ref(m0, 'textJson'), ref(m2, 'textString'));
      await raw.copyStoredValue(ref(m3, 'binJson'), ref(m3, 'binBytes'));
      // another tenant
      await raw.copyStoredValue(ref(other, 'binNumber'), ref(m4, 'binNumber'));
      await raw.copyStoredValue(ref(m0, 'email'), ref(other, 'email'));
      const r = repo();
      const cases: [RepositoryContractRecord, string, readonly FieldsealErrorCode[]][] = [
        [m1, 'binString', SAME_TENANT_MOVE],
        [m2, 'textString', SAME_TENANT_MOVE],
        [m3, 'binBytes', SAME_TENANT_MOVE],
        [m4, 'binNumber', OTHER_TENANT_MOVE],
        [other, 'email', OTHER_TENANT_MOVE],
      ];
      for (const [record, f, codes] of cases) {
        await assertRefused(
          `get(${record.id}) with a moved ${f}`,
          r.get(record.tenantId, record.id),
          {
            codes,
            field: qualified(f),
          },
        );
      }
      await assertRefused('all() over moved values', r.all(m!), { codes: MOVED });
      await assertRefused('findBy() reaching a moved value', r.findBy(n!, 'email', other.email), {
        codes: MOVED,
      });
      const untouched = await r.get(m!, m0.id);
      assert.deepStrictEqual(
        comparable(untouched),
        comparable(m0),
        'the source record still reads',
      );
    });

    test.it(
      'plaintext written straight into an encrypted field is refused, never returned',
      async () => {
        const [p] = await tenants('injected');
        const records = contractRecords(p!, 0, 6);
        await seed(records);
        const [p0, p1, p2, p3, p4] = records as [
          RepositoryContractRecord,
          RepositoryContractRecord,
          RepositoryContractRecord,
          RepositoryContractRecord,
          RepositoryContractRecord,
        ];
        const injections: [
          RepositoryContractRecord,
          StoredValueRef['field'],
          string | Uint8Array,
        ][] = [
          [p0, 'binString', Buffer.from(`${INJECTED}-bin`)],
          [p1, 'textString', `${INJECTED}-text`],
          [p2, 'binNumber', Buffer.from('42')],
          [p3, 'textJson', JSON.stringify({ canary: `${INJECTED}-json` })],
          [p4, 'email', Buffer.from(`${INJECTED}-email@example.com`)],
        ];
        const raw = opened();
        for (const [record, f, value] of injections) await raw.writeRawValue(ref(record, f), value);
        const r = repo();
        for (const [record, f] of injections) {
          await assertRefused(`get(${record.id}) with plaintext in ${f}`, r.get(p!, record.id), {
            codes: PLAINTEXT,
            field: qualified(f),
            secret: INJECTED,
          });
        }
        await assertRefused('all() over plaintext', r.all(p!), {
          codes: PLAINTEXT,
          secret: INJECTED,
        });
        await assertRefused('findBy() reaching plaintext', r.findBy(p!, 'email', p4.email), {
          codes: PLAINTEXT,
          secret: INJECTED,
        });
      },
    );

    test.it('is tenant-scoped: another tenant never reads, lists or finds a record', async () => {
      const [a, b] = await tenants('scope-a', 'scope-b');
      const nobody = `scope-nobody-${run}`;
      const mineA = contractRecords(a!, 0, 4);
      const mineB = contractRecords(b!, 0, 2);
      await seed([...mineA, ...mineB]);
      const r = repo();
      for (const record of mineA) {
        assert.equal(await r.get(b!, record.id), undefined, `tenant B got ${record.id}`);
        assert.equal(
          await r.get(nobody, record.id),
          undefined,
          `an unknown tenant got ${record.id}`,
        );
      }
      assert.deepStrictEqual(comparableSet(await r.all(b!)), comparableSet(mineB), "B's all()");
      assert.deepStrictEqual(await r.all(nobody), [], "an unknown tenant's all()");
      // A's record 3 has an email B has not; A's record 0 has the same email as B's record 0.
      assert.deepStrictEqual(await r.findBy(b!, 'email', mineA[3]!.email), [], "B finds A's value");
      assert.deepStrictEqual(
        comparableSet(await r.findBy(b!, 'email', mineA[0]!.email)),
        comparableSet([mineB[0]!]),
        'B finds its own record only',
      );
      assert.deepStrictEqual(
        await r.findBy(nobody, 'email', mineA[0]!.email),
        [],
        'an unknown tenant finds a value',
      );
    });

    test.it('blind-index lookups return exactly what a full scan finds', async () => {
      const [l, o] = await tenants('lookup', 'lookup-other');
      const records = contractRecords(l!, 0, 30);
      const foreign = contractRecord(o!, 40);
      await seed([...records, foreign]);
      const r = repo();
      const scan = await r.all(l!);
      assert.equal(scan.length, records.length, 'all() returns every record');
      const values: Record<ContractIndexedField, string[]> = {
        email: [
          ...new Set(records.map((x) => x.email)),
          records[1]!.email.toLowerCase(),
          ` ${records[2]!.email.toUpperCase()} `,
          foreign.email, // another tenant's value (this tenant has it too, normalised)
          'stranger@example.com',
        ],
        phone: [
          ...new Set(records.flatMap((x) => (x.phone === null ? [] : [x.phone]))),
          records[0]!.phone!.trim().toUpperCase(),
          'absent phone',
        ],
      };
      let found = 0;
      for (const f of ['email', 'phone'] as const) {
        for (const value of values[f]) {
          const want = scan.filter((x) => {
            const v = x[f];
            return v !== null && norm[f](v) === norm[f](value);
          });
          found += want.length;
          assert.deepStrictEqual(
            comparableSet(await r.findBy(l!, f, value)),
            comparableSet(want),
            `findBy(${f}) differs from the scan for ${JSON.stringify(value)}`,
          );
        }
      }
      assert.ok(found > records.length, 'the lookups found records (the scan filter is not empty)');
    });

    test.it(
      "a shredded tenant is refused, and other tenants' records are not affected",
      async () => {
        const [s, k] = await tenants('shredded', 'kept');
        const doomed = contractRecords(s!, 0, 3);
        const kept = contractRecords(k!, 0, 3);
        await seed([...doomed, ...kept]);
        const admin = client(true);
        await admin.shredTenant(s!);
        for (const [who, fs] of [
          ['the shredding client', admin],
          ['a new client', client()],
        ] as const) {
          const r = repo(fs);
          await assertRefused(`${who}: get()`, r.get(s!, doomed[0]!.id), { codes: SHREDDED });
          await assertRefused(`${who}: all()`, r.all(s!), { codes: SHREDDED });
          await assertRefused(`${who}: findBy()`, r.findBy(s!, 'email', doomed[1]!.email), {
            codes: SHREDDED,
          });
          await assertRefused(`${who}: insert()`, r.insert([contractRecord(s!, 9)]), {
            codes: SHREDDED,
          });
          assert.deepStrictEqual(
            comparableSet(await r.all(k!)),
            comparableSet(kept),
            `${who}: kept`,
          );
          assert.deepStrictEqual(
            comparable(await r.get(k!, kept[2]!.id)),
            comparable(kept[2]),
            `${who}: get() of another tenant`,
          );
          assert.deepStrictEqual(
            comparableSet(await r.findBy(k!, 'email', kept[1]!.email)),
            comparableSet([kept[1]!]),
            `${who}: findBy() of another tenant`,
          );
        }
      },
    );

    test.it('batches key fetches: one per tenant, whatever the number of records', async () => {
      const [x1, y1, x2, y2] = await tenants('batch-x1', 'batch-y1', 'batch-x2', 'batch-y2');
      const n = 20;
      const small = [contractRecord(x1!, 0), contractRecord(y1!, 0)];
      const large = [...contractRecords(x2!, 0, n), ...contractRecords(y2!, 0, n)];
      // Without a key cache (single-flight only), only batching keeps the cost of a batch
      // independent of its size.
      const uncached = client(false, 0);
      const r0 = repo(uncached);
      const cost = async (operation: () => Promise<unknown>): Promise<number> => {
        const before = keyFetches(uncached);
        await operation();
        return keyFetches(uncached) - before;
      };
      const one = await cost(() => r0.insert(small));
      const many = await cost(() => r0.insert(large));
      assert.equal(many, one, `insert() of ${n} records per tenant vs 1 record per tenant`);
      for (const t of [x2!, y2!]) {
        assert.equal(await cost(() => r0.all(t)), 1, `all() of ${n} records of one tenant`);
      }
      // With the cache, a tenant's key is fetched once, whatever is written and read.
      const [x3, y3] = await tenants('batch-x3', 'batch-y3');
      const records = [...contractRecords(x3!, 0, n), ...contractRecords(y3!, 0, n)];
      const cached = client();
      const r1 = repo(cached);
      await r1.insert(records);
      for (const t of [x3!, y3!]) {
        assert.equal((await r1.all(t)).length, n);
        for (const record of records.filter((z) => z.tenantId === t)) {
          assert.ok((await r1.get(t, record.id)) !== undefined);
        }
        assert.equal((await r1.findBy(t, 'email', records[0]!.email)).length, 3);
      }
      assert.equal(keyFetches(cached), 2, `writes and reads of ${n} records of 2 tenants`);
    });
  });
}
