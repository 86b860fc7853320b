import type {
  AttributeDefinition,
  AttributeValue,
  GlobalSecondaryIndex,
} from '@aws-sdk/client-dynamodb';
import { indexColumn } from '../integration/index.js';
import type { ModelSchema, FieldSchema } from '../integration/index.js';
import type { BlindIndexState } from './table-context.js';
import { keyAttribute, type DynamoTableKeys, type KeyLayout } from './table-keys.js';

/**
 * A global secondary index keyed by a blind index: its partition key is the attribute
 * `<field>_bidx_v<version>` (`version` defaults to the version the field reads), for
 * `repo.findBy`.
 * @example
 * ```ts
 * const indexes = { 'by-email': { blindIndex: 'email' } };
 * ```
 */
export interface DynamoBlindIndexKeys<F extends string = string, K extends string = string> {
  /** A field with `.blindIndex()`. */
  readonly blindIndex: F;
  /** The blind index version the GSI keys (one the repository writes). */
  readonly version?: number;
  /** An optional plain sort key field. */
  readonly sort?: K;
}

/** The checked key fields of one global secondary index. @internal */
export interface IndexLayout {
  readonly name: string;
  readonly partition: FieldSchema;
  readonly sort: FieldSchema | undefined;
  /** Set when the partition key is a blind-index attribute. */
  readonly blindIndex?: { readonly field: string; readonly version: number };
}

const KEY_KINDS = new Set(['string', 'number', 'bigint']);

function indexField(plan: ModelSchema, index: string, name: unknown): FieldSchema {
  const f = plan.fields.find((x) => x.name === name);
  if (f === undefined) {
    throw new TypeError(`indexes.${index}: "${String(name)}" is not a field of ${plan.table}`);
  }
  if (f.encryption !== undefined) {
    // A randomised envelope never equals another one: such an index would find nothing.
    throw new TypeError(`field ${f.qualified}: an encrypted field cannot be a GSI key`);
  }
  if (!KEY_KINDS.has(f.kind) || f.nullable) {
    throw new TypeError(
      `field ${f.qualified}: GSI keys must be string, number or bigint fields (not nullable)`,
    );
  }
  return f;
}

/**
 * Check the global secondary indexes: each key field plain, a string / number / bigint, not
 * nullable (optional fields make a sparse index).
 * @throws TypeError naming the index or field.
 * @internal
 */
export function planIndexes(
  plan: ModelSchema,
  indexes: Readonly<Record<string, DynamoTableKeys | DynamoBlindIndexKeys>> | undefined,
  blindIndex?: BlindIndexState,
): ReadonlyMap<string, IndexLayout> {
  const out = new Map<string, IndexLayout>();
  if (indexes === undefined) return out;
  if (typeof indexes !== 'object' || indexes === null) {
    throw new TypeError('indexes: expected { <index name>: { partition, sort? } }');
  }
  for (const [name, keys] of Object.entries(indexes)) {
    if (name.length < 3) throw new TypeError(`indexes.${name}: names need 3 or more characters`);
    if (typeof keys !== 'object' || keys === null) {
      throw new TypeError(`indexes.${name}: expected { partition, sort? }`);
    }
    if ('blindIndex' in keys) {
      out.set(name, blindIndexLayout(plan, name, keys, blindIndex));
      continue;
    }
    out.set(name, {
      name,
      partition: indexField(plan, name, keys.partition),
      sort: keys.sort === undefined ? undefined : indexField(plan, name, keys.sort),
    });
  }
  return out;
}

/** A GSI on a blind-index attribute: the field must have an index the repository writes. */
function blindIndexLayout(
  plan: ModelSchema,
  name: string,
  keys: DynamoBlindIndexKeys,
  state: BlindIndexState | undefined,
): IndexLayout {
  const indexed = state?.config.fields.get(keys.blindIndex);
  if (indexed === undefined) {
    throw new TypeError(
      `indexes.${name}: "${String(keys.blindIndex)}" is not a field with .blindIndex() ` +
        '(and the repository needs the blindIndex option)',
    );
  }
  const version = keys.version ?? indexed.read;
  if (!indexed.write.includes(version)) {
    throw new TypeError(`indexes.${name}: version ${version} of ${keys.blindIndex} is not written`);
  }
  const attribute = indexColumn(indexed.field.name, version);
  return {
    name,
    partition: {
      name: attribute,
      qualified: `${plan.table}.${attribute}`,
      kind: 'string',
      nullable: false,
      optional: true,
      indexed: false,
      encryption: undefined,
    },
    sort: keys.sort === undefined ? undefined : indexField(plan, name, keys.sort),
    blindIndex: { field: indexed.field.name, version },
  };
}

const typeOf = (f: FieldSchema): 'S' | 'N' => (f.kind === 'string' ? 'S' : 'N');
const both = (l: { partition: FieldSchema; sort: FieldSchema | undefined }) =>
  l.sort === undefined ? [l.partition] : [l.partition, l.sort];

/** GlobalSecondaryIndexes (projection ALL) and their extra AttributeDefinitions. @internal */
export function indexSchema(
  table: KeyLayout,
  indexes: ReadonlyMap<string, IndexLayout>,
): { GlobalSecondaryIndexes?: GlobalSecondaryIndex[]; definitions: AttributeDefinition[] } {
  if (indexes.size === 0) return { definitions: [] };
  const known = new Set(both(table).map((f) => f.name));
  const definitions: AttributeDefinition[] = [];
  const GlobalSecondaryIndexes = [...indexes.values()].map((index) => {
    for (const f of both(index)) {
      if (!known.has(f.name)) definitions.push({ AttributeName: f.name, AttributeType: typeOf(f) });
      known.add(f.name);
    }
    return {
      IndexName: index.name,
      KeySchema: both(index).map((f, i) => ({
        AttributeName: f.name,
        KeyType: i === 0 ? ('HASH' as const) : ('RANGE' as const),
      })),
      Projection: { ProjectionType: 'ALL' as const },
    };
  });
  return { GlobalSecondaryIndexes, definitions };
}

/**
 * The `ExclusiveStartKey` of an index query: the table key and the index key attributes.
 * @throws TypeError for a missing or mistyped key value.
 * @internal
 */
export function indexStartKey(
  table: KeyLayout,
  index: IndexLayout,
  value: unknown,
): Record<string, AttributeValue> {
  if (typeof value !== 'object' || value === null) throw new TypeError('expected a key object');
  const source = value as Readonly<Record<string, unknown>>;
  const key: Record<string, AttributeValue> = {};
  for (const f of new Set([...both(table), ...both(index)])) {
    key[f.name] = keyAttribute(f, source[f.name]);
  }
  return key;
}
