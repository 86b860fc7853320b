import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFieldseal, defineModel, field, type Fieldseal } from '../../src/index.js';
import {
  countKeyUsage,
  createPostgresRepository,
  fromPGlite,
  migrate,
  PostgresKeyStore,
  resealBlindIndexSecrets,
  retireKeyVersion,
  type SqlClient,
} from '../../src/postgres/index.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';
import { storeClient, testIndexer } from './repository-backends.js';

/*
 * resealBlindIndexSecrets (behind `fieldseal keys reseal-index-secrets`): the step that
 * unblocks a retirement refused because a blind-index secret is still sealed under an old
 * data-key version. Needs only the data keys; one tenant at a time if asked.
 */

const Member = defineModel({
  table: 'members',
  tenant: 'tenant',
  key: ['id'],
  fields: {
    tenant: field.string(),
    id: field.string(),
    email: field.string().encrypted().blindIndex(),
  },
});

describe('resealBlindIndexSecrets on PGlite', () => {
  let db: PGlite;
  let sql: SqlClient;
  let fs: Fieldseal;
  const provider = new MemoryKeyProvider();

  beforeAll(async () => {
    db = await PGlite.create();
    sql = fromPGlite(db);
    await migrate(sql);
    fs = storeClient(provider, sql, Member.policies);
    const repo = createPostgresRepository({
      sql,
      fs,
      model: Member,
      blindIndex: { indexer: await testIndexer() },
    });
    await repo.createTable();
    for (const t of ['a', 'b']) {
      await fs.provisionTenant(t);
      await repo.insert([{ tenant: t, id: '1', email: `x@${t}.example` }]);
      await fs.rotateTenantKey(t);
    }
  });
  afterAll(async () => {
    await db.close();
  });

  it('names the secret that blocks a retirement, reseals one tenant only, then the retirement passes', async () => {
    const store = new PostgresKeyStore({ sql });
    const tables = [{ model: Member }];
    // The rows are under version 1 too; without them only the secret is left.
    await sql.query('DELETE FROM members');
    const refused = retireKeyVersion({
      sql,
      fs,
      store,
      tables,
      tenant: 'a',
      below: 2,
      minActiveAgeMs: 0,
    });
    await expect(refused).rejects.toMatchObject({
      code: 'ERR_KEY_VERSION_IN_USE',
      uses: [
        {
          kind: 'blind-index-secret',
          table: 'fieldseal_blind_index_secrets',
          column: 'sealed',
          indexVersion: 1,
          key: 'default@1',
          count: 1,
        },
      ],
    });
    await expect(refused).rejects.toThrow(/blind-index secret of index version 1/);

    expect(await resealBlindIndexSecrets({ sql, fs, tenant: 'a' })).toEqual({
      checked: 1,
      resealed: 1,
      failed: 0,
      failures: [],
    });
    // Tenant b untouched.
    const b = await countKeyUsage({ sql, fs, tables, tenant: 'b' });
    expect(b.uses).toEqual([
      expect.objectContaining({ kind: 'blind-index-secret', key: 'default@1', count: 1 }),
    ]);
    const { retired } = await retireKeyVersion({
      sql,
      fs,
      store,
      tables,
      tenant: 'a',
      below: 2,
      minActiveAgeMs: 0,
    });
    expect(retired).toEqual([1]);
  });

  it('reports a shredded tenant per secret; refuses a client that cannot reseal; no table is no work', async () => {
    await fs.shredTenant('b');
    const report = await resealBlindIndexSecrets({ sql, fs });
    expect(report.failures).toEqual([{ tenant: 'b', indexVersion: 1, code: 'ERR_KEY_SHREDDED' }]);
    const readOnly = createFieldseal({
      provider,
      keys: { mode: 'store', store: new PostgresKeyStore({ sql }), masterKeyId: 'master' },
      cache: { maxAgeMs: 1000 },
      mode: 'ReadOnly',
    });
    await expect(resealBlindIndexSecrets({ sql, fs: readOnly })).rejects.toMatchObject({
      code: 'ERR_MODE_FORBIDDEN',
    });
    expect(await resealBlindIndexSecrets({ sql, fs, table: 'no_such_table' })).toEqual({
      checked: 0,
      resealed: 0,
      failed: 0,
      failures: [],
    });
    await expect(resealBlindIndexSecrets({ sql, fs, table: 'bad name;' })).rejects.toThrow(
      TypeError,
    );
  });
});
