import { UnsupportedOptionError } from '../../index.js';

/*
 * Recognising fieldseal envelopes in values the plugin cannot attribute (a raw `sql` query, an
 * expression): such a value is refused, never returned, since nothing says which record and
 * field it belongs to. All internal.
 */

const MAGIC = 0xf5;
const VERSION = 0x01;
const TEXT_PREFIX = 'fs1:';
/** PostgreSQL's hex text of a BYTEA starting with the envelope's first two bytes. */
const HEX_PREFIX = /^\\x[fF]5\s*01/;
/** How deep into parsed JSON values the scan goes (deeper is refused as unreadable). */
const MAX_DEPTH = 32;

/** Whether a value is, or holds, something shaped like a fieldseal envelope. */
export function holdsEnvelope(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.startsWith(TEXT_PREFIX) || HEX_PREFIX.test(value);
  if (value instanceof Uint8Array) return value[0] === MAGIC && value[1] === VERSION;
  if (typeof value !== 'object' || value === null || value instanceof Date) return false;
  if (depth >= MAX_DEPTH) return true;
  const items: unknown[] = Array.isArray(value) ? value : Object.values(value);
  return items.some((v) => holdsEnvelope(v, depth + 1));
}

/**
 * Refuse a row's output that holds an envelope the plugin did not read itself.
 * @throws UnsupportedOptionError naming the output column.
 */
export function refuseUnattributed(column: string): never {
  throw new UnsupportedOptionError(
    `result column ${column}: holds an encrypted value fieldseal cannot attribute to a record and field (raw SQL or an expression): select the column itself through the query builder`,
    { details: { field: `?.${column}` } },
  );
}
