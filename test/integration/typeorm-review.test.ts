import { inspect } from 'node:util';
import { EntitySchema, type DataSource, type Repository } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineModel, field, type Fieldseal } from '../../src/index.js';
import {
  assertFieldsealSubscribed,
  fieldsealSubscriber,
  findSealed,
  sealedColumn,
  SealedEqual,
} from '../../src/integrations/typeorm/index.js';
import { SealedValue } from '../../src/integrations/typeorm/sealed-value.js';
import type { SqlClient } from '../../src/postgres/index.js';
import { refusal } from './orm-test-helpers.js';
import { PG_URL } from './pg-env.js';
import { typeormFixture } from './typeorm-db.js';

/*
 * One case per hole the adversarial review of fieldseal/typeorm found (docs/threat-model.md):
 * each wrote plaintext elsewhere, returned envelopes unseen, or bound a value to a record other
 * than the one PostgreSQL stores it under. On the PostgreSQL server.
 */
const CANARY = 'CANARY-typeorm-review-9e2a';

const docModel = (
  table: string,
  id: ReturnType<typeof field.string> | ReturnType<typeof field.number>,
) =>
  defineModel({
    table,
    tenant: 'tenantId',
    key: ['id'],
    fields: { tenantId: field.string(), id, body: field.string().encrypted() },
  });
const Doc = docModel('rv_docs', field.string());
const UDoc = docModel('rv_udocs', field.string());
const IDoc = docModel('rv_idocs', field.number());
const Person = defineModel({
  table: 'rv_people',
  tenant: 'tenantId',
  key: ['id'],
  fields: {
    tenantId: field.string(),
    id: field.string(),
    name: field.string(),
    email: field.string().encrypted({ storage: 'text' }),
    note: field.string().encrypted().nullable(),
  },
});

interface DocRow {
  tenantId: string;
  id: string | number;
  body: string;
  tenant?: { id: string };
}
interface PersonRow {
  tenantId: string;
  id: string;
  name: string;
  email: string;
  note: string | null;
  buyer?: PersonRow;
}

const Tenants = new EntitySchema<{ id: string }>({
  name: 'RvTenant',
  tableName: 'rv_tenants',
  columns: { id: { type: 'text', primary: true } },
});
const Docs = new EntitySchema<DocRow>({
  name: 'RvDoc',
  tableName: 'rv_docs',
  columns: {
    id: { type: 'text', primary: true },
    tenantId: { type: 'text' },
    body: sealedColumn('bytes'),
  },
  relations: {
    tenant: {
      type: 'many-to-one',
      target: 'RvTenant',
      joinColumn: { name: 'tenantId' },
      createForeignKeyConstraints: false,
    },
  },
});
const UDocs = new EntitySchema<DocRow>({
  name: 'RvUDoc',
  tableName: 'rv_udocs',
  columns: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'text' },
    body: sealedColumn('bytes'),
  },
});
const IDocs = new EntitySchema<DocRow>({
  name: 'RvIDoc',
  tableName: 'rv_idocs',
  columns: {
    id: { type: 'int', primary: true },
    tenantId: { type: 'text' },
    body: sealedColumn('bytes'),
  },
});
const People = new EntitySchema<PersonRow>({
  name: 'RvPerson',
  tableName: 'rv_people',
  columns: {
    tenantId: { type: 'text', primary: true },
    id: { type: 'text', primary: true },
    name: { type: 'text', unique: true },
    email: sealedColumn('text'),
    note: sealedColumn('bytes', { nullable: true }),
  },
});
const RefOrders = new EntitySchema<{ id: string; customer?: PersonRow }>({
  name: 'RvRefOrder',
  tableName: 'rv_ref_orders',
  columns: { id: { type: 'text', primary: true } },
  relations: {
    customer: {
      type: 'many-to-one',
      target: 'RvPerson',
      joinColumn: { name: 'customerEmail', referencedColumnName: 'email' },
      createForeignKeyConstraints: false,
    },
  },
});

const person = (tenantId: string, id: string, name = id): PersonRow => ({
  tenantId,
  id,
  name,
  email: `${CANARY}-${id}@example.com`,
  note: `${CANARY}-note-${id}`,
});

