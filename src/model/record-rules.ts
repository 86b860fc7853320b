import type { Fieldseal } from '../client/fieldseal.js';
import type { FieldPolicy } from '../client/options.js';
import {
  KeyNotConfiguredError,
  MalformedCiphertextError,
  UnsupportedValueError,
  type FieldsealError,
} from '../errors.js';
import {
  contextTemplate,
  type ContextTemplate,
  type EncryptionContext,
} from '../envelope/context.js';
import { ownData } from '../lib/own-data.js';
import { bucketSize } from '../envelope/plaintext.js';
import type { FieldKind } from './field.js';
import type { ModelSchema, FieldEncryptionSchema, FieldSchema } from './model-schema.js';

/*
 * What the record codec checks around the client (all internal): that the client enforces
 * the model's policies, that records have the model's shape, and the context of each value.
 */

/** Clients already checked against a plan (policies are frozen at client construction). */
const registered = new WeakMap<object, WeakSet<ModelSchema>>();

/**
 * Refuse a client that does not enforce exactly the model's policies, so that, for example,
 * a `WriteOnly` field is never read through a client that was not told it is write-only.
 * @throws KeyNotConfiguredError naming the first field that differs.
 * @example
 * ```ts
 * assertRegistered(fs, schemaOf(Customer)); // throws unless fs was made with models: [Customer]
 * ```
 */
export function assertRegistered(fs: Fieldseal, plan: ModelSchema): void {
  if (typeof fs !== 'object' || fs === null || typeof fs.fieldPolicy !== 'function') {
    throw new TypeError('fs: expected a Fieldseal client');
  }
  let checked = registered.get(fs);
  if (checked?.has(plan) === true) return;
  for (const f of plan.encrypted) {
    if (!samePolicy(fs.fieldPolicy(plan.table, f.name), f.encryption!)) {
      throw new KeyNotConfiguredError(
        `model ${f.qualified} is not registered with this client: pass models: [Model] to createFieldseal (or fields: { ...Model.policies })`,
        { details: { field: f.qualified } },
      );
    }
  }
  if (checked === undefined) {
    checked = new WeakSet();
    registered.set(fs, checked);
  }
  checked.add(plan);
}

/**
 * Equal in effect: an absent mode is ReadWrite, absent plaintext reads are off, pads by size,
 * and the field's master key and key context are the same (or absent on both sides).
 */
function samePolicy(actual: FieldPolicy, declared: FieldEncryptionSchema): boolean {
  const want = declared.policy;
  if ((actual.mode ?? 'ReadWrite') !== (want.mode ?? 'ReadWrite')) return false;
  if ((actual.allowPlaintextRead === true) !== (want.allowPlaintextRead === true)) return false;
  if (actual.masterKeyId !== want.masterKeyId) return false;
  if (!sameEntries(actual.keyContext, want.keyContext)) return false;
  try {
    return bucketSize(actual.pad) === declared.bucket;
  } catch {
    return false;
  }
}

/** Both absent, or the same names with the same values (both are checked, frozen copies). */
function sameEntries(
  a: Readonly<Record<string, string>> | undefined,
  b: Readonly<Record<string, string>> | undefined,
): boolean {
  if (a === undefined || b === undefined) return a === b;
  const names = Object.keys(a);
  return (
    names.length === Object.keys(b).length &&
    names.every((n) => Object.hasOwn(b, n) && a[n] === b[n])
  );
}

/**
 * A record or row read once into a snapshot: a null-prototype copy of its own enumerable data
 * properties (an inherited or polluted property is never read as a field, a getter never runs
 * twice). On encryption, undeclared properties are refused.
 * @example
 * ```ts
 * const snapshot = asRecord(schema, untrustedRecord, 'record'); // read once, own data only
 * const { tenant, record } = scopeOf(schema, snapshot);
 * ```
 */
export function asRecord(
  plan: ModelSchema,
  value: unknown,
  what: 'record' | 'row',
): Readonly<Record<string, unknown>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`model ${plan.table}: expected each ${what} to be an object`);
  }
  return ownData(
    value,
    (_why, name) => {
      throw new TypeError(
        `model ${plan.table}: field "${name}" of the ${what} is a getter; pass plain data`,
      );
    },
    {
      // A misspelt sensitive field would otherwise be written in plaintext, or dropped.
      check: (name) => {
        if (what === 'record' && !plan.names.has(name)) {
          throw new TypeError(
            `model ${plan.table}: the record has a field "${name}" it does not declare`,
          );
        }
      },
    },
  );
}

/**
 * The context entries shared by every value of one record.
 * @example
 * ```ts
 * const scope: RecordScope = { tenant: 'acme', record: ['order-7', '3'] }; // composite key
 * ```
 */
