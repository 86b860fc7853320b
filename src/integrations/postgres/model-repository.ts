import type { Fieldseal } from '../../client/fieldseal.js';
import { fieldSpec, type FieldSpec } from '../../model/field.js';
import type { AnyModel, InferRecord, InferStored } from '../../model/model-types.js';
import { decryptRecord, decryptRecords, encryptRecords } from '../../model/record-codec.js';
import type { SqlClient } from '../../keystore/postgres/sql-client.js';

/**
 * Options of {@link createModelRepository}.
 * @example
 * ```ts
 * const options: ModelRepositoryOptions<typeof Customer> = { sql, fs, model: Customer };
 * ```
 */
export interface ModelRepositoryOptions<M extends AnyModel> {
  readonly sql: SqlClient;
  readonly fs: Fieldseal;
  readonly model: M;
  /** Table name in the database (default: the model's table). */
  readonly tableName?: string;
}

/**
 * Key values of one record, in the model's key order.
 * @example
 * ```ts
 * await repo.get('acme', ['cus_1'] satisfies KeyValues);
 * ```
 */
export type KeyValues = readonly (string | number | bigint)[];

/**
 * A thin repository over one model's table for users of `pg` / PGlite: records are encrypted
 * on the way in and decrypted on the way out (whole batches at a time, one key fetch per
 * tenant), every query is scoped by tenant, and encrypted columns are never used in a WHERE.
 *
 * @example
 * ```ts
 * const customers = createModelRepository({ sql: fromPgPool(pool), fs, model: Customer });
 * await customers.createTable();
 * await customers.insert([customer]);
 * const back = await customers.get('acme', ['cus_1']);
 * ```
 */
