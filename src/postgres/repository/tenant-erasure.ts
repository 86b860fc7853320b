import { q } from './repository-columns.js';
import type { RepositoryContext } from './repository-context.js';

/*
 * What is left of a shredded tenant's blind indexes, and how to remove it (internal).
 *
 * Shredding destroys the tenant's data keys, hence its sealed index secrets: nobody, not even
 * the holder of the indexer's root key, can recompute the tenant's indexes or test a guess
 * against them. What the stored index strings still show is which of the tenant's rows held
 * equal values (and how often). Clearing the columns removes that too.
 */

const INDEX_COLUMN = /^(.+)_bidx_v[1-9][0-9]{0,4}$/;

/**
 * Set every blind-index column of `tenant`'s rows in this table to NULL (every version still
 * present in the table, written or not), delete the tenant's index secrets (all versions, all
 * tables) and wipe the indexer's cached keys of the tenant.
 * @returns the rows cleared and the secrets deleted.
 * @internal
 */
export async function eraseTenantIndexes(
  ctx: RepositoryContext,
  tenant: string,
): Promise<{ rows: number; secrets: number }> {
  if (typeof tenant !== 'string' || tenant.length === 0) {
    throw new TypeError('tenant: expected a non-empty string');
  }
  if (ctx.index === undefined || ctx.secrets === undefined) {
    throw new TypeError(`model ${ctx.plan.table} has no blind-indexed fields`);
  }
  const { rows: found } = await ctx.sql.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = $1`,
    [ctx.table],
  );
  const columns = found
    .map((r) => r.column_name)
    .filter((c) => {
      const field = INDEX_COLUMN.exec(c)?.[1];
      return field !== undefined && ctx.index!.fields.has(field);
    });
  let rows = 0;
  if (columns.length > 0) {
    const { rows: cleared } = await ctx.sql.query(
      `UPDATE ${q(ctx.table)} SET ${columns.map((c) => `${q(c)} = NULL`).join(', ')}
        WHERE ${q(ctx.plan.tenant)} = $1
          AND (${columns.map((c) => `${q(c)} IS NOT NULL`).join(' OR ')})
        RETURNING 1`,
      [tenant],
    );
    rows = cleared.length;
  }
  const secrets = await ctx.secrets.erase(tenant);
  ctx.index.indexer.forgetTenant(tenant);
  return { rows, secrets };
}
