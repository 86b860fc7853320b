import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Fieldseal } from '../../src/index.js';
import { sealTable } from '../../src/integrations/drizzle/index.js';
import { createPostgresRepository } from '../../src/postgres/index.js';
import {
  RepositoryContractModel,
  runRepositoryContract,
  type RepositoryUnderTest,
} from '../../src/testing/index.js';
import { contractRecords, drizzleDb, type DrizzleDb } from './drizzle-db.js';
import { onOrmBackends } from './orm-backends.js';
import { contractRecordOf } from './orm-test-helpers.js';
import { postgresBackend } from './postgres-contract-backend.js';

/*
 * The repository contract (fieldseal/testing) through fieldseal/drizzle, as a Drizzle user
 * writes it: `db.insert(table).values(await sealed.encrypt(records))`, `sealed.decrypt(
 * db.select().from(table).where(...))`, and `sealed.eq` / `sealed.inArray` for lookups, on
 * PGlite and on the server, with the contract's optional parts (in, transactions, rotation).
 */
const model = RepositoryContractModel;
type Row = typeof contractRecords.$inferInsert;

/** A record's plain columns as Drizzle's column types take them (numeric as text). */
function toInsert(row: Row): Row {
  return { ...row, big: String(row.big) };
}

function drizzleRepository(
  fs: Fieldseal,
  db: DrizzleDb,
  table: ReturnType<typeof sealTable<typeof contractRecords, typeof model>>,
): RepositoryUnderTest {
  const t = contractRecords;
  const read = async (query: Parameters<typeof table.decrypt>[0]) =>
    (await table.decrypt(query)).map((r) => contractRecordOf(r as Record<string, unknown>));
  const rows = (tenant: string, ...more: Parameters<typeof and>) =>
    db
      .select()
      .from(t)
      .where(and(eq(t.tenantId, tenant), ...more));
  return {
    insert: async (records) => {
      if (records.length === 0) return;
      await db.insert(t).values((await table.encrypt(records)).map(toInsert));
    },
    get: async (tenant, id) => (await read(rows(tenant, eq(t.id, id))))[0],
    findBy: async (tenant, field, value) =>
      read(rows(tenant, await table.eq(t[field], value, { tenant }))),
    findByAny: async (tenant, field, values) =>
      read(rows(tenant, await table.inArray(t[field], values, { tenant }))),
    all: (tenant) => read(rows(tenant)),
    transaction: (body) =>
      db.transaction(async (tx) => body(drizzleRepository(fs, tx as unknown as DrizzleDb, table))),
  };
}

onOrmBackends((name, backend) => {
  const raw = postgresBackend(name, () => backend().sql);
  runRepositoryContract(
    { describe, it, beforeAll, afterAll },
    {
      name: `fieldseal/drizzle on ${name}`,
      capabilities: { findByAny: true, transactions: true, reencrypt: true },
      keyStore: () => raw.keyStore!(),
      async open(setup) {
        const adapter = await raw.open(setup);
        const db = drizzleDb(backend());
        return {
          ...adapter,
          repository(fs: Fieldseal): RepositoryUnderTest {
            const source = createPostgresRepository({
              sql: backend().sql,
              fs,
              model,
              blindIndex: { indexer: setup.indexer },
            });
            return drizzleRepository(
              fs,
              db,
              sealTable(fs, contractRecords, model, { blindIndexes: source }),
            );
          },
        };
      },
    },
  );
});
