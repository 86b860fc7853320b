import type { Fieldseal } from '../../index.js';
import type { SqlClient } from '../sql-client.js';
import { schemaOf } from '../../integration/index.js';
import type { AnyModel, BlindIndexedField, InferRecord, InferStored } from '../../index.js';
import { decryptRecord, decryptRecords } from '../../index.js';
import { indexColumn, indexedField, writtenIndexColumns } from '../../integration/index.js';
import type {
  BlindIndexColumns,
  BlindIndexLookup,
  BlindIndexSource,
  BlindIndexWrite,
  RepositoryBlindIndexOptions,
} from '../../integration/index.js';
import { addIndexColumns } from './blind-index-columns.js';
import { resolvePostgresIndexConfig } from './blind-index-config.js';
import { lookup, lookupIndexes, writeIndexes } from './blind-index-lookup.js';
import {
  backfill,
  dropVersion,
  indexStatus,
  type BackfillOptions,
  type BackfillReport,
  type BlindIndexStatus,
} from './blind-index-rotation.js';
import { checkIdentifier, columnsOf, indexName, keyParam, q } from './repository-columns.js';
import {
  keyOrder,
  selectRows,
  type KeyValues,
  type RepositoryContext,
  type PostgresRepositoryStats,
} from './repository-context.js';
import { eraseTenantIndexes } from './tenant-erasure.js';
import { TenantIndexSecrets } from './tenant-index-secrets.js';
import { writeRecords } from './repository-write.js';
import { writeBack } from './write-back.js';

/**
 * Options of {@link createPostgresRepository}.
 * @example
 * ```ts
 * const options: PostgresRepositoryOptions<typeof Customer> = {
 *   sql, fs, model: Customer,
 *   blindIndex: { indexer, versions: { email: { write: [1], read: 1 } } },
 *   writeBack: true,
 * };
 * ```
 */
export interface PostgresRepositoryOptions<M extends AnyModel> {
  readonly sql: SqlClient;
  readonly fs: Fieldseal;
  readonly model: M;
  /** Table name in the database (default: the model's table). */
  readonly tableName?: string;
  /** Required when the model has `.blindIndex()` fields: the indexer and versions. */
  readonly blindIndex?: RepositoryBlindIndexOptions<M>;
  /**
   * Re-encrypt on read: `get`, `list` and `findBy` rewrite every value they read under a
   * data-key version that is no longer the tenant's current one, by compare-and-set on the
   * stored bytes (a write made meanwhile wins). Default `false`: reads never write.
   */
  readonly writeBack?: boolean;
}

export type { KeyValues };

/**
 * A thin repository over one model's table for users of `pg` / PGlite: records are encrypted
 * on the way in and decrypted on the way out (whole batches at a time, one key fetch per
 * tenant), every query is scoped by tenant, and encrypted columns are never used in a WHERE:
 * lookups by value go through blind indexes and re-check every decrypted candidate.
 *
 * @example
 * ```ts
 * const customers = createPostgresRepository({ sql: fromPgPool(pool), fs, model: Customer, blindIndex: { indexer } });
 * await customers.createTable();
 * await customers.insert([customer]);
 * const back = await customers.get('acme', ['cus_1']);
 * const same = await customers.findBy('acme', 'email', 'Ada@Example.com');
 * ```
 */
