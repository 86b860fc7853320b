import { getTableColumns, getTableName, type Column } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import { sealedKindOf } from './sealed-column.js';

/** Shortest binary envelope: header, key reference, 24-byte nonce, commitment, tag, one byte. */
const MIN_ENVELOPE_BYTES = 80;
/** The same, as the `fs1:` text form (unpadded base64url of those bytes). */
const MIN_TEXT_LENGTH = 4 + Math.ceil((MIN_ENVELOPE_BYTES * 4) / 3);
const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

const quote = (id: string): string => {
  if (!IDENT.test(id)) throw new TypeError(`${JSON.stringify(id)} is not a plain SQL identifier`);
  return `"${id}"`;
};

/**
 * `ALTER TABLE ... ADD CONSTRAINT ... CHECK (...)` for each sealed column of a table, so that
 * the database itself refuses a value that is not shaped like an envelope. The column types
 * check every value Drizzle binds, but an `sql` expression or another column as the value
 * (`set({ ssn: sql\`...\` })`) never reaches them: these constraints are the second guard. Run
 * them once, after the table exists (a migration).
 * @throws TypeError for a table or column name that is not a plain SQL identifier.
 * @example
 * ```ts
 * for (const statement of sealedCheckConstraints(patients)) await pool.query(statement);
 * ```
 */
export function sealedCheckConstraints(table: PgTable): string[] {
  const name = getTableName(table);
  return Object.values(getTableColumns(table) as Record<string, Column>).flatMap((column) => {
    const kind = sealedKindOf(column);
    if (kind === undefined) return [];
    const c = quote(column.name);
    const check =
      kind === 'text'
        ? `${c} IS NULL OR (${c} ~ '^fs1:[A-Za-z0-9_-]+$' AND length(${c}) >= ${MIN_TEXT_LENGTH})`
        : `${c} IS NULL OR (octet_length(${c}) >= ${MIN_ENVELOPE_BYTES} AND substring(${c} from 1 for 3) = '\\xf50101'::bytea)`;
    return [
      `ALTER TABLE ${quote(name)} ADD CONSTRAINT ${quote(`${name}_${column.name}_sealed`.slice(0, 63))} CHECK (${check})`,
    ];
  });
}
