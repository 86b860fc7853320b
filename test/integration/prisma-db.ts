import { createRequire } from 'node:module';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import type * as Generated from './prisma/generated/index.js';
import { shareTransactions } from '../../src/postgres/index.js';
import type { OrmBackend } from './orm-backends.js';

/*
 * The Prisma client of fieldseal/prisma's tests (generated from ./prisma/schema.prisma by
 * ./prisma/generate.mjs) over a backend's database: PGlite through pglite-prisma-adapter (with
 * shareTransactions), the server through @prisma/adapter-pg on the suite's schema.
 */

const generated = createRequire(import.meta.url)('./prisma/generated/index.js') as typeof Generated;

/** The generated client class and its namespace. */
export const { PrismaClient, Prisma } = generated;

/** A Prisma client over the backend's database, not extended. */
export function prismaClient(b: OrmBackend) {
  const adapter =
    b.kind === 'pglite'
      ? new PrismaPGlite(shareTransactions(b.db))
      : new PrismaPg(b.pool(), { schema: b.schema });
  return new PrismaClient({ adapter });
}

/** A client of the test schema, not extended. */
export type BasePrisma = ReturnType<typeof prismaClient>;

/** The tables of the test schema's customers, orders and tags. */
export const PRISMA_TABLES = `
  CREATE TABLE prisma_customers (
    "tenantId" text NOT NULL, id text NOT NULL, name text NOT NULL, email text NOT NULL,
    email_bidx_v1 text, profile jsonb, PRIMARY KEY ("tenantId", id));
  CREATE TABLE prisma_orders (
    "tenantId" text NOT NULL, id text NOT NULL, "customerId" text NOT NULL, total int NOT NULL,
    card bytea NOT NULL, PRIMARY KEY ("tenantId", id),
    FOREIGN KEY ("tenantId", "customerId") REFERENCES prisma_customers ("tenantId", id));
  CREATE TABLE prisma_tags (
    id serial PRIMARY KEY, label text NOT NULL, "tenantId" text NOT NULL, "customerId" text NOT NULL,
    FOREIGN KEY ("tenantId", "customerId") REFERENCES prisma_customers ("tenantId", id));
`;
