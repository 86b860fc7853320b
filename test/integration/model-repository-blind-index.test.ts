import { beforeAll, describe, expect, it } from 'vitest';
import {
  defineModel,
  field,
  type BlindIndexer,
  type Fieldseal,
  type InferRecord,
} from '../../src/index.js';
import {
  createPostgresRepository,
  type PostgresRepository,
  type SqlClient,
} from '../../src/postgres/index.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';
import { onBothBackends, storeClient, testIndexer } from './repository-backends.js';

// Deliberately tiny indexes: 16 bits = 65,536 buckets, so 2,000 distinct emails per tenant
// collide (about 30 pairs are expected; none at all has probability ~e^-30).
const EMAIL_INDEX = { bits: 16, normalize: ['trim', 'lowercase', 'nfc'] } as const;

const Person = defineModel({
  table: 'people',
  tenant: 'tenantId',
  key: ['id'],
  fields: {
    tenantId: field.string(),
    id: field.string(),
    email: field.string().encrypted({ pad: 'bucket-32' }).blindIndex(EMAIL_INDEX),
    phone: field.string().encrypted({ storage: 'text' }).nullable().blindIndex({ bits: 16 }),
    name: field.string().encrypted(),
  },
});
type PersonRecord = InferRecord<typeof Person>;

const N = 2000;
const TENANTS = ['t-north', 't-south'];
const SHARED = ['Shared@Example.com', '  shared@example.COM', 'SHARED@EXAMPLE.COM '];

function person(tenant: string, i: number): PersonRecord {
  return {
    tenantId: tenant,
    id: `p_${String(i).padStart(5, '0')}`,
    // Rows 0..2 share one email in three spellings; the rest are distinct.
    email: i < SHARED.length ? SHARED[i]! : `user${i}@${tenant}.example`,
    // The phone field holds the same string as some emails: another field, another index.
    phone: i % 10 === 0 ? null : i === 5 ? 'user5@t-north.example' : `+1-555-${i}`,
    name: `Person ${i}`,
  };
}

const norm = (v: string): string => v.trim().toLowerCase().normalize('NFC');

