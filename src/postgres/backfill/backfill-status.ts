import type { SqlClient } from '../sql-client.js';
import { jobProgress, readJob } from './backfill-job.js';

/**
 * A backfill job's counts over every worker, as the database records them.
 * @example
 * ```ts
 * const left = (c: BackfillCounts) => c.rowsTotal - c.rowsDone;
 * ```
 */
export interface BackfillCounts {
  readonly name: string;
  readonly chunks: number;
  readonly chunksDone: number;
  readonly rowsTotal: number;
  readonly rowsDone: number;
  /** Rows that were rewritten (the others were current already). */
  readonly rowsWritten: number;
  readonly valuesWritten: number;
  /** Rows of shredded tenants, left as they are (nothing can read them any more). */
  readonly rowsShredded: number;
}

/**
 * A backfill job as the database records it, for `fieldseal backfill status` and dashboards.
 * @example
 * ```ts
 * const s: BackfillStatus | undefined = await backfillStatus(sql, 'customers');
 * if (s?.finishedAt === null) console.log(`${s.rowsDone}/${s.rowsTotal}`);
 * ```
 */
export interface BackfillStatus extends BackfillCounts {
  readonly tableName: string;
  readonly fields: readonly string[];
  readonly chunkSize: number;
  /** Distinct workers that completed at least one chunk. */
  readonly workers: number;
  /** When the last chunk was done; `null` while the job is incomplete. */
  readonly finishedAt: Date | null;
}

/**
 * The status of backfill job `name`, or `undefined` when there is no such job.
 * @example
 * ```ts
 * const status = await backfillStatus(sql, 'customers');
 * ```
 */
export async function backfillStatus(
  sql: SqlClient,
  name: string,
): Promise<BackfillStatus | undefined> {
  const job = await readJob(sql, name);
  if (job === undefined) return undefined;
  const p = await jobProgress(sql, name);
  return {
    name: job.name,
    tableName: job.tableName,
    fields: job.fields,
    chunkSize: job.chunkSize,
    finishedAt: job.finishedAt,
    ...p,
  };
}

/**
 * Every backfill job recorded in the database, by name.
 * @example
 * ```ts
 * for (const job of await listBackfills(sql)) console.log(job.name, job.finishedAt);
 * ```
 */
export async function listBackfills(sql: SqlClient): Promise<BackfillStatus[]> {
  const { rows } = await sql.query<{ name: string }>(
    'SELECT name FROM fieldseal_backfills ORDER BY name',
  );
  const out: BackfillStatus[] = [];
  for (const { name } of rows) {
    const s = await backfillStatus(sql, name);
    if (s !== undefined) out.push(s);
  }
  return out;
}
