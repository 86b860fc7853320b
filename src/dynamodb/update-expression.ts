import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { Fieldseal } from '../index.js';
import type { EncryptItem } from '../index.js';
import { toText } from '../integration/index.js';
import type { FieldValue } from '../index.js';
import { isFieldsealError } from '../index.js';
import { withField } from '../integration/index.js';
import type { ModelSchema, FieldSchema } from '../integration/index.js';
import {
  absentError,
  assertRegistered,
  contextOf,
  hasKind,
  kindError,
  scopeOf,
} from '../integration/index.js';
import { rowToItem, type DynamoItem } from './item-codec.js';
import { assertItemSize } from './item-size.js';

/*
 * An UpdateItem that sets encrypted attributes: each new value is sealed under the same
 * context a full write would use (tenant, model table, attribute name, the item's key), so an
 * updated attribute is indistinguishable from a saved one. The AWS Database Encryption SDK
 * refuses this (aws-database-encryption-sdk-dynamodb#297); here the context needs only the key
 * and the tenant, which the caller gives.
 */

/** UpdateItem parameters built from a change set. @internal */
export interface UpdateParts {
  readonly UpdateExpression: string;
  readonly ExpressionAttributeNames: Record<string, string>;
  readonly ExpressionAttributeValues: Record<string, AttributeValue>;
}

/** The fields a change set may name: not the tenant, not a key field. */
function changeable(plan: ModelSchema, name: string): FieldSchema {
  const f = plan.fields.find((x) => x.name === name);
  if (f === undefined) {
    throw new TypeError(
      `model ${plan.table}: the changes have a field "${name}" it does not declare`,
    );
  }
  if (name === plan.tenant || plan.key.includes(name)) {
    throw new TypeError(`field ${f.qualified}: the tenant and key fields cannot be updated`);
  }
  return f;
}

/**
 * The checked increments: plain number / bigint fields, not changed in the same update. An
 * encrypted number cannot be added to server-side (DynamoDB only sees its envelope).
 */
function incrementsOf(
  plan: ModelSchema,
  increment: Readonly<Record<string, unknown>> | undefined,
  changes: Readonly<Record<string, unknown>>,
): { field: FieldSchema; by: string }[] {
  if (increment === undefined) return [];
  if (typeof increment !== 'object' || increment === null || Array.isArray(increment)) {
    throw new TypeError('increment: expected an object of numbers by field');
  }
  return Object.entries(increment).map(([name, by]) => {
    const f = changeable(plan, name);
    if (f.encryption !== undefined) {
      throw new TypeError(
        `increment: field ${f.qualified} is encrypted; DynamoDB cannot add to its envelope`,
      );
    }
    if (f.kind !== 'number' && f.kind !== 'bigint') {
      throw new TypeError(`increment: field ${f.qualified} is not a number or bigint field`);
    }
    if (Object.hasOwn(changes, name)) {
      throw new TypeError(`increment: field ${f.qualified} is also in the changes`);
    }
    const ok =
      (f.kind === 'number' && typeof by === 'number' && Number.isFinite(by)) ||
      (f.kind === 'bigint' && typeof by === 'bigint');
    if (!ok) throw new TypeError(`increment: ${f.qualified} expects a finite ${f.kind}`);
    return { field: f, by: String(by) };
  });
}

/**
 * Encrypt the changed encrypted fields (one client batch) and build `SET` / `REMOVE` clauses.
 * `undefined` removes an optional attribute; `null` stores `NULL` in a nullable one;
 * `increment` adds to plain numeric attributes (`if_not_exists(a, 0) + n`); `extra` sets and
 * removes derived attributes (blind indexes) by name.
 * @throws KeyNotConfiguredError (client without the model's policies), the first failing
 *   field's FieldsealError, ValueTooLargeError, TypeError for tenant, key or unknown fields.
 * @internal
 */
export async function buildUpdate(
  fs: Fieldseal,
  plan: ModelSchema,
  tenant: string,
  key: Readonly<Record<string, unknown>>,
  changes: Readonly<Record<string, unknown>>,
  increment?: Readonly<Record<string, unknown>>,
  extra: { readonly set: Record<string, AttributeValue>; readonly remove: readonly string[] } = {
    set: {},
    remove: [],
  },
): Promise<UpdateParts> {
  assertRegistered(fs, plan);
  if (typeof changes !== 'object' || changes === null || Array.isArray(changes)) {
    throw new TypeError('changes: expected an object of field values');
  }
  const scope = scopeOf(plan, { ...key, [plan.tenant]: tenant });
  const fields = Object.keys(changes).map((name) => changeable(plan, name));
  const adds = incrementsOf(plan, increment, changes);
  if (fields.length === 0 && adds.length === 0) {
    throw new TypeError('changes: expected at least one field (or an increment)');
  }
  const row: Record<string, unknown> = {};
  const items: EncryptItem[] = [];
  const slots: FieldSchema[] = [];
  for (const f of fields) {
    const value = changes[f.name];
    if (value === null || value === undefined) {
      const error = absentError(f, value, 'encrypt');
      if (error !== undefined) throw error;
      row[f.name] = value;
    } else if (f.encryption === undefined) {
      row[f.name] = value;
    } else if (!hasKind(f.kind, value)) {
      throw kindError(f, 'encrypt');
    } else {
      items.push({ value: value as FieldValue, context: contextOf(plan, f, scope) });
      slots.push(f);
    }
  }
  if (items.length > 0) {
    const sealed = await fs.encryptManyToBytes(items).catch((err: unknown) => {
      const batch = isFieldsealError(err) && err.code === 'ERR_BATCH_FAILED';
      const first = batch ? err.failures[0] : undefined;
      if (first === undefined) throw err;
      throw withField(first.error, slots[first.index]!.qualified);
    });
    sealed.forEach((bytes, i) => {
      const f = slots[i]!;
      row[f.name] = f.encryption!.storage === 'text' ? toText(bytes) : bytes;
    });
  }
  const values: DynamoItem = rowToItem(plan, row);
  assertItemSize(plan.table, values); // the changed attributes alone must fit
  const names: Record<string, string> = {};
  const attributeValues: Record<string, AttributeValue> = {};
  const set: string[] = [];
  const remove: string[] = [];
  fields.forEach((f, i) => {
    names[`#u${i}`] = f.name;
    const value = values[f.name];
    if (value === undefined) {
      remove.push(`#u${i}`);
    } else {
      attributeValues[`:u${i}`] = value;
      set.push(`#u${i} = :u${i}`);
    }
  });
  Object.entries(extra.set).forEach(([name, value], i) => {
    names[`#x${i}`] = name;
    attributeValues[`:x${i}`] = value;
    set.push(`#x${i} = :x${i}`);
  });
  extra.remove.forEach((name, i) => {
    names[`#r${i}`] = name;
    remove.push(`#r${i}`);
  });
  adds.forEach(({ field, by }, i) => {
    names[`#i${i}`] = field.name;
    attributeValues[`:i${i}`] = { N: by };
    attributeValues[':zero'] = { N: '0' };
    set.push(`#i${i} = if_not_exists(#i${i}, :zero) + :i${i}`);
  });
  const clauses = [
    ...(set.length > 0 ? [`SET ${set.join(', ')}`] : []),
    ...(remove.length > 0 ? [`REMOVE ${remove.join(', ')}`] : []),
  ];
  return {
    UpdateExpression: clauses.join(' '),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: attributeValues,
  };
}
