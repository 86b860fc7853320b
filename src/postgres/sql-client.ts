import { AsyncLocalStorage } from 'node:async_hooks';
import { KeyStoreUnavailableError } from '../index.js';
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
  /** `pg` clients emit `error` when the server ends their session. */
  on?(event: 'error', listener: (err: Error) => void): unknown;
  removeListener?(event: 'error', listener: (err: Error) => void): unknown;
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
      // A session ended by the server while checked out emits `error` on the client: without
      // a listener that is an uncaught exception that ends the process. The statement in
      // flight fails on its own; mark the connection broken so the pool discards it.
      const onError = (): void => {
        broken = true;
      };
      conn.on?.('error', onError);
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
        conn.removeListener?.('error', onError);
        conn.release(broken);
      }
    },
  };
}

/**
 * The transaction running in the current async context, per PGlite database. PGlite has one
 * connection: a statement issued outside a running transaction waits for it to end, so a
 * statement issued *from inside* the transaction's callback (e.g. a key-store lookup while a
 * backfill chunk is being rewritten) would wait for itself forever. Such statements join the
 * transaction instead, as they would on the transaction's connection of a server.
 */
const running = new WeakMap<PGliteLike, AsyncLocalStorage<SqlClient>>();

/**
 * A {@link SqlClient} over an embedded PGlite database. Statements issued from inside a
 * `transaction` callback (in its async context) through any client of the same database run
 * in that transaction.
 * @example
 * ```ts
 * import { PGlite } from '@electric-sql/pglite';
 * const sql = fromPGlite(await PGlite.create('./.fieldseal/db'));
 * ```
 */
export function fromPGlite(db: PGliteLike): SqlClient {
  const context = transactionContext(db);
  /** The transaction this statement runs in: its async context's, else an ORM's open one. */
  const joined = (): SqlClient | undefined => context.getStore() ?? openShared.get(db);
  return {
    query: async <R extends object>(text: string, params?: readonly unknown[]) => {
      const tx = joined();
      if (tx !== undefined) return tx.query<R>(text, params);
      return (await db.query(text, params === undefined ? undefined : [...params])) as {
        rows: R[];
      };
    },
    exec: async (text) => {
      const tx = joined();
      if (tx !== undefined) return tx.exec(text);
      await db.exec(text);
    },
    transaction: (fn) => {
      const tx = joined();
      if (tx !== undefined) return tx.transaction(fn); // already inside one: join it
      if (db.transaction === undefined) return fn(onPGliteTransaction(db));
      return db.transaction((t) => {
        const client = onPGliteTransaction(t);
        return context.run(client, () => fn(client));
      });
    },
  };
}

function transactionContext(db: PGliteLike): AsyncLocalStorage<SqlClient> {
  let als = running.get(db);
  if (als === undefined) {
    als = new AsyncLocalStorage<SqlClient>();
    running.set(db, als);
  }
  return als;
}

/**
 * The transaction an ORM holds open on a shared PGlite database (see {@link shareTransactions}),
 * for the statements fieldseal issues outside its async context: an ORM that hands the
 * transaction object out of its callback (Prisma's PGlite adapter) runs the caller's code in
 * another context, and PGlite would make those statements wait for the transaction, forever.
 */
const openShared = new WeakMap<PGliteLike, SqlClient>();

/**
 * The same PGlite database, for an ORM: while a transaction the ORM opens on it
 * (`db.transaction(...)`) is running, fieldseal's clients of the database (its key store, a
 * repository's blind-index secrets) read in that transaction, as they would on its connection of
 * a server; without it they would wait for the transaction to end, from inside it, forever:
 * PGlite has one connection.
 *
 * They never write in it: a tenant key or index secret created there would be rolled back with
 * the ORM's transaction while fieldseal kept using it, and values written under it later would
 * be lost. A statement of fieldseal's that writes (the first write for a new tenant, a key
 * rotation, an audit record) is refused with `ERR_KEY_STORE_UNAVAILABLE` while the transaction
 * is open: provision tenants (`fs.provisionTenant`) before the transaction.
 * @example
 * ```ts
 * import { drizzle } from 'drizzle-orm/pglite';
 * const pglite = await PGlite.create();
 * const sql = fromPGlite(pglite);                   // fieldseal's key store, repositories
 * const db = drizzle(shareTransactions(pglite));    // the ORM
 * ```
 */
export function shareTransactions<T extends PGliteLike>(db: T): T {
  const context = transactionContext(db);
  const shared = new Proxy(db, {
    get(target, property) {
      if (property === 'transaction' && typeof target.transaction === 'function') {
        return <R>(fn: (tx: PGliteLike) => Promise<R>): Promise<R> =>
          target.transaction!(async (tx) => {
            const client = readOnlyIn(tx);
            openShared.set(target, client);
            try {
              return await context.run(client, () => fn(tx));
            } finally {
              if (openShared.get(target) === client) openShared.delete(target);
            }
          });
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function'
        ? (value as (...a: unknown[]) => unknown).bind(target)
        : value;
    },
  });
  running.set(shared, context);
  return shared;
}

/** A statement that only reads (fieldseal's own statements: no data-modifying CTE). */
const READ_ONLY = /^\s*SELECT\b(?![\s\S]*\bFOR\s+(UPDATE|NO\s+KEY\s+UPDATE|SHARE|KEY\s+SHARE)\b)/i;

/** A client in an ORM's transaction that reads and refuses to write (see shareTransactions). */
function readOnlyIn(tx: PGliteLike): SqlClient {
  const inner = onPGliteTransaction(tx);
  const refused = (): Error =>
    new KeyStoreUnavailableError(
      "fieldseal cannot write its own state (a new tenant's key or index secret, a key change, an audit record) inside an ORM's transaction on a shared PGlite database: it would be rolled back with the transaction while fieldseal kept using it. Provision the tenant (fs.provisionTenant) before the transaction",
    );
  const client: SqlClient = {
    query: async (text, params) =>
      READ_ONLY.test(text) ? inner.query(text, params) : Promise.reject(refused()),
    exec: () => Promise.reject(refused()),
    transaction: () => Promise.reject(refused()),
  };
  return client;
}

/** A client bound to one PGlite transaction object. */
function onPGliteTransaction(tx: PGliteLike): SqlClient {
  const client: SqlClient = {
    query: async <R extends object>(text: string, params?: readonly unknown[]) =>
      (await tx.query(text, params === undefined ? undefined : [...params])) as { rows: R[] },
    exec: async (text) => {
      await tx.exec(text);
    },
    transaction: (fn) => fn(client),
  };
  return client;
}
