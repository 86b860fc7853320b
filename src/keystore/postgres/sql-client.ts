/**
 * The few things the PostgreSQL key store needs from a database connection, so the same code
 * runs on a PostgreSQL server through `pg` and on embedded PGlite. Only structural types of
 * the drivers are used here: neither package is imported.
 *
 * @example
 * ```ts
 * const sql = fromPgPool(new pg.Pool({ connectionString }));
 * const sql2 = fromPGlite(await PGlite.create());
 * ```
 */
export interface SqlClient {
  /** One statement with `$1`-style parameters. */
  query<R extends object = Record<string, unknown>>(
    text: string,
    params?: readonly unknown[],
  ): Promise<{ rows: R[] }>;
  /** Several statements without parameters (migrations). */
  exec(text: string): Promise<void>;
  /** Run `fn` in one transaction on one connection; commit on success, roll back on error. */
  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T>;
}

/**
 * The subset of `pg.Pool` used.
 * @example
 * ```ts
 * const pool: PgPoolLike = new pg.Pool({ connectionString });
 * ```
 */
export interface PgPoolLike {
  query(text: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
  connect(): Promise<PgPoolClientLike>;
}

/**
 * The subset of `pg.PoolClient` used.
 * @example
 * ```ts
 * const client: PgPoolClientLike = await pool.connect();
 * ```
 */
export interface PgPoolClientLike {
  query(text: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
  release(err?: Error | boolean): void;
}

/**
 * The subset of PGlite (and its transaction object) used.
 * @example
 * ```ts
 * const db: PGliteLike = await PGlite.create();
 * ```
 */
export interface PGliteLike {
  query(text: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
  exec(text: string): Promise<unknown>;
  transaction?<T>(fn: (tx: PGliteLike) => Promise<T>): Promise<T>;
}

/**
 * A {@link SqlClient} over a `pg` pool (PostgreSQL server).
 * @example
 * ```ts
 * import pg from 'pg';
 * const sql = fromPgPool(new pg.Pool({ connectionString: process.env.DATABASE_URL }));
 * ```
 */
export function fromPgPool(pool: PgPoolLike): SqlClient {
  const onConnection = (conn: PgPoolClientLike): SqlClient => ({
    query: async <R extends object>(text: string, params?: readonly unknown[]) =>
      (await conn.query(text, params === undefined ? undefined : [...params])) as { rows: R[] },
    exec: async (text) => {
      await conn.query(text);
    },
    transaction: (fn) => fn(onConnection(conn)),
  });
  return {
    query: async <R extends object>(text: string, params?: readonly unknown[]) =>
      (await pool.query(text, params === undefined ? undefined : [...params])) as { rows: R[] },
    exec: async (text) => {
      await pool.query(text);
    },
    transaction: async (fn) => {
      const conn = await pool.connect();
      let broken = false;
      try {
        await conn.query('BEGIN');
        const result = await fn(onConnection(conn));
        await conn.query('COMMIT');
        return result;
      } catch (err) {
        try {
          await conn.query('ROLLBACK');
        } catch {
          broken = true;
        }
        throw err;
      } finally {
        conn.release(broken);
      }
    },
  };
}

/**
 * A {@link SqlClient} over an embedded PGlite database.
 * @example
 * ```ts
 * import { PGlite } from '@electric-sql/pglite';
 * const sql = fromPGlite(await PGlite.create('./.fieldseal/db'));
 * ```
 */
export function fromPGlite(db: PGliteLike): SqlClient {
  return {
    query: async <R extends object>(text: string, params?: readonly unknown[]) =>
      (await db.query(text, params === undefined ? undefined : [...params])) as { rows: R[] },
    exec: async (text) => {
      await db.exec(text);
    },
    transaction: (fn) => {
      if (db.transaction === undefined) return fn(fromPGlite(db)); // already inside one
      return db.transaction((tx) =>
        fn(fromPGlite({ query: tx.query.bind(tx), exec: tx.exec.bind(tx) })),
      );
    },
  };
}
