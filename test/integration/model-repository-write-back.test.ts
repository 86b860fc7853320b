import { beforeAll, describe, expect, it } from 'vitest';
import {
  defineModel,
  field,
  inspectEnvelope,
  type BlindIndexer,
  type Fieldseal,
  type InferRecord,
} from '../../src/index.js';
import { createPostgresRepository, type SqlClient } from '../../src/postgres/index.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';
import { interceptFirst, onBothBackends, storeClient, testIndexer } from './repository-backends.js';

/*
 * Write-back on read: after a tenant key rotation, reads with `writeBack: true` move every value
 * they read to the current key version, by compare-and-set on the stored bytes.
 */

const Account = defineModel({
  table: 'accounts',
  tenant: 'tenantId',
  key: ['id'],
  fields: {
    tenantId: field.string(),
    id: field.string(),
    email: field.string().encrypted().blindIndex(),
    balance: field.bigint().encrypted({ storage: 'text' }),
    note: field.string().encrypted().nullable(),
  },
});
type AccountRecord = InferRecord<typeof Account>;

const ROWS = 40;
const account = (tenant: string, i: number): AccountRecord => ({
  tenantId: tenant,
  id: `a_${String(i).padStart(4, '0')}`,
  email: `a${i}@${tenant}.example`,
  balance: 10n ** 18n + BigInt(i),
  note: i % 4 === 0 ? null : `note ${i}`,
});
/** Encrypted values held by the rows of one tenant: email + balance always, note 3 in 4. */
const VALUES = ROWS * 2 + (ROWS * 3) / 4;

