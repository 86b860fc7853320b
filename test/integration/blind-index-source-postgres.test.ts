import { afterAll, beforeAll, describe, it } from 'vitest';
import {
  createBlindIndexer,
  createFieldseal,
  defineModel,
  EnvSecretSource,
  field,
} from '../../src/index.js';
import { PostgresKeyStore, createPostgresRepository } from '../../src/postgres/index.js';
import { MemoryKeyProvider, runBlindIndexSourceSuite } from '../../src/testing/index.js';
import { onBothBackends } from './repository-backends.js';

/*
 * The BlindIndexSource conformance suite (fieldseal/testing) against the PostgreSQL
 * repository, on PGlite and on the PostgreSQL server: the seam fieldseal/graphql (and any
 * integration writing its own SQL) computes lookup and write indexes through.
 */
const Contact = defineModel({
  table: 'bis_contacts',
  tenant: 'tenant_id',
  key: ['id'],
  fields: {
    tenant_id: field.string(),
    id: field.string(),
    email: field
      .string()
      .encrypted({ storage: 'text' })
      .blindIndex({ normalize: ['trim', 'lowercase'] }),
    note: field.string().encrypted({ storage: 'text' }).nullable(),
  },
});

onBothBackends((backend, sql) => {
  runBlindIndexSourceSuite({ describe, it, beforeAll, afterAll }, backend, async () => {
    const options = {
      provider: new MemoryKeyProvider(),
      keys: {
        mode: 'store' as const,
        store: new PostgresKeyStore({ sql: sql() }),
        masterKeyId: 'master',
      },
      cache: { maxAgeMs: 60_000 },
      models: [Contact],
    };
    const admin = createFieldseal({ ...options, admin: ['provision'] });
    for (const t of ['bis-a', 'bis-b']) await admin.provisionTenant(t);
    const indexer = await createBlindIndexer({
      source: new EnvSecretSource({
        keys: { bi: 'BI_ROOT' },
        env: { BI_ROOT: `base64:${Buffer.alloc(32, 0x41).toString('base64')}` },
      }),
      reference: 'bi',
    });
    const source = createPostgresRepository({
      sql: sql(),
      fs: createFieldseal(options),
      model: Contact,
      blindIndex: { indexer },
    });
    await source.createTable();
    return { source, tenants: ['bis-a', 'bis-b'] };
  });
});