export interface PostgresRepository<M extends AnyModel> extends BlindIndexSource {
  /** The model of the table. */
  readonly model: M;
  /**
   * `CREATE TABLE IF NOT EXISTS` with one column per field, primary key (tenant, key...);
   * adds each written blind-index column with its (tenant, index) index when missing, and the
   * tenant index-secrets table. Safe to run at every start.
   */
  createTable(): Promise<void>;
  /** Encrypt and insert records (any tenants) with their blind indexes, 1,000 per statement. */
  insert(records: readonly InferRecord<M>[]): Promise<number>;
  /** Like `insert`, replacing the record (all columns and written indexes) when it exists. */
  upsert(records: readonly InferRecord<M>[]): Promise<number>;
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
  /**
   * The tenant's records whose blind-indexed `field` equals `value` after the field's
   * normalisation, in key order. Candidates found by the index are decrypted and re-checked:
   * a collision is never returned.
   */
  findBy(tenant: string, field: BlindIndexedField<M>, value: string): Promise<InferRecord<M>[]>;
  /** `findBy` for several values at once (at most 1,000): records equal to any of them. */
  findByAny(
    tenant: string,
    field: BlindIndexedField<M>,
    values: readonly string[],
  ): Promise<InferRecord<M>[]>;
  /** The index columns of `field`: the one lookups read and every one a write stores. */
  indexColumns(field: BlindIndexedField<M>): BlindIndexColumns;
  /**
   * For queries you write yourself (a GraphQL resolver, a join on a lookup table): the index
   * column and the index values of `values` in the tenant's read version, and the re-check
   * each decrypted candidate must pass (`matches`) before it is returned.
   */
  lookupIndexes(
    tenant: string,
    field: BlindIndexedField<M>,
    values: readonly string[],
  ): Promise<BlindIndexLookup>;
  /**
   * For rows you write yourself: each write's index columns (every written version) and
   * values, as `insert` would store them (tenant secrets are created where missing).
   */
  writeIndexes(
    writes: readonly (BlindIndexWrite & { readonly field: BlindIndexedField<M> })[],
  ): Promise<Readonly<Record<string, string>>[]>;
  /**
   * Write `version` of `field`'s blind index where it is missing (all tenants), in batches
   * paginated by primary key; resumable (`after`), idempotent, and every UPDATE is a
   * compare-and-set on the stored value, so an application write in between is never
   * overwritten. `version` must be in `versions.write`.
   */
  backfillBlindIndex(
    field: BlindIndexedField<M>,
    version: number,
    options?: BackfillOptions,
  ): Promise<BackfillReport>;
  /** How many rows still lack each written version of `field`'s index (check before a switch). */
  blindIndexStatus(field: BlindIndexedField<M>): Promise<BlindIndexStatus>;
  /** Drop the column of an index version that is no longer written (last rotation step). */
  dropBlindIndexVersion(field: BlindIndexedField<M>, version: number): Promise<void>;
  /**
   * After `shredTenant(tenant)` (by a client with `admin: ['shred']`): clear the tenant's blind-index columns in this table, delete
   * its index secrets (shared by every table) and wipe its cached index keys.
   */
  eraseTenantBlindIndexes(tenant: string): Promise<{ rows: number; secrets: number }>;
  /**
   * Seal every tenant's blind-index secrets (all tenants, all tables) under the tenant's current
   * data-key version. Writes do it for the tenants they touch; run this after key rotations and
   * before retiring old data-key versions, or the indexes of a tenant that was not written
   * meanwhile become unusable (lookups fail closed). Shredded tenants are counted in `failed`.
   */
  resealBlindIndexSecrets(): Promise<{ checked: number; resealed: number; failed: number }>;
  /** Write-back and blind-index lookup counters since this repository was created. */
  stats(): PostgresRepositoryStats;
}

/**
 * Create a {@link PostgresRepository}.
 * @throws TypeError when a table, field or index column name is not a plain SQL identifier,
 *   or when the model has blind-indexed fields and `blindIndex` is missing (or the reverse).
 * @throws RangeError for bad `blindIndex.versions`.
 * @example
 * ```ts
 * const indexer = await createBlindIndexer({ source, reference: 'blind-index' });
 * const repo = createPostgresRepository({ sql, fs, model: Customer, blindIndex: { indexer } });
 * ```
 */