export interface ModelRepository<M extends AnyModel> {
  /** `CREATE TABLE IF NOT EXISTS` with one column per field; primary key (tenant, key...). */
  createTable(): Promise<void>;
  /** Encrypt and insert records (any tenants) in one statement per 1,000 records. */
  insert(records: readonly InferRecord<M>[]): Promise<number>;
  /** One record by tenant and key, decrypted; `undefined` when absent. */
  get(tenant: string, key: KeyValues): Promise<InferRecord<M> | undefined>;
  /** A tenant's records in key order, decrypted. */
  list(
    tenant: string,
    page?: { readonly limit?: number; readonly offset?: number },
  ): Promise<InferRecord<M>[]>;
  /** A tenant's rows exactly as stored (ciphertext), for audits and demos. */
  listStored(
    tenant: string,
    page?: { readonly limit?: number; readonly offset?: number },
  ): Promise<InferStored<M>[]>;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const BATCH = 1000;

/**
 * Create a {@link ModelRepository}.
 * @throws TypeError when a table or field name is not a plain SQL identifier.
 * @example
 * ```ts
 * const repo = createModelRepository({ sql, fs, model: Customer });
 * ```
 */
export function createModelRepository<M extends AnyModel>(
  options: ModelRepositoryOptions<M>,
): ModelRepository<M> {
  const { sql, fs, model } = options;
  const table = options.tableName ?? model.table;
  if (!IDENT.test(table))
    throw new TypeError(`tableName: ${JSON.stringify(table)} is not a plain SQL identifier`);
  const columns = Object.entries(model.fields).map(([name, builder]) => {
    if (!IDENT.test(name))
      throw new TypeError(`field ${JSON.stringify(name)} is not a plain SQL identifier`);
    const spec = fieldSpec(builder);
    if (spec === undefined) throw new TypeError(`field ${name} is not a field builder`);
    return { name, spec };
  });
  const q = (id: string): string => `"${id}"`;
  const names = columns.map((c) => q(c.name)).join(', ');
  const keyOrder = [model.tenant, ...model.key].map(q).join(', ');
  const whereKey = model.key.map((k, i) => `${q(k)} = $${i + 2}`).join(' AND ');

  const fromRow = (row: Record<string, unknown>): InferStored<M> => {
    const out: Record<string, unknown> = {};
    for (const { name, spec } of columns) out[name] = fromColumn(row[name], spec);
    return out as InferStored<M>;
  };

  const select = async (text: string, params: unknown[]): Promise<InferStored<M>[]> =>
    (await sql.query<Record<string, unknown>>(text, params)).rows.map(fromRow);

  return {
    async createTable() {
      const defs = columns.map(
        ({ name, spec }) =>
          `${q(name)} ${columnType(spec)}${spec.nullable || spec.optional ? '' : ' NOT NULL'}`,
      );
      await sql.exec(
        `CREATE TABLE IF NOT EXISTS ${q(table)} (${defs.join(', ')}, PRIMARY KEY (${keyOrder}))`,
      );
      for (const { name, spec } of columns) {
        if (spec.indexed)
          await sql.exec(
            `CREATE INDEX IF NOT EXISTS ${q(`${table}_${name}_idx`)} ON ${q(table)} (${q(model.tenant)}, ${q(name)})`,
          );
      }
    },

    async insert(records) {
      let inserted = 0;
      for (let start = 0; start < records.length; start += BATCH) {
        const rows = (await encryptRecords(
          fs,
          model,
          records.slice(start, start + BATCH),
        )) as Record<string, unknown>[];
        const params: unknown[] = [];
        const tuples = rows.map((row) => {
          const slots = columns.map(({ name, spec }) => {
            params.push(toColumn(row[name], spec));
            return `$${params.length}`;
          });
          return `(${slots.join(', ')})`;
        });
        await sql.query(`INSERT INTO ${q(table)} (${names}) VALUES ${tuples.join(', ')}`, params);
        inserted += rows.length;
      }
      return inserted;
    },

    async get(tenant, key) {
      if (key.length !== model.key.length)
        throw new TypeError(`key: expected ${model.key.length} value(s)`);
      const rows = await select(
        `SELECT ${names} FROM ${q(table)} WHERE ${q(model.tenant)} = $1 AND ${whereKey}`,
        [tenant, ...key.map((k) => (typeof k === 'bigint' ? k.toString() : k))],
      );
      if (rows[0] === undefined) return undefined;
      return decryptRecord(fs, model, rows[0]);
    },

    async list(tenant, page) {
      return decryptRecords(fs, model, await this.listStored(tenant, page));
    },

    async listStored(tenant, page = {}) {
      return select(
        `SELECT ${names} FROM ${q(table)} WHERE ${q(model.tenant)} = $1 ORDER BY ${keyOrder} LIMIT $2 OFFSET $3`,
        [tenant, page.limit ?? 1000, page.offset ?? 0],
      );
    },
  };
}

function columnType(spec: FieldSpec): string {
  if (spec.encryption !== undefined) return spec.encryption.storage === 'text' ? 'text' : 'bytea';
  switch (spec.kind) {
    case 'string':
      return 'text';
    case 'number':
      return 'double precision';
    case 'bigint':
      return 'numeric';
    case 'boolean':
      return 'boolean';
    case 'date':
      return 'timestamptz';
    case 'bytes':
      return 'bytea';
    case 'json':
      return 'jsonb';
  }
}

function toColumn(value: unknown, spec: FieldSpec): unknown {
  if (value === undefined || value === null) return null;
  if (spec.encryption === undefined) {
    if (spec.kind === 'bigint') return (value as bigint).toString();
    if (spec.kind === 'json') return JSON.stringify(value);
  }
  return value;
}

function fromColumn(value: unknown, spec: FieldSpec): unknown {
  if (value === null || value === undefined)
    return spec.optional && !spec.nullable ? undefined : null;
  if (spec.encryption !== undefined) {
    return spec.encryption.storage === 'text' ? value : Buffer.from(value as Uint8Array);
  }
  switch (spec.kind) {
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
