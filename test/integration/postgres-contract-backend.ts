import {
  PostgresKeyStore,
  createPostgresRepository,
  resealBlindIndexSecrets,
  runBackfill,
  type SqlClient,
} from '../../src/postgres/index.js';
import type {
  RepositoryContractBackend,
  RepositoryContractRecord,
  RepositoryUnderTest,
  StoredValueRef,
} from '../../src/testing/index.js';

/*
 * The repository contract's backend over one migrated PostgreSQL database (PGlite or the
 * server): the PostgreSQL repository, and the raw table below it. Integrations that store in
 * the same table (fieldseal/graphql) reuse its raw access and replace `repository`.
 */
const TABLE = 'contract_records';
const PAGE = 1000;

/** The contract's backend over one migrated database. */
export function postgresBackend(name: string, sql: () => SqlClient): RepositoryContractBackend {
  return {
    name,
    keyStore: () => new PostgresKeyStore({ sql: sql() }),
    async open({ model, indexer, fieldseal }) {
      const db = sql();
      const make = (fs: Parameters<typeof createPostgresRepository>[0]['fs']) =>
        createPostgresRepository({ sql: db, fs, model, blindIndex: { indexer } });
      await make(fieldseal()).createTable();
      /** Set one column of one row; exactly one row must change. */
      const set = async (at: StoredValueRef, value: string, params: unknown[]): Promise<void> => {
        const { rows } = await db.query(
          `UPDATE ${TABLE} SET "${at.field}" = ${value} WHERE "tenantId" = $1 AND id = $2 RETURNING id`,
          [at.tenant, at.id, ...params],
        );
        if (rows.length !== 1) throw new Error(`no row ${at.tenant}/${at.id}`);
      };
      return {
        repository(fs): RepositoryUnderTest {
          const repo = make(fs);
          return {
            insert: async (records) => {
              await repo.insert(records);
            },
            get: (tenant, id) => repo.get(tenant, [id]),
            findBy: (tenant, field, value) => repo.findBy(tenant, field, value),
            findByAny: (tenant, field, values) => repo.findByAny(tenant, field, values),
            all: async (tenant) => {
              const out: RepositoryContractRecord[] = [];
              for (let offset = 0; ; offset += PAGE) {
                const page = await repo.list(tenant, { limit: PAGE, offset });
                out.push(...page);
                if (page.length < PAGE) return out;
              }
            },
          };
        },
        rawRows: async () => (await db.query(`SELECT * FROM ${TABLE}`)).rows,
        copyStoredValue: (from, to) =>
          set(to, `(SELECT "${from.field}" FROM ${TABLE} WHERE "tenantId" = $3 AND id = $4)`, [
            from.tenant,
            from.id,
          ]),
        writeRawValue: (at, value) => set(at, '$3', [value]),
        // The table-wide backfill, then the tenant's blind-index secrets under its new key.
        async reencryptTenant(fs, tenant) {
          const report = await runBackfill({ sql: db, fs, model, name: `contract-${tenant}` });
          if (!report.complete) throw new Error('the backfill did not complete');
          const resealed = await resealBlindIndexSecrets({ sql: db, fs, tenant });
          if (resealed.failed !== 0) throw new Error('a blind-index secret was not resealed');
        },
      };
    },
  };
}
