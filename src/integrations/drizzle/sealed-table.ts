import { getTableColumns, getTableName, inArray, is, SQL, sql, type Column } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import {
  UnsupportedOptionError,
  type AnyModel,
  type Fieldseal,
  type InferRecord,
} from '../../index.js';
import {
  modelCodec,
  openStoredValues,
  ownData,
  scopeOf,
  type BlindIndexSource,
  type StoredFieldValue,
} from '../../integration/index.js';
import { lookupsIn, register, type LookupCondition } from './lookup-conditions.js';
import { sealedKindOf, type SealedValue } from './sealed-column.js';

/**
 * A row of a select with its sealed columns decrypted: each sealed column becomes the model
 * field's type (a column the model does not declare stays as it is).
 * @example
 * ```ts
 * const rows: Unsealed<typeof customers.$inferSelect, typeof Customer>[] = await sealedCustomers.decrypt(query);
 * ```
 */
export type Unsealed<R, M extends AnyModel> = {
  [K in keyof R]: NonNullable<R[K]> extends SealedValue
    ? K extends keyof InferRecord<M>
      ? InferRecord<M>[K]
      : R[K]
    : R[K];
};

/**
 * A query (a Drizzle select builder) or the rows it returned.
 * @example
 * ```ts
 * const source: RowsOrQuery<Row> = db.select().from(customers).where(eq(customers.tenantId, 'acme'));
 * ```
 */
export type RowsOrQuery<R> = readonly R[] | (PromiseLike<readonly R[]> & { getSQL(): SQL });

/**
 * A Drizzle table bound to its fieldseal model: explicit, batched encryption before inserts,
 * decryption after selects, and blind-index conditions re-checked after decryption.
 * @example
 * ```ts
 * const sealedCustomers: SealedTable<typeof customers, typeof Customer> = sealTable(fs, customers, Customer);
 * ```
 */
export interface SealedTable<T extends PgTable, M extends AnyModel> {
  readonly table: T;
  readonly model: M;
  /**
   * Records to the rows to insert: encrypted fields as envelopes (one batch, one key fetch
   * per tenant), blind-indexed fields with their index columns.
   * @throws BatchError (each failure naming its field) or the field's error; the index
   *   source's error (e.g. `ERR_KEY_SHREDDED`).
   */
  encrypt(records: readonly InferRecord<M>[]): Promise<T['$inferInsert'][]>;
  /**
   * Decrypt the sealed columns of a select's rows in one batch, each with its row's tenant and
   * key (select them). Pass the query builder itself when it uses this table's `eq` or
   * `inArray`: the rows they found are re-checked against the decrypted values.
   * @throws BatchError naming each field that does not decrypt (never a half-decrypted
   *   result); UnsupportedOptionError naming the column when a row lacks its tenant or key,
   *   or a lookup's column, or a lookup sits under `or` / `not`.
   */
  decrypt<R extends object>(rows: RowsOrQuery<R>): Promise<Unsealed<R, M>[]>;
  /**
   * The condition "`column` equals `value`" for a blind-indexed sealed column, in `tenant`:
   * it queries the index column. Use it with `and(eq(table.tenant, tenant), ...)` and pass
   * the query to {@link SealedTable.decrypt}, which re-checks each row.
   */
  eq(column: Column, value: string, options: { readonly tenant: string }): Promise<SQL>;
  /** Like {@link SealedTable.eq}, for any of `values` (at most 1,000). */
  inArray(
    column: Column,
    values: readonly string[],
    options: { readonly tenant: string },
  ): Promise<SQL>;
}

/**
 * Bind a Drizzle table to its fieldseal model. Its TypeScript keys are the model's field
 * names; every encrypted field must be a sealed column of the matching form
 * (`sealed.bytes()` for binary storage, `sealed.text()` for text), every sealed column an
 * encrypted field, and each blind index's written columns columns of the table (pass the
 * model's `createPostgresRepository` as `blindIndexes`).
 * @throws TypeError naming the first column that does not match; KeyNotConfiguredError when
 *   the client does not enforce the model's policies.
 * @example
 * ```ts
 * import { sealTable } from 'fieldseal/drizzle';
 *
 * const sealedCustomers = sealTable(fs, customers, Customer, { blindIndexes: repository });
 * await db.insert(customers).values(await sealedCustomers.encrypt([ada]));
 * const rows = await sealedCustomers.decrypt(
 *   db.select().from(customers).where(and(
 *     eq(customers.tenantId, 'acme'),
 *     await sealedCustomers.eq(customers.email, 'ada@example.com', { tenant: 'acme' }),
 *   )),
 * );
 * ```
 */
