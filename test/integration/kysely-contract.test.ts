import { Kysely, type Transaction } from 'kysely';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Fieldseal } from '../../src/index.js';
import { withFieldseal, type ModelTable } from '../../src/integrations/kysely/index.js';
import { createPostgresRepository } from '../../src/postgres/index.js';
import {
  RepositoryContractModel,
  runRepositoryContract,
  type RepositoryContractRecord,
  type RepositoryUnderTest,
} from '../../src/testing/index.js';
import { kyselyDialect } from './kysely-dialect.js';
import { onOrmBackends } from './orm-backends.js';
import { contractRecordOf } from './orm-test-helpers.js';
import { postgresBackend } from './postgres-contract-backend.js';

/*
 * The repository contract (fieldseal/testing) through fieldseal/kysely: records written by
 * `insertInto().values()`, read by `selectFrom().selectAll()`, found by `where(field, '=', v)`
 * on blind-indexed fields, on the contract's table (PGlite and the server). Plain columns are
 * converted as any Kysely user converts them for node-postgres; encrypted ones are not
 * touched by the test: the plugin encrypts and decrypts them.
 */
const model = RepositoryContractModel;
const TABLE = 'contract_records';

interface Database {
  contract_records: ModelTable<typeof RepositoryContractModel>;
}

/** A record's plain columns as node-postgres takes them (numeric as text, jsonb as JSON). */
function toRow(record: RepositoryContractRecord): Record<string, unknown> {
  const row: Record<string, unknown> = { ...record };
  row.big = record.big.toString();
  row.meta = JSON.stringify(record.meta);
  return row;
}

/** The contract's operations as a Kysely user writes them, on a database or a transaction. */
function kyselyRepository(db: Kysely<Database> | Transaction<Database>): RepositoryUnderTest {
  const rows = (t: string) => db.selectFrom(TABLE).selectAll().where('tenantId', '=', t);
  const read = (found: readonly object[]) =>
    found.map((r) => contractRecordOf(r as Record<string, unknown>));
  return {
    insert: async (records) => {
      if (records.length === 0) return;
      await db
        .insertInto(TABLE)
        .values(records.map(toRow) as never)
        .execute();
    },
    get: async (tenant, id) => {
      const row = await rows(tenant).where('id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : read([row])[0];
    },
    findBy: async (tenant, field, value) =>
      read(await rows(tenant).where(field, '=', value).execute()),
    findByAny: async (tenant, field, values) =>
      read(await rows(tenant).where(field, 'in', values).execute()),
    all: async (tenant) => read(await rows(tenant).execute()),
    transaction: (body) =>
      db.isTransaction
        ? Promise.reject(new Error('no nested transactions'))
        : db.transaction().execute((trx) => body(kyselyRepository(trx))),
  };
}

onOrmBackends((name, backend) => {
  const raw = postgresBackend(name, () => backend().sql);
  const dbs: Kysely<Database>[] = [];
  afterAll(async () => {
    await Promise.all(dbs.map((db) => db.destroy()));
  });
  runRepositoryContract(
    { describe, it, beforeAll, afterAll },
    {
      name: `fieldseal/kysely on ${name}`,
      capabilities: { findByAny: true, transactions: true, reencrypt: true },
      keyStore: () => raw.keyStore!(),
      async open(setup) {
        const adapter = await raw.open(setup);
        return {
          ...adapter,
          repository(fs: Fieldseal): RepositoryUnderTest {
            const source = createPostgresRepository({
              sql: backend().sql,
              fs,
              model,
              blindIndex: { indexer: setup.indexer },
            });
            const db = new Kysely<Database>(
              withFieldseal(kyselyDialect(backend()), {
                fs,
                models: [model],
                blindIndexes: { [TABLE]: source },
              }),
            );
            dbs.push(db);
            return kyselyRepository(db);
          },
        };
      },
    },
  );
});
