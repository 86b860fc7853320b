import type { PGlite } from '@electric-sql/pglite';
import { PostgresDialect, type Dialect } from 'kysely';
import { afterAll, beforeAll, describe } from 'vitest';
import { pgliteDialect } from '../../src/integrations/kysely/index.js';
import { fromPGlite, fromPgPool, migrate, type SqlClient } from '../../src/postgres/index.js';
import { migratedPGlite, PG_URL, serverSchema } from './pg-env.js';

/** One database for a Kysely suite: fieldseal's SQL client and Kysely dialects over it. */
export interface KyselyBackend {
  readonly sql: SqlClient;
  /** A new dialect over the same database (PGlite: the same instance). */
  dialect(): Dialect;
}

/**
 * Run `suite` on embedded PGlite (always) and on the PostgreSQL server (in a private schema;
 * skipped, loudly, without `FIELDSEAL_TEST_PG_URL`).
 */
export function onKyselyBackends(
  suite: (name: string, backend: () => KyselyBackend) => void,
): void {
  describe('PGlite', () => {
    let db: PGlite;
    let backend: KyselyBackend;
    beforeAll(async () => {
      db = await migratedPGlite();
      backend = { sql: fromPGlite(db), dialect: () => pgliteDialect(db) };
    });
    afterAll(async () => {
      await db.close();
    });
    suite('PGlite', () => backend);
  });

  describe.skipIf(PG_URL === undefined)('PostgreSQL server', () => {
    let env: Awaited<ReturnType<typeof serverSchema>>;
    let backend: KyselyBackend;
    beforeAll(async () => {
      env = await serverSchema();
      const sql = fromPgPool(env.pool(4));
      await migrate(sql);
      // Kysely ends its pool on destroy(); the schema's close() ends every pool it made.
      backend = {
        sql,
        dialect: () => {
          const pool = env.pool(4);
          return new PostgresDialect({
            pool: { connect: () => pool.connect(), end: async () => {} },
          });
        },
      };
    });
    afterAll(async () => {
      await env.close();
    });
    suite('the PostgreSQL server', () => backend);
  });
}
