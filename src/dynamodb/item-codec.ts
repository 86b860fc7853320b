import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { MalformedCiphertextError } from '../index.js';
import type { ModelSchema, FieldSchema } from '../integration/index.js';

/*
 * Model-aware conversion between stored rows (what `encryptRecords` returns) and DynamoDB
 * attribute maps. Each field's DynamoDB type follows from its kind, so numbers, bigints and
 * dates come back as what they were, without the document client's number guessing. Errors
 * name the attribute, never its value.
 */

/** A DynamoDB item in the low-level wire form. @internal */
export type DynamoItem = Record<string, AttributeValue>;

function wrongType(plan: ModelSchema, name: string, expected: string): TypeError {
  return new TypeError(`attribute ${plan.table}.${name}: expected DynamoDB type ${expected}`);
}

/** The attribute value of one plain (not encrypted) field value. */
function plainToAttribute(plan: ModelSchema, f: FieldSchema, value: unknown): AttributeValue {
  switch (f.kind) {
    case 'string':
      if (typeof value === 'string') return { S: value };
      break;
    case 'number':
      if (typeof value === 'number' && Number.isFinite(value)) return { N: String(value) };
      break;
    case 'bigint':
      if (typeof value === 'bigint') return { N: value.toString() };
      break;
    case 'boolean':
      if (typeof value === 'boolean') return { BOOL: value };
      break;
    case 'date':
      if (value instanceof Date && !Number.isNaN(value.getTime())) {
        return { S: value.toISOString() };
      }
      break;
    case 'bytes':
      if (value instanceof Uint8Array) return { B: value };
      break;
    case 'json':
      return { S: JSON.stringify(value) };
  }
  throw new TypeError(
    `field ${plan.table}.${f.name}: the value is not a ${f.kind} DynamoDB stores`,
  );
}

/**
 * A stored row (encrypted fields already `Buffer` / `fs1:` string) as a DynamoDB item:
 * encrypted binary → `B`, encrypted text → `S`, `null` → `NULL`, `undefined` → no attribute.
 * @internal
 */
export function rowToItem(plan: ModelSchema, row: Readonly<Record<string, unknown>>): DynamoItem {
  const item: DynamoItem = {};
  for (const f of plan.fields) {
    const value = row[f.name];
    if (value === undefined) continue;
    if (value === null) item[f.name] = { NULL: true };
    else if (f.encryption === undefined) item[f.name] = plainToAttribute(plan, f, value);
    else if (typeof value === 'string') item[f.name] = { S: value };
    else item[f.name] = { B: value as Uint8Array };
  }
  return item;
}

function plainFromAttribute(plan: ModelSchema, f: FieldSchema, a: AttributeValue): unknown {
  switch (f.kind) {
    case 'string':
      if (a.S !== undefined) return a.S;
      throw wrongType(plan, f.name, 'S');
    case 'number':
      if (a.N !== undefined) return Number(a.N);
      throw wrongType(plan, f.name, 'N');
    case 'bigint':
      if (a.N !== undefined && /^-?\d+$/.test(a.N)) return BigInt(a.N);
      throw wrongType(plan, f.name, 'N (integer)');
    case 'boolean':
      if (a.BOOL !== undefined) return a.BOOL;
      throw wrongType(plan, f.name, 'BOOL');
    case 'date': {
      const date = a.S === undefined ? undefined : new Date(a.S);
      if (date !== undefined && !Number.isNaN(date.getTime())) return date;
      throw wrongType(plan, f.name, 'S (ISO date)');
    }
    case 'bytes':
      if (a.B !== undefined) return Buffer.from(a.B.buffer, a.B.byteOffset, a.B.byteLength);
      throw wrongType(plan, f.name, 'B');
    case 'json':
      if (a.S === undefined) throw wrongType(plan, f.name, 'S (JSON)');
      try {
        return JSON.parse(a.S) as unknown;
      } catch {
        throw wrongType(plan, f.name, 'S (JSON)');
      }
  }
}

/**
 * A DynamoDB item as a stored row for `decryptRecords` (undeclared attributes are left out).
 * An encrypted attribute of another type than `B` / `S` is `ERR_MALFORMED_CIPHERTEXT`.
 * @throws TypeError naming a plain attribute of the wrong DynamoDB type.
 * @internal
 */
export function itemToRow(plan: ModelSchema, item: DynamoItem): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const f of plan.fields) {
    const a = item[f.name];
    if (a === undefined) continue;
    if (a.NULL === true) row[f.name] = null;
    else if (f.encryption === undefined) row[f.name] = plainFromAttribute(plan, f, a);
    else if (a.B !== undefined) row[f.name] = a.B;
    else if (a.S !== undefined) row[f.name] = a.S;
    else {
      throw new MalformedCiphertextError(
        `attribute ${f.qualified}: an encrypted attribute must be of type B or S`,
        { details: { field: f.qualified } },
      );
    }
  }
  return row;
}
