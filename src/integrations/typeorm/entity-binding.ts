import type { EntityMetadata } from 'typeorm';

/** One column of an entity's metadata. */
type ColumnMetadata = EntityMetadata['columns'][number];
import { UnsupportedOptionError, type AnyModel } from '../../index.js';
import {
  modelCodec,
  type BlindIndexSource,
  type FieldSchema,
  type ModelSchema,
} from '../../integration/index.js';
import { sealedTransformerOf, type SealedColumnTransformer } from './sealed-column.js';

/*
 * One TypeORM entity bound to its fieldseal model: which properties are its tenant, key,
 * sealed columns and blind-index columns, checked once against the entity's metadata. Internal.
 */

/** An entity's binding: property names are the model's field names. */
export interface EntityBinding {
  readonly metadata: EntityMetadata;
  readonly model: AnyModel;
  readonly schema: ModelSchema;
  /** The table name, for messages. */
  readonly table: string;
  /** Sealed property → its encrypted field. */
  readonly sealed: ReadonlyMap<string, FieldSchema>;
  /** Sealed property → its column's transformer (whose label its sealed values carry). */
  readonly transformers: ReadonlyMap<string, SealedColumnTransformer>;
  /** Properties that make up the record's context (tenant, then the key fields). */
  readonly scopeProps: readonly string[];
  /** Each context property's column, and the form its values must have. */
  readonly scopeColumns: ReadonlyMap<string, { column: ColumnMetadata; form: ScopeForm }>;
  /** Relations whose join columns are context, sealed or index columns. */
  readonly guardedRelations: ReadonlySet<string>;
  readonly source: BlindIndexSource | undefined;
  /** Index column (database name) → its property, for every blind-indexed field. */
  readonly indexProps: ReadonlyMap<string, string>;
}

/**
 * What a tenant or key column stores a value as: PostgreSQL keeps text as written, but
 * rewrites a uuid (lowercase) or an integer (`'007'` is 7): the value sealed with must be the
 * one read back.
 */
export type ScopeForm = 'text' | 'uuid' | 'integer';

const SCOPE_TYPES: Readonly<Record<string, ScopeForm>> = {
  text: 'text',
  'character varying': 'text',
  varchar: 'text',
  uuid: 'uuid',
  integer: 'integer',
  int: 'integer',
  int4: 'integer',
  smallint: 'integer',
  int2: 'integer',
  bigint: 'integer',
  int8: 'integer',
};

/** The typed refusal of what cannot be bound to a record: names `table.column`. */
export function refuse(table: string, column: string, why: string): never {
  throw new UnsupportedOptionError(`column ${table}.${column}: ${why}`, {
    details: { field: `${table}.${column}` },
  });
}

/** Whether an entity's metadata has a sealed column. */
export function hasSealedColumns(metadata: EntityMetadata): boolean {
  return metadata.columns.some((c) => sealedTransformerOf(c.transformer) !== undefined);
}

/**
 * Bind an entity to its model. Every encrypted field must be a sealed column of the matching
 * kind, every sealed column an encrypted field, the tenant and key fields columns, and each
 * blind index's columns columns of the entity.
 * @throws TypeError naming the first column that does not match.
 */
