import type { SqlClient } from './sql-client.js';

/** One schema change; applied once, in order, recorded in `fieldseal_migrations`. */
interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/**
 * fieldseal's own schema. Append only: a released migration is never edited.
 * Tables: tenants, data-key versions (wrapped only). Later features add their own migrations.
 */
const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'tenants and key versions',
    sql: `
      CREATE TABLE fieldseal_tenants (
        tenant_id  text PRIMARY KEY CHECK (length(tenant_id) BETWEEN 1 AND 1024),
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE fieldseal_key_versions (
        tenant_id     text   NOT NULL REFERENCES fieldseal_tenants (tenant_id),
        key_id        text   NOT NULL CHECK (length(key_id) BETWEEN 1 AND 255),
        version       bigint NOT NULL CHECK (version BETWEEN 1 AND 4294967295),
        state         text   NOT NULL CHECK (state IN ('active', 'decrypt-only', 'shredded')),
        provider_id   text   NOT NULL,
        master_key_id text   NOT NULL,
        wrapped       bytea,
        created_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, key_id, version),
        CHECK ((state = 'shredded') = (wrapped IS NULL))
      );
      -- The database itself guarantees at most one active version per tenant and key id,
      -- whatever the number of concurrent writers.
      CREATE UNIQUE INDEX fieldseal_key_versions_one_active
        ON fieldseal_key_versions (tenant_id, key_id) WHERE state = 'active';
    `,
  },
];

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