export function sealTable<T extends PgTable, M extends AnyModel>(
  fs: Fieldseal,
  table: T,
  model: M,
  options: { readonly blindIndexes?: BlindIndexSource } = {},
): SealedTable<T, M> {
  const codec = modelCodec(fs, model);
  const { schema } = codec;
  const name = getTableName(table);
  const columns = getTableColumns(table) as Record<string, Column>;
  const byColumn = new Map<Column, string>(Object.entries(columns).map(([k, c]) => [c, k]));
  const fail = (key: string, why: string): never => {
    throw new TypeError(`sealTable(${name}): column ${key}: ${why}`);
  };
  for (const key of [schema.tenant, ...schema.key]) {
    if (!Object.hasOwn(columns, key))
      fail(key, `the model's ${key === schema.tenant ? 'tenant' : 'key'} field has no column`);
  }
  const sealedKeys = new Set<string>();
  for (const [key, column] of Object.entries(columns)) {
    const kind = sealedKindOf(column);
    if (kind === undefined) continue;
    sealedKeys.add(key);
    const f = schema.fields.find((x) => x.name === key);
    if (f?.encryption === undefined)
      fail(key, 'a sealed column must be an encrypted field of the model');
    const want = f!.encryption!.storage === 'text' ? 'text' : 'bytes';
    if (kind !== want) fail(key, `storage ${f!.encryption!.storage} needs sealed.${want}()`);
  }
  for (const f of schema.encrypted) {
    if (!sealedKeys.has(f.name))
      fail(f.name, 'an encrypted field must be a sealed column (sealed.text() / sealed.bytes())');
  }
  const source = options.blindIndexes;
  if (schema.blindIndexed.length > 0 && source === undefined) {
    fail(
      schema.blindIndexed[0]!.name,
      'a blind-indexed field needs blindIndexes: createPostgresRepository({ ... })',
    );
  }
  if (source !== undefined && source.model !== model) {
    throw new TypeError(`sealTable(${name}): blindIndexes is the source of another model`);
  }
  /** Index column (database name) → its TypeScript key, for every blind-indexed field. */
  const indexKeys = new Map<string, string>();
  for (const f of schema.blindIndexed) {
    const { read, written } = source!.indexColumns(f.name);
    for (const c of new Set([read, ...written])) {
      const key = Object.entries(columns).find(([, col]) => col.name === c)?.[0];
      if (key === undefined) fail(c, `the blind index of ${f.name} needs a column named ${c}`);
      indexKeys.set(c, key!);
    }
  }

  const refuse = (column: string, why: string): never => {
    throw new UnsupportedOptionError(`column ${name}.${column}: ${why}`, {
      details: { field: `${name}.${column}` },
    });
  };

  const lookupOf = async (
    column: Column,
    values: readonly string[],
    tenant: string,
  ): Promise<SQL> => {
    const key = byColumn.get(column);
    const f = key === undefined ? undefined : schema.blindIndexed.find((x) => x.name === key);
    if (f === undefined || source === undefined) {
      throw new TypeError(
        `sealTable(${name}): eq/inArray take a blind-indexed sealed column of this table`,
      );
    }
    const lookup = await source.lookupIndexes(tenant, f.name, values);
    const indexColumn = columns[indexKeys.get(lookup.column)!]!;
    const condition =
      lookup.indexes.length === 0 ? sql`false` : inArray(indexColumn, [...lookup.indexes]);
    return register(condition, { owner: table, field: f, tenant, lookup });
  };

  return Object.freeze({
    table,
    model,
    async encrypt(input: readonly InferRecord<M>[]) {
      if (!Array.isArray(input))
        throw new TypeError(`${name}.encrypt: expected an array of records`);
      // One read of each record: its encrypted value and its index come from the same snapshot.
      const records = input.map((r: unknown) => {
        if (typeof r !== 'object' || r === null)
          throw new TypeError(`${name}.encrypt: expected records`);
        return ownData(r, (_why, key) => {
          throw new TypeError(`${name}.encrypt: field ${key} of a record is not plain data`);
        });
      }) as unknown as InferRecord<M>[];
      const rows = (await codec.encrypt(records)) as Record<string, unknown>[];
      if (source !== undefined && schema.blindIndexed.length > 0) {
        const writes: { row: number; tenant: string; field: string; value: string }[] = [];
        rows.forEach((row, i) => {
          for (const f of schema.blindIndexed) {
            const value = (records[i] as Record<string, unknown>)[f.name];
            if (typeof value === 'string') {
              writes.push({ row: i, tenant: row[schema.tenant] as string, field: f.name, value });
            }
          }
        });
        for (let at = 0; at < writes.length; at += 1000) {
          const chunk = writes.slice(at, at + 1000);
          const out = await source.writeIndexes(
            chunk.map(({ tenant, field, value }) => ({ tenant, field, value })),
          );
          chunk.forEach((w, i) => {
            for (const [column, value] of Object.entries(out[i]!))
              rows[w.row]![indexKeys.get(column)!] = value;
          });
        }
      }
      return rows;
    },

    async decrypt<R extends object>(input: RowsOrQuery<R>) {
      let lookups: LookupCondition[] = [];
      if (!Array.isArray(input)) {
        const query = input as PromiseLike<readonly R[]> & { getSQL(): SQL };
        if (typeof query.getSQL !== 'function' || !is(query.getSQL(), SQL)) {
          throw new TypeError(`${name}.decrypt: expected rows or a Drizzle select builder`);
        }
        const found = lookupsIn(query.getSQL());
        lookups = found.found;
        const first = lookups[0];
        if (first !== undefined) {
          if (lookups.some((c) => c.owner !== table)) {
            refuse(
              first.field.name,
              "a blind-index condition of another table's rows cannot be re-checked here: decrypt that table's query with its own sealed table",
            );
          }
          if (found.underOr) {
            refuse(
              first.field.name,
              'a blind-index condition under or/not cannot be re-checked: run it as its own query',
            );
          }
          if (found.nested) {
            refuse(
              first.field.name,
              'a blind-index condition inside a subquery cannot be re-checked on the outer rows: run it as its own query',
            );
          }
        }
      }
      const rows = (Array.isArray(input) ? input : await input) as readonly R[];
      const out = rows.map((row) => ({
        ...ownData(row, () => refuse('?', 'rows must be plain data')),
      })) as Record<string, unknown>[];
      await decryptRows(fs, schema, out, sealedKeys, refuse);
      const kept = out.filter((row) =>
        lookups.every((c) => {
          if (!Object.hasOwn(row, c.field.name))
            refuse(c.field.name, 'select the looked-up column: its rows are re-checked');
          // The lookup is for one tenant: a row of another (found by OR-ing conditions, or a
          // condition built for another tenant) is never its answer.
          return row[schema.tenant] === c.tenant && c.lookup.matches(row[c.field.name]);
        }),
      );
      return kept as Unsealed<R, M>[];
    },

    eq: (column: Column, value: string, { tenant }: { readonly tenant: string }) =>
      lookupOf(column, [value], tenant),
    inArray: (column: Column, values: readonly string[], { tenant }: { readonly tenant: string }) =>
      lookupOf(column, values, tenant),
  });
}

async function decryptRows(
  fs: Fieldseal,
  schema: ReturnType<typeof modelCodec>['schema'],
  rows: Record<string, unknown>[],
  sealedKeys: ReadonlySet<string>,
  refuse: (column: string, why: string) => never,
): Promise<void> {
  const fields = schema.encrypted.filter((f) => sealedKeys.has(f.name));
  const values: StoredFieldValue[] = [];
  rows.forEach((row, index) => {
    const present = fields.filter((f) => Object.hasOwn(row, f.name));
    if (present.length === 0) return;
    for (const k of [schema.tenant, ...schema.key]) {
      if (!Object.hasOwn(row, k)) {
        refuse(
          present[0]!.name,
          `select ${k} with it: the record's tenant and key are its encryption context`,
        );
      }
    }
    const scope = scopeOf(schema, row);
    for (const field of present) values.push({ row: index, field, stored: row[field.name], scope });
  });
  const plain = await openStoredValues(fs, schema, values);
  values.forEach((v, i) => (rows[v.row]![v.field.name] = plain[i]));
}
