import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Fieldseal } from '../../index.js';
import { isFieldsealError } from '../../index.js';
import type { SqlClient } from '../sql-client.js';
import type { AnyModel } from '../../index.js';
import { processNextChunk } from './backfill-chunk.js';
import { retryOnConnectionLoss } from './connection-loss.js';
import { ensureJob, finishIfComplete, jobProgress } from './backfill-job.js';
import type { BackfillCounts } from './backfill-status.js';
import { assertTable, backfillTarget, type LegacyConverter } from './backfill-target.js';

/**
 * Options of {@link runBackfill}.
 * @example
 * ```ts
 * const options: BackfillOptions = { sql, fs, model: Customer, rowsPerSecond: 2_000 };
 * ```
 */
export interface BackfillOptions {
  readonly sql: SqlClient;
  /** A client configured with the model's policies (`models: [model]`). */
  readonly fs: Fieldseal;
  readonly model: AnyModel;
  /** Table name in the database (default: the model's table). */
  readonly tableName?: string;
  /** Encrypted fields to backfill (default: every encrypted field of the model). */
  readonly fields?: readonly string[];
  /** Job name, the checkpoint's identity (default: the table name). */
  readonly name?: string;
  /** Rows per chunk, fixed when the job is planned (default 500). */
  readonly chunkSize?: number;
  /** Cap of this worker's rate, rows per second (default: unthrottled). */
  readonly rowsPerSecond?: number;
  /** This worker's name in the checkpoint (default `hostname:pid`). */
  readonly worker?: string;
  /** Plan the job again if it already finished (default false: a finished job is reported). */
  readonly restart?: boolean;
  /**
   * Plaintext migration: converters from a legacy plaintext column value to the field's typed
   * value. Legacy values are read only in fields whose policy has `allowPlaintextRead`.
   */
  readonly legacy?: Readonly<Record<string, LegacyConverter>>;
  /** Called after planning and after every chunk (all workers' progress, from the database). */
  readonly onProgress?: (progress: BackfillProgress) => void;
  /** Stop after the current chunk (its work commits; the job stays resumable). */
  readonly signal?: AbortSignal;
  /**
   * Tries of one step in a row that may end in a lost database connection (a session the
   * server terminated: the chunk rolls back and is run again on a new connection, after a
   * capped, jittered backoff); default 8. Then the worker stops with `ERR_BACKFILL_FAILED`.
   */
  readonly connectionRetries?: number;
}

/**
 * A backfill job's progress, counted in the database over every worker.
 * @example
 * ```ts
 * onProgress: (p: BackfillProgress) => console.log(`${p.rowsDone}/${p.rowsTotal}, ETA ${p.etaSeconds}s`)
 * ```
 */
export interface BackfillProgress extends BackfillCounts {
  /** Rows per second over all workers since this worker started. */
  readonly rowsPerSecond: number;
  /** Seconds left at that rate (`undefined` until a rate is known). */
  readonly etaSeconds: number | undefined;
}

/**
 * What {@link runBackfill} did in this worker, and whether the job is complete.
 * @example
 * ```ts
 * const { complete, rowsWritten }: BackfillReport = await runBackfill(options);
 * ```
 */
export interface BackfillReport {
  readonly name: string;
  /** True when the job planned now (false: resumed or joined an existing plan). */
  readonly planned: boolean;
  /** True when every chunk of the job is done (by any worker). */
  readonly complete: boolean;
  /** This worker's counts. */
  readonly chunks: number;
  readonly rowsExamined: number;
  readonly rowsWritten: number;
  readonly valuesWritten: number;
  readonly rowsShredded: number;
  readonly conflicts: number;
  readonly elapsedMs: number;
}

/**
 * Re-encrypt every value of a model table that is not under its tenant's active data-key
 * version (after `rotateTenantKey`), or is legacy plaintext (migration to encryption), in
 * checkpointed chunks.
 *
 * - **Resumable**: each chunk (a primary-key range) is processed in one transaction together
 *   with its checkpoint; after a crash or `kill -9` the job resumes at the first pending chunk
 *   and no row is lost, skipped or written twice.
 * - **Several workers** (processes, machines) run the same job at once: chunks are claimed with
 *   `FOR UPDATE SKIP LOCKED`.
 * - **Never overwrites the application**: each row is written by compare-and-set on the row
 *   version read (`xmin`); a row changed meanwhile is read again and redone. The target must
 *   be a table (plain or partitioned): a view or foreign table is refused before planning,
 *   with `ERR_BACKFILL_FAILED`. With column privileges, the backfill's role needs `SELECT`
 *   on `xmin` too.
 * - **Survives lost sessions**: a chunk whose database session the server ends (restart,
 *   failover, `pg_terminate_backend`) rolls back and is run again on a new connection, with
 *   backoff (`connectionRetries`); past that, `ERR_BACKFILL_FAILED` and the job stays resumable.
 * - **Throttled** by `rowsPerSecond`, stoppable by `signal`, fail closed: a value that cannot
 *   be decrypted stops the worker with `ERR_BACKFILL_FAILED` (cause chained) and its chunk
 *   stays pending. Rows of shredded tenants are counted and left alone.
 *
 * Needs fieldseal's migrations (`migrate(sql)`) on the database holding the table, and a
 * `ReadWrite` client; no key administration (`admin`): the rotation before it is done by a
 * client that has it.
 * @example
 * ```ts
 * await admin.rotateTenantKey('acme'); // admin = createFieldseal({ ...options, admin: ['rotate'] })
 * const report = await runBackfill({ sql, fs, model: Customer, rowsPerSecond: 5_000,
 *   onProgress: (p) => console.log(`${p.rowsDone}/${p.rowsTotal}`) });
 * ```
 */