onBothBackends((backend, db) => {
  describe(`write-back on read on ${backend}`, () => {
    const provider = new MemoryKeyProvider();
    let sql: SqlClient;
    let indexer: BlindIndexer;
    let admin: Fieldseal;
    const client = () => storeClient(provider, sql, Account.policies);
    const repo = (fs: Fieldseal, writeBack: boolean, over: SqlClient = sql) =>
      createPostgresRepository({
        sql: over,
        fs,
        model: Account,
        blindIndex: { indexer },
        writeBack,
      });
    /** Stored key version of every non-null encrypted value of the tenant: version → count. */
    const versions = async (tenant: string): Promise<Record<number, number>> => {
      const out: Record<number, number> = {};
      for (const row of await repo(admin, false).listStored(tenant)) {
        for (const v of [row.email, row.balance, row.note]) {
          if (v === null) continue;
          const ref = inspectEnvelope(v)!.keyRef;
          if (ref.kind !== 'store') throw new Error('expected key-store envelopes');
          out[ref.version] = (out[ref.version] ?? 0) + 1;
        }
      }
      return out;
    };

    beforeAll(async () => {
      sql = db();
      indexer = await testIndexer();
      admin = client();
      for (const t of ['t-a', 't-b']) await admin.provisionTenant(t);
      const r = repo(admin, false);
      await r.createTable();
      await r.insert(
        ['t-a', 't-b'].flatMap((t) => Array.from({ length: ROWS }, (_, i) => account(t, i))),
      );
    });

    it('is off by default: reads after a rotation write nothing', async () => {
      await admin.rotateTenantKey('t-a');
      const plain = repo(client(), false);
      expect(await plain.list('t-a')).toEqual(
        Array.from({ length: ROWS }, (_, i) => account('t-a', i)),
      );
      expect(await plain.get('t-a', ['a_0001'])).toEqual(account('t-a', 1));
      expect(plain.stats()).toMatchObject({
        writeBacks: 0,
        writeBackValues: 0,
        writeBackConflicts: 0,
      });
      expect(await versions('t-a')).toEqual({ 1: VALUES });
    });

    it('list moves every stale value to the current version; the count matches the table', async () => {
      const wb = repo(client(), true);
      const before = await repo(admin, false).listStored('t-b');
      expect(await wb.list('t-a')).toEqual(
        Array.from({ length: ROWS }, (_, i) => account('t-a', i)),
      );
      expect(wb.stats()).toMatchObject({
        writeBacks: ROWS,
        writeBackValues: VALUES,
        writeBackConflicts: 0,
      });
      expect(await versions('t-a')).toEqual({ 2: VALUES });
      // Nothing left to do: a second read writes nothing.
      await wb.list('t-a');
      expect(wb.stats().writeBacks).toBe(ROWS);
      // A tenant whose values are current is left byte for byte as it was.
      expect(await wb.list('t-b')).toHaveLength(ROWS);
      expect(wb.stats().writeBacks).toBe(ROWS);
      expect(await repo(admin, false).listStored('t-b')).toEqual(before);
      expect(await versions('t-b')).toEqual({ 1: VALUES });
      // Values still decrypt, and blind-index lookups still find them (the index is unchanged).
      expect(await wb.findBy('t-a', 'email', 'a7@t-a.example')).toEqual([account('t-a', 7)]);
    });

    it('get and findBy write back the rows they return', async () => {
      await admin.rotateTenantKey('t-a'); // v3
      const wb = repo(client(), true);
      expect(await wb.get('t-a', ['a_0003'])).toEqual(account('t-a', 3));
      expect(await wb.findBy('t-a', 'email', 'A5@t-a.example')).toEqual([]); // default: NFC only
      expect(await wb.findBy('t-a', 'email', 'a5@t-a.example')).toEqual([account('t-a', 5)]);
      expect(wb.stats()).toMatchObject({
        writeBacks: 2,
        writeBackValues: 6,
        writeBackConflicts: 0,
      });
      expect(await versions('t-a')).toEqual({ 2: VALUES - 6, 3: 6 });
    });

    it('an application write between the read and the write-back wins', async () => {
      await admin.rotateTenantKey('t-b'); // v2
      const app = repo(client(), false);
      const changed: AccountRecord = {
        ...account('t-b', 0),
        email: 'new@t-b.example',
        balance: 7n,
      };
      let appStored: unknown;
      const racing = interceptFirst(
        sql,
        (text) => text.startsWith('UPDATE "accounts" AS t'),
        async (params) => {
          expect(params[2]).toBe('a_0000'); // $1 position, $2 tenant, $3 id of the first row
          await app.upsert([changed]);
          appStored = (await app.listStored('t-b', { limit: 1 }))[0];
        },
      );
      const wb = repo(client(), true, racing);
      const read = await wb.list('t-b');
      expect(racing.fired).toBe(true);
      expect(read[0]).toEqual(account('t-b', 0)); // what was read before the application's write
      expect(wb.stats()).toMatchObject({
        writeBacks: ROWS - 1,
        writeBackValues: VALUES - 2,
        writeBackConflicts: 1,
      });
      // The application's values are in the table, exactly as it wrote them.
      expect((await app.listStored('t-b', { limit: 1 }))[0]).toEqual(appStored);
      expect(await app.get('t-b', ['a_0000'])).toEqual(changed);
      expect(await app.findBy('t-b', 'email', 'new@t-b.example')).toEqual([changed]);
      expect(await versions('t-b')).toEqual({ 2: VALUES });
    });

    it('keeps the tenants’ blind-index secrets sealed under their current data key', async () => {
      const sealedVersions = async () =>
        (
          await sql.query<{ tenant: string; sealed: string }>(
            'SELECT tenant, sealed FROM fieldseal_blind_index_secrets ORDER BY tenant',
          )
        ).rows.map((r) => {
          const ref = inspectEnvelope(r.sealed)!.keyRef;
          return [r.tenant, ref.kind === 'store' ? ref.version : -1];
        });
      // The write-back findBy of t-a (v3) and the application's upsert of t-b (v2) resealed.
      expect(await sealedVersions()).toEqual([
        ['t-a', 3],
        ['t-b', 2],
      ]);
      await admin.rotateTenantKey('t-a'); // v4
      await admin.rotateTenantKey('t-b'); // v3
      const r = repo(client(), false);
      expect(await r.findBy('t-a', 'email', 'a9@t-a.example')).toEqual([account('t-a', 9)]);
      expect(await sealedVersions()).toEqual([
        ['t-a', 3],
        ['t-b', 2],
      ]); // reads without write-back never write
      expect(await r.resealBlindIndexSecrets()).toEqual({ checked: 2, resealed: 2, failed: 0 });
      expect(await sealedVersions()).toEqual([
        ['t-a', 4],
        ['t-b', 3],
      ]);
      expect(await r.resealBlindIndexSecrets()).toEqual({ checked: 2, resealed: 0, failed: 0 });
      expect(await r.findBy('t-b', 'email', 'a9@t-b.example')).toEqual([account('t-b', 9)]);
    });
  });
});
