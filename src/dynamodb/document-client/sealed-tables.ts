import { UnsupportedOptionError, type AnyModel, type Fieldseal } from '../../index.js';
import { assertRegistered, ownData, schemaOf, type ModelSchema } from '../../integration/index.js';

/*
 * The tables a sealed document client seals: table name → the fieldseal model of its items.
 * All internal.
 */

/** One sealed table. @internal */
export interface SealedTable {
  readonly name: string;
  readonly schema: ModelSchema;
  /** Encrypted attribute names. */
  readonly encrypted: ReadonlySet<string>;
}

/** Sealed tables by name (a null-prototype lookup). @internal */
export type SealedTables = ReadonlyMap<string, SealedTable>;

/**
 * Bind each table name to its model.
 * @throws TypeError for a table that is not a model; UnsupportedOptionError for a model with
 *   blind-indexed fields (the document client does not compute indexes yet);
 *   KeyNotConfiguredError when `fs` does not enforce a model's policies.
 * @internal
 */
export function sealedTables(fs: Fieldseal, tables: unknown): SealedTables {
  if (typeof tables !== 'object' || tables === null) {
    throw new TypeError('sealDocumentClient: tables: expected { [tableName]: Model }');
  }
  const entries = ownData(tables, (_why, key) => {
    throw new TypeError(`sealDocumentClient: tables.${key} must be a plain data property`);
  });
  const out = new Map<string, SealedTable>();
  for (const [name, model] of Object.entries(entries)) {
    const schema = schemaOf(model as AnyModel);
    assertRegistered(fs, schema);
    const indexed = schema.blindIndexed[0];
    if (indexed !== undefined) {
      throw new UnsupportedOptionError(
        `attribute ${name}.${indexed.name}: the sealed document client does not compute blind indexes: use createDynamoRepository for blind-indexed models`,
        { details: { field: `${name}.${indexed.name}` } },
      );
    }
    out.set(name, {
      name,
      schema,
      encrypted: new Set(schema.encrypted.map((f) => f.name)),
    });
  }
  return out;
}
