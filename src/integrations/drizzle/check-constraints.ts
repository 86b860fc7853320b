import { getTableColumns, type Column } from 'drizzle-orm';
import { getTableConfig, type PgTable } from 'drizzle-orm/pg-core';
import { sealedColumnStatements, type SealedColumnSpec } from '../../integration/index.js';
import { sealedKindOf } from './sealed-column.js';

/**
 * The SQL that makes the database itself refuse a value that is not shaped like an envelope
 * in a table's sealed columns: two domains (`fieldseal_sealed_text`, `fieldseal_sealed_bytes`,
 * created once per schema) and each sealed column altered to its domain. The column types
 * check every value Drizzle binds, but an `sql` expression or another column as the value
 * (`set({ ssn: sql\`...\` })`) never reaches them: the domains are the second guard. A domain,
 * unlike a table CHECK, reports a violation without the failing row, so the refused value is
 * not echoed into the error or the server log. Run the statements once, in a migration, after
 * the table exists. PGlite cannot bind a parameter to a domain over BYTEA: there, pass
 * `{ bytes: 'check' }` for a table CHECK on binary columns instead (whose violation, like any
 * table CHECK's, reports the failing row).
 * @throws TypeError for a schema, table or column name that is not a plain SQL identifier.
 * @example
 * ```ts
 * for (const statement of sealedCheckConstraints(patients)) await pool.query(statement);
 * ```
 */
export function sealedCheckConstraints(
  table: PgTable,
  options: { readonly bytes?: 'domain' | 'check' } = {},
): string[] {
  const { name, schema } = getTableConfig(table);
  const columns: SealedColumnSpec[] = [];
  for (const column of Object.values(getTableColumns(table) as Record<string, Column>)) {
    const kind = sealedKindOf(column);
    if (kind !== undefined) columns.push({ name: column.name, form: kind });
  }
  return sealedColumnStatements(
    schema === undefined ? { table: name } : { table: name, schema },
    columns,
    { bytes: options.bytes ?? 'domain' },
  );
}
