import type { Migration } from '../migration.js';

/** The backfill jobs and their chunk checkpoints (migration 4; docs/backfill.md). @internal */
export const BACKFILL_MIGRATIONS: readonly Migration[] = [
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
];