export interface RecordScope {
  readonly tenant: string;
  readonly record: string | readonly string[];
}

/**
 * Tenant id and record key of a record (or stored row: both hold them in plaintext).
 * @throws TypeError when the tenant is not a string or a key value is not a string, a finite
 *   number or a bigint.
 * @example
 * ```ts
 * const { tenant, record } = scopeOf(schemaOf(Customer), asRecord(schema, row, 'row'));
 * // tenant: 'acme', record: 'c1' (or a list for a composite key)
 * ```
 */
export function scopeOf(plan: ModelSchema, source: Readonly<Record<string, unknown>>): RecordScope {
  const tenant = source[plan.tenant];
  if (typeof tenant !== 'string') {
    throw new TypeError(`field ${plan.table}.${plan.tenant}: the tenant id must be a string`);
  }
  const parts = plan.key.map((name) => keyPart(plan, name, source[name]));
  return { tenant, record: parts.length === 1 ? parts[0]! : parts };
}

function keyPart(plan: ModelSchema, name: string, value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'bigint') return String(value);
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw new TypeError(
    `field ${plan.table}.${name}: key values must be strings, finite numbers or bigints`,
  );
}

/**
 * `{ tenant, table, field, record, ...static context }` of one encrypted field.
 * @example
 * ```ts
 * const scope = scopeOf(schema, snapshot);
 * const context = contextOf(schema, emailField, scope);
 * // { tenant: 'acme', table: 'customers', field: 'email', record: 'c1' }
 * const [envelope] = await fs.encryptMany([{ value: snapshot.email, context }]);
 * ```
 */
export function contextOf(
  plan: ModelSchema,
  f: FieldSchema,
  scope: RecordScope,
): EncryptionContext {
  let fields = templates.get(plan);
  if (fields === undefined) {
    fields = new Map();
    templates.set(plan, fields);
  }
  let template = fields.get(f);
  if (template === undefined) {
    template = contextTemplate({ ...f.encryption!.context, table: plan.table, field: f.name });
    fields.set(f, template);
  }
  return template.fill(scope.tenant, scope.record);
}

/**
 * Each plan's fields' context templates: the fixed entries of a field's contexts are checked
 * and encoded once, and the client recognises the contexts built from them (frozen, checked)
 * instead of reading and encoding every one again.
 */
const templates = new WeakMap<ModelSchema, Map<FieldSchema, ContextTemplate>>();

/**
 * The error for a `null` / `undefined` value in an encrypted field that does not allow it
 * (`null` needs `.nullable()`, `undefined` needs `.optional()`), or `undefined` if allowed.
 * @example
 * ```ts
 * const error = absentError(field, record[field.name], 'encrypt');
 * if (error !== undefined) throw error; // null without .nullable(), undefined without .optional()
 * ```
 */
export function absentError(
  f: FieldSchema,
  value: null | undefined,
  op: 'encrypt' | 'decrypt',
): FieldsealError | undefined {
  if (value === null ? f.nullable : f.optional) return undefined;
  const details = { field: f.qualified };
  const needs = value === null ? '.nullable()' : '.optional()';
  return op === 'encrypt'
    ? new UnsupportedValueError(`model field ${f.qualified}: a value is required (or ${needs})`, {
        details,
      })
    : new MalformedCiphertextError(
        `model field ${f.qualified}: the stored value is missing and the field is not ${needs}`,
        { details },
      );
}

/**
 * Whether a (decrypted or to-be-encrypted) value has the field's declared kind.
 * @example
 * ```ts
 * if (!hasKind(field.kind, decrypted)) throw kindError(field, 'decrypt');
 * ```
 */
export function hasKind(kind: FieldKind, value: unknown): boolean {
  switch (kind) {
    case 'string':
    case 'number':
    case 'bigint':
    case 'boolean':
      return typeof value === kind;
    case 'date':
      return value instanceof Date;
    case 'bytes':
      return value instanceof Uint8Array;
    case 'json':
      return true;
  }
}

/**
 * The error for a value whose type is not the field's kind (the value is never included).
 * @example
 * ```ts
 * if (!hasKind(field.kind, value)) throw kindError(field, 'encrypt'); // ERR_UNSUPPORTED_VALUE, value never included
 * ```
 */
export function kindError(f: FieldSchema, op: 'encrypt' | 'decrypt'): FieldsealError {
  const what = op === 'encrypt' ? 'the value' : 'the decrypted value';
  return new UnsupportedValueError(`model field ${f.qualified}: ${what} is not a ${f.kind}`, {
    details: { field: f.qualified },
  });
}
