import type { Fieldseal } from '../../index.js';
import type { EncryptionContext } from '../../index.js';
import type { FieldValue } from '../../index.js';
import { schemaOf } from '../../integration/index.js';
import type { ModelSchema, FieldSchema } from '../../integration/index.js';
import type { AnyModel } from '../../index.js';
import { assertRegistered, contextOf, scopeOf } from '../../integration/index.js';
import { BackfillError } from '../../index.js';
import type { SqlClient } from '../sql-client.js';
import { checkIdentifier, q } from '../repository/repository-columns.js';

/*
 * What a backfill needs to know about one model table (all internal): the SQL names, the
 * primary key in order, the encrypted columns, and each value's encryption context, built
 * exactly as the record codec builds it so that re-encrypted values read back through models.
 */

/**
 * Converts a legacy value (as the column holds it) into the field's typed value, for
 * migrations with `runBackfill`: plaintext, or another system's ciphertext (see
 * `fraiseqlValueReader`). `row` is the row the backfill read: its key columns and backfilled
 * columns.
 * @example
 * ```ts
 * const token: LegacyConverter = (raw) => Buffer.from(raw as string, 'base64');
 * await runBackfill({ sql, fs, model: User, legacy: { token } });
 * ```
 */
export type LegacyConverter = (
  raw: string | Uint8Array,
  row?: Readonly<Record<string, unknown>>,
) => FieldValue;

/** One encrypted column of the target. @internal */
export interface TargetField {
  readonly name: string;
  readonly column: string;
  readonly planned: FieldSchema;
  readonly binary: boolean;
  readonly legacy: LegacyConverter | undefined;
}

/** A model table, checked for use by a backfill. @internal */
export interface BackfillTarget {
  readonly plan: ModelSchema;
  /** Quoted table name. */
  readonly table: string;
  readonly tableName: string;
  /** Quoted primary-key columns in order: tenant first, then the model key. */
  readonly pk: readonly string[];
  readonly pkNames: readonly string[];
  readonly fields: readonly TargetField[];
}

/** Quote a checked SQL identifier (the repository's rules). @internal */
export function ident(name: string, what: string): string {
  return q(checkIdentifier(what, name));
}

/**
 * Check a model for a backfill: the client must enforce the model's policies, the selected
 * fields must be encrypted fields of the model.
 * @internal
 */
export function backfillTarget(
  fs: Fieldseal,
  model: AnyModel,
  options: {
    readonly tableName?: string | undefined;
    readonly fields?: readonly string[] | undefined;
    readonly legacy?: Readonly<Record<string, LegacyConverter>> | undefined;
  },
): BackfillTarget {
  const plan = schemaOf(model);
  assertRegistered(fs, plan);
  const tableName = options.tableName ?? plan.table;
  const wanted = options.fields ?? plan.encrypted.map((f) => f.name);
  if (wanted.length === 0)
    throw new TypeError(`model ${plan.table}: no encrypted field to backfill`);
  const fields = wanted.map((name): TargetField => {
    const planned = plan.encrypted.find((f) => f.name === name);
    if (planned === undefined) {
      throw new TypeError(`model ${plan.table}: "${name}" is not an encrypted field`);
    }
    const legacy = options.legacy?.[name];
    if (legacy !== undefined && typeof legacy !== 'function') {
      throw new TypeError(`legacy.${name}: expected a function`);
    }
    return {
      name,
      column: ident(name, 'field'),
      planned,
      binary: planned.encryption!.storage !== 'text',
      legacy,
    };
  });
  for (const name of Object.keys(options.legacy ?? {})) {
    if (!wanted.includes(name)) throw new TypeError(`legacy.${name}: not a backfilled field`);
  }
  const pkNames = [plan.tenant, ...plan.key];
  return {
    plan,
    table: ident(tableName, 'tableName'),
    tableName,
    pk: pkNames.map((n) => ident(n, 'key field')),
    pkNames,
    fields,
  };
}

/**
 * Refuse a target that is not a table (plain or partitioned), or that has a partition or
 * inheritance child that is not one: rows are written back by compare-and-set on their
 * `xmin`, which a view does not have and a foreign table reports as 0 for every row version
 * (so a compare would always match, and overwrite the application). Checked before planning
 * and again inside every chunk's transaction.
 * @throws BackfillError naming the relation and what it is.
 * @internal
 */
export async function assertTable(sql: SqlClient, target: BackfillTarget): Promise<void> {
  const { rows } = await sql.query<{ name: string | null; kind: string | null }>(
    `WITH RECURSIVE tree(oid) AS (
       SELECT to_regclass($1)::oid
       UNION SELECT i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.oid)
     SELECT c.relname::text AS name, c.relkind::text AS kind
       FROM tree LEFT JOIN pg_class c ON c.oid = tree.oid`,
    [target.table],
  );
  for (const { name, kind } of rows) {
    if (kind === 'r' || kind === 'p') continue;
    const what =
      kind === null
        ? 'does not exist'
        : `${name === target.tableName ? 'is' : `has a partition or child table ${name} that is`} a ${RELATION_KINDS[kind] ?? `relation of kind "${kind}"`}, not a table`;
    throw new BackfillError(
      `${target.tableName} ${what}: a backfill rewrites a table's rows by compare-and-set on their row version (xmin), which only tables have`,
    );
  }
}

const RELATION_KINDS: Readonly<Record<string, string>> = {
  v: 'view',
  m: 'materialized view',
  f: 'foreign table',
  S: 'sequence',
  i: 'index',
  c: 'composite type',
};

/** The encryption context of `field` in the row whose primary key values are `pk`. @internal */
export function contextFor(
  target: BackfillTarget,
  field: TargetField,
  row: Readonly<Record<string, unknown>>,
): EncryptionContext {
  return contextOf(target.plan, field.planned, scopeOf(target.plan, keyRecord(target, row)));
}

/** The tenant and key values of a row as the record codec expects them (bigint keys). */
function keyRecord(
  target: BackfillTarget,
  row: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of target.pkNames) {
    const f = target.plan.fields.find((x) => x.name === name);
    const v = row[name];
    out[name] =
      f?.kind === 'bigint' && typeof v === 'string'
        ? BigInt(v)
        : f?.kind === 'number'
          ? Number(v)
          : v;
  }
  return out;
}

/** A primary-key value as a JSON-safe checkpoint value (bigint and numeric as text). @internal */
export function keyValue(v: unknown): string | number {
  if (typeof v === 'number' || typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  throw new TypeError('a primary-key value is neither a string nor a number');
}
