import { createHash } from 'node:crypto';
import type { FieldKind } from '../../index.js';
import type { ModelSchema, FieldSchema } from '../../integration/index.js';
import type { AnyModel } from '../../index.js';

/*
 * How a model's fields map to PostgreSQL columns (all internal): identifiers, column types and
 * the conversion of values on the way in and out.
 */

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** A column of the model's table. @internal */
export interface Column {
  readonly name: string;
  readonly field: FieldSchema;
  /** `.indexed()`: a plain B-tree index on (tenant, column). */
  readonly indexed: boolean;
  /** The PostgreSQL type, also used to cast parameters (`$1::numeric`). */
  readonly type: string;
}

/** A quoted identifier; names are checked against {@link IDENT} before they get here. @internal */
export function q(id: string): string {
  return `"${id}"`;
}

/**
 * Check that `name` is a plain SQL identifier (letters, digits, `_`, at most 63 bytes).
 * @throws TypeError naming `what`.
 * @internal
 */
export function checkIdentifier(what: string, name: string): string {
  if (!IDENT.test(name))
    throw new TypeError(`${what}: ${JSON.stringify(name)} is not a plain SQL identifier`);
  return name;
}

/**
 * The name of an index on `table`: readable when it fits PostgreSQL's 63 bytes, otherwise a
 * hash (PostgreSQL would silently truncate, and two truncated names can collide).
 * @internal
 */
export function indexName(table: string, suffix: string): string {
  const readable = `${table}_${suffix}`;
  if (readable.length <= 63) return readable;
  return `fieldseal_${createHash('sha256').update(readable).digest('hex').slice(0, 32)}_idx`;
}

/** The columns of a model, in declaration order. @internal */
export function columnsOf(model: AnyModel, plan: ModelSchema): Column[] {
  return plan.fields.map((field) => {
    checkIdentifier('field', field.name);
    return {
      name: field.name,
      field,
      indexed: field.indexed,
      type: columnType(field),
    };
  });
}

/** The PostgreSQL type of a field's column. @internal */
export function columnType(f: FieldSchema): string {
  if (f.encryption !== undefined) return f.encryption.storage === 'text' ? 'text' : 'bytea';
  const types: Record<FieldKind, string> = {
    string: 'text',
    number: 'double precision',
    bigint: 'numeric',
    boolean: 'boolean',
    date: 'timestamptz',
    bytes: 'bytea',
    json: 'jsonb',
  };
  return types[f.kind];
}

/** A value as a query parameter of its column. @internal */
export function toColumn(value: unknown, f: FieldSchema): unknown {
  if (value === undefined || value === null) return null;
  if (f.encryption === undefined) {
    if (f.kind === 'bigint') return (value as bigint).toString();
    if (f.kind === 'json') return JSON.stringify(value);
  }
  return value;
}

/** A key value as a query parameter (bigint as its decimal string, for `numeric`). @internal */
export function keyParam(value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/** A column value as the model's stored row holds it. @internal */
export function fromColumn(value: unknown, f: FieldSchema): unknown {
  if (value === null || value === undefined) return f.optional && !f.nullable ? undefined : null;
  if (f.encryption !== undefined) {
    return f.encryption.storage === 'text' ? value : Buffer.from(value as Uint8Array);
  }
  switch (f.kind) {
    case 'bigint':
      return BigInt(value as string);
    case 'number':
      return Number(value);
    case 'date':
      return value instanceof Date ? value : new Date(value as string);
    case 'bytes':
      return Buffer.isBuffer(value) ? value : Uint8Array.from(value as Uint8Array);
    default:
      return value;
  }
}

/** A database row as the model's stored row (columns the model does not declare are dropped). @internal */
export function fromRow(
  columns: readonly Column[],
  row: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of columns) out[c.name] = fromColumn(row[c.name], c.field);
  return out;
}
