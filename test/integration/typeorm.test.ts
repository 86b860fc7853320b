import { inspect } from 'node:util';
import 'reflect-metadata';
import type { DataSource } from 'typeorm';
import {
  Column,
  Entity,
  EntitySchema,
  PrimaryColumn,
  QueryFailedError,
  type Repository,
} from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createFieldseal,
  defineModel,
  field,
  isFieldsealError,
  type Fieldseal,
} from '../../src/index.js';
import {
  assertFieldsealSubscribed,
  fieldsealSubscriber,
  findOneSealed,
  findSealed,
  SealedColumn,
  sealedColumn,
  SealedEqual,
  SealedIn,
} from '../../src/integrations/typeorm/index.js';
import {
  createPostgresRepository,
  fromPgPool,
  type PostgresRepository,
  type SqlClient,
} from '../../src/postgres/index.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';
import { collidingValues, refusal } from './orm-test-helpers.js';
import { PG_URL, serverSchema } from './pg-env.js';
import { testIndexer } from './repository-backends.js';
import { typeormDataSource, typeormFixture } from './typeorm-db.js';

/*
 * fieldseal/typeorm beyond the repository contract (typeorm-contract.test.ts), on the PostgreSQL
 * server: one batch per operation, plaintext given back to the caller's entities, relations
 * decrypted, lookups with forced blind-index collisions, every refusal of what cannot be bound to
 * a record, the missing-subscriber footgun (nothing is ever written in plaintext), and canaries.
 */
const CANARY = 'CANARY-typeorm-51c3';

const Customer = defineModel({
  table: 'typeorm_customers',
  tenant: 'tenantId',
  key: ['id'],
  fields: {
    tenantId: field.string(),
    id: field.string(),
    name: field.string(),
    email: field
      .string()
      .encrypted({ storage: 'text' })
      .blindIndex({ bits: 16, normalize: ['trim', 'lowercase'] }),
    profile: field.json<{ note: string }>().encrypted().nullable(),
  },
});

const Order = defineModel({
  table: 'typeorm_orders',
  tenant: 'tenantId',
  key: ['id'],
  fields: {
    tenantId: field.string(),
    id: field.string(),
    customerId: field.string(),
    total: field.number(),
    card: field.string().encrypted(),
  },
});

interface CustomerRow {
  tenantId: string;
  id: string;
  name: string;
  email: string;
  email_bidx_v1?: string | null;
  profile: { note: string } | null;
  orders?: OrderRow[];
}
interface OrderRow {
  tenantId: string;
  id: string;
  customerId: string;
  total: number;
  card: string;
  customer?: CustomerRow;
}

const Customers = new EntitySchema<CustomerRow>({
  name: 'Customer',
  tableName: 'typeorm_customers',
  columns: {
    id: { type: 'text', primary: true },
    tenantId: { type: 'text' },
    name: { type: 'text' },
    email: sealedColumn('text'),
    email_bidx_v1: { type: 'text', nullable: true },
    profile: sealedColumn('bytes', { nullable: true }),
  },
  relations: { orders: { type: 'one-to-many', target: 'Order', inverseSide: 'customer' } },
});

const Orders = new EntitySchema<OrderRow>({
  name: 'Order',
  tableName: 'typeorm_orders',
  columns: {
    id: { type: 'text', primary: true },
    tenantId: { type: 'text' },
    customerId: { type: 'text' },
    total: { type: 'double precision' },
    card: sealedColumn('bytes'),
  },
  relations: {
    customer: { type: 'many-to-one', target: 'Customer', joinColumn: { name: 'customerId' } },
  },
});

const customer = (tenantId: string, i: number, email = `t${i}@example.com`): CustomerRow => ({
  tenantId,
  id: `${tenantId}-c${i}`,
  name: `name ${i}`,
  email,
  profile: { note: `${CANARY}-profile-${tenantId}-${i}` },
});

