import { inspect } from 'node:util';
import { and, eq, inArray, or, sql } from 'drizzle-orm';
import { pgSchema, pgTable, text } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFieldseal, defineModel, field, type Fieldseal } from '../../src/index.js';
import { sealed, sealedCheckConstraints, sealTable } from '../../src/integrations/drizzle/index.js';
import {
  createPostgresRepository,
  PostgresKeyStore,
  type PostgresRepository,
} from '../../src/postgres/index.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';
import { drizzleDb, type DrizzleDb } from './drizzle-db.js';
import { collidingValues, crossTenantCollision, refusal } from './orm-test-helpers.js';
import { onOrmBackends, type OrmBackend } from './orm-backends.js';
import { testIndexer } from './repository-backends.js';

/*
 * fieldseal/drizzle beyond the repository contract (drizzle-contract.test.ts): sealed columns
 * refusing plain values at run time, the checks of sealTable, partial selections, forced
 * blind-index collisions re-checked, lookups under or/not refused, and canaries in errors.
 * The compile-time refusal of a plain value is in test/unit/drizzle-types.test.ts.
 */
const CANARY = 'CANARY-drizzle-51c2';

const User = defineModel({
  table: 'dusers',
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
  },
});

const dusers = pgTable('dusers', {
  tenantId: text('tenantId').notNull(),
  id: text('id').notNull(),
  name: text('name').notNull(),
  email: sealed.bytes('email').notNull(),
  email_bidx_v1: text('email_bidx_v1'),
  ssn: sealed.text('ssn').notNull(),
});

const user = (tenantId: string, i: number, email = `user${i}@example.com`) => ({
  tenantId,
  id: `${tenantId}-u${i}`,
  name: `name ${i}`,
  email,
  ssn: `${CANARY}-ssn-${tenantId}-${i}`,
});