export function createPostgresRepository<M extends AnyModel>(
  options: PostgresRepositoryOptions<M>,
): PostgresRepository<M> {
  const { sql, fs, model } = options;
  const plan = schemaOf(model);
  const table = checkIdentifier('tableName', options.tableName ?? model.table);
  const columns = columnsOf(model, plan);
  const index = resolvePostgresIndexConfig(plan, options.blindIndex);
  if (options.writeBack !== undefined && typeof options.writeBack !== 'boolean') {
    throw new TypeError('writeBack: expected a boolean');
  }
  const ctx: RepositoryContext = {
    sql,
    fs,
    model,
    plan,
    table,
    columns,
    index,
    secrets: index && new TenantIndexSecrets(sql, fs, index.secretsTable),
    writeBack: options.writeBack === true,
    stats: {
      writeBacks: 0,
      writeBackValues: 0,
      writeBackConflicts: 0,
      blindIndexCandidates: 0,
      blindIndexFalsePositives: 0,
    },
  };
  const written = writtenIndexColumns(index);
  const write = (records: readonly InferRecord<M>[], upsert: boolean): Promise<number> =>
    writeRecords(ctx, written, records, upsert);

  const listStored = (
    tenant: string,
    page: { readonly limit?: number; readonly offset?: number } = {},
  ): Promise<Record<string, unknown>[]> =>
    selectRows(
      ctx,
      `${q(plan.tenant)} = $1`,
      [tenant, page.limit ?? 1000, page.offset ?? 0],
      `ORDER BY ${keyOrder(ctx)} LIMIT $2 OFFSET $3`,
    );

  const found = async (rows: Record<string, unknown>[]): Promise<InferRecord<M>[]> => {
    const records = await decryptRecords(fs, model, rows as never);
    await writeBack(ctx, rows);
    return records;
  };

  const indexed = (): RepositoryContext => {
    if (ctx.index === undefined)
      throw new TypeError(`model ${plan.table} has no blind-indexed fields`);
    return ctx;
  };

  return {
    model,
    async createTable() {
      const defs = columns.map(
        (c) => `${q(c.name)} ${c.type}${c.field.nullable || c.field.optional ? '' : ' NOT NULL'}`,
      );
      await sql.exec(
        `CREATE TABLE IF NOT EXISTS ${q(table)} (${defs.join(', ')}, PRIMARY KEY (${keyOrder(ctx)}))`,
      );
      for (const c of columns) {
        if (c.indexed) {
          await sql.exec(
            `CREATE INDEX IF NOT EXISTS ${q(indexName(table, `${c.name}_idx`))} ON ${q(table)} (${q(plan.tenant)}, ${q(c.name)})`,
          );
        }
      }
      if (index !== undefined) {
        await ctx.secrets!.createTable();
        await addIndexColumns(sql, table, plan.tenant, written);
      }
    },

    insert: (records) => write(records, false),
    upsert: (records) => write(records, true),

    async get(tenant, key) {
      if (!Array.isArray(key) || key.length !== plan.key.length) {
        throw new TypeError(`key: expected ${plan.key.length} value(s)`);
      }
      const whereKey = plan.key.map((k, i) => `${q(k)} = $${i + 2}`).join(' AND ');
      const rows = await selectRows(ctx, `${q(plan.tenant)} = $1 AND ${whereKey}`, [
        tenant,
        ...key.map(keyParam),
      ]);
      if (rows[0] === undefined) return undefined;
      const record = await decryptRecord(fs, model, rows[0] as never);
      await writeBack(ctx, rows);
      return record;
    },

    async list(tenant, page) {
      return found(await listStored(tenant, page));
    },

    async listStored(tenant, page) {
      return (await listStored(tenant, page)) as InferStored<M>[];
    },

    async findBy(tenant, field, value) {
      return found(await lookup(ctx, tenant, field, [value]));
    },

    async findByAny(tenant, field, values) {
      return found(await lookup(ctx, tenant, field, values));
    },

    indexColumns(field) {
      const f = indexedField(indexed().index, field);
      return Object.freeze({
        read: indexColumn(field, f.read),
        written: Object.freeze(f.write.map((v) => indexColumn(field, v))),
      });
    },
    lookupIndexes: async (tenant, field, values) => lookupIndexes(indexed(), tenant, field, values),
    writeIndexes: async (writes) => writeIndexes(indexed(), writes),

    backfillBlindIndex: (field, version, opts) => backfill(ctx, field, version, opts),
    blindIndexStatus: (field) => indexStatus(ctx, field),
    dropBlindIndexVersion: (field, version) => dropVersion(ctx, field, version),
    eraseTenantBlindIndexes: (tenant) => eraseTenantIndexes(ctx, tenant),
    resealBlindIndexSecrets: () => {
      if (ctx.secrets === undefined) {
        return Promise.reject(new TypeError(`model ${plan.table} has no blind-indexed fields`));
      }
      return ctx.secrets.reseal();
    },
    stats: () => ({ ...ctx.stats }),
  };
}