/** A client whose batch calls are counted (one per operation is the promise). */
function counting(fs: Fieldseal) {
  const calls = { encrypt: 0, decrypt: 0 };
  const proxy = new Proxy(fs, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      if (prop === 'encryptManyToBytes') calls.encrypt++;
      if (prop === 'decryptManySettled') calls.decrypt++;
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
  return { fs: proxy, calls };
}

/** The fieldseal error behind a TypeORM error (its driverError), or the error itself. */
async function refusedBy(promise: Promise<unknown>): ReturnType<typeof refusal> {
  return refusal(
    promise.catch((err: unknown) => {
      throw err instanceof QueryFailedError ? (err.driverError as unknown) : err;
    }),
  );
}

describe.skipIf(PG_URL === undefined)('fieldseal/typeorm on the PostgreSQL server', () => {
  let db: Awaited<ReturnType<typeof typeormFixture>>;
  let sql: SqlClient;
  let fs: Fieldseal;
  let calls: { encrypt: number; decrypt: number };
  let customers: PostgresRepository<typeof Customer>;
  let ds: DataSource;
  let repo: Repository<CustomerRow>;
  let orders: Repository<OrderRow>;

  const rawDump = async (table: string) =>
    inspect((await sql.query(`SELECT * FROM ${table}`)).rows, { depth: 6, maxStringLength: null });

  beforeAll(async () => {
    db = await typeormFixture([Customer, Order]);
    sql = db.sql;
    const base = db.fs;
    ({ fs, calls } = counting(base));
    customers = createPostgresRepository({
      sql,
      fs,
      model: Customer,
      blindIndex: { indexer: await testIndexer() },
    });
    await customers.createTable();
    await createPostgresRepository({ sql, fs, model: Order }).createTable();
    ds = await db.open({
      entities: [Customers, Orders],
      subscribers: [
        fieldsealSubscriber({
          fs,
          entities: [
            { entity: Customers, model: Customer, blindIndexes: customers },
            { entity: Orders, model: Order },
          ],
        }),
      ],
    });
    assertFieldsealSubscribed(ds);
    repo = ds.getRepository(Customers);
    orders = ds.getRepository(Orders);
  });
  afterAll(async () => {
    await db.close();
  });

  it('save seals a whole save([...]) in one batch, gives the entities their plaintext back, and find decrypts in one batch', async () => {
    const list = [1, 2, 3].map((i) => customer('acme', i)).concat([customer('globex', 4)]);
    const before = { ...calls };
    const saved = await repo.save(list);
    expect(calls.encrypt - before.encrypt).toBe(1);
    // The caller's objects hold their plaintext again (and the index written with them).
    expect(saved[0]).toBe(list[0]);
    expect(list[0]).toMatchObject({
      email: 't1@example.com',
      profile: customer('acme', 1).profile,
    });
    expect(typeof list[0]!.email_bidx_v1).toBe('string');
    const dump = await rawDump('typeorm_customers');
    expect(dump).not.toContain(CANARY);
    expect(dump).not.toContain('t1@example.com');
    expect(dump).toContain('fs1:');

    const mid = { ...calls };
    const found = await repo.find({ where: { tenantId: 'acme' }, order: { id: 'ASC' } });
    expect(calls.decrypt - mid.decrypt).toBe(1);
    expect(found.map((c) => [c.email, c.profile])).toEqual(
      [1, 2, 3].map((i) => [`t${i}@example.com`, customer('acme', i).profile]),
    );
  });

  it('updates through save re-seal the changed record with its context; relations decrypt at every depth', async () => {
    const c = customer('acme', 10);
    await repo.save(c);
    await orders.save([
      { tenantId: 'acme', id: 'acme-o1', customerId: c.id, total: 5, card: `${CANARY}-card-1` },
      { tenantId: 'acme', id: 'acme-o2', customerId: c.id, total: 7, card: `${CANARY}-card-2` },
    ]);
    const loaded = (await repo.findOneBy({ id: c.id }))!;
    loaded.email = 'changed@example.com';
    loaded.profile = null;
    await repo.save(loaded);
    expect(loaded.email).toBe('changed@example.com');
    const again = await repo.findOne({
      where: { id: c.id },
      relations: { orders: true },
      order: { orders: { id: 'ASC' } },
    });
    expect(again).toMatchObject({ email: 'changed@example.com', profile: null });
    expect(again!.orders!.map((o) => o.card)).toEqual([`${CANARY}-card-1`, `${CANARY}-card-2`]);
    const order = await orders.findOne({ where: { id: 'acme-o2' }, relations: { customer: true } });
    expect(order).toMatchObject({
      card: `${CANARY}-card-2`,
      customer: { email: 'changed@example.com' },
    });
    expect(
      await findSealed(repo, {
        where: { tenantId: 'acme', email: SealedEqual(' Changed@example.com') },
      }),
    ).toHaveLength(1);
    expect(await rawDump('typeorm_orders')).not.toContain(CANARY);
  });

  it('findSealed re-checks every row the index found: colliding values, skip and take after the re-check', async () => {
    const [a, b] = await collidingValues(customers, 'globex', 'email');
    await repo.save([
      customer('globex', 20, a),
      customer('globex', 21, b),
      customer('globex', 22, b),
    ]);
    const byA = await findSealed(repo, { where: { tenantId: 'globex', email: SealedEqual(a) } });
    expect(byA.map((c) => c.id)).toEqual(['globex-c20']);
    const byB = await findSealed(repo, {
      where: { tenantId: 'globex', email: SealedIn([b]) },
      order: { id: 'ASC' },
    });
    expect(byB.map((c) => c.id)).toEqual(['globex-c21', 'globex-c22']);
    // take: 1 never hides the match behind a false positive; skip counts matches only.
    expect(
      (await findOneSealed(repo, { where: { tenantId: 'globex', email: SealedEqual(a) } }))?.id,
    ).toBe('globex-c20');
    const second = await findSealed(repo, {
      where: { tenantId: 'globex', email: SealedEqual(b) },
      order: { id: 'ASC' },
      skip: 1,
      take: 1,
    });
    expect(second.map((c) => c.id)).toEqual(['globex-c22']);
    // Another tenant's rows are never an answer.
    expect(await findSealed(repo, { where: { tenantId: 'acme', email: SealedEqual(a) } })).toEqual(
      [],
    );
  });

  it('refuses updates by criteria that touch a sealed, index, tenant or key column; plain columns pass', async () => {
    await repo.save(customer('acme', 30));
    for (const partial of [
      { email: `${CANARY}@x` },
      { email_bidx_v1: 'x' },
      { tenantId: 'globex' },
    ] as const) {
      const r = await refusal(repo.update({ id: 'acme-c30' }, partial));
      expect(r.code).toBe('ERR_UNSUPPORTED_OPTION');
      expect(r.field).toBe(`typeorm_customers.${Object.keys(partial)[0]}`);
      expect(r.message).not.toContain(CANARY);
    }
    const qb = await refusal(
      repo
        .createQueryBuilder()
        .update()
        .set({ email: `${CANARY}@x` })
        .where('id = :id', { id: 'acme-c30' })
        .execute(),
    );
    expect(qb.code).toBe('ERR_UNSUPPORTED_OPTION');
    await repo.update({ id: 'acme-c30' }, { name: 'renamed' });
    expect(await repo.findOneBy({ id: 'acme-c30' })).toMatchObject({
      name: 'renamed',
      email: 't30@example.com',
    });
  });

  it("refuses a save that changes a record's tenant, an insert without its tenant, and a load without it", async () => {
    const loaded = (await repo.findOneBy({ id: 'acme-c1' }))!;
    loaded.tenantId = 'globex';
    const moved = await refusal(repo.save(loaded));
    expect(moved).toMatchObject({
      code: 'ERR_UNSUPPORTED_OPTION',
      field: 'typeorm_customers.tenantId',
    });
    const noTenant: Partial<CustomerRow> = customer('acme', 31);
    delete noTenant.tenantId;
    expect((await refusal(repo.insert(noTenant))).code).toBe('ERR_UNSUPPORTED_OPTION');
    expect(
      (await refusal(repo.find({ select: { id: true, email: true }, where: { id: 'acme-c1' } })))
        .field,
    ).toBe('typeorm_customers.email');
    expect((await repo.findOneBy({ id: 'acme-c1' }))!.tenantId).toBe('acme');
  });

  it('a plain value never reaches a sealed column: where, SealedEqual in a plain find, listeners: false', async () => {
    for (const attempt of [
      () => repo.find({ where: { email: `${CANARY}@x` } }),
      () => repo.find({ where: { tenantId: 'acme', email: SealedEqual(`${CANARY}@x`) } }),
      () => repo.save(customer('acme', 32), { listeners: false }),
      () =>
        repo
          .createQueryBuilder()
          .insert()
          .values(customer('acme', 33))
          .callListeners(false)
          .execute(),
    ]) {
      // The subscriber's beforeQuery refuses it before the query is sent: the typed error
      // itself, not TypeORM's QueryFailedError around it.
      const r = await refusal(attempt());
      expect(r.code).toBe('ERR_PLAINTEXT_IN_ENCRYPTED_FIELD');
      expect(r.message).not.toContain(CANARY);
    }
    expect(await rawDump('typeorm_customers')).not.toContain(CANARY);
    expect(await repo.findOneBy({ id: 'acme-c32' })).toBeNull();
  });

  it('findSealed refuses what it cannot re-check', async () => {
    const cases: [Promise<unknown>, string][] = [
      [findSealed(repo, { where: { email: SealedEqual('x') } }), 'email'],
      [findSealed(repo, { where: [{ tenantId: 'acme', email: SealedEqual('x') }] }), 'email'],
      [findSealed(repo, { where: { tenantId: 'acme', email: 'x' } }), 'email'],
      [findSealed(repo, { where: { tenantId: 'acme', email_bidx_v1: 'x' } }), 'email_bidx_v1'],
      [
        findSealed(repo, {
          where: { tenantId: 'acme', email: SealedEqual('x') },
          order: { email: 'ASC' },
        }),
        'email',
      ],
      [
        findSealed(repo, {
          where: { tenantId: 'acme', email: SealedEqual('x') },
          select: { id: true, email: true },
        }),
        'email',
      ],
      [findSealed(orders, { where: { tenantId: 'acme', card: SealedEqual('x') } }), 'card'],
    ];
    for (const [promise, column] of cases) {
      const r = await refusal(promise);
      expect(r.code).toBe('ERR_UNSUPPORTED_OPTION');
      expect(r.field?.endsWith(`.${column}`)).toBe(true);
    }
  });

  it('a failed write gives the entities back their plaintext; a retry seals again; a rolled-back transaction leaves nothing', async () => {
    const first = customer('acme', 40);
    await repo.insert(first);
    const duplicate = customer('acme', 40);
    await expect(repo.insert(duplicate)).rejects.toBeInstanceOf(QueryFailedError);
    expect(duplicate.email).toBe('t40@example.com');
    expect(duplicate.profile).toEqual(customer('acme', 40).profile);
    duplicate.id = 'acme-c41';
    await repo.insert(duplicate);
    expect((await repo.findOneBy({ id: 'acme-c41' }))!.email).toBe('t40@example.com');

    const inTx = customer('acme', 42);
    await expect(
      ds.transaction(async (m) => {
        await m.getRepository(Customers).save(inTx);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(inTx.email).toBe('t42@example.com');
    expect(await repo.findOneBy({ id: 'acme-c42' })).toBeNull();
  });

  it('refuses hostile entities and values of the wrong kind; errors and inspection never show plaintext', async () => {
    const hostile = customer('acme', 50);
    Object.defineProperty(hostile, 'email', { get: () => `${CANARY}@x`, enumerable: true });
    expect((await refusal(repo.save(hostile))).code).toBe('ERR_UNSUPPORTED_OPTION');
    const wrong = { ...customer('acme', 51), email: 42 as unknown as string };
    expect((await refusal(repo.save(wrong))).code).toBe('ERR_BATCH_FAILED');
    // A row whose envelope moved to another record does not decrypt, and says so without data.
    await sql.query(
      `UPDATE typeorm_customers SET email = (SELECT email FROM typeorm_customers WHERE id = 'acme-c2') WHERE id = 'acme-c3'`,
    );
    const moved = await refusal(repo.findOneBy({ id: 'acme-c3' }));
    expect(moved.code).toBe('ERR_BATCH_FAILED');
    expect(moved.message).not.toContain('t2@example.com');
    expect(inspect(ds.subscribers, { depth: 4 })).not.toContain(CANARY);
  });
});

describe.skipIf(PG_URL === undefined)(
  'a data source without the subscriber (PostgreSQL server)',
  () => {
    let env: Awaited<ReturnType<typeof serverSchema>>;
    const sources: DataSource[] = [];
    beforeAll(async () => {
      env = await serverSchema();
      const sql = fromPgPool(env.pool(1));
      await sql.exec(
        'CREATE TABLE typeorm_customers (id text PRIMARY KEY, "tenantId" text, name text, email text, email_bidx_v1 text, profile bytea)',
      );
      await sql.exec(
        'CREATE TABLE typeorm_orders (id text PRIMARY KEY, "tenantId" text, "customerId" text, total float8, card bytea)',
      );
    });
    afterAll(async () => {
      await Promise.all(sources.map((s) => s.destroy()));
      await env.close();
    });

    it('refuses every write and says so at start-up: an undecorated subscriber is never called', async () => {
      class Undecorated {
        beforeInsert(): void {}
      }
      const ds = await typeormDataSource(PG_URL!, env.schema, {
        entities: [Customers, Orders],
        subscribers: [Undecorated],
      });
      sources.push(ds);
      expect(ds.subscribers).toHaveLength(0);
      const err = (() => {
        try {
          assertFieldsealSubscribed(ds);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(isFieldsealError(err) && err.code).toBe('ERR_KEY_NOT_CONFIGURED');
      const r = await refusedBy(ds.getRepository(Customers).save(customer('acme', 1)));
      expect(r.code).toBe('ERR_PLAINTEXT_IN_ENCRYPTED_FIELD');
      expect(r.message).not.toContain(CANARY);
      const rows = await ds.query<{ n: number }[]>(
        'SELECT count(*)::int AS n FROM typeorm_customers',
      );
      expect(rows[0]!.n).toBe(0);
    });

    it('refuses a sealed entity no subscriber lists, and an entity that does not match its model', async () => {
      const fs = createFieldseal({
        provider: new MemoryKeyProvider(),
        keys: { mode: 'embedded', masterKeyId: 'master' },
        cache: { maxAgeMs: 60_000 },
        models: [Customer, Order],
      });
      const onlyOrders = await typeormDataSource(PG_URL!, env.schema, {
        entities: [Customers, Orders],
        subscribers: [fieldsealSubscriber({ fs, entities: [{ entity: Orders, model: Order }] })],
      });
      sources.push(onlyOrders);
      expect(() => assertFieldsealSubscribed(onlyOrders)).toThrow(/Customer has sealed columns/);
      const mismatched = await typeormDataSource(PG_URL!, env.schema, {
        entities: [Customers, Orders],
        subscribers: [fieldsealSubscriber({ fs, entities: [{ entity: Orders, model: Customer }] })],
      });
      sources.push(mismatched);
      expect(() => assertFieldsealSubscribed(mismatched)).toThrow(TypeError);
      fs.close();
    });

    it('the decorator declares the same sealed column as the EntitySchema helper', async () => {
      class Note {
        id!: string;
        tenantId!: string;
        body!: string;
      }
      Entity('typeorm_notes')(Note);
      PrimaryColumn({ type: 'text' })(Note.prototype, 'id');
      Column({ type: 'text' })(Note.prototype, 'tenantId');
      SealedColumn('bytes')(Note.prototype, 'body');
      expect(() => SealedColumn('text', { default: 'x' } as never)).toThrow(/default/);
      const ds = await typeormDataSource(PG_URL!, env.schema, {
        entities: [Note],
        subscribers: [],
      });
      sources.push(ds);
      const body = ds.getMetadata(Note).findColumnWithPropertyName('body')!;
      expect(body.type).toBe('bytea');
      const NoteModel = defineModel({
        table: 'typeorm_notes',
        tenant: 'tenantId',
        key: ['id'],
        fields: { id: field.string(), tenantId: field.string(), body: field.string().encrypted() },
      });
      const fs = createFieldseal({
        provider: new MemoryKeyProvider(),
        keys: { mode: 'embedded', masterKeyId: 'master' },
        cache: { maxAgeMs: 60_000 },
        models: [NoteModel],
      });
      const sealedDs = await typeormDataSource(PG_URL!, env.schema, {
        entities: [Note],
        subscribers: [fieldsealSubscriber({ fs, entities: [{ entity: Note, model: NoteModel }] })],
      });
      sources.push(sealedDs);
      assertFieldsealSubscribed(sealedDs);
      await sealedDs.query(
        'CREATE TABLE typeorm_notes (id text PRIMARY KEY, "tenantId" text, body bytea)',
      );
      const note = Object.assign(new Note(), { id: 'n1', tenantId: 'acme', body: CANARY });
      await sealedDs.getRepository(Note).save(note);
      expect((await sealedDs.getRepository(Note).findOneBy({ id: 'n1' }))!.body).toBe(CANARY);
      const raw = await sealedDs.query<{ body: Buffer }[]>('SELECT body FROM typeorm_notes');
      expect(raw[0]!.body.toString('latin1')).not.toContain(CANARY);
      fs.close();
    });

    it('reads plaintext only from a field in a declared migration, and counts it', async () => {
      const Legacy = defineModel({
        table: 'typeorm_legacy',
        tenant: 'tenantId',
        key: ['id'],
        fields: {
          id: field.string(),
          tenantId: field.string(),
          old: field.string().encrypted({ storage: 'text', allowPlaintextRead: true }),
          strict: field.string().encrypted({ storage: 'text' }).nullable(),
        },
      });
      const Legacies = new EntitySchema<Record<string, unknown>>({
        name: 'Legacy',
        tableName: 'typeorm_legacy',
        columns: {
          id: { type: 'text', primary: true },
          tenantId: { type: 'text' },
          old: sealedColumn('text'),
          strict: sealedColumn('text', { nullable: true }),
        },
      });
      const fs = createFieldseal({
        provider: new MemoryKeyProvider(),
        keys: { mode: 'embedded', masterKeyId: 'master' },
        cache: { maxAgeMs: 60_000 },
        models: [Legacy],
      });
      const ds = await typeormDataSource(PG_URL!, env.schema, {
        entities: [Legacies],
        subscribers: [fieldsealSubscriber({ fs, entities: [{ entity: Legacies, model: Legacy }] })],
      });
      sources.push(ds);
      await ds.query(
        `CREATE TABLE typeorm_legacy (id text PRIMARY KEY, "tenantId" text, old text, strict text);
         INSERT INTO typeorm_legacy VALUES ('l1', 'acme', 'written before fieldseal', NULL),
                                           ('l2', 'acme', 'x', 'not in migration')`,
      );
      const legacies = ds.getRepository(Legacies);
      expect((await legacies.findOneBy({ id: 'l1' }))!.old).toBe('written before fieldseal');
      expect(fs.stats().plaintextReads['typeorm_legacy.old']).toBe(1);
      expect((await refusal(legacies.findOneBy({ id: 'l2' }))).code).toBe('ERR_BATCH_FAILED');
      // A save of a record read from plaintext seals it, changed or not.
      const l1 = (await legacies.findOneBy({ id: 'l1' }))!;
      l1.strict = 'now set';
      await legacies.save(l1);
      const resealed = await ds.query<{ old: string }[]>(
        "SELECT old FROM typeorm_legacy WHERE id = 'l1'",
      );
      expect(resealed[0]!.old.startsWith('fs1:')).toBe(true);
      expect((await legacies.findOneBy({ id: 'l1' }))!.old).toBe('written before fieldseal');
      // A write always seals, migration or not.
      await legacies.save({ id: 'l3', tenantId: 'acme', old: CANARY, strict: null });
      const rows = await ds.query<{ old: string }[]>(
        "SELECT old FROM typeorm_legacy WHERE id = 'l3'",
      );
      expect(rows[0]!.old.startsWith('fs1:')).toBe(true);
      fs.close();
    });
  },
);
