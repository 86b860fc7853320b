import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { ModelSchema, FieldSchema } from '../integration/index.js';
import { rowToItem } from './item-codec.js';
import { optionSnapshot } from './option-snapshot.js';

/*
 * Conditions of your own on writes (optimistic locking, put-if-absent), as a small structured
 * form rather than DynamoDB's expression language: every name and value goes through
 * ExpressionAttributeNames / Values (no injection), and an encrypted attribute can only be
 * tested for presence. Its stored value is randomised, so an equality test could never hold,
 * and a comparison would be an oracle on the ciphertext anyway.
 */

/**
 * A condition on the stored item, checked by DynamoDB atomically with the write. All parts
 * must hold. `equals` compares plain (not encrypted) fields; `exists` / `notExists` test the
 * presence of any field's attribute.
 * @example
 * ```ts
 * // optimistic locking: write only if nobody changed the item since version 3 was read
 * await repo.update('acme', key, { email }, { condition: { equals: { version: 3 } }, increment: { version: 1 } });
 * ```
 */
export interface DynamoCondition<Field extends string = string> {
  /** Plain fields that must hold exactly these values (`null` matches a stored `NULL`). */
  readonly equals?: Readonly<Partial<Record<Field, unknown>>>;
  /** Fields whose attribute must be present. */
  readonly exists?: readonly Field[];
  /** Fields whose attribute must be absent. */
  readonly notExists?: readonly Field[];
}

/** A condition expression and its names and values, with a prefix of its own. @internal */
export interface ConditionParts {
  readonly expression: string;
  readonly names: Record<string, string>;
  readonly values: Record<string, AttributeValue>;
}

function fieldOf(plan: ModelSchema, where: string, name: unknown): FieldSchema {
  const f = plan.fields.find((x) => x.name === name);
  if (f === undefined) {
    throw new TypeError(`${where}: "${String(name)}" is not a field of ${plan.table}`);
  }
  return f;
}

function listOf(where: string, value: unknown): readonly unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new TypeError(`${where}: expected an array of field names`);
  return [...(value as unknown[])]; // one read of the caller's array
}

/** The operators a condition may use: anything else (`or`, `beginsWith`, `equal`...) is refused. */
const OPERATORS = ['equals', 'exists', 'notExists'] as const;

/**
 * The expression of a {@link DynamoCondition}, or `undefined` when it has no parts. The
 * condition is read once (own enumerable data properties, see option-snapshot.ts).
 * @throws UnsupportedOptionError for an operator other than `equals` / `exists` /
 *   `notExists` (a misspelt or unimplemented one must never leave the write unguarded);
 *   TypeError for unknown fields, `equals` on an encrypted field, a value of the wrong type
 *   (never echoed).
 * @internal
 */
export function conditionParts(
  plan: ModelSchema,
  input: DynamoCondition | undefined,
): ConditionParts | undefined {
  if (input === undefined) return undefined;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new TypeError('condition: expected { equals?, exists?, notExists? }');
  }
  const condition = optionSnapshot('condition', input, OPERATORS);
  const names: Record<string, string> = {};
  const values: Record<string, AttributeValue> = {};
  const terms: string[] = [];
  const rawEquals = condition.equals ?? {};
  if (typeof rawEquals !== 'object' || rawEquals === null || Array.isArray(rawEquals)) {
    throw new TypeError('condition.equals: expected an object of plain field values');
  }
  const equals = optionSnapshot('condition.equals', rawEquals, 'any');
  Object.entries(equals).forEach(([name, value], i) => {
    const f = fieldOf(plan, 'condition.equals', name);
    if (f.encryption !== undefined) {
      throw new TypeError(
        `condition.equals: field ${f.qualified} is encrypted; its stored value is randomised, ` +
          'so only exists / notExists can test it',
      );
    }
    if (value === undefined) {
      throw new TypeError(`condition.equals: ${f.qualified} is undefined (use notExists)`);
    }
    const attribute = rowToItem(plan, { [name]: value })[name]!;
    names[`#c${i}`] = name;
    values[`:c${i}`] = attribute;
    terms.push(`#c${i} = :c${i}`);
  });
  for (const [part, fn] of [
    ['exists', 'attribute_exists'],
    ['notExists', 'attribute_not_exists'],
  ] as const) {
    listOf(`condition.${part}`, condition[part]).forEach((name, i) => {
      const f = fieldOf(plan, `condition.${part}`, name);
      const ref = `#c${part === 'exists' ? 'e' : 'n'}${i}`;
      names[ref] = f.name;
      terms.push(`${fn}(${ref})`);
    });
  }
  if (terms.length === 0) return undefined;
  return { expression: terms.join(' AND '), names, values };
}

/**
 * AND-join the parts (each parenthesised) into one ConditionExpression with merged names and
 * values; the caller keeps the placeholders of each part distinct.
 * @internal
 */
export function allOf(...parts: readonly (ConditionParts | undefined)[]): ConditionParts {
  const present = parts.filter((p): p is ConditionParts => p !== undefined);
  return {
    expression: present.map((p) => `(${p.expression})`).join(' AND '),
    names: Object.assign({}, ...present.map((p) => p.names)) as Record<string, string>,
    values: Object.assign({}, ...present.map((p) => p.values)) as Record<string, AttributeValue>,
  };
}

/**
 * The fields of a request (or transaction action) carrying condition `c`.
 * @internal
 */
export function expressionOf(c: ConditionParts): {
  ConditionExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues?: Record<string, AttributeValue>;
} {
  return {
    ConditionExpression: c.expression,
    ExpressionAttributeNames: c.names,
    ...(Object.keys(c.values).length > 0 ? { ExpressionAttributeValues: c.values } : {}),
  };
}

/**
 * The condition every put carries: never replace another tenant's item (an absent item, or
 * the tenant's own, may be written), or with `ifAbsent` never replace any item.
 * @internal
 */
export function putGuard(
  partitionKey: string,
  tenantField: string,
  tenant: string,
  ifAbsent: boolean,
): ConditionParts {
  return ifAbsent
    ? { expression: 'attribute_not_exists(#k)', names: { '#k': partitionKey }, values: {} }
    : {
        expression: 'attribute_not_exists(#k) OR #t = :t',
        names: { '#k': partitionKey, '#t': tenantField },
        values: { ':t': { S: tenant } },
      };
}
