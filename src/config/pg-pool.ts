import type { PgPoolLike } from '../postgres/sql-client.js';

/**
 * A pool opened by {@link openPgPool}: what the key store uses, and `end`.
 * @example
 * ```ts
 * const pool: OpenedPgPool = await openPgPool(url, 4);
 * await pool.end();
 * ```
 */
export interface OpenedPgPool extends PgPoolLike {
  end(): Promise<void>;
}

/**
 * A `pg` pool that survives its sessions being ended by the server. `pg` emits a connection's
 * failure (server restart, failover, idle timeout, `pg_terminate_backend`) as an `error`
 * event — on the pool for an idle connection, on the connection itself for one checked out —
 * and an `error` event nobody listens to is an uncaught exception that ends the process. This
 * pool listens on both: the failure reaches the caller as the rejection of the query that was
 * running (if any), the broken connection is dropped, and the next query opens a new one.
 * Every pool fieldseal opens itself (`openDatabase`, `openFromConfig`, the CLI) is one of these.
 * @example
 * ```ts
 * const pool = await openPgPool(process.env.DATABASE_URL!, 4);
 * const sql = fromPgPool(pool);
 * ```
 */
export async function openPgPool(connectionString: string, max: number): Promise<OpenedPgPool> {
  const pg = await import('pg');
  const pool = new pg.default.Pool({ connectionString, max });
  // An idle connection that failed: the pool has already removed it.
  pool.on('error', ignoreConnectionError);
  // A checked-out connection that failed: its running query is rejected with the error, and
  // fromPgPool/pg release it as broken. Listening here keeps the event from being uncaught.
  pool.on('connect', (client) => {
    client.on('error', ignoreConnectionError);
  });
  return pool;
}

/** The error is reported through the failed query, not here (and never logged: no secrets). */
function ignoreConnectionError(): void {
  // Nothing to do: see openPgPool.
}
