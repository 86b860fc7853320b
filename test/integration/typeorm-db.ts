import { DataSource, EntitySchema, type EntitySchemaColumnOptions } from 'typeorm';
import { createFieldseal, type AnyModel } from '../../src/index.js';
import { sealedColumn } from '../../src/integrations/typeorm/index.js';
import { fromPgPool, migrate, PostgresKeyStore } from '../../src/postgres/index.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';
import { PG_URL, serverSchema } from './pg-env.js';

/*
 * TypeORM over the PostgreSQL server for the fieldseal/typeorm suites: the repository contract's
 * table as an EntitySchema (no decorators needed), and data sources on a test schema.
 */

const text = (nullable = false): EntitySchemaColumnOptions => ({ type: 'text', nullable });

/** The repository contract's table (`contract_records`), as a TypeORM user declares it. */
export const ContractRecords = new EntitySchema<Record<string, unknown>>({
  name: 'ContractRecord',
  tableName: 'contract_records',
  columns: {
    tenantId: { type: 'text', primary: true },
    id: { type: 'text', primary: true },
    label: text(),
    count: { type: 'double precision' },
    big: { type: 'numeric' },
    flag: { type: 'boolean' },
    at: { type: 'timestamptz' },
    raw: { type: 'bytea' },
    meta: { type: 'jsonb' },
    note: text(true),
    email: sealedColumn('bytes'),
    phone: sealedColumn('text', { nullable: true }),
    email_bidx_v1: text(true),
    phone_bidx_v1: text(true),
    binString: sealedColumn('bytes'),
    binNumber: sealedColumn('bytes'),
    binBigint: sealedColumn('bytes'),
    binBoolean: sealedColumn('bytes'),
    binDate: sealedColumn('bytes'),
    binBytes: sealedColumn('bytes'),
    binJson: sealedColumn('bytes'),
    textString: sealedColumn('text'),
    textNumber: sealedColumn('text'),
    textBigint: sealedColumn('text'),
    textBoolean: sealedColumn('text'),
    textDate: sealedColumn('text'),
    textBytes: sealedColumn('text'),
    textJson: sealedColumn('text'),
    nullableString: sealedColumn('bytes', { nullable: true }),
    nullableDate: sealedColumn('text', { nullable: true }),
    optionalJson: sealedColumn('bytes', { nullable: true }),
    optionalBigint: sealedColumn('text', { nullable: true }),
  },
});

/** An initialised data source on the server's test schema (`synchronize` off: tables are SQL). */
export async function typeormDataSource(
  url: string,
  schema: string,
  options: Pick<ConstructorParameters<typeof DataSource>[0], 'entities' | 'subscribers'>,
): Promise<DataSource> {
  const ds = new DataSource({
    type: 'postgres',
    url,
    schema,
    extra: { max: 4, options: `-c search_path=${schema}` },
    synchronize: false,
    ...options,
  });
  return ds.initialize();
}

/**
 * A test schema on the server with fieldseal migrated, a client for `models` (store mode, the
 * given tenants provisioned), and data sources opened on the schema; `close()` destroys them and
 * drops the schema.
 */
export async function typeormFixture(models: readonly AnyModel[], tenants = ['acme', 'globex']) {
  const env = await serverSchema();
  const sql = fromPgPool(env.pool(4));
  await migrate(sql);
  const fs = createFieldseal({
    provider: new MemoryKeyProvider(),
    keys: { mode: 'store', store: new PostgresKeyStore({ sql }), masterKeyId: 'master' },
    cache: { maxAgeMs: 60_000 },
    models: [...models],
    admin: true,
  });
  for (const t of tenants) await fs.provisionTenant(t);
  const sources: DataSource[] = [];
  return {
    sql,
    fs,
    schema: env.schema,
    /** An initialised data source on the schema, destroyed by `close()`. */
    async open(options: Parameters<typeof typeormDataSource>[2]): Promise<DataSource> {
      const ds = await typeormDataSource(PG_URL!, env.schema, options);
      sources.push(ds);
      return ds;
    },
    async close(): Promise<void> {
      await Promise.all(sources.map((s) => s.destroy()));
      fs.close();
      await env.close();
    },
  };
}
