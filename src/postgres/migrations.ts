import { AUDIT_MIGRATIONS } from './audit/audit-schema.js';
import { BACKFILL_MIGRATIONS } from './backfill/backfill-schema.js';
import { KEY_STORE_MIGRATIONS } from './key-store-schema.js';
import type { Migration } from './migration.js';
import type { SqlClient } from './sql-client.js';

/** Every feature's migrations as one sequence 1..n, checked once at load. */
const MIGRATIONS: readonly Migration[] = sequence([
  ...KEY_STORE_MIGRATIONS,
  ...AUDIT_MIGRATIONS,
  ...BACKFILL_MIGRATIONS,
]);

function sequence(all: readonly Migration[]): readonly Migration[] {
  const sorted = [...all].sort((a, b) => a.version - b.version);
  sorted.forEach((m, i) => {
    if (m.version !== i + 1)
      throw new Error(`fieldseal migrations: version ${i + 1} is missing or repeated`);
  });
  return Object.freeze(sorted);
}

/**
 * The schema version this release expects.
 * @example
 * ```ts
 * if ((await schemaVersion(sql)) !== SCHEMA_VERSION) console.warn('run fieldseal migrations');
 * ```
 */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/**
 * Apply fieldseal's migrations that are not applied yet, idempotently and safely from several
 * processes at once (a transaction-scoped advisory lock serialises migrators).
 * @returns the versions applied by this call (empty when the schema was current).
 * @example
 * ```ts
 * await migrate(fromPGlite(db)); // [1] the first time, [] afterwards
 * ```
 */
export async function migrate(sql: SqlClient): Promise<number[]> {
  return sql.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock(hashtext('fieldseal.migrations'))");
    await tx.exec(`
      CREATE TABLE IF NOT EXISTS fieldseal_migrations (
        version    integer PRIMARY KEY,
        name       text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      );
    `);
    const { rows } = await tx.query<{ version: number }>(
      'SELECT version FROM fieldseal_migrations',
    );
    const applied = new Set(rows.map((r) => Number(r.version)));
    const done: number[] = [];
    for (const m of MIGRATIONS) {
      if (applied.has(m.version)) continue;
      await tx.exec(m.sql);
      await tx.query('INSERT INTO fieldseal_migrations (version, name) VALUES ($1, $2)', [
        m.version,
        m.name,
      ]);
      done.push(m.version);
    }
    return done;
  });
}

/**
 * The schema version recorded in the database (0 when fieldseal was never migrated there).
 * @example
 * ```ts
 * if ((await schemaVersion(sql)) < SCHEMA_VERSION) await migrate(sql);
 * ```
 */
export async function schemaVersion(sql: SqlClient): Promise<number> {
  const { rows } = await sql.query<{ present: string | null }>(
    "SELECT to_regclass('fieldseal_migrations')::text AS present",
  );
  if (rows[0]?.present == null) return 0;
  const { rows: v } = await sql.query<{ max: number | null }>(
    'SELECT max(version) AS max FROM fieldseal_migrations',
  );
  return Number(v[0]?.max ?? 0);
}
