import { getTableColumns, type Column } from 'drizzle-orm';
import { getTableConfig, type PgTable } from 'drizzle-orm/pg-core';
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

/** The domains' checks: a violation reports the domain, never the row (no DETAIL line). */
const DOMAINS = {
  text: {
    name: 'fieldseal_sealed_text',
    type: 'text',
    check: `VALUE ~ '^fs1:[A-Za-z0-9_-]+$' AND length(VALUE) >= ${MIN_TEXT_LENGTH}`,
  },
  bytes: {
    name: 'fieldseal_sealed_bytes',
    type: 'bytea',
    check: `octet_length(VALUE) >= ${MIN_ENVELOPE_BYTES} AND substring(VALUE from 1 for 3) = '\\xf50101'::bytea`,
  },
} as const;

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
  const bytesAs = options.bytes ?? 'domain';
  if (bytesAs !== 'domain' && bytesAs !== 'check') {
    throw new TypeError("sealedCheckConstraints: bytes: expected 'domain' or 'check'");
  }
  const { name, schema } = getTableConfig(table);
  const qualify = (id: string): string =>
    schema === undefined ? quote(id) : `${quote(schema)}.${quote(id)}`;
  const statements: string[] = [];
  const made = new Set<string>();
  for (const column of Object.values(getTableColumns(table) as Record<string, Column>)) {
    const kind = sealedKindOf(column);
    if (kind === undefined) continue;
    const domain = DOMAINS[kind];
    if (kind === 'bytes' && bytesAs === 'check') {
      const c = quote(column.name);
      statements.push(
        `ALTER TABLE ${qualify(name)} ADD CONSTRAINT ${quote(`${name}_${column.name}_sealed`.slice(0, 63))} CHECK (${c} IS NULL OR (${domain.check.replaceAll('VALUE', c)}))`,
      );
      continue;
    }
    if (!made.has(kind)) {
      made.add(kind);
      statements.push(
        `DO $$ BEGIN CREATE DOMAIN ${qualify(domain.name)} AS ${domain.type} CHECK (${domain.check}); EXCEPTION WHEN duplicate_object THEN NULL; END $$`,
      );
    }
    statements.push(
      `ALTER TABLE ${qualify(name)} ALTER COLUMN ${quote(column.name)} TYPE ${qualify(domain.name)}`,
    );
  }
  return statements;
}
