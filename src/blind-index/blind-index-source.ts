import type { AnyModel } from '../model/model-types.js';

/**
 * The blind indexes of one query: where to look (`column`) and what for (`indexes`), plus the
 * re-check every candidate must pass once decrypted. An index only finds candidates: two
 * different values can share an index, so a caller returns a row only when `matches` says
 * its decrypted value is one of the values asked for.
 * @example
 * ```ts
 * const q: BlindIndexLookup = await users.lookupIndexes('acme', 'email', ['ada@example.com']);
 * const { rows } = await sql.query(
 *   `SELECT * FROM users WHERE tenant_id = $1 AND ${q.column} = ANY($2)`, ['acme', q.indexes]);
 * // decrypt each row's email, then keep it only when q.matches(email)
 * ```
 */
export interface BlindIndexLookup {
  /** The index column (or attribute) queried: the field's read version, `email_bidx_v1`. */
  readonly column: string;
  /** The distinct index values; empty when the tenant never had a value indexed. */
  readonly indexes: readonly string[];
  /** Whether a decrypted value equals one of the values asked for, after normalisation. */
  matches(value: unknown): boolean;
}

/**
 * The index columns of one blind-indexed field: `read` is queried, every column of `written`
 * is stored with each write (`read` is one of them).
 * @example
 * ```ts
 * const { read, written } = users.indexColumns('email'); // 'email_bidx_v1', ['email_bidx_v1']
 * ```
 */
export interface BlindIndexColumns {
  readonly read: string;
  readonly written: readonly string[];
}

/**
 * One value to index for a write: the record's tenant, the blind-indexed field, its value.
 * @example
 * ```ts
 * const write: BlindIndexWrite = { tenant: 'acme', field: 'email', value: 'ada@example.com' };
 * ```
 */
export interface BlindIndexWrite {
  readonly tenant: string;
  readonly field: string;
  readonly value: string;
}

/**
 * The blind indexes of a model's table, for integrations that write their own queries
 * (GraphQL resolvers, ORMs): the lookup indexes of a query and the index columns a write
 * must store. Every repository with blind indexes implements it (`createPostgresRepository`);
 * `fieldseal/testing` has its conformance suite. Index keys come from the tenant's secret
 * sealed under its data key: a shredded tenant's indexes can neither be computed nor tested.
 * @example
 * ```ts
 * const source: BlindIndexSource = createPostgresRepository({ sql, fs, model: User, blindIndex: { indexer } });
 * const [columns] = await source.writeIndexes([{ tenant: 'acme', field: 'email', value: email }]);
 * // columns: { email_bidx_v1: '…' }, every version written during a rotation
 * ```
 */
export interface BlindIndexSource {
  /** The model whose table the indexes belong to. */
  readonly model: AnyModel;
  /**
   * The index columns of `field`, known without I/O: the one lookups read and every one a
   * write stores (two during a rotation). An integration that must shape a statement before
   * it may await (a Kysely plugin) names the columns with this.
   * @throws TypeError for a field without a blind index.
   */
  indexColumns(field: string): BlindIndexColumns;
  /**
   * The indexes of `values` (at most 1,000) in `tenant`'s blind index of `field`, read
   * version. Never creates a secret: a tenant without one gets no indexes.
   * @throws TypeError for a field without a blind index or bad arguments; the tenant's key
   *   error (e.g. `ERR_KEY_SHREDDED`) when its secret cannot be opened.
   */
  lookupIndexes(
    tenant: string,
    field: string,
    values: readonly string[],
  ): Promise<BlindIndexLookup>;
  /**
   * For each write, its index columns (every written version) and values. Creates and seals
   * tenant secrets where missing, as the repository's own writes do.
   * @throws TypeError for a field without a blind index or bad arguments; the tenant's key
   *   error: a value is never written without its indexes.
   */
  writeIndexes(writes: readonly BlindIndexWrite[]): Promise<Readonly<Record<string, string>>[]>;
}
