import { PostgresDialect, type PostgresPool, type PostgresPoolClient } from 'kysely';

/**
 * The part of a PGlite database the dialect uses (`@electric-sql/pglite`'s `PGlite`).
 * @example
 * ```ts
 * import { PGlite } from '@electric-sql/pglite';
 * const db: PGliteQueryable = new PGlite();
 * ```
 */
export interface PGliteQueryable {
  query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[]; affectedRows?: number }>;
}

/**
 * Kysely's own `PostgresDialect` over an embedded PGlite database, without a third-party
 * dialect. PGlite is one connection: connections are handed out one at a time, so a
 * transaction holds the database until it ends (a query outside it, awaited inside it, waits
 * forever; use the transaction's handle).
 * @example
 * ```ts
 * import { PGlite } from '@electric-sql/pglite';
 * import { Kysely } from 'kysely';
 * import { pgliteDialect, withFieldseal } from 'fieldseal/kysely';
 *
 * const db = new Kysely<Database>(withFieldseal(pgliteDialect(new PGlite()), { fs, models: [User] }));
 * ```
 */
export function pgliteDialect(db: PGliteQueryable): PostgresDialect {
  let last: Promise<void> = Promise.resolve();
  const pool: PostgresPool = {
    async connect(): Promise<PostgresPoolClient> {
      let release!: () => void;
      const previous = last;
      last = new Promise<void>((resolve) => (release = resolve));
      await previous;
      let released = false;
      const client = {
        async query(sql: string, params: readonly unknown[]) {
          const result = await db.query<Record<string, unknown>>(sql, [...params]);
          return {
            command: commandOf(sql),
            rowCount: result.affectedRows ?? result.rows.length,
            rows: result.rows,
          };
        },
        release(): void {
          if (released) return;
          released = true;
          release();
        },
      };
      return client as unknown as PostgresPoolClient;
    },
    async end(): Promise<void> {
      await last;
    },
  };
  return new PostgresDialect({ pool });
}

/** The statement's command as node-postgres reports it (Kysely counts affected rows by it). */
function commandOf(sql: string): 'INSERT' | 'UPDATE' | 'DELETE' | 'MERGE' | 'SELECT' {
  let first = /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase();
  if (first === 'WITH') {
    // The statement after the common table expressions: the last `) insert|update|...`.
    const after = [...sql.matchAll(/\)\s*(insert|update|delete|merge)\b/gi)].pop();
    first = after?.[1]?.toUpperCase();
  }
  return first === 'INSERT' || first === 'UPDATE' || first === 'DELETE' || first === 'MERGE'
    ? first
    : 'SELECT';
}
