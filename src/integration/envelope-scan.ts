/*
 * Recognising fieldseal envelopes in values an integration cannot attribute to a record and
 * field (the result of raw SQL, an expression): such a value is refused, never returned.
 */

const MAGIC = 0xf5;
const VERSION = 0x01;
const TEXT_PREFIX = 'fs1:';
/** PostgreSQL's hex text of a BYTEA starting with the envelope's first two bytes. */
const HEX_PREFIX = /^\\x[fF]5\s*01/;
/** How deep into parsed JSON values the scan goes (deeper is refused as unreadable). */
const MAX_DEPTH = 32;

/**
 * Whether a value is, or holds (in an array or object, at any depth up to 32, deeper counting
 * as yes), something shaped like a fieldseal envelope: binary bytes starting with its magic
 * and version, the text form's `fs1:` prefix, or PostgreSQL's hex text of such bytes.
 * @example
 * ```ts
 * if (rows.some((row) => holdsEnvelope(row))) throw new Error('raw SQL returned an encrypted value');
 * ```
 */
export function holdsEnvelope(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.startsWith(TEXT_PREFIX) || HEX_PREFIX.test(value);
  if (value instanceof Uint8Array) return value[0] === MAGIC && value[1] === VERSION;
  if (typeof value !== 'object' || value === null || value instanceof Date) return false;
  if (depth >= MAX_DEPTH) return true;
  const items: unknown[] = Array.isArray(value) ? value : Object.values(value);
  return items.some((v) => holdsEnvelope(v, depth + 1));
}