export function bindEntity(
  metadata: EntityMetadata,
  model: AnyModel,
  source: BlindIndexSource | undefined,
  fs: Parameters<typeof modelCodec>[0],
): EntityBinding {
  const { schema } = modelCodec(fs, model);
  const table = metadata.tableName;
  const fail = (column: string, why: string): never => {
    throw new TypeError(`fieldsealSubscriber(${metadata.name}): column ${column}: ${why}`);
  };
  const byProp = new Map(metadata.columns.map((c) => [c.propertyPath, c]));
  const scopeColumns = new Map<string, { column: ColumnMetadata; form: ScopeForm }>();
  for (const name of [schema.tenant, ...schema.key]) {
    const column = byProp.get(name);
    if (column === undefined) {
      fail(name, `the model's ${name === schema.tenant ? 'tenant' : 'key'} field has no column`);
    }
    const type = String(metadata.connection.driver.normalizeType(column!)).toLowerCase();
    const form = Object.hasOwn(SCOPE_TYPES, type) ? SCOPE_TYPES[type] : undefined;
    if (form === undefined || column!.isArray || column!.embeddedMetadata !== undefined) {
      fail(
        name,
        `a tenant or key column must be text, varchar, uuid or an integer (not ${type}): PostgreSQL must store the value it is bound to as written`,
      );
    }
    scopeColumns.set(name, { column: column!, form: form! });
  }
  const sealed = new Map<string, FieldSchema>();
  const transformers = new Map<string, SealedColumnTransformer>();
  for (const column of metadata.columns) {
    const transformer = sealedTransformerOf(column.transformer);
    if (transformer === undefined) continue;
    const name = column.propertyPath;
    if ([...transformers.values()].includes(transformer)) {
      fail(name, 'each sealed column needs its own sealedColumn(...) (this one is shared)');
    }
    transformers.set(name, transformer);
    if (column.embeddedMetadata !== undefined) fail(name, 'a sealed column cannot be embedded');
    const f = schema.fields.find((x) => x.name === name);
    if (f?.encryption === undefined) fail(name, 'a sealed column must be an encrypted field');
    const want = f!.encryption!.storage === 'text' ? 'text' : 'bytes';
    if (transformer.kind !== want) {
      fail(name, `storage ${f!.encryption!.storage} needs SealedColumn('${want}')`);
    }
    if (column.isNullable && !(f!.nullable || f!.optional)) {
      fail(name, 'the column is nullable but the field is neither nullable nor optional');
    }
    transformer.label = `${table}.${column.databaseName}`;
    sealed.set(name, f!);
  }
  for (const f of schema.encrypted) {
    if (!sealed.has(f.name)) {
      fail(f.name, "an encrypted field must be a sealed column (SealedColumn('text' | 'bytes'))");
    }
  }
  if (schema.blindIndexed.length > 0 && source === undefined) {
    fail(
      schema.blindIndexed[0]!.name,
      'a blind-indexed field needs blindIndexes: createPostgresRepository({ ... })',
    );
  }
  if (source !== undefined && source.model !== model) {
    throw new TypeError(
      `fieldsealSubscriber(${metadata.name}): blindIndexes is the source of another model`,
    );
  }
  const indexProps = new Map<string, string>();
  for (const f of schema.blindIndexed) {
    const { read, written } = source!.indexColumns(f.name);
    for (const c of new Set([read, ...written])) {
      const column = metadata.columns.find((x) => x.databaseName === c);
      if (column === undefined) fail(c, `the blind index of ${f.name} needs a column named ${c}`);
      indexProps.set(c, column!.propertyPath);
    }
  }
  // A relation writing one of those columns through its join column: its value is checked
  // (writes) or refused (updates by criteria).
  const guarded = new Set([
    ...[...scopeColumns.values()].map((c) => c.column.databaseName),
    ...metadata.columns
      .filter(
        (c) => sealed.has(c.propertyPath) || [...indexProps.values()].includes(c.propertyPath),
      )
      .map((c) => c.databaseName),
  ]);
  const guardedRelations = new Set(
    metadata.relations
      .filter((r) => r.joinColumns.some((c) => guarded.has(c.databaseName)))
      .map((r) => r.propertyPath),
  );
  for (const r of metadata.relations) {
    if (!guardedRelations.has(r.propertyPath)) continue;
    const sealedJoin = r.joinColumns.find((c) => sealed.has(c.propertyPath));
    if (sealedJoin !== undefined) {
      fail(sealedJoin.propertyPath, 'a sealed column cannot be a join column');
    }
  }
  return {
    metadata,
    model,
    schema,
    table,
    sealed,
    transformers,
    scopeProps: [schema.tenant, ...schema.key],
    scopeColumns,
    guardedRelations,
    source,
    indexProps,
  };
}

/**
 * Refuse a relation anywhere in the data source that joins on a sealed column: its join column
 * has no sealed transformer, so TypeORM would copy the plaintext into it.
 * @throws TypeError naming the entity and its join column.
 */
export function refuseSealedReferences(metadatas: readonly EntityMetadata[]): void {
  for (const metadata of metadatas) {
    for (const column of metadata.columns) {
      const referenced = column.referencedColumn;
      if (referenced !== undefined && sealedTransformerOf(referenced.transformer) !== undefined) {
        throw new TypeError(
          `fieldsealSubscriber(${metadata.name}): column ${column.databaseName}: a relation cannot join on the sealed column ${referenced.entityMetadata.tableName}.${referenced.databaseName} (TypeORM would copy its plaintext)`,
        );
      }
    }
  }
}
