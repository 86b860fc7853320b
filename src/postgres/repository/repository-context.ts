import type { Fieldseal } from '../../index.js';
import type { SqlClient } from '../sql-client.js';
import type { ModelSchema } from '../../integration/index.js';
import type { AnyModel } from '../../index.js';
import type { IndexConfig } from '../../integration/index.js';
import { fromRow, keyParam, q, type Column } from './repository-columns.js';
import type { TenantIndexSecrets } from './tenant-index-secrets.js';

/**
 * Key values of one record, in the model's key order.
 * @example
 * ```ts
 * await repo.get('acme', ['cus_1'] satisfies KeyValues);
 * ```
 */
export type KeyValues = readonly (string | number | bigint)[];

/**
 * Counters of one repository since it was created: write-backs (values moved to the tenant's
 * current data key on read) and blind-index lookups (candidates the index returned, and how
 * many of them the re-check of the decrypted value dropped).
 * @example
 * ```ts
 * const { writeBacks, writeBackConflicts, blindIndexFalsePositives }: PostgresRepositoryStats = repo.stats();
 * ```
 */
export interface PostgresRepositoryStats {
  /** Rows rewritten by write-back (every stale value of the row in one compare-and-set). */
  readonly writeBacks: number;
  /** Values rewritten by write-back. */
  readonly writeBackValues: number;
  /** Rows not rewritten because they changed between the read and the write-back. */
  readonly writeBackConflicts: number;
  /** Rows a blind-index lookup fetched as candidates. */
  readonly blindIndexCandidates: number;
  /** Candidates whose decrypted value was not the one asked for (index collisions), dropped. */
  readonly blindIndexFalsePositives: number;
}

/** Everything the repository's parts share (internal). @internal */
export interface RepositoryContext {
  readonly sql: SqlClient;
  readonly fs: Fieldseal;
  readonly model: AnyModel;
  readonly plan: ModelSchema;
  /** The table's name in the database. */
  readonly table: string;
  readonly columns: readonly Column[];
  readonly index: IndexConfig | undefined;
  readonly secrets: TenantIndexSecrets | undefined;
  readonly writeBack: boolean;
  readonly stats: { -readonly [K in keyof PostgresRepositoryStats]: number };
}

/** The quoted model columns, for SELECT lists. @internal */
export function selectList(ctx: RepositoryContext): string {
  return ctx.columns.map((c) => q(c.name)).join(', ');
}

/** `"tenant", "key1", ...`: the primary key, and the order of every listing. @internal */
export function keyOrder(ctx: RepositoryContext): string {
  return [ctx.plan.tenant, ...ctx.plan.key].map(q).join(', ');
}

/** The SQL type of each primary key column (tenant first), for parameter casts. @internal */
export function keyTypes(ctx: RepositoryContext): string[] {
  return [ctx.plan.tenant, ...ctx.plan.key].map(
    (name) => ctx.columns.find((c) => c.name === name)!.type,
  );
}

/** The primary key values of a stored row (tenant first) as query parameters. @internal */
export function keyParams(
  ctx: RepositoryContext,
  row: Readonly<Record<string, unknown>>,
): unknown[] {
  return [ctx.plan.tenant, ...ctx.plan.key].map((name) => keyParam(row[name]));
}

/** Run a SELECT of the model's columns and return the stored rows. @internal */
export async function selectRows(
  ctx: RepositoryContext,
  where: string,
  params: readonly unknown[],
  tail = `ORDER BY ${keyOrder(ctx)}`,
): Promise<Record<string, unknown>[]> {
  const { rows } = await ctx.sql.query<Record<string, unknown>>(
    `SELECT ${selectList(ctx)} FROM ${q(ctx.table)} WHERE ${where} ${tail}`,
    params,
  );
  return rows.map((r) => fromRow(ctx.columns, r));
}
