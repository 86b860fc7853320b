import { afterAll, beforeAll, describe, it } from 'vitest';
import type { DataSource, EntityManager } from 'typeorm';
import type { Fieldseal } from '../../src/index.js';
import {
  assertFieldsealSubscribed,
  fieldsealSubscriber,
  findSealed,
  SealedEqual,
  SealedIn,
} from '../../src/integrations/typeorm/index.js';
import { createPostgresRepository, fromPgPool, migrate } from '../../src/postgres/index.js';
import {
  RepositoryContractModel,
  runRepositoryContract,
  type RepositoryUnderTest,
} from '../../src/testing/index.js';
import { contractRecordOf } from './orm-test-helpers.js';
import { PG_URL, serverSchema } from './pg-env.js';
import { postgresBackend } from './postgres-contract-backend.js';
import { ContractRecords, typeormDataSource } from './typeorm-db.js';

/*
 * The repository contract (fieldseal/testing) through fieldseal/typeorm, as a TypeORM user
 * writes it: `repository.insert(records)`, `findOneBy` by the key, `findSealed` with
 * `SealedEqual` / `SealedIn` for lookups, and `dataSource.transaction`, on the PostgreSQL
 * server (TypeORM has no PGlite driver), with the contract's optional parts.
 */
const model = RepositoryContractModel;

function typeormRepository(manager: EntityManager): RepositoryUnderTest {
  const records = manager.getRepository(ContractRecords);
  const read = (rows: readonly Record<string, unknown>[]) => rows.map((r) => contractRecordOf(r));
  return {
    insert: async (list) => {
      if (list.length === 0) return;
      await records.insert(list.map((r) => ({ ...r, big: String(r.big) })));
    },
    get: async (tenantId, id) => {
      const row = await records.findOneBy({ tenantId, id });
      return row === null ? undefined : read([row])[0];
    },
    findBy: async (tenantId, field, value) =>
      read(await findSealed(records, { where: { tenantId, [field]: SealedEqual(value) } })),
    findByAny: async (tenantId, field, values) =>
      read(await findSealed(records, { where: { tenantId, [field]: SealedIn(values) } })),
    all: async (tenantId) => read(await records.findBy({ tenantId })),
    transaction: (body) =>
      manager.connection.transaction(async (tx) => body(typeormRepository(tx))),
  };
}

describe.skipIf(PG_URL === undefined)('PostgreSQL server', () => {
  let env: Awaited<ReturnType<typeof serverSchema>>;
  let sql: ReturnType<typeof fromPgPool>;
  const sources: DataSource[] = [];
  beforeAll(async () => {
    env = await serverSchema();
    sql = fromPgPool(env.pool(4));
    await migrate(sql);
  });
  afterAll(async () => {
    await Promise.all(sources.map((ds) => ds.destroy()));
    await env.close();
  });
  const raw = postgresBackend('the PostgreSQL server', () => sql);
  runRepositoryContract(
    { describe, it, beforeAll, afterAll },
    {
      name: 'fieldseal/typeorm on the PostgreSQL server',
      capabilities: { findByAny: true, transactions: true, reencrypt: true },
      keyStore: () => raw.keyStore!(),
      async open(setup) {
        const adapter = await raw.open(setup);
        return {
          ...adapter,
          repository(fs: Fieldseal): RepositoryUnderTest {
            const blindIndexes = createPostgresRepository({
              sql,
              fs,
              model,
              blindIndex: { indexer: setup.indexer },
            });
            // The contract asks for a repository synchronously; the data source opens on first use.
            const ready = typeormDataSource(PG_URL!, env.schema, {
              entities: [ContractRecords],
              subscribers: [
                fieldsealSubscriber({
                  fs,
                  entities: [{ entity: ContractRecords, model, blindIndexes }],
                }),
              ],
            }).then((ds) => {
              sources.push(ds);
              assertFieldsealSubscribed(ds);
              return typeormRepository(ds.manager);
            });
            return {
              insert: async (records) => (await ready).insert(records),
              get: async (tenant, id) => (await ready).get(tenant, id),
              findBy: async (tenant, f, v) => (await ready).findBy(tenant, f, v),
              findByAny: async (tenant, f, v) => (await ready).findByAny!(tenant, f, v),
              all: async (tenant) => (await ready).all(tenant),
              transaction: async (body) => (await ready).transaction!(body),
            };
          },
        };
      },
    },
  );
});