onOrmBackends((name, backend) => {
  describe(`fieldseal/drizzle on ${name}`, () => {
    let b: OrmBackend;
    let fs: Fieldseal;
    let source: PostgresRepository<typeof User>;
    let db: DrizzleDb;
    let users: ReturnType<typeof sealTable<typeof dusers, typeof User>>;

    beforeAll(async () => {
      b = backend();
      fs = createFieldseal({
        provider: new MemoryKeyProvider(),
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
      // PGlite cannot bind parameters to a domain over BYTEA: a table CHECK there.
      const bytes = b.kind === 'pglite' ? 'check' : 'domain';
      for (const statement of sealedCheckConstraints(dusers, { bytes }))
        await b.sql.exec(statement);
      db = drizzleDb(b);
      users = sealTable(fs, dusers, User, { blindIndexes: source });
    });
    afterAll(() => fs.close());

    it('encrypts before insert, decrypts a partial select; the table holds envelopes', async () => {
      await db
        .insert(dusers)
        .values(await users.encrypt([user('acme', 1), user('acme', 2), user('globex', 1)]));
      const partial = await users.decrypt(
        db
          .select({ tenantId: dusers.tenantId, id: dusers.id, ssn: dusers.ssn })
          .from(dusers)
          .where(eq(dusers.tenantId, 'acme'))
          .orderBy(dusers.id),
      );
      expect(partial).toEqual([
        { tenantId: 'acme', id: 'acme-u1', ssn: user('acme', 1).ssn },
        { tenantId: 'acme', id: 'acme-u2', ssn: user('acme', 2).ssn },
      ]);
      const raw = (await b.sql.query('SELECT * FROM dusers')).rows;
      const dump = inspect(raw, { depth: 5, maxStringLength: null });
      expect(dump).not.toContain(CANARY);
      expect(raw.every((r) => String(r.ssn).startsWith('fs1:'))).toBe(true);
      // Without the tenant and key, the context is unknown: refused, naming the column.
      expect(
        await refusal(
          users.decrypt(
            db.select({ ssn: dusers.ssn }).from(dusers).where(eq(dusers.tenantId, 'acme')),
          ),
        ),
      ).toMatchObject({ code: 'ERR_UNSUPPORTED_OPTION', field: 'dusers.ssn' });
    });

    it('a plain value written into a sealed column is refused before anything is sent', async () => {
      const before = (await b.sql.query('SELECT count(*) AS n FROM dusers')).rows[0]!.n;
      for (const row of [
        { ...user('acme', 9), email: Buffer.from(`${CANARY}@example.com`), ssn: 'fs1:forged' },
        { ...user('acme', 9), email: Buffer.from([0xf5, 0x01, 1]), ssn: `${CANARY}-plain` },
      ]) {
        const got = await refusal(db.insert(dusers).values(row as never));
        expect(got.code).toBe('ERR_PLAINTEXT_IN_ENCRYPTED_FIELD');
        expect(got.message).toMatch(/column (email|ssn)/);
        expect(got.message).not.toContain(CANARY);
      }
      expect((await b.sql.query('SELECT count(*) AS n FROM dusers')).rows[0]!.n).toBe(before);
    });

    it('eq and inArray query the index; decrypt(query) re-checks collisions', async () => {
      const [a, c] = await collidingValues(source, 'initech', 'email');
      await db
        .insert(dusers)
        .values(
          await users.encrypt([
            user('initech', 1, a),
            user('initech', 2, c),
            user('initech', 3, 'x@example.com'),
          ]),
        );
      const cond0 = await users.eq(dusers.email, a, { tenant: 'initech' });
      const query = db
        .select()
        .from(dusers)
        .where(
          and(
            eq(dusers.tenantId, 'initech'),
            await users.eq(dusers.email, ` ${a.toUpperCase()} `, { tenant: 'initech' }),
          ),
        );
      expect(query.toSQL().sql).toContain('"email_bidx_v1" in');
      expect((await query).length).toBe(2); // the database finds both: one index
      const found = await users.decrypt(query);
      expect(found.map((r) => r.id)).toEqual(['initech-u1']);
      // A condition inside a bare SQL wrapper is found and re-checked too.
      const inWrapper = await users.decrypt(
        db
          .select()
          .from(dusers)
          .where(
            and(eq(dusers.tenantId, 'initech'), {
              getSQL: () => cond0,
            }),
          ),
      );
      expect(inWrapper.map((r) => r.id)).toEqual(['initech-u1']);
      expect(found[0]!.email).toBe(a);
      const any = await users.decrypt(
        db
          .select({ tenantId: dusers.tenantId, id: dusers.id, email: dusers.email })
          .from(dusers)
          .where(
            and(
              eq(dusers.tenantId, 'initech'),
              await users.inArray(dusers.email, [c, 'x@example.com', 'nobody@example.com'], {
                tenant: 'initech',
              }),
            ),
          )
          .orderBy(dusers.id),
      );
      expect(any.map((r) => r.id)).toEqual(['initech-u2', 'initech-u3']);
      // A lookup under or cannot be re-checked; nor one whose column is not selected.
      const cond = await users.eq(dusers.email, a, { tenant: 'initech' });
      expect(
        await refusal(
          users.decrypt(
            db
              .select()
              .from(dusers)
              .where(or(eq(dusers.tenantId, 'initech'), cond)),
          ),
        ),
      ).toMatchObject({ code: 'ERR_UNSUPPORTED_OPTION', field: 'dusers.email' });
      expect(
        await refusal(
          users.decrypt(
            db
              .select({ tenantId: dusers.tenantId, id: dusers.id })
              .from(dusers)
              .where(
                and(
                  eq(dusers.tenantId, 'initech'),
                  await users.eq(dusers.email, a, { tenant: 'initech' }),
                ),
              ),
          ),
        ),
      ).toMatchObject({ code: 'ERR_UNSUPPORTED_OPTION', field: 'dusers.email' });
      // A tenant with nothing indexed matches nothing.
      const none = await users.decrypt(
        db
          .select()
          .from(dusers)
          .where(await users.eq(dusers.email, a, { tenant: 'nobody' })),
      );
      expect(none).toEqual([]);
    });

    it('what the column types cannot see, the CHECK constraints refuse; envelope look-alikes too', async () => {
      await db.insert(dusers).values(await users.encrypt([user('globex', 30)]));
      const before = await b.sql.query(`SELECT ssn, name FROM dusers WHERE id = 'globex-u30'`);
      for (const set of [
        { ssn: sql`'PLAIN-SQL'` },
        { ssn: dusers.name },
        { email: sql`'PLAIN'::bytea` },
      ]) {
        const err: unknown = await db
          .update(dusers)
          .set(set as never)
          .where(eq(dusers.id, 'globex-u30'))
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(err).toBeInstanceOf(Error);
        // The database's refusal names the domain, never the failing row (no DETAIL).
        const details: string[] = [];
        for (
          let e: unknown = err;
          typeof e === 'object' && e !== null;
          e = (e as { cause?: unknown }).cause
        ) {
          const detail = (e as { detail?: unknown }).detail;
          if (typeof detail === 'string') details.push(detail);
        }
        // (on PGlite, binary columns have a table CHECK, which reports the failing row)
        if (b.kind === 'server' || !('email' in set)) {
          expect(details.join(' ')).not.toMatch(/PLAIN|name 30/);
        }
      }
      expect(
        (await b.sql.query(`SELECT ssn, name FROM dusers WHERE id = 'globex-u30'`)).rows,
      ).toEqual(before.rows);
      for (const row of [
        { ...user('acme', 31), ssn: 'fs1:PLAIN-PREFIX' },
        {
          ...user('acme', 32),
          email: Buffer.concat([Buffer.from([0xf5, 0x01]), Buffer.from(CANARY)]),
        },
      ]) {
        const values = { ...(await users.encrypt([user('acme', 33)]))[0]!, ...row, id: row.id };
        const got = await refusal(db.insert(dusers).values(values as never));
        expect(got.code).toBe('ERR_PLAINTEXT_IN_ENCRYPTED_FIELD');
      }
    });

    it('a lookup is re-checked only where it can be: subqueries, other tables, or-joins refused; tenant held', async () => {
      await db
        .insert(dusers)
        .values(
          await users.encrypt([
            user('acme', 40, 'same@example.com'),
            user('globex', 40, 'same@example.com'),
          ]),
        );
      const cond = await users.eq(dusers.email, 'same@example.com', { tenant: 'acme' });
      // A value with the same index in both tenants: without a tenant filter (or with another
      // tenant's), the database returns both rows; the other tenant's is never an answer.
      const shared = await crossTenantCollision(source, 'acme', 'globex', 'email');
      await db
        .insert(dusers)
        .values(await users.encrypt([user('acme', 41, shared), user('globex', 41, shared)]));
      const both = await users.eq(dusers.email, shared, { tenant: 'acme' });
      expect((await db.select().from(dusers).where(both)).length).toBe(2);
      expect((await users.decrypt(db.select().from(dusers).where(both))).map((r) => r.id)).toEqual([
        'acme-u41',
      ]);
      expect(
        await users.decrypt(
          db
            .select()
            .from(dusers)
            .where(and(eq(dusers.tenantId, 'globex'), both)),
        ),
      ).toEqual([]);
      const sub = db
        .select()
        .from(dusers)
        .where(and(eq(dusers.tenantId, 'acme'), cond))
        .as('sq');
      const inSub = db
        .select({ id: dusers.id })
        .from(dusers)
        .where(and(eq(dusers.tenantId, 'acme'), cond));
      const twin = pgTable('dusers', {
        tenantId: text('tenantId').notNull(),
        id: text('id').notNull(),
        name: text('name').notNull(),
        email: sealed.bytes('email').notNull(),
        email_bidx_v1: text('email_bidx_v1'),
        ssn: sealed.text('ssn').notNull(),
      });
      const twinUsers = sealTable(fs, twin, User, { blindIndexes: source });
      const twinCond = await twinUsers.eq(twin.email, 'same@example.com', { tenant: 'acme' });
      for (const [what, query] of [
        ['a subquery', db.select().from(sub)],
        ['in (select ...)', db.select().from(dusers).where(inArray(dusers.id, inSub))],
        ["another sealed table's condition", db.select().from(dusers).where(twinCond)],
        [
          'a hand-joined OR',
          db
            .select()
            .from(dusers)
            .where(sql.join([cond, sql`true`], sql` OR `)),
        ],
      ] as const) {
        const got = await refusal(users.decrypt(query as never)).catch((err: Error) => {
          throw new Error(`${what}: ${err.message}`);
        });
        expect(got, what).toMatchObject({
          code: 'ERR_UNSUPPORTED_OPTION',
          field: 'dusers.email',
        });
      }
    });

    it('encrypt reads each record once: its index and its envelope come from the same value', async () => {
      const real = user('acme', 50, 'real@example.com');
      const hostile = new Proxy(real, {
        get: (target, key): unknown =>
          key === 'email' ? 'decoy@example.com' : (Reflect.get(target, key) as unknown),
      });
      await db.insert(dusers).values(await users.encrypt([hostile]));
      const found = await users.decrypt(
        db
          .select()
          .from(dusers)
          .where(
            and(
              eq(dusers.tenantId, 'acme'),
              await users.eq(dusers.email, 'real@example.com', { tenant: 'acme' }),
            ),
          ),
      );
      expect(found.map((r) => [r.id, r.email])).toEqual([['acme-u50', 'real@example.com']]);
    });

    it('the domain statements name the table and domains in its pgSchema', () => {
      const app = pgSchema('app').table('dusers', {
        tenantId: text('tenantId').notNull(),
        id: text('id').notNull(),
        email: sealed.bytes('email').notNull(),
        ssn: sealed.text('ssn'),
      });
      const statements = sealedCheckConstraints(app);
      expect(statements).toHaveLength(4);
      expect(
        statements.filter((x) => x.startsWith('ALTER TABLE "app"."dusers" ALTER COLUMN')),
      ).toHaveLength(2);
      expect(statements.join('\n')).toContain('"app"."fieldseal_sealed_text"');
      expect(sealedCheckConstraints(dusers).join('\n')).not.toContain('"app"');
    });

    it('sealTable checks the table against the model', () => {
      const plainSsn = pgTable('dusers', {
        tenantId: text('tenantId').notNull(),
        id: text('id').notNull(),
        name: text('name').notNull(),
        email: sealed.bytes('email').notNull(),
        email_bidx_v1: text('email_bidx_v1'),
        ssn: text('ssn').notNull(),
      });
      expect(() => sealTable(fs, plainSsn, User, { blindIndexes: source })).toThrow(
        /column ssn: an encrypted field must be a sealed column/,
      );
      const wrongForm = pgTable('dusers', {
        tenantId: text('tenantId').notNull(),
        id: text('id').notNull(),
        name: text('name').notNull(),
        email: sealed.text('email').notNull(),
        email_bidx_v1: text('email_bidx_v1'),
        ssn: sealed.text('ssn').notNull(),
      });
      expect(() => sealTable(fs, wrongForm, User, { blindIndexes: source })).toThrow(
        /column email: storage binary needs sealed.bytes/,
      );
      const noIndex = pgTable('dusers', {
        tenantId: text('tenantId').notNull(),
        id: text('id').notNull(),
        name: text('name').notNull(),
        email: sealed.bytes('email').notNull(),
        ssn: sealed.text('ssn').notNull(),
      });
      expect(() => sealTable(fs, noIndex, User, { blindIndexes: source })).toThrow(/email_bidx_v1/);
      const extra = pgTable('dusers', {
        tenantId: text('tenantId').notNull(),
        id: text('id').notNull(),
        name: sealed.text('name').notNull(),
        email: sealed.bytes('email').notNull(),
        email_bidx_v1: text('email_bidx_v1'),
        ssn: sealed.text('ssn').notNull(),
      });
      expect(() => sealTable(fs, extra, User, { blindIndexes: source })).toThrow(
        /column name: a sealed column must be an encrypted field/,
      );
      expect(() => sealTable(fs, dusers, User)).toThrow(/blindIndexes/);
      const other = createFieldseal({
        provider: new MemoryKeyProvider(),
        keys: { mode: 'embedded', masterKeyId: 'master' },
        cache: { maxAgeMs: 1000 },
        fields: { 'dusers.email': { pad: 'bucket-32' } },
      });
      expect(() => sealTable(other, dusers, User, { blindIndexes: source })).toThrow();
      other.close();
    });

    it('errors never hold the values', async () => {
      const got = await refusal(
        users.encrypt([{ ...user('acme', 20), ssn: 42 as unknown as string }]),
      );
      expect(got.code).toBe('ERR_BATCH_FAILED');
      const printed = `${got.message} ${inspect(users, { depth: 6 })}`;
      expect(printed).not.toContain(CANARY);
      expect(printed).not.toContain('user20@example.com');
    });
  });
});
