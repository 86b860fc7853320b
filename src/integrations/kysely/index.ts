/**
 * `fieldseal/kysely`: transparent field encryption for Kysely. {@link withFieldseal} turns a
 * dialect into what `new Kysely({...})` needs: inserts and updates encrypt each encrypted
 * column with its record's context, selects and RETURNING decrypt, `=` / `in` on a
 * blind-indexed column query its index and re-check every row, and anything that cannot be
 * bound to a record is refused with a typed error naming table and column. See
 * docs/kysely.md.
 * @packageDocumentation
 */
import type { Dialect, KyselyPlugin } from 'kysely';
import type { AnyModel, InferRecord } from '../../index.js';
import { FieldsealKyselyPlugin, type SealingState } from './fieldseal-plugin.js';
import type { FieldsealKyselyOptions } from './options.js';
import { SealingDialect } from './sealing-dialect.js';
import { sealedTables } from './sealed-tables.js';

export type { FieldsealKyselyOptions } from './options.js';
export { pgliteDialect, type PGliteQueryable } from './pglite-dialect.js';

/**
 * What {@link withFieldseal} returns: spread it into `new Kysely({...})` (add your own plugins
 * before `plugins[0]`: fieldseal's must be the last to transform a query).
 * @example
 * ```ts
 * const config: FieldsealKyselyConfig = withFieldseal(dialect, { fs, models: [User] });
 * const db = new Kysely<Database>({ ...config, plugins: [...myPlugins, ...config.plugins] });
 * ```
 */
export interface FieldsealKyselyConfig {
  readonly dialect: Dialect;
  readonly plugins: KyselyPlugin[];
}

/**
 * A table of a model as Kysely's database interface declares it: the record's plaintext
 * types (the plugin encrypts and decrypts), keyed by field name.
 * @example
 * ```ts
 * interface Database { users: ModelTable<typeof User> }
 * const db = new Kysely<Database>(withFieldseal(dialect, { fs, models: [User] }));
 * ```
 */
export type ModelTable<M extends AnyModel> = InferRecord<M>;

/**
 * Wrap a Kysely dialect so that the models' encrypted columns are encrypted on the way in and
 * decrypted on the way out, transparently. Both parts are needed: the plugin plans each
 * query synchronously, the dialect seals its values (one batch, and one key fetch per tenant,
 * per statement) before the driver runs it. Without the plugin, a query naming a guarded
 * table is refused; without the dialect, a planned value refuses to be serialised.
 *
 * Supported: `insertInto().values()` (one or many rows; `onConflict` may replace an encrypted
 * column with `excluded.<itself>` on the record key), `updateTable().set()` of one record
 * (`where` tenant and every key column), `selectFrom()` / `returning()` of encrypted columns
 * (the tenant and key are added to the selection and removed from the rows), `where(column,
 * '=' | 'in', ...)` on a blind-indexed column with the tenant in the `where`, `is null`,
 * transactions, `deleteFrom()`. Refused with `ERR_UNSUPPORTED_OPTION` naming table and
 * column: anything else that reads or writes an encrypted column (expressions, LIKE, ranges,
 * ORDER BY, joins and subqueries over a guarded table, an update without the record key).
 * Raw `sql` runs as it is, but a result value holding an envelope is refused.
 * @throws TypeError for bad options: a client that does not enforce a model's policies, a
 *   model with blind-indexed fields and no source.
 * @example
 * ```ts
 * import { Kysely, PostgresDialect } from 'kysely';
 * import pg from 'pg';
 * import { withFieldseal } from 'fieldseal/kysely';
 *
 * const users = createPostgresRepository({ sql, fs, model: User, blindIndex: { indexer } });
 * const db = new Kysely<Database>(
 *   withFieldseal(new PostgresDialect({ pool: new pg.Pool() }), { fs, models: [User], blindIndexes: { users } }),
 * );
 * await db.insertInto('users').values({ tenantId: 'acme', id: 'u1', email: 'ada@example.com' }).execute();
 * const [ada] = await db.selectFrom('users').selectAll()
 *   .where('tenantId', '=', 'acme').where('email', '=', 'ada@example.com').execute();
 * ```
 */
export function withFieldseal(
  dialect: Dialect,
  options: FieldsealKyselyOptions,
): FieldsealKyselyConfig {
  if (
    typeof dialect !== 'object' ||
    dialect === null ||
    typeof dialect.createDriver !== 'function'
  ) {
    throw new TypeError('withFieldseal: expected a Kysely dialect');
  }
  const { fs, tables } = sealedTables(options);
  const state: SealingState = { fs, tables, plans: new WeakMap(), results: new WeakMap() };
  return Object.freeze({
    dialect: new SealingDialect(dialect, state),
    plugins: [new FieldsealKyselyPlugin(state)],
  });
}
