import type {
  AttributeDefinition,
  AttributeValue,
  GlobalSecondaryIndex,
} from '@aws-sdk/client-dynamodb';
import type { ModelPlan, PlannedField } from '../model/model-plan.js';
import { keyAttribute, type DynamoTableKeys, type KeyLayout } from './table-keys.js';

/** The checked key fields of one global secondary index. @internal */
export interface IndexLayout {
  readonly name: string;
  readonly partition: PlannedField;
  readonly sort: PlannedField | undefined;
}

const KEY_KINDS = new Set(['string', 'number', 'bigint']);

function indexField(plan: ModelPlan, index: string, name: unknown): PlannedField {
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
  plan: ModelPlan,
  indexes: Readonly<Record<string, DynamoTableKeys>> | undefined,
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
    out.set(name, {
      name,
      partition: indexField(plan, name, keys.partition),
      sort: keys.sort === undefined ? undefined : indexField(plan, name, keys.sort),
    });
  }
  return out;
}

const typeOf = (f: PlannedField): 'S' | 'N' => (f.kind === 'string' ? 'S' : 'N');
const both = (l: { partition: PlannedField; sort: PlannedField | undefined }) =>
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
