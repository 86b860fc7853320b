import type {
  AttributeDefinition,
  AttributeValue,
  KeySchemaElement,
} from '@aws-sdk/client-dynamodb';
import type { ModelSchema, FieldSchema } from '../integration/index.js';

/**
 * The partition (and sort) key attributes of a DynamoDB table, named by model fields.
 * @example
 * ```ts
 * const keys: DynamoTableKeys<'pk' | 'sk'> = { partition: 'pk', sort: 'sk' };
 * ```
 */
export interface DynamoTableKeys<K extends string = string> {
  /** The model field stored as the table's partition (HASH) key. */
  readonly partition: K;
  /** The model field stored as the table's sort (RANGE) key, if the table has one. */
  readonly sort?: K;
}

/**
 * A key value as DynamoDB stores it: `S` (string) or `N` (number, bigint).
 * @example
 * ```ts
 * const key: Record<string, DynamoKeyValue> = { pk: 'acme#cus_1', sk: 3 };
 * ```
 */
export type DynamoKeyValue = string | number | bigint;

/** The checked key layout of one repository. @internal */
export interface KeyLayout {
  readonly partition: FieldSchema;
  readonly sort: FieldSchema | undefined;
}

/**
 * Check that the table keys are exactly the model's record key, in order, so that the
 * `record` bound into every value's AAD is the item's partition (+ sort) key.
 * @throws TypeError naming the field: unknown, encrypted, or not the model's key.
 * @internal
 */
export function planKeys(plan: ModelSchema, keys: DynamoTableKeys | undefined): KeyLayout {
  if (typeof keys !== 'object' || keys === null) {
    throw new TypeError('keys: expected { partition, sort? } naming model fields');
  }
  const names = keys.sort === undefined ? [keys.partition] : [keys.partition, keys.sort];
  const fields = names.map((name) => {
    const f = plan.fields.find((x) => x.name === name);
    if (f === undefined)
      throw new TypeError(`keys: "${String(name)}" is not a field of ${plan.table}`);
    if (f.encryption !== undefined) {
      throw new TypeError(`field ${f.qualified}: an encrypted field cannot be a DynamoDB key`);
    }
    return f;
  });
  if (names.length !== plan.key.length || names.some((n, i) => plan.key[i] !== n)) {
    throw new TypeError(
      `model ${plan.table}: key must be [${names.join(', ')}] (the table's partition` +
        `${names.length > 1 ? ' and sort' : ''} key) so the AAD binds each item's DynamoDB key`,
    );
  }
  return { partition: fields[0]!, sort: fields[1] };
}

/** `S` for string keys, `N` for number and bigint keys. */
function keyType(f: FieldSchema): 'S' | 'N' {
  return f.kind === 'string' ? 'S' : 'N';
}

/** KeySchema and AttributeDefinitions for CreateTable. @internal */
export function keySchema(layout: KeyLayout): {
  KeySchema: KeySchemaElement[];
  AttributeDefinitions: AttributeDefinition[];
} {
  const fields = layout.sort === undefined ? [layout.partition] : [layout.partition, layout.sort];
  return {
    KeySchema: fields.map((f, i) => ({
      AttributeName: f.name,
      KeyType: i === 0 ? 'HASH' : 'RANGE',
    })),
    AttributeDefinitions: fields.map((f) => ({ AttributeName: f.name, AttributeType: keyType(f) })),
  };
}

/** One key value as an attribute value (the same forms the AAD's `record` accepts). @internal */
export function keyAttribute(f: FieldSchema, value: unknown): AttributeValue {
  if (f.kind === 'string' && typeof value === 'string') return { S: value };
  if (f.kind !== 'string' && typeof value === 'bigint') return { N: value.toString() };
  if (f.kind !== 'string' && typeof value === 'number' && Number.isFinite(value)) {
    return { N: String(value) };
  }
  throw new TypeError(`field ${f.qualified}: expected a ${f.kind} key value`);
}

/**
 * The DynamoDB `Key` of a record or key object: exactly the partition (and sort) attributes.
 * @throws TypeError when a key value is missing or of the wrong type.
 * @internal
 */
export function keyOf(layout: KeyLayout, value: unknown): Record<string, AttributeValue> {
  if (typeof value !== 'object' || value === null) throw new TypeError('expected a key object');
  const source = value as Readonly<Record<string, unknown>>;
  const key: Record<string, AttributeValue> = {
    [layout.partition.name]: keyAttribute(layout.partition, source[layout.partition.name]),
  };
  if (layout.sort !== undefined) {
    key[layout.sort.name] = keyAttribute(layout.sort, source[layout.sort.name]);
  }
  return key;
}

/** @internal The tenant argument of a read or write. */
export function checkTenant(tenant: unknown): string {
  if (typeof tenant !== 'string' || tenant.length === 0) {
    throw new TypeError('tenant: expected a non-empty string');
  }
  return tenant;
}
