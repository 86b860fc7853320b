import { PostgresDialect, type Dialect } from 'kysely';
import { pgliteDialect } from '../../src/integrations/kysely/index.js';
import type { OrmBackend } from './orm-backends.js';

/** A new Kysely dialect over the backend's database (Kysely ends its pool: not ours). */
export function kyselyDialect(b: OrmBackend): Dialect {
  if (b.kind === 'pglite') return pgliteDialect(b.db);
  const pool = b.pool();
  return new PostgresDialect({ pool: { connect: () => pool.connect(), end: async () => {} } });
}
