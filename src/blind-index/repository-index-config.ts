import type { BlindIndexFieldOptions } from '../model/field.js';
import type { ModelSchema, FieldSchema } from '../model/model-schema.js';
import type { AnyModel, BlindIndexedField } from '../model/model-types.js';
import type { BlindIndexer } from './blind-indexer.js';
import { checkVersion, resolveOptions, type ResolvedIndexOptions } from './options.js';

/*
 * The `blindIndex` option of a model repository, checked against the model (internal apart
 * from the option types). Storage-independent: PostgreSQL and DynamoDB repositories resolve
 * it alike and add only their own rules for the names they store (see `checkName`).
 */

/**
 * Which index key versions of one blind-indexed field the repository writes and which one it
 * reads. Outside a rotation both are one version (the default: `{ write: [1], read: 1 }`);
 * during one, every writer writes both versions and reads switch once the backfill is done
 * (docs/blind-index.md, "Rotation").
 * @example
 * ```ts
 * const duringRotation: BlindIndexVersions = { write: [1, 2], read: 1 };
 * const afterSwitch: BlindIndexVersions = { write: [1, 2], read: 2 };
 * ```
 */
export interface BlindIndexVersions {
  /** Versions written on every insert and upsert: one column `<field>_bidx_v<version>` each. */
  readonly write: readonly number[];
  /** The version `findBy` queries; one of `write`. */
  readonly read: number;
}

/**
 * The `blindIndex` option of `createPostgresRepository`: required when the model has fields with
 * `.blindIndex()`.
 * @example
 * ```ts
 * const blindIndex: RepositoryBlindIndexOptions<typeof Customer> = {
 *   indexer: await createBlindIndexer({ source, reference: 'blind-index' }),
 *   versions: { email: { write: [1, 2], read: 1 } },
 * };
 * ```
 */
export interface RepositoryBlindIndexOptions<M extends AnyModel> {
  /** Computes the indexes (its root key is shared by every tenant; see `tenantSecret`). */
  readonly indexer: BlindIndexer;
  /** Per field: the versions written and read; default `{ write: [1], read: 1 }`. */
  readonly versions?: { readonly [F in BlindIndexedField<M>]?: BlindIndexVersions };
  /**
   * Table holding each tenant's index secrets, sealed under the tenant's data key (default
   * `fieldseal_blind_index_secrets`, shared by every repository of a database).
   */
  readonly secretsTable?: string;
}

/**
 * One blind-indexed field of a repository, checked.
 * @example
 * ```ts
 * const email: IndexedField = indexedField(config, 'email');
 * console.log(email.write, email.read); // [1] 1
 * ```
 */
export interface IndexedField {
  readonly field: FieldSchema;
  /** bits and normalisation of every version, as the model declares them. */
  readonly options: BlindIndexFieldOptions;
  /** The same, checked and defaulted (for the re-check's normalisation). */
  readonly resolved: ResolvedIndexOptions;
  readonly write: readonly number[];
  readonly read: number;
}

/**
 * The checked blind-index configuration of a repository.
 * @example
 * ```ts
 * const config: IndexConfig | undefined = resolveIndexConfig(schema, { indexer }, (_what, name) => name);
 * const fields = config?.fields.map((f) => f.field.name); // ['email']
 * ```
 */
export interface IndexConfig {
  readonly indexer: BlindIndexer;
  readonly secretsTable: string;
  readonly fields: ReadonlyMap<string, IndexedField>;
  /** Every version any field writes, ascending. */
  readonly versions: readonly number[];
}

/**
 * The storage's rule for a name it stores (an index column or attribute, the secrets table):
 * returns `name`, or throws a `TypeError` naming `what`.
 * @example
 * ```ts
 * const anyName: IndexNameCheck = (_what, name) => name;
 * ```
 * @internal
 */
export type IndexNameCheck = (what: string, name: string) => string;

