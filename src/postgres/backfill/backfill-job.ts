import type { SqlClient } from '../sql-client.js';
import { keyValue, type BackfillTarget } from './backfill-target.js';

/*
 * A backfill job lives in the database (tables fieldseal_backfills and
 * fieldseal_backfill_chunks, migration 4): its plan is a list of primary-key ranges, each
 * processed in one transaction together with its checkpoint, so a worker killed at any moment
 * leaves every range either wholly done or wholly pending.
 */

/** A job as recorded. @internal */
export interface JobRow {
  readonly name: string;
  readonly tableName: string;
  readonly fields: readonly string[];
  readonly chunkSize: number;
  readonly totalRows: number;
  readonly chunks: number;
  readonly finishedAt: Date | null;
}

/** Read a job, or undefined. @internal */
export async function readJob(sql: SqlClient, name: string): Promise<JobRow | undefined> {
  const { rows } = await sql.query<{
    name: string;
    table_name: string;
    fields: string[];
    chunk_size: number;
    total_rows: string | number;
    chunks: number;
    finished_at: Date | string | null;
  }>(
    `SELECT name, table_name, fields, chunk_size, total_rows, chunks, finished_at
       FROM fieldseal_backfills WHERE name = $1`,
    [name],
  );
  const r = rows[0];
  if (r === undefined) return undefined;
  return {
    name: r.name,
    tableName: r.table_name,
    fields: r.fields,
    chunkSize: Number(r.chunk_size),
    totalRows: Number(r.total_rows),
    chunks: Number(r.chunks),
    finishedAt: r.finished_at === null ? null : new Date(r.finished_at),
  };
}

/**
 * Join the job `name`, planning it first if it does not exist (or `restart` and it finished).
 * Planning and joining are serialised by a transaction-scoped advisory lock, so workers that
 * start together agree on one plan.
 * @internal
 */
export async function ensureJob(
  sql: SqlClient,
  target: BackfillTarget,
  name: string,
  chunkSize: number,
  restart: boolean,
): Promise<{ job: JobRow; planned: boolean }> {
  const fields = target.fields.map((f) => f.name);
  return sql.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock(hashtext('fieldseal.backfill'), hashtext($1))", [
      name,
    ]);
    const existing = await readJob(tx, name);
    if (existing !== undefined) {
      if (existing.tableName !== target.tableName || existing.fields.join() !== fields.join()) {
        throw new TypeError(
          `backfill "${name}" exists for ${existing.tableName} (${existing.fields.join(', ')}); choose another name`,
        );
      }
      if (existing.finishedAt === null || !restart) return { job: existing, planned: false };
      await tx.query('DELETE FROM fieldseal_backfills WHERE name = $1', [name]);
    }
    const bounds = await boundaries(tx, target, chunkSize);
    const total = bounds.total;
    const chunks = bounds.keys.length + 1;
    await tx.query(
      `INSERT INTO fieldseal_backfills (name, table_name, fields, chunk_size, total_rows, chunks)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [name, target.tableName, fields, chunkSize, total, chunks],
    );
    // Chunk i covers (bound[i-1], bound[i]]; the first starts at the beginning, the last is
    // open-ended so rows inserted after planning beyond the last bound are covered too.
    const los: (string | null)[] = [];
    const his: (string | null)[] = [];
    const planned: number[] = [];
    for (let i = 0; i < chunks; i++) {
      los.push(i === 0 ? null : JSON.stringify(bounds.keys[i - 1]));
      his.push(i === chunks - 1 ? null : JSON.stringify(bounds.keys[i]));
      planned.push(i === chunks - 1 ? total - chunkSize * (chunks - 1) : chunkSize);
    }
    await tx.query(
      `INSERT INTO fieldseal_backfill_chunks (backfill, chunk, lo, hi, rows_planned)
       SELECT $1, c - 1, lo::jsonb, hi::jsonb, n
         FROM unnest($2::text[], $3::text[], $4::bigint[]) WITH ORDINALITY AS u(lo, hi, n, c)`,
      [name, los, his, planned],
    );
    const job = await readJob(tx, name);
    return { job: job!, planned: true };
  });
}

/** Every `chunkSize`-th primary key in key order, and the row count. */
async function boundaries(
  sql: SqlClient,
  target: BackfillTarget,
  chunkSize: number,
): Promise<{ keys: (string | number)[][]; total: number }> {
  const pk = target.pk.join(', ');
  const { rows: count } = await sql.query<{ n: string | number }>(
    `SELECT count(*) AS n FROM ${target.table}`,
  );
  const total = Number(count[0]?.n ?? 0);
  const { rows } = await sql.query<Record<string, unknown>>(
    `SELECT ${pk} FROM (
       SELECT ${pk}, row_number() OVER (ORDER BY ${pk}) AS fieldseal_rn FROM ${target.table}
     ) s WHERE fieldseal_rn % $1 = 0 AND fieldseal_rn < $2 ORDER BY ${pk}`,
    [chunkSize, total],
  );
  return { keys: rows.map((r) => target.pkNames.map((n) => keyValue(r[n]))), total };
}

/**
 * The job's progress as the database records it (all workers together).
 * @internal
 */
export async function jobProgress(
  sql: SqlClient,
  name: string,
): Promise<{
  chunks: number;
  chunksDone: number;
  rowsTotal: number;
  rowsDone: number;
  rowsWritten: number;
  valuesWritten: number;
  rowsShredded: number;
  workers: number;
}> {
  const { rows } = await sql.query<Record<string, string | number | null>>(
    `SELECT count(*) AS chunks,
            count(done_at) AS chunks_done,
            coalesce(sum(coalesce(rows_examined, rows_planned)), 0) AS rows_total,
            coalesce(sum(rows_examined), 0) AS rows_done,
            coalesce(sum(rows_written), 0) AS rows_written,
            coalesce(sum(values_written), 0) AS values_written,
            coalesce(sum(rows_shredded), 0) AS rows_shredded,
            count(DISTINCT worker) AS workers
       FROM fieldseal_backfill_chunks WHERE backfill = $1`,
    [name],
  );
  const r = rows[0] ?? {};
  const n = (k: string): number => Number(r[k] ?? 0);
  return {
    chunks: n('chunks'),
    chunksDone: n('chunks_done'),
    rowsTotal: n('rows_total'),
    rowsDone: n('rows_done'),
    rowsWritten: n('rows_written'),
    valuesWritten: n('values_written'),
    rowsShredded: n('rows_shredded'),
    workers: n('workers'),
  };
}

/** Mark the job finished once no chunk is pending; returns whether it is finished. @internal */
export async function finishIfComplete(sql: SqlClient, name: string): Promise<boolean> {
  const { rows } = await sql.query<{ finished: boolean }>(
    `UPDATE fieldseal_backfills SET finished_at = coalesce(finished_at, now())
      WHERE name = $1
        AND NOT EXISTS (SELECT 1 FROM fieldseal_backfill_chunks
                         WHERE backfill = $1 AND done_at IS NULL)
      RETURNING true AS finished`,
    [name],
  );
  return rows.length > 0;
}
