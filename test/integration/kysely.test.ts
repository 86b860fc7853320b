import { inspect } from 'node:util';
import Cursor from 'pg-cursor';
import { Kysely, PostgresDialect, sql, type KyselyConfig, type LogEvent } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFieldseal, defineModel, field, type Fieldseal } from '../../src/index.js';
import {
  withFieldseal,
  type FieldsealKyselyConfig,
  type ModelTable,
} from '../../src/integrations/kysely/index.js';
import {
  createPostgresRepository,
  PostgresKeyStore,
  type PostgresRepository,
} from '../../src/postgres/index.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';
import { kyselyDialect } from './kysely-dialect.js';
import { collidingValues, refusal } from './orm-test-helpers.js';
import { onOrmBackends, type OrmBackend } from './orm-backends.js';
import { testIndexer } from './repository-backends.js';

/*
 * fieldseal/kysely beyond the repository contract (kysely-contract.test.ts): what a Kysely
 * user writes (partial selections, aliases, RETURNING, updates by key, upserts, `in`), the
 * re-check of blind-index collisions, every refusal naming table and column, raw SQL, both
 * halves of withFieldseal being required, and canaries in errors, logs and inspect.
 */

const CANARY = 'CANARY-kysely-7f3a';

const User = defineModel({
  table: 'kusers',
  tenant: 'tenantId',
  key: ['id'],
  fields: {
    tenantId: field.string(),
    id: field.string(),
    name: field.string(),
    email: field
      .string()
      .encrypted()
      .blindIndex({ bits: 16, normalize: ['trim', 'lowercase'] }),
    ssn: field.string().encrypted({ storage: 'text' }),
    notes: field.bytes().encrypted().nullable(),
  },
});

interface Database {
  kusers: ModelTable<typeof User>;
  plain_things: { id: string; label: string };
}

type UserRow = ModelTable<typeof User>;

const user = (tenantId: string, i: number, over: Partial<UserRow> = {}): UserRow => ({
  tenantId,
  id: `${tenantId}-u${i}`,
  name: `name ${i}`,
  email: `user${i}@example.com`,
  ssn: `${CANARY}-ssn-${tenantId}-${i}`,
  notes: i % 2 === 0 ? null : Buffer.from(`${CANARY}-notes-${i}`),
  ...over,
});

