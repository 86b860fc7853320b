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
  type BlindIndexVersions,
  type PostgresRepository,
  type SqlClient,
} from '../../src/postgres/index.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';
import { interceptFirst, onBothBackends, storeClient, testIndexer } from './repository-backends.js';

/*
 * Blind-index rotation without downtime, step by step (docs/blind-index.md "Rotation"):
 * v1 only → dual write [1, 2] reading v1 → backfill v2 (interrupted, resumed, raced by the
 * application) → reads switch to v2 → v1 no longer written, its column dropped. After every
 * step every known email must still be found, including rows written mid-rotation by new and
 * by not-yet-upgraded processes.
 */

const Member = defineModel({
  table: 'members',
  tenant: 'org',
  key: ['id'],
  fields: {
    org: field.string(),
    id: field.string(),
    email: field
      .string()
      .encrypted()
      .blindIndex({ bits: 32, normalize: ['trim', 'lowercase'] }),
  },
});
type MemberRecord = InferRecord<typeof Member>;

const ORGS = ['o-red', 'o-blue'];
const member = (org: string, i: number, email = `m${i}@${org}.example`): MemberRecord => ({
  org,
  id: `m_${String(i).padStart(4, '0')}`,
  email,
});

onBothBackends((backend, db) => {
  describe(`blind-index rotation on ${backend}`, () => {
    const provider = new MemoryKeyProvider();
    let sql: SqlClient;
    let fs: Fieldseal;
    let indexer: BlindIndexer;
    /** What every lookup must find: org → id → current email. */
    const truth = new Map<string, Map<string, string>>(ORGS.map((o) => [o, new Map()]));
    const repoWith = (versions: BlindIndexVersions, over: SqlClient = sql) =>
      createPostgresRepository({
        sql: over,
        fs,
        model: Member,
        blindIndex: { indexer, versions: { email: versions } },
      });
    const remember = (records: readonly MemberRecord[]) => {
      for (const r of records) truth.get(r.org)!.set(r.id, r.email);
    };
    /** Every known email finds exactly its rows; a replaced email finds nothing. */
    const expectLookups = async (repo: PostgresRepository<typeof Member>, gone: string[] = []) => {
      for (const [org, rows] of truth) {
        const emails = [...new Set(rows.values())];
        for (const email of emails) {
          const want = [...rows].filter(([, e]) => e === email).map(([id]) => id);
          const got = await repo.findBy(org, 'email', ` ${email.toUpperCase()} `);
          expect(
            got.map((r) => r.id),
            `${org} ${email}`,
          ).toEqual(want.sort());
        }
        for (const email of gone) expect(await repo.findBy(org, 'email', email)).toEqual([]);
      }
    };
    const columns = async () =>
      (
        await sql.query<{ c: string }>(
          `SELECT column_name AS c FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = 'members' ORDER BY 1`,
        )
      ).rows.map((r) => r.c);

    beforeAll(async () => {
      sql = db();
      fs = storeClient(provider, sql, Member.policies);
      indexer = await testIndexer();
      for (const o of ORGS) await fs.provisionTenant(o);
    });

    it('rotates v1 → v2 with lookups working at every step', async () => {
      // Step 0: v1 only.
      const v1 = repoWith({ write: [1], read: 1 });
      await v1.createTable();
      const initial = ORGS.flatMap((o) => Array.from({ length: 150 }, (_, i) => member(o, i)));
      await v1.insert(initial);
      remember(initial);
      await expectLookups(v1);
      expect(await columns()).toEqual(['email', 'email_bidx_v1', 'id', 'org']);

      // Step 1: dual write. New processes write v1 and v2 and still read v1.
      const dual = repoWith({ write: [1, 2], read: 1 });
      await dual.createTable(); // adds email_bidx_v2 and its index
      expect(await columns()).toEqual(['email', 'email_bidx_v1', 'email_bidx_v2', 'id', 'org']);
      expect(await dual.blindIndexStatus('email')).toEqual({
        rows: 300,
        missing: { 1: 0, 2: 300 },
      });
      const fresh = ORGS.map((o) => member(o, 500));
      await dual.insert(fresh);
      remember(fresh);
      // A process not yet upgraded still writes v1 only.
      const lagging = [member('o-red', 501), member('o-blue', 20, 'moved@o-blue.example')];
      await v1.upsert(lagging);
      remember(lagging);
      await expectLookups(dual, ['m20@o-blue.example']);
      expect((await dual.blindIndexStatus('email')).missing[2]).toBe(301);

      // Step 2: backfill v2, interrupted after two batches of 50.
      const first = await dual.backfillBlindIndex('email', 2, { batchSize: 50, maxBatches: 2 });
      expect(first).toMatchObject({ scanned: 100, updated: 100, conflicts: 0, failed: 0 });
      expect(first.next).toEqual({ tenant: 'o-blue', key: ['m_0099'] });
      await expectLookups(dual, ['m20@o-blue.example']);
      // The lagging process inserts a row behind the cursor: the resumed run will not see it.
      const behind = { org: 'o-blue', id: 'm_0001b', email: 'behind@o-blue.example' };
      await v1.insert([behind]);
      remember([behind]);

      // Mid-backfill, the application changes a row not yet backfilled, between the
      // backfill's read and its compare-and-set: the application's write wins.
      let raced = '';
      const racing = interceptFirst(
        sql,
        (text) => text.startsWith('UPDATE "members" AS t'),
        async (params) => {
          raced = params[2] as string; // $1 position, $2 tenant, $3 id of the first row
          const changed = member('o-blue', Number(raced.slice(2)), 'changed@o-blue.example');
          await dual.upsert([changed]);
          remember([changed]);
        },
      );
      const second = await repoWith({ write: [1, 2], read: 1 }, racing).backfillBlindIndex(
        'email',
        2,
        { batchSize: 50, maxBatches: 1, after: first.next },
      );
      expect(racing.fired).toBe(true);
      expect(raced).toBe('m_0100');
      expect(second).toMatchObject({ scanned: 50, updated: 49, conflicts: 1, failed: 0 });
      await expectLookups(dual, ['m100@o-blue.example', 'm20@o-blue.example']);

      // Resume to the end.
      let report = second;
      let batches = 0;
      while (report.next !== undefined) {
        report = await dual.backfillBlindIndex('email', 2, { batchSize: 50, after: report.next });
        batches += 1;
      }
      expect(batches).toBeGreaterThan(0);
      // The row written behind the cursor by the lagging process is still missing: a second
      // pass from the start (idempotent: it only touches rows without v2) picks it up.
      expect(await dual.blindIndexStatus('email')).toEqual({ rows: 304, missing: { 1: 0, 2: 1 } });
      const again = await dual.backfillBlindIndex('email', 2);
      expect(again).toMatchObject({ scanned: 1, updated: 1, conflicts: 0, next: undefined });
      expect((await dual.blindIndexStatus('email')).missing[2]).toBe(0);
      const idle = await dual.backfillBlindIndex('email', 2);
      expect(idle).toMatchObject({ scanned: 0, updated: 0, next: undefined });

      // A lagging process rewrites a row after the backfill: its v2 index is now stale.
      // The verifying pass repairs it (and finds every other row right).
      const late = member('o-red', 7, 'late@o-red.example');
      await v1.upsert([late]);
      remember([late]);
      const verified = await dual.backfillBlindIndex('email', 2, { verify: true, batchSize: 100 });
      expect(verified).toMatchObject({ scanned: 304, updated: 1, unchanged: 303, conflicts: 0 });

      // Step 3: switch reads to v2 (still writing both).
      const switched = repoWith({ write: [1, 2], read: 2 });
      await expectLookups(switched, [
        'm100@o-blue.example',
        'm20@o-blue.example',
        'm7@o-red.example',
      ]);
      const afterSwitch = [member('o-red', 600)];
      await switched.insert(afterSwitch);
      remember(afterSwitch);
      await expectLookups(switched);

      // Step 4: stop writing v1, then drop its column.
      const v2 = repoWith({ write: [2], read: 2 });
      await expect(switched.dropBlindIndexVersion('email', 1)).rejects.toThrow(/still written/);
      await v2.dropBlindIndexVersion('email', 1);
      expect(await columns()).toEqual(['email', 'email_bidx_v2', 'id', 'org']);
      const afterDrop = [member('o-blue', 700)];
      await v2.insert(afterDrop);
      remember(afterDrop);
      await expectLookups(v2, ['m100@o-blue.example']);
      expect(await v2.blindIndexStatus('email')).toEqual({ rows: 306, missing: { 2: 0 } });

      // Each (tenant, version) has its own sealed secret.
      const { rows } = await sql.query<{ tenant: string; version: number }>(
        'SELECT tenant, version FROM fieldseal_blind_index_secrets ORDER BY tenant, version',
      );
      expect(rows).toEqual([
        { tenant: 'o-blue', version: 1 },
        { tenant: 'o-blue', version: 2 },
        { tenant: 'o-red', version: 1 },
        { tenant: 'o-red', version: 2 },
      ]);
    });

    it('refuses to backfill a version nobody writes, and bad batch options', async () => {
      const repo = repoWith({ write: [2], read: 2 });
      await expect(repo.backfillBlindIndex('email', 3)).rejects.toThrow(/not written/);
      await expect(repo.backfillBlindIndex('email', 2, { batchSize: 0 })).rejects.toThrow(
        RangeError,
      );
      await expect(repo.backfillBlindIndex('email', 2, { maxBatches: 0 })).rejects.toThrow(
        RangeError,
      );
    });
  });
});
