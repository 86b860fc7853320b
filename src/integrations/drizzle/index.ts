/**
 * `fieldseal/drizzle`: explicit, typed field encryption for Drizzle ORM (PostgreSQL). Drizzle's
 * column types are synchronous, so a KMS cannot live in one: encrypted columns are
 * {@link sealed} columns that accept only envelopes (a plain value is a compile error), and a
 * {@link sealTable} encrypts records before `insert`, decrypts rows after `select`, and makes
 * blind-index conditions that it re-checks. See docs/drizzle.md.
 * @packageDocumentation
 */
export { sealed, type SealedBytes, type SealedText, type SealedValue } from './sealed-column.js';
export { sealedCheckConstraints } from './check-constraints.js';
export { sealTable, type RowsOrQuery, type SealedTable, type Unsealed } from './sealed-table.js';
