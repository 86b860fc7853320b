import type { Migration } from './migration.js';

/**
 * The key store's tables: tenants and wrapped data-key versions (migration 1), the `retired`
 * state (3) and per-version key commitments (5). Never holds a key in the clear.
 * @internal
 */
export const KEY_STORE_MIGRATIONS: readonly Migration[] = [
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
