import type { AnyModel } from '../../index.js';
import {
  assertRegistered,
  ownData,
  schemaOf,
  type BlindIndexColumns,
  type BlindIndexSource,
  type FieldSchema,
  type ModelSchema,
} from '../../integration/index.js';
import type { FieldsealKyselyOptions } from './options.js';

/** Column aliases the plugin adds to a selection and removes from its rows. @internal */
export const HIDDEN_PREFIX = '__fieldseal_';

/** One guarded table: its model's schema, encrypted columns and blind indexes. @internal */
export interface SealedTable {
  readonly name: string;
  readonly schema: ModelSchema;
  /** Encrypted fields by column name. */
  readonly encrypted: ReadonlyMap<string, FieldSchema>;
  /** Index columns of each blind-indexed field, by field name. */
  readonly indexes: ReadonlyMap<string, BlindIndexColumns>;
  /** Every index column name (written or read), to refuse writes of an index by hand. */
  readonly indexColumns: ReadonlySet<string>;
  readonly source: BlindIndexSource | undefined;
}

/** The guarded tables by name, checked once at setup. @internal */
export type SealedTables = ReadonlyMap<string, SealedTable>;

/**
 * Check the options and index the models by table.
 * @throws TypeError for a client that does not enforce a model's policies, two models of one
 *   table, a blind-indexed model without a source, or a source of another model.
 * @internal
 */
export function sealedTables(options: FieldsealKyselyOptions): {
  fs: FieldsealKyselyOptions['fs'];
  tables: SealedTables;
} {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('withFieldseal: expected options { fs, models }');
  }
  const { fs, models, blindIndexes } = ownData(options, () => {
    throw new TypeError('withFieldseal: options must be plain data');
  }) as Partial<FieldsealKyselyOptions>;
  if (!Array.isArray(models) || models.length === 0) {
    throw new TypeError('withFieldseal: models: expected a non-empty array of models');
  }
  const sources = blindIndexes ?? {};
  if (typeof sources !== 'object' || sources === null) {
    throw new TypeError('withFieldseal: blindIndexes: expected an object keyed by table');
  }
  const tables = new Map<string, SealedTable>();
  for (const model of [...(models as readonly AnyModel[])]) {
    const schema = schemaOf(model);
    assertRegistered(fs!, schema);
    if (tables.has(schema.table)) {
      throw new TypeError(`withFieldseal: two models of table ${schema.table}`);
    }
    const source = Object.hasOwn(sources, schema.table) ? sources[schema.table] : undefined;
    if (schema.blindIndexed.length > 0 && source === undefined) {
      throw new TypeError(
        `withFieldseal: table ${schema.table} has blind-indexed fields: pass blindIndexes: { ${schema.table}: createPostgresRepository({ ... }) }`,
      );
    }
    if (source !== undefined && source.model !== model) {
      throw new TypeError(
        `withFieldseal: blindIndexes.${schema.table} is the source of another model`,
      );
    }
    const indexes = new Map<string, BlindIndexColumns>();
    const indexColumns = new Set<string>();
    for (const f of schema.blindIndexed) {
      const columns = source!.indexColumns(f.name);
      indexes.set(f.name, columns);
      for (const c of [columns.read, ...columns.written]) indexColumns.add(c);
    }
    for (const f of schema.fields) {
      if (f.name.startsWith(HIDDEN_PREFIX)) {
        throw new TypeError(
          `withFieldseal: field ${f.qualified}: the prefix ${HIDDEN_PREFIX} is reserved`,
        );
      }
    }
    tables.set(schema.table, {
      name: schema.table,
      schema,
      encrypted: new Map(schema.encrypted.map((f) => [f.name, f])),
      indexes,
      indexColumns,
      source,
    });
  }
  for (const table of Object.keys(sources)) {
    if (!tables.has(table)) {
      throw new TypeError(`withFieldseal: blindIndexes.${table}: no model of that table`);
    }
  }
  return { fs: fs!, tables };
}
