import type { AnyModel } from '../../index.js';
import {
  schemaOf,
  sealedColumnStatements,
  type SealedColumnSpec,
} from '../../integration/index.js';

/**
 * Options of {@link sealedCheckConstraints}.
 * @example
 * ```ts
 * const options: SealedCheckOptions = { table: 'customers', json: ['profile'], as: 'domain' };
 * ```
 */
export interface SealedCheckOptions {
  /** The table (`@@map`); the model's table by default. */
  readonly table?: string;
  /** The PostgreSQL schema of the table, when not the search path's. */
  readonly schema?: string;
  /** Column names of fields that Prisma maps (`@map`), by field name. */
  readonly columns?: Readonly<Record<string, string>>;
  /** Encrypted fields stored in a `Json` column (their envelopes are JSON strings). */
  readonly json?: readonly string[];
  /** Domains (the default: a violation does not echo the row) or table CHECK constraints. */
  readonly as?: 'domain' | 'check';
  /** The same choice for BYTEA columns alone (PGlite needs `'check'`). */
  readonly bytes?: 'domain' | 'check';
}

/**
 * The SQL that makes PostgreSQL refuse a value that is not shaped like an envelope in the
 * encrypted columns of a model's table: the second guard behind {@link fieldseal}, against
 * the client a `$extends` left unextended, `$executeRaw`, or another program writing the table.
 * Domains by default (a violation reports the domain, never the row); run the statements once,
 * in a migration, after the table exists.
 * @throws TypeError for a field that is not encrypted, or a name that is not a plain SQL
 *   identifier.
 * @example
 * ```ts
 * import { sealedCheckConstraints } from 'fieldseal/prisma';
 * for (const statement of sealedCheckConstraints(Customer, { table: 'customers' })) {
 *   await prisma.$executeRawUnsafe(statement);
 * }
 * ```
 */
export function sealedCheckConstraints(
  model: AnyModel,
  options: SealedCheckOptions = {},
): string[] {
  const schema = schemaOf(model);
  const json = new Set(options.json ?? []);
  for (const name of json) {
    if (schema.encrypted.every((f) => f.name !== name)) {
      throw new TypeError(`sealedCheckConstraints: json: ${name} is not an encrypted field`);
    }
  }
  const columns: SealedColumnSpec[] = schema.encrypted.map((f) => ({
    name: options.columns?.[f.name] ?? f.name,
    form: json.has(f.name) ? 'json' : f.encryption!.storage === 'text' ? 'text' : 'bytes',
  }));
  const target = { table: options.table ?? schema.table };
  return sealedColumnStatements(
    options.schema === undefined ? target : { ...target, schema: options.schema },
    columns,
    { as: options.as ?? 'domain', bytes: options.bytes ?? options.as ?? 'domain' },
  );
}
