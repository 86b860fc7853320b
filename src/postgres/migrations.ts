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
  {
    version: 2,
    name: 'audit hash chain',
    sql: `
      -- Append-only audit trail; each row's hash covers its fields and the previous row's
      -- hash (docs/audit.md). Never holds values or key bytes.
      CREATE TABLE fieldseal_audit (
        seq           bigint      PRIMARY KEY CHECK (seq >= 1),
        at            timestamptz NOT NULL,
        actor         text        NOT NULL,
        operation     text        NOT NULL,
        tenant        text,
        key_id        text,
        version       bigint,
        provider_id   text,
        master_key_id text,
        outcome       text        NOT NULL CHECK (outcome IN ('success', 'failure')),
        error_code    text,
        detail        jsonb,
        prev_hash     bytea       NOT NULL CHECK (length(prev_hash) = 32),
        hash          bytea       NOT NULL CHECK (length(hash) = 32)
      );
      -- The chain's head, one row: appenders lock it (SELECT ... FOR UPDATE), so appends from
      -- any number of connections form one chain; verification also detects a cut tail.
      CREATE TABLE fieldseal_audit_head (
        id   boolean PRIMARY KEY DEFAULT true CHECK (id),
        seq  bigint  NOT NULL CHECK (seq >= 0),
        hash bytea   NOT NULL CHECK (length(hash) = 32)
      );
      INSERT INTO fieldseal_audit_head (seq, hash) VALUES (0, decode(repeat('00', 32), 'hex'));
    `,
  },
  {
    version: 3,
    name: 'retired key versions',
    sql: `
      -- A retired version refuses decryption but keeps its wrapped bytes (it can be
      -- reinstated), so the wrapped-iff-not-shredded check of migration 1 still holds.
      -- No IF EXISTS: if the constraint is not the one migration 1 made, fail loudly.
      ALTER TABLE fieldseal_key_versions DROP CONSTRAINT fieldseal_key_versions_state_check;
      ALTER TABLE fieldseal_key_versions ADD CONSTRAINT fieldseal_key_versions_state_check
        CHECK (state IN ('active', 'decrypt-only', 'retired', 'shredded'));
    `,
  },
  {
    version: 4,
    name: 'backfill checkpoints',
    sql: `
      -- A backfill job and its plan: primary-key ranges (chunks), each done in one
      -- transaction together with its row writes (docs/backfill.md).
      CREATE TABLE fieldseal_backfills (
        name        text    PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 200),
        table_name  text    NOT NULL,
        fields      text[]  NOT NULL,
        chunk_size  integer NOT NULL CHECK (chunk_size > 0),
        total_rows  bigint  NOT NULL CHECK (total_rows >= 0),
        chunks      integer NOT NULL CHECK (chunks > 0),
        created_at  timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz
      );
      CREATE TABLE fieldseal_backfill_chunks (
        backfill       text    NOT NULL REFERENCES fieldseal_backfills (name) ON DELETE CASCADE,
        chunk          integer NOT NULL CHECK (chunk >= 0),
        lo             jsonb,  -- exclusive lower bound (primary-key values); NULL: the start
        hi             jsonb,  -- inclusive upper bound; NULL: the end
        rows_planned   bigint  NOT NULL,
        rows_examined  bigint,
        rows_written   bigint,
        values_written bigint,
        rows_shredded  bigint,
        worker         text,
        done_at        timestamptz,
        PRIMARY KEY (backfill, chunk)
      );
      CREATE INDEX fieldseal_backfill_chunks_pending
        ON fieldseal_backfill_chunks (backfill, chunk) WHERE done_at IS NULL;
    `,
  },
  {
    version: 5,
    name: 'key version commitments',
    sql: `
      -- A 32-byte commitment to each version's data key (docs/format.md, "Key-store row
      -- commitment"), checked after every unwrap. Nullable: rows created before have none
      -- until the client sets it once after their first unwrap (compare-and-set). Additive
      -- and idempotent: existing rows and the released constraints are left as they are.
      ALTER TABLE fieldseal_key_versions ADD COLUMN IF NOT EXISTS commitment bytea;
      ALTER TABLE fieldseal_key_versions
        DROP CONSTRAINT IF EXISTS fieldseal_key_versions_commitment_check;
      ALTER TABLE fieldseal_key_versions ADD CONSTRAINT fieldseal_key_versions_commitment_check
        CHECK (commitment IS NULL OR length(commitment) = 32);
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