/**
 * `<field>_bidx_v<version>`: the column (PostgreSQL) or attribute (DynamoDB) of one index.
 * @example
 * ```ts
 * indexColumn('email', 2); // 'email_bidx_v2'
 * ```
 *
 */
export function indexColumn(field: string, version: number): string {
  return `${field}_bidx_v${version}`;
}

/**
 * Check the repository's blind-index option against the model; `checkName` checks every
 * index column name written and the secrets table name, as they are met.
 * @throws TypeError when the model has blind-indexed fields and no indexer is given (or the
 *   reverse), for versions of an unknown field, or whatever `checkName` throws.
 * @throws RangeError for bad versions (empty, repeated, out of range, `read` not written).
 * @example
 * ```ts
 * const config = resolveIndexConfig(plan, { indexer }, (_what, name) => name);
 * ```
 *
 */
export function resolveIndexConfig(
  plan: ModelSchema,
  option: RepositoryBlindIndexOptions<AnyModel> | undefined,
  checkName: IndexNameCheck,
): IndexConfig | undefined {
  if (plan.blindIndexed.length === 0) {
    if (option !== undefined) {
      throw new TypeError(`blindIndex: model ${plan.table} has no field with .blindIndex()`);
    }
    return undefined;
  }
  if (option === undefined || typeof option.indexer?.index !== 'function') {
    throw new TypeError(
      `blindIndex: model ${plan.table} has blind-indexed fields: pass blindIndex: { indexer }`,
    );
  }
  const versions = (option.versions ?? {}) as Readonly<Record<string, BlindIndexVersions>>;
  for (const name of Object.keys(versions)) {
    if (!plan.blindIndexed.some((f) => f.name === name)) {
      throw new TypeError(`blindIndex.versions: ${name} is not a blind-indexed field`);
    }
  }
  const fields = new Map<string, IndexedField>();
  const all = new Set<number>();
  for (const field of plan.blindIndexed) {
    const given = Object.hasOwn(versions, field.name) ? versions[field.name] : undefined;
    const { write, read } = checkVersions(field.name, given ?? { write: [1], read: 1 });
    for (const v of write) {
      checkName(`blind index column of ${field.name}`, indexColumn(field.name, v));
      all.add(v);
    }
    const options = field.encryption!.blindIndex!;
    const resolved = resolveOptions(options);
    fields.set(field.name, Object.freeze({ field, options, resolved, write, read }));
  }
  const secretsTable = checkName(
    'blindIndex.secretsTable',
    option.secretsTable ?? 'fieldseal_blind_index_secrets',
  );
  return Object.freeze({
    indexer: option.indexer,
    secretsTable,
    fields,
    versions: Object.freeze([...all].sort((a, b) => a - b)),
  });
}

function checkVersions(name: string, given: BlindIndexVersions): BlindIndexVersions {
  const where = `blindIndex.versions.${name}`;
  if (typeof given !== 'object' || given === null || !Array.isArray(given.write)) {
    throw new TypeError(`${where}: expected { write: number[], read: number }`);
  }
  if (given.write.length === 0 || given.write.length > 16) {
    throw new RangeError(`${where}.write: list 1 to 16 versions`);
  }
  const write = given.write.map((v) => checkVersion(v, `${where}.write entry`));
  if (new Set(write).size !== write.length) throw new RangeError(`${where}.write: repeated`);
  const read = checkVersion(given.read, `${where}.read`);
  if (!write.includes(read)) {
    throw new RangeError(`${where}.read: the version read must also be written`);
  }
  return Object.freeze({ write: Object.freeze(write), read });
}

/**
 * The blind-indexed field `name`.
 * @throws TypeError when it has no blind index.
 * @example
 * ```ts
 * const email = indexedField(config, 'email');
 * ```
 *
 */
export function indexedField(config: IndexConfig | undefined, name: unknown): IndexedField {
  const f = typeof name === 'string' ? config?.fields.get(name) : undefined;
  if (f === undefined) throw new TypeError(`field ${String(name)} has no blind index`);
  return f;
}