onBothBackends((backend, db) => {
  describe(`blind-index lookups on ${backend}`, () => {
    const provider = new MemoryKeyProvider();
    let sql: SqlClient;
    let fs: Fieldseal;
    let indexer: BlindIndexer;
    let repo: PostgresRepository<typeof Person>;
    const data = new Map<string, PersonRecord[]>();

    beforeAll(async () => {
      sql = db();
      fs = storeClient(provider, sql, Person.policies);
      indexer = await testIndexer();
      for (const t of [...TENANTS, 't-doomed']) await fs.provisionTenant(t);
      repo = createPostgresRepository({ sql, fs, model: Person, blindIndex: { indexer } });
      await repo.createTable();
      for (const t of TENANTS) {
        const records = Array.from({ length: N }, (_, i) => person(t, i));
        data.set(t, records);
        expect(await repo.insert(records)).toBe(N);
      }
      await repo.insert([person('t-doomed', 5), person('t-doomed', 6)]);
    }, 120_000);

    const expected = (tenant: string, f: 'email' | 'phone', value: string): string[] =>
      data
        .get(tenant)!
        .filter((r) => {
          const v = r[f];
          return v !== null && (f === 'email' ? norm(v) === norm(value) : v === value);
        })
        .map((r) => r.id);

    it('stores a bi1 index per indexed field, 16 bits, with a (tenant, index) B-tree', async () => {
      const { rows } = await sql.query<{ email_bidx_v1: string; phone_bidx_v1: string | null }>(
        `SELECT email_bidx_v1, phone_bidx_v1 FROM people WHERE "tenantId" = 't-north' ORDER BY id LIMIT 20`,
      );
      for (const [i, r] of rows.entries()) {
        expect(r.email_bidx_v1).toMatch(/^bi1:1:[A-Za-z0-9_-]{3}$/);
        if (i % 10 === 0) expect(r.phone_bidx_v1).toBeNull();
        else expect(r.phone_bidx_v1).toMatch(/^bi1:1:[A-Za-z0-9_-]{3}$/);
      }
      const { rows: idx } = await sql.query<{ indexdef: string }>(
        `SELECT indexdef FROM pg_indexes WHERE tablename = 'people' AND indexname LIKE '%bidx%'`,
      );
      expect(idx.map((r) => r.indexdef).sort()).toEqual([
        expect.stringMatching(/btree \("tenantId", email_bidx_v1\)/),
        expect.stringMatching(/btree \("tenantId", phone_bidx_v1\)/),
      ]);
      const { rows: dump } = await sql.query<{ row: string }>(
        'SELECT p::text AS row FROM people p',
      );
      const text = dump.map((r) => r.row).join('\n');
      expect(text).not.toContain('@t-north.example');
      expect(text).not.toContain('Person 1');
    });

    it('returns exactly the matching rows despite forced collisions, counting false positives', async () => {
      const { rows: buckets } = await sql.query<{ idx: string; n: number }>(
        `SELECT email_bidx_v1 AS idx, count(*)::int AS n FROM people WHERE "tenantId" = 't-north'
          GROUP BY 1 HAVING count(*) > 1 ORDER BY 1`,
      );
      // The shared bucket (3 rows, one value) plus genuine collisions of different values.
      const colliding = buckets.filter((b) => b.n > 1);
      expect(colliding.length).toBeGreaterThan(3);
      let checked = 0;
      let expectedFalsePositives = 0;
      const before = repo.stats();
      for (const { idx } of colliding.slice(0, 25)) {
        const { rows } = await sql.query<{ id: string }>(
          `SELECT id FROM people WHERE "tenantId" = 't-north' AND email_bidx_v1 = $1`,
          [idx],
        );
        const members = data.get('t-north')!.filter((r) => rows.some((x) => x.id === r.id));
        for (const m of members) {
          const want = expected('t-north', 'email', m.email);
          const got = await repo.findBy('t-north', 'email', m.email);
          expect(got.map((r) => r.id)).toEqual(want);
          for (const r of got) expect(norm(r.email)).toBe(norm(m.email));
          expectedFalsePositives += members.length - want.length;
          checked += 1;
        }
      }
      const after = repo.stats();
      expect(checked).toBeGreaterThan(6);
      expect(expectedFalsePositives).toBeGreaterThan(0);
      expect(after.blindIndexFalsePositives - before.blindIndexFalsePositives).toBe(
        expectedFalsePositives,
      );
      expect(after.blindIndexCandidates - before.blindIndexCandidates).toBeGreaterThan(checked);
    });

    it('agrees with a full scan for 300 random lookups (present and absent values)', async () => {
      for (let n = 0; n < 300; n++) {
        const i = (n * 7919) % (N + 400); // some beyond N: absent values
        const value = `user${i}@t-south.example`;
        const got = await repo.findBy('t-south', 'email', value);
        expect(got.map((r) => r.id)).toEqual(expected('t-south', 'email', value));
      }
    });

    it('normalises like the index: every spelling finds all three rows', async () => {
      for (const spelling of [...SHARED, 'shared@example.com', '\tShared@Example.Com\n']) {
        const got = await repo.findBy('t-north', 'email', spelling);
        expect(got.map((r) => r.id)).toEqual(['p_00000', 'p_00001', 'p_00002']);
        expect(got.map((r) => r.email)).toEqual(SHARED);
      }
      // phone has the default normalisation (NFC only): case and spaces count.
      expect(await repo.findBy('t-north', 'phone', '+1-555-7')).toHaveLength(1);
      expect(await repo.findBy('t-north', 'phone', ' +1-555-7')).toHaveLength(0);
    });

    it('findByAny returns the rows of any of the values, in key order', async () => {
      const got = await repo.findByAny('t-south', 'email', [
        'user42@t-south.example',
        'USER7@t-south.example',
        'nobody@t-south.example',
        'shared@example.com',
      ]);
      expect(got.map((r) => r.id)).toEqual(['p_00000', 'p_00001', 'p_00002', 'p_00007', 'p_00042']);
      expect(await repo.findByAny('t-south', 'email', [])).toEqual([]);
    });

    it('isolates tenants and fields: same value, different indexes; never another tenant’s row', async () => {
      const { rows } = await sql.query<{ t: string; e: string; p: string | null; id: string }>(
        `SELECT "tenantId" AS t, id, email_bidx_v1 AS e, phone_bidx_v1 AS p FROM people
          WHERE id IN ('p_00000', 'p_00005') ORDER BY id, "tenantId"`,
      );
      const north0 = rows.find((r) => r.t === 't-north' && r.id === 'p_00000')!;
      const south0 = rows.find((r) => r.t === 't-south' && r.id === 'p_00000')!;
      expect(norm(person('t-north', 0).email)).toBe(norm(person('t-south', 0).email));
      expect(north0.e).not.toBe(south0.e); // same email, two tenants: unrelated indexes
      const north5 = rows.find((r) => r.t === 't-north' && r.id === 'p_00005')!;
      // p_00005's phone holds the same string as its email: another field, another index.
      expect(person('t-north', 5).phone).toBe(person('t-north', 5).email);
      expect(north5.p).not.toBe(north5.e);
      const shared = await repo.findBy('t-south', 'email', 'shared@example.com');
      expect(shared.every((r) => r.tenantId === 't-south')).toBe(true);
      expect(await repo.findBy('t-south', 'email', 'user9@t-north.example')).toEqual([]);
      expect(await repo.findBy('t-nobody', 'email', 'shared@example.com')).toEqual([]);
      expect(await repo.findBy('t-north', 'phone', 'user5@t-north.example')).toEqual([
        person('t-north', 5),
      ]);
    });

    it('fails closed when a candidate does not decrypt (it might be the row asked for)', async () => {
      // A ciphertext (and its index) copied onto another row: it is a candidate that fails.
      await sql.query(
        `UPDATE people SET (email, email_bidx_v1) = (SELECT email, email_bidx_v1 FROM people
           WHERE "tenantId" = 't-north' AND id = 'p_00100')
          WHERE "tenantId" = 't-north' AND id = 'p_00101'`,
      );
      await expect(
        repo.findBy('t-north', 'email', 'user100@t-north.example'),
      ).rejects.toMatchObject({
        code: 'ERR_AUTHENTICATION_FAILED',
        details: { field: 'people.email' },
      });
    });

    it('refuses fields without a blind index, bad values and a misconfigured repository', async () => {
      await expect(repo.findBy('t-north', 'name' as 'email', 'x')).rejects.toThrow(TypeError);
      await expect(repo.findBy('t-north', 'email', 42 as unknown as string)).rejects.toThrow(
        TypeError,
      );
      await expect(repo.findBy('t-north', 'email', 'bad\ud800')).rejects.toMatchObject({
        code: 'ERR_UNSUPPORTED_VALUE',
      });
      expect(() => createPostgresRepository({ sql, fs, model: Person })).toThrow(/pass blindIndex/);
      expect(() =>
        createPostgresRepository({
          sql,
          fs,
          model: Person,
          blindIndex: { indexer, versions: { email: { write: [2], read: 1 } } },
        }),
      ).toThrow(RangeError);
      expect(() =>
        createPostgresRepository({
          sql,
          fs,
          model: Person,
          blindIndex: { indexer, versions: { name: { write: [1], read: 1 } } as never },
        }),
      ).toThrow(/not a blind-indexed field/);
    });

    it('shredding a tenant makes its indexes unrecomputable, even with the root key', async () => {
      const { rows: before } = await sql.query<{ e: string }>(
        `SELECT email_bidx_v1 AS e FROM people WHERE "tenantId" = 't-doomed' ORDER BY id`,
      );
      expect((await repo.findBy('t-doomed', 'email', 'user6@t-doomed.example'))[0]?.id).toBe(
        'p_00006',
      );
      await fs.shredTenant('t-doomed');
      // The root key alone (no tenant secret) does not reproduce the stored indexes.
      const where = { tenant: 't-doomed', table: 'people', field: 'email' };
      const guess = indexer.index('user6@t-doomed.example', where, EMAIL_INDEX);
      expect(before.map((r) => r.e)).not.toContain(guess);
      // The secret is sealed under the shredded key: lookups and writes fail closed.
      await expect(
        repo.findBy('t-doomed', 'email', 'user6@t-doomed.example'),
      ).rejects.toMatchObject({ code: 'ERR_KEY_SHREDDED' });
      const failed = (await repo.insert([person('t-doomed', 7)]).catch((e: unknown) => e)) as {
        code: string;
        failures: { error: { code: string } }[];
      };
      expect(failed.code).toBe('ERR_BATCH_FAILED');
      expect(new Set(failed.failures.map((f) => f.error.code))).toEqual(
        new Set(['ERR_KEY_SHREDDED']),
      );
      // Erasing clears what is left (equality between the tenant's own rows).
      expect(await repo.eraseTenantBlindIndexes('t-doomed')).toEqual({ rows: 2, secrets: 1 });
      const { rows: after } = await sql.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM people WHERE "tenantId" = 't-doomed'
          AND (email_bidx_v1 IS NOT NULL OR phone_bidx_v1 IS NOT NULL)`,
      );
      expect(after[0]!.n).toBe(0);
      expect(await repo.findBy('t-doomed', 'email', 'user6@t-doomed.example')).toEqual([]);
      // Other tenants are untouched.
      expect(await repo.findBy('t-north', 'email', 'user7@t-north.example')).toEqual([
        person('t-north', 7),
      ]);
    });

    it('a tenant whose indexes were erased is rebuilt by a backfill, under a new secret', async () => {
      const before = await sql.query<{ e: string }>(
        `SELECT email_bidx_v1 AS e FROM people WHERE "tenantId" = 't-south' AND id = 'p_00042'`,
      );
      expect(await repo.eraseTenantBlindIndexes('t-south')).toEqual({ rows: N, secrets: 1 });
      expect(await repo.findBy('t-south', 'email', 'user42@t-south.example')).toEqual([]);
      // Missing: t-south's rows, and the shredded tenant's two (erased above, never rebuilt).
      expect(await repo.blindIndexStatus('email')).toMatchObject({ missing: { 1: N + 2 } });
      const report = await repo.backfillBlindIndex('email', 1, { batchSize: 700 });
      expect(report).toEqual({
        scanned: N + 2,
        updated: N,
        unchanged: 0,
        conflicts: 0,
        failed: 2,
        failures: { ERR_KEY_SHREDDED: 2 },
        next: undefined,
      });
      expect(await repo.backfillBlindIndex('phone', 1)).toMatchObject({
        updated: N - N / 10,
        failed: 2,
      });
      expect(await repo.blindIndexStatus('email')).toMatchObject({ missing: { 1: 2 } });
      const after = await sql.query<{ e: string }>(
        `SELECT email_bidx_v1 AS e FROM people WHERE "tenantId" = 't-south' AND id = 'p_00042'`,
      );
      expect(after.rows[0]!.e).not.toBe(before.rows[0]!.e); // a new tenant secret
      expect(await repo.findBy('t-south', 'email', 'user42@t-south.example')).toEqual([
        person('t-south', 42),
      ]);
      expect(await repo.findBy('t-south', 'phone', '+1-555-43')).toEqual([person('t-south', 43)]);
    });
  });
});