onOrmBackends((name, backend) => {
  describe(`fieldseal/kysely on ${name}`, () => {
    const provider = new MemoryKeyProvider();
    let fs: Fieldseal;
    let source: PostgresRepository<typeof User>;
    let config: FieldsealKyselyConfig;
    let db: Kysely<Database>;
    const logs: string[] = [];
    const open: Kysely<Database>[] = [];
    const kysely = (c: KyselyConfig) => {
      const k = new Kysely<Database>(c);
      open.push(k);
      return k;
    };
    let b: OrmBackend;

    beforeAll(async () => {
      b = backend();
      fs = createFieldseal({
        provider,
        keys: { mode: 'store', store: new PostgresKeyStore({ sql: b.sql }), masterKeyId: 'master' },
        cache: { maxAgeMs: 60_000 },
        models: [User],
        admin: true,
      });
      for (const t of ['acme', 'globex', 'initech']) await fs.provisionTenant(t);
      source = createPostgresRepository({
        sql: b.sql,
        fs,
        model: User,
        blindIndex: { indexer: await testIndexer() },
      });
      await source.createTable();
      await b.sql.exec('CREATE TABLE IF NOT EXISTS plain_things (id text PRIMARY KEY, label text)');
      config = withFieldseal(kyselyDialect(b), {
        fs,
        models: [User],
        blindIndexes: { kusers: source },
      });
      db = kysely({
        ...config,
        log: (event: LogEvent) => {
          logs.push(inspect(event, { depth: 8, showHidden: true }));
        },
      });
    });

    afterAll(async () => {
      await Promise.all(open.map((k) => k.destroy()));
      fs.close();
    });

    const rawUsers = async (tenant: string) =>
      (await b.sql.query(`SELECT * FROM kusers WHERE "tenantId" = $1 ORDER BY id`, [tenant])).rows;

    it('inserts encrypt, selects and RETURNING decrypt; the table holds envelopes only', async () => {
      const rows = [user('acme', 1), user('acme', 2), user('globex', 1)];
      const returned = await db
        .insertInto('kusers')
        .values(rows)
        .returning(['id', 'ssn', 'notes as memo'])
        .execute();
      expect(returned).toEqual(
        rows.map((r) => ({
          id: r.id,
          ssn: r.ssn,
          memo: r.notes === null ? null : Buffer.from(r.notes),
        })),
      );
      // A partial selection: the tenant and key are added for the context, then removed.
      const partial = await db
        .selectFrom('kusers')
        .select(['ssn', 'kusers.email as address'])
        .where('tenantId', '=', 'acme')
        .orderBy('id')
        .execute();
      expect(partial).toEqual([
        { ssn: rows[0]!.ssn, address: rows[0]!.email },
        { ssn: rows[1]!.ssn, address: rows[1]!.email },
      ]);
      const stored = await rawUsers('acme');
      const dump = inspect(stored, { depth: 5, maxArrayLength: null, maxStringLength: null });
      expect(dump).not.toContain(CANARY);
      expect(dump).not.toContain('user1@example.com');
      expect(stored[0]!.ssn).toMatch(/^fs1:/);
      expect(Buffer.from(stored[0]!.email as Uint8Array)[0]).toBe(0xf5);
      expect(stored[0]!.email_bidx_v1).toEqual(expect.any(String));
      expect(stored[1]!.notes).toBeNull();
      expect(stored[0]!.email_bidx_v1).not.toBe(stored[1]!.email_bidx_v1);
    });

    it('= and in on a blind-indexed column query the index and re-check collisions', async () => {
      // Find two addresses whose 16-bit indexes collide in this tenant (2,000 candidates).
      const [a, c] = await collidingValues(source, 'initech', 'email');
      await db
        .insertInto('kusers')
        .values([
          user('initech', 1, { email: a }),
          user('initech', 2, { email: c }),
          user('initech', 3, { email: 'other@example.com' }),
        ])
        .execute();
      const same = await b.sql.query(
        `SELECT count(DISTINCT email_bidx_v1) AS n FROM kusers WHERE "tenantId" = 'initech' AND id <> 'initech-u3'`,
      );
      expect(Number(same.rows[0]!.n)).toBe(1); // the database sees one index for both
      const query = db
        .selectFrom('kusers')
        .select(['id', 'name'])
        .where('tenantId', '=', 'initech')
        .where('email', '=', ` ${a.toUpperCase()} `);
      const compiled = query.compile();
      expect(compiled.sql).toContain('"email_bidx_v1" in');
      expect(compiled.sql).not.toMatch(/"email" =/);
      expect(await query.execute()).toEqual([{ id: 'initech-u1', name: 'name 1' }]);
      const both = await db
        .selectFrom('kusers')
        .selectAll()
        .where('tenantId', '=', 'initech')
        .where('email', 'in', [c, 'other@example.com', 'nobody@example.com'])
        .orderBy('id')
        .execute();
      expect(both.map((r) => r.id)).toEqual(['initech-u2', 'initech-u3']);
      expect(Object.keys(both[0]!).some((k) => k.startsWith('__fieldseal'))).toBe(false);
      // Another tenant's identical address is never found through this tenant's index.
      expect(
        await db
          .selectFrom('kusers')
          .select('id')
          .where('tenantId', '=', 'globex')
          .where('email', '=', a)
          .execute(),
      ).toEqual([]);
    });

    it('one statement of 1,200 rows stores every row with its indexes', async () => {
      const rows = Array.from({ length: 1200 }, (_, i) => user('globex', 1000 + i));
      await db.insertInto('kusers').values(rows).execute();
      for (const probe of [rows[0]!, rows[1199]!]) {
        const found = await db
          .selectFrom('kusers')
          .select(['id', 'ssn'])
          .where('tenantId', '=', 'globex')
          .where('email', '=', probe.email)
          .execute();
        expect(found).toEqual([{ id: probe.id, ssn: probe.ssn }]);
      }
    });

    // PGlite has no cursors: streaming is tested on the server (which CI always has).
    const onServer = name === 'PGlite' ? () => undefined : it;
    onServer('stream() decrypts, re-checks and strips each chunk (with pg-cursor)', async () => {
      if (b.kind !== 'server') throw new Error('the server backend was expected');
      const pool = b.pool();
      const streaming = kysely(
        withFieldseal(
          new PostgresDialect({
            pool: { connect: () => pool.connect(), end: async () => {} },
            cursor: Cursor,
          }),
          { fs, models: [User], blindIndexes: { kusers: source } },
        ),
      );
      const rows = Array.from({ length: 25 }, (_, i) => user('globex', 200 + i));
      await streaming.insertInto('kusers').values(rows).execute();
      const seen: Record<string, unknown>[] = [];
      for await (const row of streaming
        .selectFrom('kusers')
        .select(['id', 'ssn'])
        .where('tenantId', '=', 'globex')
        .where(
          'email',
          'in',
          rows.map((r) => r.email),
        )
        .orderBy('id')
        .stream(7)) {
        seen.push(row);
      }
      expect(seen).toEqual(rows.map((r) => ({ id: r.id, ssn: r.ssn })));
    });

    it('a plugin before fieldseal that copies results keeps the plan', async () => {
      const copying = {
        transformQuery: (a: { node: unknown }) => a.node,
        transformResult: (a: { result: { rows: unknown[] } }) =>
          Promise.resolve({
            ...a.result,
            rows: [...a.result.rows],
          }),
      };
      const k = kysely({ ...config, plugins: [copying as never, ...config.plugins] });
      await k.insertInto('kusers').values(user('globex', 80)).execute();
      const rows = await k
        .selectFrom('kusers')
        .select(['id', 'ssn'])
        .where('tenantId', '=', 'globex')
        .where('id', '=', 'globex-u80')
        .execute();
      expect(rows).toEqual([{ id: 'globex-u80', ssn: user('globex', 80).ssn }]);
      expect(
        Object.getOwnPropertySymbols(
          (await k
            .selectFrom('kusers')
            .select('id')
            .where('tenantId', '=', 'globex')
            .executeTakeFirst()) ?? {},
        ),
      ).toEqual([]);
    });

    it('builders sharing a query id never read each other plans; explain() works', async () => {
      const [a, c] = await collidingValues(source, 'acme', 'email');
      await db
        .insertInto('kusers')
        .values([user('acme', 70, { email: a }), user('acme', 71, { email: c })])
        .execute();
      const base = db.selectFrom('kusers').selectAll().where('tenantId', '=', 'acme');
      const lookup = base.where('email', '=', a);
      const [found, everything] = await Promise.all([lookup.execute(), base.execute()]);
      expect(found.map((r) => r.id)).toEqual(['acme-u70']);
      expect(everything.length).toBeGreaterThan(2);
      const compiled = lookup.compile();
      await base.execute();
      expect((await db.executeQuery(compiled)).rows.map((r) => r.id)).toEqual(['acme-u70']);
      const twice = await Promise.all([lookup.execute(), lookup.execute()]);
      expect(twice.map((rows) => rows.map((r) => r.id))).toEqual([['acme-u70'], ['acme-u70']]);
      const plan = await base.where('email', '=', a).explain();
      expect(plan.length).toBeGreaterThan(0);
    });

    it('an update by key re-encrypts and re-indexes; is null filters', async () => {
      await db
        .insertInto('kusers')
        .values([user('acme', 10), user('acme', 11)])
        .execute();
      const updated = await db
        .updateTable('kusers')
        .set({ email: 'moved@example.com', ssn: `${CANARY}-new`, notes: null, name: 'renamed' })
        .where('tenantId', '=', 'acme')
        .where('id', '=', 'acme-u11')
        .returning(['id', 'email', 'ssn'])
        .execute();
      expect(updated).toEqual([
        { id: 'acme-u11', email: 'moved@example.com', ssn: `${CANARY}-new` },
      ]);
      const byNew = await db
        .selectFrom('kusers')
        .select(['id', 'notes'])
        .where('tenantId', '=', 'acme')
        .where('email', '=', 'moved@example.com')
        .execute();
      expect(byNew).toEqual([{ id: 'acme-u11', notes: null }]);
      const byOld = await db
        .selectFrom('kusers')
        .select('id')
        .where('tenantId', '=', 'acme')
        .where('email', '=', 'user11@example.com')
        .execute();
      expect(byOld).toEqual([]);
      const nulls = await db
        .selectFrom('kusers')
        .select('id')
        .where('tenantId', '=', 'acme')
        .where('notes', 'is', null)
        .where('id', 'in', ['acme-u10', 'acme-u11'])
        .orderBy('id')
        .execute();
      expect(nulls.map((r) => r.id)).toEqual(['acme-u10', 'acme-u11']);
      // The repository reads what Kysely wrote (same context, same indexes).
      expect((await source.findBy('acme', 'email', 'moved@example.com')).map((r) => r.id)).toEqual([
        'acme-u11',
      ]);
    });

    it('an upsert may replace an encrypted column with excluded.<itself> on the record key', async () => {
      await db.insertInto('kusers').values(user('globex', 20)).execute();
      await db
        .insertInto('kusers')
        .values(user('globex', 20, { email: 'upserted@example.com', ssn: 'upserted' }))
        .onConflict((oc) =>
          oc.columns(['tenantId', 'id']).doUpdateSet((eb) => ({
            email: eb.ref('excluded.email'),
            ssn: eb.ref('excluded.ssn'),
          })),
        )
        .execute();
      const found = await db
        .selectFrom('kusers')
        .select(['id', 'ssn'])
        .where('tenantId', '=', 'globex')
        .where('email', '=', 'upserted@example.com')
        .execute();
      expect(found).toEqual([{ id: 'globex-u20', ssn: 'upserted' }]);
      for (const attempt of [
        db
          .insertInto('kusers')
          .values(user('globex', 20))
          .onConflict((oc) => oc.columns(['tenantId', 'id']).doUpdateSet({ ssn: 'literal' })),
        db
          .insertInto('kusers')
          .values(user('globex', 20))
          .onConflict((oc) =>
            oc.column('id').doUpdateSet((eb) => ({ ssn: eb.ref('excluded.ssn') })),
          ),
      ]) {
        expect(await refusal(attempt.execute())).toMatchObject({
          code: 'ERR_UNSUPPORTED_OPTION',
          field: 'kusers.ssn',
        });
      }
    });

    it('refuses, naming table and column, what it cannot bind to a record; nothing runs', async () => {
      await db.insertInto('kusers').values(user('acme', 30)).execute();
      const before = await rawUsers('acme');
      const cases: [string, { execute(): Promise<unknown> }, string | undefined][] = [
        [
          'update without the record key',
          db.updateTable('kusers').set({ ssn: 'x' }).where('tenantId', '=', 'acme'),
          'kusers.ssn',
        ],
        [
          'update by another column',
          db
            .updateTable('kusers')
            .set({ ssn: 'x' })
            .where('tenantId', '=', 'acme')
            .where('name', '=', 'name 30'),
          'kusers.ssn',
        ],
        [
          'update of the tenant',
          db.updateTable('kusers').set({ tenantId: 'globex' }).where('id', '=', 'acme-u30'),
          'kusers.tenantId',
        ],
        [
          'update of an index column',
          db
            .updateTable('kusers')
            .set({ email_bidx_v1: 'forged' } as never)
            .where('tenantId', '=', 'acme')
            .where('id', '=', 'acme-u30'),
          'kusers.email_bidx_v1',
        ],
        [
          'update with an SQL expression',
          db
            .updateTable('kusers')
            .set({ ssn: sql<string>`upper(ssn)` })
            .where('tenantId', '=', 'acme')
            .where('id', '=', 'acme-u30'),
          'kusers.ssn',
        ],
        [
          'update matching an encrypted column',
          db
            .updateTable('kusers')
            .set({ name: 'x' })
            .where('tenantId', '=', 'acme')
            .where('email', '=', 'user30@example.com'),
          'kusers.email',
        ],
        [
          'delete matching an encrypted column',
          db
            .deleteFrom('kusers')
            .where('tenantId', '=', 'acme')
            .where('email', '=', 'user30@example.com'),
          'kusers.email',
        ],
        [
          'like',
          db
            .selectFrom('kusers')
            .select('id')
            .where('tenantId', '=', 'acme')
            .where('ssn', 'like', '%1%'),
          'kusers.ssn',
        ],
        [
          'a range',
          db
            .selectFrom('kusers')
            .select('id')
            .where('tenantId', '=', 'acme')
            .where('ssn', '>', 'a'),
          'kusers.ssn',
        ],
        [
          '= on a column without a blind index',
          db
            .selectFrom('kusers')
            .select('id')
            .where('tenantId', '=', 'acme')
            .where('ssn', '=', 'x'),
          'kusers.ssn',
        ],
        [
          'a lookup without the tenant',
          db.selectFrom('kusers').select('id').where('email', '=', 'user30@example.com'),
          'kusers.email',
        ],
        [
          'a lookup inside OR',
          db
            .selectFrom('kusers')
            .select('id')
            .where('tenantId', '=', 'acme')
            .where((eb) => eb.or([eb('email', '=', 'a@b.c'), eb('name', '=', 'x')])),
          'kusers.email',
        ],
        [
          'order by',
          db.selectFrom('kusers').select('id').where('tenantId', '=', 'acme').orderBy('ssn'),
          'kusers.ssn',
        ],
        [
          'group by',
          db.selectFrom('kusers').select('ssn').where('tenantId', '=', 'acme').groupBy('ssn'),
          'kusers.ssn',
        ],
        [
          'an expression over an encrypted column',
          db
            .selectFrom('kusers')
            .select((eb) => eb.fn<string>('upper', ['ssn']).as('s'))
            .where('tenantId', '=', 'acme'),
          'kusers.ssn',
        ],
        [
          'a count with a lookup',
          db
            .selectFrom('kusers')
            .select((eb) => eb.fn.countAll().as('n'))
            .where('tenantId', '=', 'acme')
            .where('email', '=', 'user30@example.com'),
          'kusers.email',
        ],
        [
          'distinct reading an encrypted column',
          db.selectFrom('kusers').select('ssn').distinct().where('tenantId', '=', 'acme'),
          'kusers.ssn',
        ],
        [
          'a join',
          db
            .selectFrom('kusers')
            .innerJoin('plain_things', 'plain_things.id', 'kusers.id')
            .select(['kusers.id']),
          undefined,
        ],
        [
          'a subquery',
          db
            .selectFrom('plain_things')
            .select('id')
            .where('id', 'in', db.selectFrom('kusers').select('id')),
          undefined,
        ],
        [
          'an SQL expression inserted',
          db.insertInto('kusers').values({ ...user('acme', 31), ssn: sql<string>`'x'` }),
          'kusers.ssn',
        ],
        [
          'an insert without the record key',
          db
            .insertInto('kusers')
            .values({ ...user('acme', 32), id: sql<string>`gen_random_uuid()::text` }),
          'kusers.email',
        ],
        [
          'INSERT ... SELECT',
          db
            .insertInto('kusers')
            .columns(['tenantId', 'id', 'name', 'email', 'ssn'])
            .expression(db.selectFrom('kusers').select(['tenantId', 'id', 'name', 'email', 'ssn'])),
          undefined,
        ],
        [
          'an index column written by hand',
          db.insertInto('kusers').values({ ...user('acme', 33), email_bidx_v1: 'forged' } as never),
          'kusers.email_bidx_v1',
        ],
        [
          'a reserved output name',
          db.selectFrom('kusers').select('id as __fieldseal_0').where('tenantId', '=', 'acme'),
          undefined,
        ],
        // Found by a second review: raw table names split across fragments, key kinds, nulls.
        [
          'a raw table name split in fragments',
          db.updateTable(sql`kus${sql.raw('ers')}`.as('u') as never).set({ ssn: 'PLAIN' } as never),
          undefined,
        ],
        [
          'a raw table name joined from parts',
          db
            .updateTable(sql.join([sql.raw('kus'), sql.raw('ers')], sql.raw('')).as('u') as never)
            .set({ ssn: 'PLAIN' } as never),
          undefined,
        ],
        [
          'a key value of the wrong kind',
          db
            .updateTable('kusers')
            .set({ ssn: 'X' })
            .where('tenantId', '=', 'acme')
            .where('id', '=', 30 as never),
          'kusers.id',
        ],
        [
          'a null written to every row',
          db.updateTable('kusers').set({ notes: null }),
          'kusers.notes',
        ],
        // Found by review: raw SQL in every position a value, column or table can take.
        [
          'a raw column in set()',
          db
            .updateTable('kusers')
            .set(sql<string>`ssn`, 'PLAIN')
            .where('tenantId', '=', 'acme')
            .where('id', '=', 'acme-u30'),
          undefined,
        ],
        [
          'sql.ref() of the tenant in set()',
          db
            .updateTable('kusers')
            .set(sql.ref('tenantId'), 'globex')
            .where('tenantId', '=', 'acme')
            .where('id', '=', 'acme-u30'),
          undefined,
        ],
        [
          'an envelope copied into a plain column',
          db
            .updateTable('kusers')
            .set({ name: (eb) => eb.ref('ssn') })
            .where('tenantId', '=', 'acme')
            .where('id', '=', 'acme-u30'),
          'kusers.ssn',
        ],
        [
          'a raw table in updateTable()',
          db
            .updateTable(sql`kusers`.as('u') as never)
            .set({ ssn: 'PLAIN' } as never)
            .where('u.id' as never, '=', 'acme-u30' as never),
          undefined,
        ],
        [
          'sql.id() as the table',
          db.updateTable(sql.id('kusers').as('u') as never).set({ ssn: 'PLAIN' } as never),
          undefined,
        ],
        ['a raw table in deleteFrom()', db.deleteFrom(sql`kusers`.as('u') as never), undefined],
        [
          'an insert without a column list',
          db
            .insertInto('kusers')
            .expression(
              sql`values ('acme', 'acme-x1', 'n', 'PLAIN'::bytea, 'PLAIN', null)` as never,
            ),
          undefined,
        ],
        [
          'an upsert changing the tenant',
          db
            .insertInto('kusers')
            .values(user('acme', 30))
            .onConflict((oc) => oc.columns(['tenantId', 'id']).doUpdateSet({ tenantId: 'globex' })),
          'kusers.tenantId',
        ],
        [
          'an upsert changing the key',
          db
            .insertInto('kusers')
            .values(user('acme', 30))
            .onConflict((oc) => oc.columns(['tenantId', 'id']).doUpdateSet({ id: 'acme-moved' })),
          'kusers.id',
        ],
        [
          'raw OR widening an update',
          db
            .updateTable('kusers')
            .set({ ssn: 'X' })
            .where('tenantId', '=', 'acme')
            .where('id', '=', 'acme-u30')
            .where(sql<boolean>`true or true`),
          'kusers.ssn',
        ],
        [
          'modifyEnd() widening an update',
          db
            .updateTable('kusers')
            .set({ ssn: 'X' })
            .where('tenantId', '=', 'acme')
            .where('id', '=', 'acme-u30')
            .modifyEnd(sql`or true`),
          'kusers.ssn',
        ],
        [
          'a raw key value widening an update',
          db
            .updateTable('kusers')
            .set({ ssn: 'X' })
            .where('tenantId', '=', 'acme')
            .where(sql.ref('id'), '=', sql`id or true`),
          'kusers.ssn',
        ],
        [
          'a raw encrypted column compared with plaintext',
          db
            .selectFrom('kusers')
            .select('id')
            .where('tenantId', '=', 'acme')
            .where(sql<string>`ssn`, '=', 'SECRET-SEARCH'),
          'kusers.ssn',
        ],
        [
          'a raw function of an encrypted column',
          db
            .selectFrom('kusers')
            .select('id')
            .where('tenantId', '=', 'acme')
            .where(sql<number>`length(ssn)`, '>', 10),
          'kusers.ssn',
        ],
        [
          'a raw selection re-encoding an envelope',
          db
            .selectFrom('kusers')
            .select(sql<string>`encode(email, 'base64')`.as('e'))
            .where('tenantId', '=', 'acme'),
          'kusers.email',
        ],
        [
          'a window over a lookup',
          db
            .selectFrom('kusers')
            .select(['id', sql<number>`count(*) over ()`.as('n')])
            .where('tenantId', '=', 'acme')
            .where('email', '=', 'user30@example.com'),
          'kusers.email',
        ],
        [
          'raw OR beside a lookup',
          db
            .selectFrom('kusers')
            .select(['tenantId', 'id'])
            .where('tenantId', '=', 'acme')
            .where('email', '=', 'user30@example.com')
            .where(sql<boolean>`true or true`),
          'kusers.email',
        ],
        [
          'distinct on beside a lookup',
          db
            .selectFrom('kusers')
            .selectAll()
            .distinctOn('name')
            .where('tenantId', '=', 'acme')
            .where('email', '=', 'user30@example.com'),
          'kusers.email',
        ],
      ];
      for (const [what, query, column] of cases) {
        const got = await refusal(query.execute());
        expect(got.code, what).toBe('ERR_UNSUPPORTED_OPTION');
        if (column !== undefined) expect(got.field, what).toBe(column);
        expect(got.message, what).toMatch(/kusers|table is raw SQL/);
        expect(got.message, what).not.toContain('user30@example.com');
      }
      expect(await rawUsers('acme')).toEqual(before);
    });

    it('a value the model refuses is a typed error that never holds the value', async () => {
      const bad = [
        { ...user('acme', 40), ssn: 42 as unknown as string },
        { ...user('acme', 41), ssn: null as unknown as string },
      ];
      for (const row of bad) {
        const got = await refusal(db.insertInto('kusers').values(row).execute());
        expect(got).toMatchObject({ code: 'ERR_UNSUPPORTED_VALUE', field: 'kusers.ssn' });
      }
      const got = await refusal(
        db
          .insertInto('kusers')
          .values({ ...user('acme', 42), email: Buffer.from(CANARY) as never })
          .execute(),
      );
      expect(got.code).toBe('ERR_UNSUPPORTED_VALUE');
      expect(got.message).not.toContain(CANARY);
      expect((await rawUsers('acme')).some((r) => String(r.id).startsWith('acme-u4'))).toBe(false);
    });

    it('raw SQL runs as it is, but an envelope in its rows is refused', async () => {
      await db.insertInto('plain_things').values({ id: 'p1', label: 'plain' }).execute();
      expect(
        (await sql<{ label: string }>`select label from plain_things`.execute(db)).rows,
      ).toEqual([{ label: 'plain' }]);
      expect(
        (
          await sql<{
            id: string;
          }>`select id from kusers where "tenantId" = 'acme' and id = 'acme-u1'`.execute(db)
        ).rows,
      ).toEqual([{ id: 'acme-u1' }]);
      for (const query of [
        sql`select ssn from kusers where "tenantId" = 'acme'`,
        sql`select email from kusers where "tenantId" = 'acme'`,
        sql`select json_agg(email) as agg from kusers`,
        sql`select json_build_object('s', ssn) as o from kusers`,
      ]) {
        expect(await refusal(query.execute(db))).toMatchObject({ code: 'ERR_UNSUPPORTED_OPTION' });
      }
      // A view over the table is another name: its rows are scanned the same way.
      await sql`create or replace view kusers_view as select id, ssn from kusers`.execute(db);
      expect(await refusal(sql`select * from kusers_view`.execute(db))).toMatchObject({
        code: 'ERR_UNSUPPORTED_OPTION',
        field: '?.ssn',
      });
    });

    it('both halves are required: nothing is written or read without either', async () => {
      const count = async () => (await b.sql.query('SELECT count(*) AS n FROM kusers')).rows[0]!.n;
      const n = await count();
      // The plugin alone: its pending values refuse to be serialised.
      const pluginOnly = kysely({ dialect: kyselyDialect(b), plugins: config.plugins });
      const got = await pluginOnly
        .insertInto('kusers')
        .values(user('acme', 50))
        .execute()
        .then(
          () => undefined,
          (err: unknown) => err,
        );
      expect(got).toBeInstanceOf(Error);
      // node-postgres asks the value to serialise itself (refused); PGlite refuses a non-byte
      // value for BYTEA before it gets that far.
      expect(String(got)).toMatch(/reached the driver unsealed|Invalid input for bytea/);
      expect(inspect(got, { depth: 5 })).not.toContain(CANARY);
      expect(await count()).toBe(n);
      // The dialect alone (or withoutPlugins()): a query naming the table is refused.
      const dialectOnly = kysely({ dialect: config.dialect });
      for (const q of [
        dialectOnly.insertInto('kusers').values(user('acme', 51)),
        dialectOnly.selectFrom('kusers').selectAll(),
        db.withoutPlugins().selectFrom('kusers').select('ssn'),
      ]) {
        expect(await refusal(q.execute())).toMatchObject({ code: 'ERR_UNSUPPORTED_OPTION' });
      }
      expect(await count()).toBe(n);
      // Other tables work through the dialect alone.
      expect(await dialectOnly.selectFrom('plain_things').select('id').execute()).toEqual([
        { id: 'p1' },
      ]);
    });

    it('setup refuses a blind-indexed model without its index source, and sources of no model', () => {
      expect(() => withFieldseal(kyselyDialect(b), { fs, models: [User] })).toThrow(/blindIndexes/);
      expect(() =>
        withFieldseal(kyselyDialect(b), {
          fs,
          models: [User],
          blindIndexes: { kusers: source, nothere: source },
        }),
      ).toThrow(/nothere/);
      expect(() => withFieldseal({} as never, { fs, models: [User] })).toThrow(TypeError);
    });

    it('no plaintext or key in logs, errors or inspect', async () => {
      await db.insertInto('kusers').values(user('globex', 60)).execute();
      await db.selectFrom('kusers').selectAll().where('tenantId', '=', 'globex').execute();
      await refusal(
        db
          .updateTable('kusers')
          .set({ ssn: `${CANARY}-x` })
          .where('tenantId', '=', 'globex')
          .execute(),
      );
      const printed = [
        ...logs,
        inspect(config, { depth: 10, showHidden: true }),
        inspect(db, { depth: 6, showHidden: true }),
      ].join('\n');
      expect(logs.length).toBeGreaterThan(0);
      expect(printed).not.toContain(CANARY);
      expect(printed).not.toContain('user60@example.com');
      expect(printed).toContain('[fieldseal pending value]');
    });
  });
});
