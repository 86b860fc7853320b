import type { PGlite } from '@electric-sql/pglite';
import type pg from 'pg';
import { afterAll, beforeAll, describe } from 'vitest';
import { fromPGlite, fromPgPool, migrate, type SqlClient } from '../../src/postgres/index.js';
import { migratedPGlite, PG_URL, serverSchema } from './pg-env.js';

/**
 * One database for an ORM integration's suite: fieldseal's SQL client, and what the ORM
 * connects with (the PGlite instance, or a new pool on the server schema).
 */
export type OrmBackend =
  | { readonly sql: SqlClient; readonly kind: 'pglite'; readonly db: PGlite }
  | {
      readonly sql: SqlClient;
      readonly kind: 'server';
      readonly schema: string;
      pool(): pg.Pool;
    };

/**
 * Run `suite` on embedded PGlite (unless `pglite: false`: an ORM version no PGlite adapter
 * serves) and on the PostgreSQL server (in a private schema; skipped, loudly, without
 * `FIELDSEAL_TEST_PG_URL`). Pools made by `pool()` are ended when the
 * schema is dropped: an ORM must not end them itself.
 */
export function onOrmBackends(
  suite: (name: string, backend: () => OrmBackend) => void,
  { pglite = true }: { readonly pglite?: boolean } = {},
): void {
  if (pglite)
    describe('PGlite', () => {
      let backend: OrmBackend;
      beforeAll(async () => {
        const db = await migratedPGlite();
        backend = { sql: fromPGlite(db), kind: 'pglite', db };
      });
      afterAll(async () => {
        if (backend.kind === 'pglite') await backend.db.close();
      });
      suite('PGlite', () => backend);
    });

  describe.skipIf(PG_URL === undefined)('PostgreSQL server', () => {
    let env: Awaited<ReturnType<typeof serverSchema>>;
    let backend: OrmBackend;
    beforeAll(async () => {
      env = await serverSchema();
      const sql = fromPgPool(env.pool(4));
      await migrate(sql);
      backend = { sql, kind: 'server', schema: env.schema, pool: () => env.pool(4) };
    });
    afterAll(async () => {
      await env.close();
    });
    suite('the PostgreSQL server', () => backend);
  });
}