export async function runBackfill(options: BackfillOptions): Promise<BackfillReport> {
  const { sql, fs, model, onProgress, signal } = options;
  const chunkSize = options.chunkSize ?? 500;
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > 100_000) {
    throw new RangeError('chunkSize: expected an integer from 1 to 100000');
  }
  const cap = options.rowsPerSecond;
  if (cap !== undefined && !(Number.isFinite(cap) && cap > 0)) {
    throw new RangeError('rowsPerSecond: expected a positive number');
  }
  const target = backfillTarget(fs, model, {
    tableName: options.tableName,
    fields: options.fields,
    legacy: options.legacy,
  });
  const name = options.name ?? target.tableName;
  const worker = options.worker ?? `${hostname()}:${process.pid}`;
  const started = performance.now();
  // Every database step survives a lost session: it rolled back, so it is run again.
  const retrying = <T>(step: () => Promise<T>): Promise<T> =>
    retryOnConnectionLoss(step, {
      ...(options.connectionRetries === undefined ? {} : { attempts: options.connectionRetries }),
      ...(signal === undefined ? {} : { signal }),
    });
  await retrying(() => assertTable(sql, target));
  const { job, planned } = await retrying(() =>
    ensureJob(sql, target, name, chunkSize, options.restart === true),
  );
  const totals = {
    chunks: 0,
    rowsExamined: 0,
    rowsWritten: 0,
    valuesWritten: 0,
    rowsShredded: 0,
    conflicts: 0,
  };
  const first = await retrying(() => jobProgress(sql, name));
  const report = async (): Promise<void> => {
    if (onProgress === undefined) return;
    const p = await retrying(() => jobProgress(sql, name));
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? (p.rowsDone - first.rowsDone) / seconds : 0;
    const left = Math.max(0, p.rowsTotal - p.rowsDone);
    onProgress({
      name,
      chunks: p.chunks,
      chunksDone: p.chunksDone,
      rowsTotal: p.rowsTotal,
      rowsDone: p.rowsDone,
      rowsWritten: p.rowsWritten,
      valuesWritten: p.valuesWritten,
      rowsShredded: p.rowsShredded,
      rowsPerSecond: rate,
      etaSeconds: left === 0 ? 0 : rate > 0 ? left / rate : undefined,
    });
  };
  const work = async (): Promise<void> => {
    await report();
    if (job.finishedAt !== null) return;
    while (signal?.aborted !== true) {
      const done = await retrying(() => processNextChunk(sql, fs, target, name, worker));
      if (done === undefined) break;
      totals.chunks++;
      totals.rowsExamined += done.rowsExamined;
      totals.rowsWritten += done.rowsWritten;
      totals.valuesWritten += done.valuesWritten;
      totals.rowsShredded += done.rowsShredded;
      totals.conflicts += done.conflicts;
      await report();
      if (cap !== undefined) {
        const due = (totals.rowsExamined / cap) * 1000 - (performance.now() - started);
        if (due > 0) {
          await sleep(due, undefined, signal === undefined ? {} : { signal }).catch(
            () => undefined,
          );
        }
      }
    }
  };
  const detail = {
    job: name,
    table: target.tableName,
    fields: target.fields.map((f) => f.name),
    worker,
  };
  await fs.recordAudit({
    operation: 'backfill-start',
    outcome: 'success',
    detail: { ...detail, planned, chunks: job.chunks, rows: job.totalRows },
  });
  try {
    await work();
  } catch (err) {
    await fs.recordAudit({
      operation: 'backfill-stop',
      outcome: 'failure',
      errorCode: isFieldsealError(err) ? err.code : 'ERR_UNEXPECTED',
      detail: { ...detail, ...totals },
    });
    throw err;
  }
  const complete = job.finishedAt !== null || (await retrying(() => finishIfComplete(sql, name)));
  await fs.recordAudit({
    operation: 'backfill-stop',
    outcome: 'success',
    detail: { ...detail, ...totals, complete },
  });
  return {
    name,
    planned,
    complete,
    ...totals,
    elapsedMs: performance.now() - started,
  };
}
