import { q } from './repository-columns.js';
import { keyTypes, type RepositoryContext } from './repository-context.js';

/*
 * Guarded multi-row UPDATE (internal): each row is rewritten only if the columns it was read
 * with still hold exactly what was read, so a write made in between by the application is
 * never overwritten. One statement per chunk, `UPDATE ... FROM (VALUES ...)`; PostgreSQL
 * re-evaluates the guard on the latest row version under READ COMMITTED, so the check and the
 * write are one atomic step per row.
 */

/** A column named in a compare-and-set, with its SQL type for the parameter casts. @internal */
export interface CasColumn {
  readonly name: string;
  readonly type: string;
}

/** One row to rewrite: its primary key (tenant first), expected values, new values. @internal */
export interface CasRow {
  readonly key: readonly unknown[];
  readonly expect: readonly unknown[];
  readonly set: readonly unknown[];
}

/** Rows per statement: far below PostgreSQL's 65,535 parameters for any sane column count. */
const CHUNK = 500;

/**
 * Rewrite `set` columns of each row whose `expect` columns still hold the expected values
 * (`IS NOT DISTINCT FROM`: an expected `null` must still be `null`).
 * @returns the positions (in `rows`) of the rows that were rewritten; the others changed.
 * @internal
 */
export async function compareAndSet(
  ctx: RepositoryContext,
  expect: readonly CasColumn[],
  set: readonly CasColumn[],
  rows: readonly CasRow[],
): Promise<Set<number>> {
  const keyNames = [ctx.plan.tenant, ...ctx.plan.key];
  const types = keyTypes(ctx);
  const names = [
    'i',
    ...keyNames.map((_, j) => `k${j}`),
    ...expect.map((_, j) => `e${j}`),
    ...set.map((_, j) => `s${j}`),
  ];
  const casts = ['integer', ...types, ...expect.map((c) => c.type), ...set.map((c) => c.type)];
  const assignments = set.map((c, j) => `${q(c.name)} = v.s${j}`).join(', ');
  const guards = [
    ...keyNames.map((name, j) => `t.${q(name)} = v.k${j}`),
    ...expect.map((c, j) => `t.${q(c.name)} IS NOT DISTINCT FROM v.e${j}`),
  ].join(' AND ');
  const done = new Set<number>();
  for (let start = 0; start < rows.length; start += CHUNK) {
    const params: unknown[] = [];
    const tuples = rows.slice(start, start + CHUNK).map((row, n) => {
      const values = [start + n, ...row.key, ...row.expect, ...row.set];
      const slots = values.map((value, j) => {
        params.push(value);
        return `$${params.length}::${casts[j]!}`;
      });
      return `(${slots.join(', ')})`;
    });
    const { rows: updated } = await ctx.sql.query<{ i: number }>(
      `UPDATE ${q(ctx.table)} AS t SET ${assignments}
        FROM (VALUES ${tuples.join(', ')}) AS v(${names.join(', ')})
        WHERE ${guards} RETURNING v.i`,
      params,
    );
    for (const { i } of updated) done.add(Number(i));
  }
  return done;
}