describe.skipIf(PG_URL === undefined)('fieldseal/typeorm: the review’s holes stay closed', () => {
  let db: Awaited<ReturnType<typeof typeormFixture>>;
  let sql: SqlClient;
  let fs: Fieldseal;
  let ds: DataSource;
  let people: Repository<PersonRow>;
  const entities = [
    { entity: Docs, model: Doc },
    { entity: UDocs, model: UDoc },
    { entity: IDocs, model: IDoc },
    { entity: People, model: Person },
  ];
  const open = (extra: object[] = [], subscribers: object[] = []) =>
    db.open({
      entities: [Tenants, Docs, UDocs, IDocs, People, ...(extra as EntitySchema[])],
      subscribers: [fieldsealSubscriber({ fs, entities }), ...(subscribers as never[])],
    });

  beforeAll(async () => {
    db = await typeormFixture([Doc, UDoc, IDoc, Person]);
    ({ sql, fs } = db);
    await sql.exec(`
      CREATE TABLE rv_tenants (id text PRIMARY KEY);
      CREATE TABLE rv_docs (id text PRIMARY KEY, "tenantId" text NOT NULL, body bytea NOT NULL);
      CREATE TABLE rv_udocs (id uuid PRIMARY KEY, "tenantId" text NOT NULL, body bytea NOT NULL);
      CREATE TABLE rv_idocs (id int PRIMARY KEY, "tenantId" text NOT NULL, body bytea NOT NULL);
      CREATE TABLE rv_people ("tenantId" text, id text, name text UNIQUE, email text NOT NULL,
        note bytea, PRIMARY KEY ("tenantId", id));
      CREATE TABLE rv_ref_orders (id text PRIMARY KEY, "customerTenant" text, "customerEmail" text);
      INSERT INTO rv_tenants VALUES ('acme'), ('globex');`);
    ds = await open();
    assertFieldsealSubscribed(ds);
    people = ds.getRepository(People);
    await people.save([person('acme', 'p1'), person('acme', 'p2'), person('globex', 'p3')]);
  });
  afterAll(async () => {
    await db.close();
  });

  it('a relation joining on a sealed column is refused at start-up (it would copy plaintext)', async () => {
    const withRef = await open([RefOrders]);
    expect(() => assertFieldsealSubscribed(withRef)).toThrow(/join on the sealed column/);
    await expect(
      withRef
        .getRepository(RefOrders)
        .save({ id: 'r1', customer: (await people.findOneBy({ id: 'p1' }))! }),
    ).rejects.toThrow(TypeError);
    const { rows } = await sql.query('SELECT * FROM rv_ref_orders');
    expect(inspect(rows)).not.toContain(CANARY);
  });

  it('a load that bypasses afterLoad shows neither plaintext nor envelopes, and is never saved back', async () => {
    const mapped = await people
      .createQueryBuilder('a')
      .leftJoinAndMapOne('a.buyer', 'RvPerson', 'b', 'b.id = :b', { b: 'p1' })
      .where('a.id = :a', { a: 'p2' })
      .getOne();
    const quiet = await people
      .createQueryBuilder('p')
      .callListeners(false)
      .where('p.id = :id', { id: 'p2' })
      .getOne();
    expect(mapped!.email).toBe(person('acme', 'p2').email);
    expect(inspect(mapped!.buyer)).toContain('not decrypted');
    for (const shown of [JSON.stringify(quiet), inspect(quiet), JSON.stringify(mapped!.buyer)]) {
      expect(shown).not.toContain(CANARY);
      expect(shown).not.toContain('fs1:');
    }
    quiet!.name = 'renamed';
    expect((await refusal(people.save(quiet!))).code).toBe('ERR_UNSUPPORTED_OPTION');
    // An envelope read raw and saved back would be sealed twice: refused.
    const raw = await people
      .createQueryBuilder('p')
      .select('p.email', 'email')
      .where('p.id = :id', { id: 'p2' })
      .getRawOne<{ email: string }>();
    const loaded = (await people.findOneBy({ id: 'p2' }))!;
    loaded.email = raw!.email;
    expect((await refusal(people.save(loaded))).code).toBe('ERR_UNSUPPORTED_OPTION');
    expect((await people.findOneBy({ id: 'p2' }))!.email).toBe(person('acme', 'p2').email);
  });

  it('a key PostgreSQL would rewrite (an uppercase uuid, an integer as "007") is refused; canonical ones read back', async () => {
    const udocs = ds.getRepository(UDocs);
    const upper = 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11';
    expect((await refusal(udocs.insert({ tenantId: 'acme', id: upper, body: CANARY }))).code).toBe(
      'ERR_UNSUPPORTED_OPTION',
    );
    await udocs.insert({ tenantId: 'acme', id: upper.toLowerCase(), body: CANARY });
    expect((await udocs.findOneBy({ id: upper.toLowerCase() }))!.body).toBe(CANARY);
    const idocs = ds.getRepository(IDocs);
    expect((await refusal(idocs.insert({ tenantId: 'acme', id: '007', body: CANARY }))).code).toBe(
      'ERR_UNSUPPORTED_OPTION',
    );
    await idocs.insert([
      { tenantId: 'acme', id: 7, body: CANARY },
      { tenantId: 'acme', id: '8', body: CANARY },
    ]);
    expect((await idocs.findBy({ tenantId: 'acme' })).map((d) => d.body)).toEqual([CANARY, CANARY]);
  });

  it("a tenant that is also a relation's join column cannot be changed through the relation", async () => {
    const docs = ds.getRepository(Docs);
    await docs.insert({ tenantId: 'acme', id: 'd1', body: 'v1' });
    const d = (await docs.findOneBy({ id: 'd1' }))!;
    d.tenant = { id: 'globex' };
    d.body = 'v2';
    expect((await refusal(docs.save(d))).field).toBe('rv_docs.tenantId');
    expect(
      (
        await refusal(
          docs.insert({ tenantId: 'acme', tenant: { id: 'globex' }, id: 'd2', body: 'b' }),
        )
      ).field,
    ).toBe('rv_docs.tenantId');
    expect((await refusal(docs.update({ id: 'd1' }, { tenant: { id: 'globex' } }))).field).toBe(
      'rv_docs.tenant',
    );
    expect(await docs.findOneBy({ id: 'd1' })).toMatchObject({ tenantId: 'acme', body: 'v1' });
  });

  it("an upsert must conflict on the record's tenant and key", async () => {
    const r = await refusal(people.upsert({ ...person('globex', 'p1'), name: 'p1' }, ['name']));
    expect(r.code).toBe('ERR_UNSUPPORTED_OPTION');
    expect((await people.findOneBy({ id: 'p1' }))!.tenantId).toBe('acme');
    await people.upsert({ ...person('acme', 'p1'), email: 'new@example.com' }, ['tenantId', 'id']);
    expect(await people.findOneBy({ id: 'p1' })).toMatchObject({
      email: 'new@example.com',
      note: person('acme', 'p1').note,
    });
  });

  it('an inherited tenant (what TypeORM writes, not an own property) is refused', async () => {
    const e = Object.assign(Object.create({ tenantId: 'globex' }) as PersonRow, {
      id: 'p2',
      name: 'p2',
      email: 'x@example.com',
    });
    expect((await refusal(people.save(e))).code).toBe('ERR_UNSUPPORTED_OPTION');
    expect((await people.findOneBy({ id: 'p2' }))!.tenantId).toBe('acme');
  });

  it('a sealed value left by a failed write is never written by another one; no unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      class Rejecting {
        beforeInsert(event: { entity: { id?: string } }): Promise<void> | void {
          if (event.entity.id === 'p51') throw new Error('sibling refused synchronously');
          if (event.entity.id?.startsWith('p9') === true)
            return Promise.reject(new Error('validation failed'));
        }
      }
      const { EventSubscriber } = await import('typeorm');
      EventSubscriber()(Rejecting);
      const hooked = await open([], [Rejecting]);
      const repo = hooked.getRepository(People);
      const settle = () => new Promise((resolve) => setTimeout(resolve, 50));
      // A write another listener failed: the entity keeps its plaintext once the batch lands.
      const e = person('acme', 'p90');
      await expect(repo.save(e, { transaction: false })).rejects.toThrow('validation failed');
      await settle();
      expect(e.email).toBe(person('acme', 'p90').email);
      // On a query runner the caller holds, the sealed value stays; another write carrying it
      // is refused before it is sent, and the entity's own next save seals it again.
      const held = hooked.createQueryRunner();
      const f = person('acme', 'p91');
      try {
        await expect(held.manager.save(People, f, { transaction: false })).rejects.toThrow(
          'validation failed',
        );
        await settle();
        expect(inspect(f.email)).toBe('SealedValue [fieldseal]');
        const r = await refusal(
          repo
            .createQueryBuilder()
            .update()
            .set({ email: f.email })
            .where('id = :id', { id: 'p1' })
            .callListeners(false)
            .execute(),
        );
        expect(r).toMatchObject({ code: 'ERR_UNSUPPORTED_OPTION', field: 'rv_people.email' });
        f.id = 'q91';
        expect((await refusal(repo.save(f, { listeners: false }))).code).toBe(
          'ERR_UNSUPPORTED_OPTION',
        );
        await people.save(f);
        expect(f.email).toBe(person('acme', 'p91').email);
        expect((await people.findOneBy({ id: 'q91' }))!.email).toBe(person('acme', 'p91').email);
      } finally {
        await held.release();
      }
      // A sibling listener throwing synchronously: our pending batch must not crash the process.
      await expect(
        repo.save([
          { ...person('acme', 'p50'), email: 42 as unknown as string },
          person('acme', 'p51'),
        ]),
      ).rejects.toThrow();
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
      expect((await people.findOneBy({ id: 'p1' }))!.email).toBe('new@example.com');
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('two writes on one query runner in one tick settle on their own', async () => {
    const qr = ds.createQueryRunner();
    try {
      // One refused before encryption (a number for a string), one by the client (a tenant
      // without a key): each fails its own write only.
      const [good, bad, keyless] = await Promise.allSettled([
        qr.manager.insert(People, person('acme', 'p60')),
        qr.manager.insert(People, { ...person('acme', 'p61'), email: 5 as unknown as string }),
        qr.manager.insert(People, person('nokey', 'p62')),
      ]);
      expect(good.status).toBe('fulfilled');
      expect(bad.status).toBe('rejected');
      expect(keyless).toMatchObject({ status: 'rejected', reason: { code: 'ERR_BATCH_FAILED' } });
    } finally {
      await qr.release();
    }
    expect((await people.findOneBy({ id: 'p60' }))!.email).toBe(person('acme', 'p60').email);
  });

  // The second review, of the fixes above.

  it('an upsert behind a comment or a CTE is checked too; RETURNING a sealed column is refused', async () => {
    const upsert = () =>
      ds
        .createQueryBuilder()
        .insert()
        .into(People)
        .values({ ...person('globex', 'a1'), name: 'p3' })
        .orUpdate(['email', 'note'], ['name']);
    for (const attempt of [
      upsert().comment('trace'),
      upsert().addCommonTableExpression('SELECT 1', 'x'),
    ]) {
      expect((await refusal(attempt.execute())).code).toBe('ERR_UNSUPPORTED_OPTION');
    }
    const e = person('acme', 'p70');
    const r = await refusal(
      ds.createQueryBuilder().insert().into(People).values(e).returning('*').execute(),
    );
    expect(r).toMatchObject({ code: 'ERR_UNSUPPORTED_OPTION', field: 'rv_people.*' });
    expect(e.email).toBe(person('acme', 'p70').email);
    expect(await people.findOneBy({ id: 'p70' })).toBeNull();
    expect((await people.findOneBy({ id: 'p3' }))!.tenantId).toBe('globex');
  });

  it('a key the database generates is refused at start-up; "-0" is not an integer key', async () => {
    const Generated = new EntitySchema<DocRow>({
      name: 'RvGenerated',
      tableName: 'rv_idocs',
      columns: {
        id: { type: 'int', primary: true, generated: 'increment' },
        tenantId: { type: 'text' },
        body: sealedColumn('bytes'),
      },
    });
    const source = await db.open({
      entities: [Generated],
      subscribers: [fieldsealSubscriber({ fs, entities: [{ entity: Generated, model: IDoc }] })],
    });
    expect(() => assertFieldsealSubscribed(source)).toThrow(/generated by the database/);
    const r = await refusal(
      ds.getRepository(IDocs).insert({ tenantId: 'acme', id: '-0', body: 'x' }),
    );
    expect(r.code).toBe('ERR_UNSUPPORTED_OPTION');
  });

  it('a save leaves unchanged sealed values alone: only what changed is sealed and written', async () => {
    await people.save(person('acme', 'p80'));
    const stored = async () =>
      (await sql.query(`SELECT email, note FROM rv_people WHERE id = 'p80'`)).rows[0] as {
        email: string;
        note: Buffer;
      };
    const before = await stored();
    // Nothing changed, then a plain column: the envelopes stay byte for byte.
    await people.save((await people.findOneBy({ id: 'p80' }))!);
    const c1 = (await people.findOneBy({ id: 'p80' }))!;
    c1.name = 'p80 renamed';
    await people.save(c1);
    expect(await stored()).toEqual(before);
    // One sealed value changed: only it is sealed again.
    c1.note = 'changed';
    await people.save(c1);
    const after = await stored();
    expect(after.email).toBe(before.email);
    expect(after.note).not.toEqual(before.note);
    expect(await people.findOneBy({ id: 'p80' })).toMatchObject({
      name: 'p80 renamed',
      note: 'changed',
      email: person('acme', 'p80').email,
    });
  });

  it('a failed insert gives every entity of its batch its plaintext back; placeholders never serialise', async () => {
    const good = person('acme', 'p85');
    await expect(
      people.insert([{ ...person('acme', 'p84'), email: 5 as unknown as string }, good]),
    ).rejects.toThrow();
    await new Promise((resolve) => setImmediate(resolve));
    expect(good.email).toBe(person('acme', 'p85').email);
    expect(
      JSON.parse(JSON.stringify({ email: new SealedValue('x', 'rv_people.email', {}) })),
    ).toEqual({});
  });

  it('findSealed refuses a lookup on a property that is not sealed, with the typed error', async () => {
    const r = await refusal(
      findSealed(people, { where: { tenantId: 'acme', name: SealedEqual('p1') } }),
    );
    expect(r).toMatchObject({ code: 'ERR_UNSUPPORTED_OPTION', field: 'rv_people.name' });
  });

  // The third review.

  it('an UPDATE setting a tenant or key column is refused on every path; RETURNING an alias of a sealed column too', async () => {
    // rv_docs: the tenant is not part of the primary key, so the save is an UPDATE.
    const docs = ds.getRepository(Docs);
    await docs.insert({ tenantId: 'acme', id: 'd50', body: 'b' });
    const loaded = (await docs.findOneBy({ id: 'd50' }))!;
    loaded.tenantId = 'globex';
    expect((await refusal(docs.save(loaded, { listeners: false }))).field).toBe('rv_docs.tenantId');
    const qb = await refusal(
      docs
        .createQueryBuilder()
        .update()
        .set({ tenantId: 'globex' })
        .where('id = :id', { id: 'd50' })
        .callListeners(false)
        .execute(),
    );
    expect(qb.field).toBe('rv_docs.tenantId');
    expect((await docs.findOneBy({ id: 'd50' }))!).toMatchObject({ tenantId: 'acme', body: 'b' });
    const e = (await people.findOneBy({ id: 'p2' }))!;
    const r = await refusal(
      people
        .createQueryBuilder()
        .update()
        .set({ name: 'zz' })
        .whereEntity(e)
        .returning('email AS other')
        .execute(),
    );
    expect(r).toMatchObject({ code: 'ERR_UNSUPPORTED_OPTION', field: 'rv_people.email' });
    expect(e.email).toBe(person('acme', 'p2').email);
  });

  it('a write caught inside a committed transaction leaves no placeholder on its entities', async () => {
    const good = person('acme', 'p95');
    await ds.transaction(async (m) => {
      await m
        .save(People, [good, { ...person('acme', 'p96'), email: 42 as unknown as string }])
        .catch(() => undefined);
    });
    expect(good.email).toBe(person('acme', 'p95').email);
  });
});
