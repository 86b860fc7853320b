import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AnyModel, Fieldseal } from '../../index.js';
import { assertRegistered, ownData, schemaOf, type ModelSchema } from '../../integration/index.js';
import { planBlindIndex } from '../blind-index-attributes.js';
import type { DynamoBlindIndexOptions } from '../repository-types.js';
import type { BlindIndexState } from '../table-context.js';

/*
 * The tables a sealed document client seals: table name → the fieldseal model of its items,
 * and, for a model with blind-indexed fields, how their index attributes are computed. All
 * internal apart from the option type.
 */

/**
 * One table of a sealed document client given with options: its model and, when the model has
 * `.blindIndex()` fields, the indexer that computes their index attributes.
 * @example
 * ```ts
 * const customers: SealedTableOptions = {
 *   model: Customer,
 *   blindIndex: { indexer: await createBlindIndexer({ source, reference: 'blind-index' }) },
 * };
 * ```
 */
export interface SealedTableOptions<M extends AnyModel = AnyModel> {
  readonly model: M;
  /** Required when the model has blind-indexed fields (see docs/dynamodb.md). */
  readonly blindIndex?: DynamoBlindIndexOptions<M>;
}

/** One sealed table. @internal */
export interface SealedTable {
  readonly name: string;
  readonly schema: ModelSchema;
  /** Encrypted attribute names. */
  readonly encrypted: ReadonlySet<string>;
  /** The model's blind indexes, if it has any. */
  readonly blindIndex: BlindIndexState | undefined;
  /** Attribute names that belong to fieldseal's blind indexes (`<field>_bidx_v<n>`). */
  isIndexAttribute(name: string): boolean;
  /** Whether `name` is a blind-indexed field. */
  isIndexedField(name: string): boolean;
}

/** Sealed tables by name (a null-prototype lookup). @internal */
export type SealedTables = ReadonlyMap<string, SealedTable>;

/** A table's entry: a model, or `{ model, blindIndex }`. */
function entryOf(name: string, value: unknown): SealedTableOptions {
  const bad = (): never => {
    throw new TypeError(
      `sealDocumentClient: tables.${name}: expected a model or { model, blindIndex }`,
    );
  };
  if (typeof value !== 'object' || value === null) return bad();
  if (!Object.hasOwn(value, 'model')) return { model: value as AnyModel };
  const { model, blindIndex, ...rest } = ownData(value, (_why, key) => {
    throw new TypeError(`sealDocumentClient: tables.${name}.${key} must be a plain data property`);
  }) as Partial<SealedTableOptions>;
  if (model === undefined || Object.keys(rest).length > 0) bad();
  return blindIndex === undefined ? { model: model! } : { model: model!, blindIndex };
}

/**
 * Bind each table name to its model (and blind indexes).
 * @throws TypeError for a table that is neither a model nor `{ model, blindIndex }`, a
 *   blind-indexed model without `blindIndex` (or the reverse), bad index options;
 *   KeyNotConfiguredError when `fs` does not enforce a model's policies.
 * @internal
 */
export function sealedTables(fs: Fieldseal, client: DynamoDBClient, tables: unknown): SealedTables {
  if (typeof tables !== 'object' || tables === null) {
    throw new TypeError('sealDocumentClient: tables: expected { [tableName]: Model }');
  }
  const entries = ownData(tables, (_why, key) => {
    throw new TypeError(`sealDocumentClient: tables.${key} must be a plain data property`);
  });
  const out = new Map<string, SealedTable>();
  for (const [name, value] of Object.entries(entries)) {
    const { model, blindIndex } = entryOf(name, value);
    const schema = schemaOf(model);
    assertRegistered(fs, schema);
    const state = planBlindIndex(schema, blindIndex, client, fs);
    const indexed = new Set(schema.blindIndexed.map((f) => f.name));
    out.set(name, {
      name,
      schema,
      encrypted: new Set(schema.encrypted.map((f) => f.name)),
      blindIndex: state,
      isIndexedField: (attribute) => indexed.has(attribute),
      isIndexAttribute: (attribute) => {
        const m = /^(.+)_bidx_v\d+$/.exec(attribute);
        return m !== null && indexed.has(m[1]!);
      },
    });
  }
  return out;
}
