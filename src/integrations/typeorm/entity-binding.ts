import type { EntityMetadata } from 'typeorm';
import { UnsupportedOptionError, type AnyModel } from '../../index.js';
import {
  modelCodec,
  type BlindIndexSource,
  type FieldSchema,
  type ModelSchema,
} from '../../integration/index.js';
import { sealedTransformerOf } from './sealed-column.js';

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
  /** Properties that make up the record's context (tenant, then the key fields). */
  readonly scopeProps: readonly string[];
  readonly source: BlindIndexSource | undefined;
  /** Index column (database name) → its property, for every blind-indexed field. */
  readonly indexProps: ReadonlyMap<string, string>;
}

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
  for (const name of [schema.tenant, ...schema.key]) {
    const column = byProp.get(name);
    if (column === undefined) {
      fail(name, `the model's ${name === schema.tenant ? 'tenant' : 'key'} field has no column`);
    }
  }
  const sealed = new Map<string, FieldSchema>();
  for (const column of metadata.columns) {
    const transformer = sealedTransformerOf(column.transformer);
    if (transformer === undefined) continue;
    const name = column.propertyPath;
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
  return {
    metadata,
    model,
    schema,
    table,
    sealed,
    scopeProps: [schema.tenant, ...schema.key],
    source,
    indexProps,
  };
}
