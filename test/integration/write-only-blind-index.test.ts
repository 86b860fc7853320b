// Issue #11, defect 15 (first half): a WriteOnly (ingest) client could not save a model with a
// blind-indexed field: the tenant's index secret was opened with an ordinary decrypt, which
// the mode forbids. Index secrets are key material and open through their own path.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createFieldseal,
  defineModel,
  field,
  type BlindIndexer,
  type Fieldseal,
} from '../../src/index.js';
import {
  PostgresKeyStore,
  createPostgresRepository,
  type SqlClient,
} from '../../src/postgres/index.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';
import { onBothBackends, testIndexer } from './repository-backends.js';

const Signup = defineModel({
  table: 'signups',
  tenant: 'tenantId',
  key: ['id'],
  fields: {
    tenantId: field.string(),
    id: field.string(),
    email: field
      .string()
      .encrypted()
      .blindIndex({ bits: 32, normalize: ['trim', 'lowercase'] }),
  },
});

onBothBackends((backend, db) => {
  describe(`a WriteOnly client writes blind-indexed fields on ${backend}`, () => {
    const provider = new MemoryKeyProvider();
    let sql: SqlClient;
    let indexer: BlindIndexer;
    const client = (mode: 'ReadWrite' | 'WriteOnly', admin = false): Fieldseal =>
      createFieldseal({
        provider,
        keys: { mode: 'store', store: new PostgresKeyStore({ sql }), masterKeyId: 'master' },
        cache: { maxAgeMs: 60_000 },
        fields: Signup.policies,
        mode,
        ...(admin ? { admin: true } : {}),
      });

    beforeAll(async () => {
      sql = db();
      indexer = await testIndexer();
      const admin = client('ReadWrite', true);
      await admin.provisionTenant('acme');
      await createPostgresRepository({
        sql,
        fs: admin,
        model: Signup,
        blindIndex: { indexer },
      }).createTable();
    });

    it('saves (creating the tenant secret) and saves again (opening it); a reader finds the rows', async () => {
      const ingest = client('WriteOnly');
      const repo = createPostgresRepository({
        sql,
        fs: ingest,
        model: Signup,
        blindIndex: { indexer },
      });
      expect(await repo.insert([{ tenantId: 'acme', id: 's1', email: 'Ann@Example.com' }])).toBe(1);
      // A fresh WriteOnly process: the secret exists now and must be opened, not created.
      const again = createPostgresRepository({
        sql,
        fs: client('WriteOnly'),
        model: Signup,
        blindIndex: { indexer },
      });
      expect(await again.insert([{ tenantId: 'acme', id: 's2', email: ' ann@example.com ' }])).toBe(
        1,
      );
      // The ingest client still reads no value.
      await expect(
        ingest.decrypt('fs1:AAAA', { tenant: 'acme', table: 'signups', field: 'email' }),
      ).rejects.toMatchObject({
        code: 'ERR_MODE_FORBIDDEN',
      });
      const reader = createPostgresRepository({
        sql,
        fs: client('ReadWrite'),
        model: Signup,
        blindIndex: { indexer },
      });
      const found = await reader.findBy('acme', 'email', 'ANN@example.com');
      expect(found.map((r) => r.id).sort()).toEqual(['s1', 's2']);
    });

    it('the key-material path opens nothing but index secrets', async () => {
      const ingest = client('WriteOnly');
      const rw = client('ReadWrite');
      const ctx = { tenant: 'acme', table: 'signups', field: 'email', record: 's9' };
      const stored = await rw.encrypt('secret value', ctx);
      const [result] = await ingest.openIndexSecrets([{ stored, context: ctx }]);
      expect(result).toMatchObject({ ok: false, error: { code: 'ERR_INVALID_CONTEXT' } });
    });
  });
});
