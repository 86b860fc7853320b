import type { WrittenIndexColumn } from '../../integration/index.js';
import type { SqlClient } from '../sql-client.js';
import { indexName, q } from './repository-columns.js';

/*
 * The blind-index columns of a repository's table (internal): their DDL. Which columns are
 * written, and their values, are storage-independent (src/blind-index/index-values.ts).
 */

/**
 * Add each written index column and its (tenant, index) B-tree index when missing. Safe to
 * run from every process at start-up (`IF NOT EXISTS`).
 * @example
 * ```ts
 * await addIndexColumns(sql, 'customers', 'tenant_id', writtenIndexColumns(config));
 * ```
 * @internal
 */
export async function addIndexColumns(
  sql: SqlClient,
  table: string,
  tenantColumn: string,
  columns: readonly WrittenIndexColumn[],
): Promise<void> {
  for (const c of columns) {
    await sql.exec(`ALTER TABLE ${q(table)} ADD COLUMN IF NOT EXISTS ${q(c.name)} text`);
    await sql.exec(
      `CREATE INDEX IF NOT EXISTS ${q(indexName(table, `${c.name}_idx`))}
        ON ${q(table)} (${q(tenantColumn)}, ${q(c.name)})`,
    );
  }
}
