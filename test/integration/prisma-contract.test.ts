import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Fieldseal } from '../../src/index.js';
import { assertFieldsealClient, fieldseal } from '../../src/integrations/prisma/index.js';
import { createPostgresRepository } from '../../src/postgres/index.js';
import {
  RepositoryContractModel,
  runRepositoryContract,
  type RepositoryContractRecord,
  type RepositoryUnderTest,
} from '../../src/testing/index.js';
import { onOrmBackends } from './orm-backends.js';
import { contractRecordOf } from './orm-test-helpers.js';
import { postgresBackend } from './postgres-contract-backend.js';
import { PRISMA_MAJOR, prismaClient, type BasePrisma } from './prisma-db.js';

/*
 * The repository contract (fieldseal/testing) through fieldseal/prisma, as a Prisma user
 * writes it: `prisma.contractRecord.createMany({ data })`, `findUnique` by the compound key,
 * `findMany({ where: { tenantId, email } })` and `{ in: [...] }` for lookups, and interactive
 * transactions, on PGlite and on the server, with the contract's optional parts.
 */
const model = RepositoryContractModel;

function sealedClient(
  base: BasePrisma,
  fs: Fieldseal,
  source: Parameters<typeof fieldseal>[0]['models'][string],
) {
  const prisma = base.$extends(fieldseal({ fs, models: { ContractRecord: source } }));
  assertFieldsealClient(prisma);
  return prisma;
}
type SealedClient = ReturnType<typeof sealedClient>;
type Tx = Parameters<Parameters<SealedClient['$transaction']>[0]>[0];

/** A record as Prisma's create takes it: numeric as text, encrypted values as they are. */
function toData(r: RepositoryContractRecord): never {
  return { ...r, big: String(r.big) } as never;
}

function prismaRepository(prisma: SealedClient | Tx): RepositoryUnderTest {
  const read = (rows: readonly object[]) =>
    rows.map((r) =>
      contractRecordOf({ ...r, big: (r as { big: { toFixed(): string } }).big.toFixed() }),
    );
  const records = prisma.contractRecord;
  return {
    insert: async (list) => {
      if (list.length === 0) return;
      await records.createMany({ data: list.map(toData) });
    },
    get: async (tenantId, id) => {
      const row = await records.findUnique({ where: { tenantId_id: { tenantId, id } } });
      return row === null ? undefined : read([row])[0];
    },
    findBy: async (tenantId, field, value) =>
      read(await records.findMany({ where: { tenantId, [field]: value } })),
    findByAny: async (tenantId, field, values) =>
      read(await records.findMany({ where: { tenantId, [field]: { in: [...values] } } })),
    all: async (tenantId) => read(await records.findMany({ where: { tenantId } })),
    transaction: (body) =>
      (prisma as SealedClient).$transaction(async (tx) => body(prismaRepository(tx))),
  };
}

onOrmBackends(
  (name, backend) => {
    const raw = postgresBackend(name, () => backend().sql);
    let base: BasePrisma | undefined;
    afterAll(async () => {
      await base?.$disconnect();
    });
    runRepositoryContract(
      { describe, it, beforeAll, afterAll },
      {
        name: `fieldseal/prisma on ${name}`,
        capabilities: { findByAny: true, transactions: true, reencrypt: true },
        keyStore: () => raw.keyStore!(),
        async open(setup) {
          const adapter = await raw.open(setup);
          base ??= prismaClient(backend());
          return {
            ...adapter,
            repository(fs: Fieldseal): RepositoryUnderTest {
              const blindIndexes = createPostgresRepository({
                sql: backend().sql,
                fs,
                model,
                blindIndex: { indexer: setup.indexer },
              });
              return prismaRepository(sealedClient(base!, fs, { model, blindIndexes }));
            },
          };
        },
      },
    );
  },
  // Prisma 6 (prisma6-*.test.ts) on the server only: no PGlite adapter speaks its bytes arguments.
  { pglite: PRISMA_MAJOR === 7 },
);
