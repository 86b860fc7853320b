/*
 * The SQL that makes PostgreSQL itself refuse a value that is not shaped like a fieldseal
 * envelope in an encrypted column: the second guard of every ORM integration, behind the code
 * that seals values, against a write that goes around it.
 */

/** Shortest binary envelope: header, key reference, 24-byte nonce, commitment, tag, one byte. */
const MIN_ENVELOPE_BYTES = 80;
/** The same, as the `fs1:` text form (unpadded base64url of those bytes). */
const MIN_TEXT_LENGTH = 4 + Math.ceil((MIN_ENVELOPE_BYTES * 4) / 3);
const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

const quote = (id: string): string => {
  if (!IDENT.test(id)) throw new TypeError(`${JSON.stringify(id)} is not a plain SQL identifier`);
  return `"${id}"`;
};

const TEXT_CHECK = (v: string): string =>
  `${v} ~ '^fs1:[A-Za-z0-9_-]+$' AND length(${v}) >= ${MIN_TEXT_LENGTH}`;

/** The domains' checks: a violation reports the domain, never the row (no DETAIL line). */
const DOMAINS = {
  text: { name: 'fieldseal_sealed_text', type: 'text', check: TEXT_CHECK('VALUE') },
  bytes: {
    name: 'fieldseal_sealed_bytes',
    type: 'bytea',
    check: `octet_length(VALUE) >= ${MIN_ENVELOPE_BYTES} AND substring(VALUE from 1 for 3) = '\\xf50101'::bytea`,
  },
  json: {
    name: 'fieldseal_sealed_json',
    type: 'jsonb',
    check: `jsonb_typeof(VALUE) = 'string' AND ${TEXT_CHECK("(VALUE #>> '{}')")}`,
  },
} as const;

/**
 * An encrypted column: its name, and the form of the envelopes it holds (`text`: the `fs1:`
 * text form in a text column; `bytes`: binary envelopes in BYTEA; `json`: the text form as a
 * JSON string in JSONB).
 * @example
 * ```ts
 * const column: SealedColumnSpec = { name: 'ssn', form: 'text' };
 * ```
 */
export interface SealedColumnSpec {
  readonly name: string;
  readonly form: 'text' | 'bytes' | 'json';
}

/**
 * The SQL that makes the database refuse a value not shaped like an envelope in a table's
 * encrypted columns: one domain per form (`fieldseal_sealed_text`, `fieldseal_sealed_bytes`,
 * `fieldseal_sealed_json`, created once per schema) and each column altered to its domain. A
 * domain, unlike a table CHECK, reports a violation without the failing row, so the refused
 * value is not echoed into the error or the server log. With `{ as: 'check' }` (for drivers
 * that cannot bind or read a domain's values), or `{ bytes: 'check' }` for BYTEA columns only
 * (PGlite cannot bind a parameter to a domain over BYTEA), table CHECK constraints instead,
 * whose violation, like any table CHECK's, reports the failing row. Run the statements once,
 * in a migration, after the table exists.
 * @throws TypeError for a schema, table or column name that is not a plain SQL identifier.
 * @example
 * ```ts
 * const statements = sealedColumnStatements({ table: 'patients' }, [{ name: 'ssn', form: 'text' }]);
 * for (const statement of statements) await pool.query(statement);
 * ```
 */
export function sealedColumnStatements(
  target: { readonly table: string; readonly schema?: string },
  columns: readonly SealedColumnSpec[],
  options: { readonly as?: 'domain' | 'check'; readonly bytes?: 'domain' | 'check' } = {},
): string[] {
  const as = options.as ?? 'domain';
  const bytesAs = options.bytes ?? as;
  for (const choice of [as, bytesAs]) {
    if (choice !== 'domain' && choice !== 'check') {
      throw new TypeError("sealed column checks: expected 'domain' or 'check'");
    }
  }
  const { table, schema } = target;
  const qualify = (id: string): string =>
    schema === undefined ? quote(id) : `${quote(schema)}.${quote(id)}`;
  const statements: string[] = [];
  const made = new Set<string>();
  for (const { name, form } of columns) {
    const domain = DOMAINS[form];
    if (domain === undefined) throw new TypeError(`column ${name}: unknown form ${String(form)}`);
    if ((form === 'bytes' ? bytesAs : as) === 'check') {
      const c = quote(name);
      statements.push(
        `ALTER TABLE ${qualify(table)} ADD CONSTRAINT ${quote(`${table}_${name}_sealed`.slice(0, 63))} CHECK (${c} IS NULL OR (${domain.check.replaceAll('VALUE', c)}))`,
      );
      continue;
    }
    if (!made.has(form)) {
      made.add(form);
      statements.push(
        `DO $$ BEGIN CREATE DOMAIN ${qualify(domain.name)} AS ${domain.type} CHECK (${domain.check}); EXCEPTION WHEN duplicate_object THEN NULL; END $$`,
      );
    }
    statements.push(
      `ALTER TABLE ${qualify(table)} ALTER COLUMN ${quote(name)} TYPE ${qualify(domain.name)}`,
    );
  }
  return statements;
}
