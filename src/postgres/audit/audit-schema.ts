import type { Migration } from '../migration.js';

/** The audit hash chain's tables (migration 2; docs/audit.md). @internal */
export const AUDIT_MIGRATIONS: readonly Migration[] = [
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
];
