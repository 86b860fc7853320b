import { checkKeyContext } from '../client/field-key.js';
import { checkFieldMasterKeyId } from '../client/field-master-key.js';
import type { FieldPolicy } from '../client/options.js';
import { encodeContext } from '../envelope/context.js';
import { bucketSize } from '../envelope/plaintext.js';
import {
  fieldSpec,
  type BlindIndexFieldOptions,
  type FieldKind,
  type FieldSpec,
  type StorageKind,
} from './field.js';

/**
 * An encrypted field's settings, checked.
 * @example
 * ```ts
 * const enc: FieldEncryptionSchema | undefined = schemaOf(Customer).fields[2]?.encryption;
 * const storedAsText = enc?.storage === 'text'; // `fs1:` text instead of bytes
 * ```
 */
export interface FieldEncryptionSchema {
  readonly policy: FieldPolicy;
  /** Padding bucket in bytes (0: none), as the client compares it. */
  readonly bucket: number;
  readonly storage: StorageKind;
  readonly context: Readonly<Record<string, string>>;
  /** The blind index options (`.blindIndex()`), or `undefined` when the field has none. */
  readonly blindIndex: BlindIndexFieldOptions | undefined;
}

/**
 * One field of a checked model.
 * @example
 * ```ts
 * const email: FieldSchema | undefined = schemaOf(Customer).encrypted.find((f) => f.name === 'email');
 * console.log(email?.qualified, email?.kind); // 'customers.email' 'string'
 * ```
 */
export interface FieldSchema {
  readonly name: string;
  /** `table.field`, the client's policy key and `details.field` of errors. */
  readonly qualified: string;
  readonly kind: FieldKind;
  readonly nullable: boolean;
  readonly optional: boolean;
  /** A plain field declared `.indexed()`: the backend should create a database index on it. */
  readonly indexed: boolean;
  readonly encryption: FieldEncryptionSchema | undefined;
}

/**
 * The read-only schema of a model, computed and checked once by `defineModel` and shared by the
 * record codec, the repositories and every integration (`schemaOf(model)`): the table, the
 * tenant and key fields, every field in declaration order, the encrypted and blind-indexed
 * ones, and the client policies the model needs. Frozen; `names` refuses changes.
 * @example
 * ```ts
 * const schema: ModelSchema = schemaOf(Customer);
 * const columns = schema.fields.map((f) => f.name); // ['id', 'tenantId', 'email', ...]
 * const tenantColumn = schema.tenant;               // 'tenantId'
 * ```
 */
export interface ModelSchema {
  readonly table: string;
  readonly tenant: string;
  readonly key: readonly string[];
  readonly fields: readonly FieldSchema[];
  readonly encrypted: readonly FieldSchema[];
  /** The encrypted fields with a blind index, in declaration order. */
  readonly blindIndexed: readonly FieldSchema[];
  readonly names: ReadonlySet<string>;
  readonly policies: Readonly<Record<string, FieldPolicy>>;
}

/** Raw definition as `defineModel` receives it (unchecked: JavaScript callers exist). */
interface RawDefinition {
  readonly table: unknown;
  readonly tenant: unknown;
  readonly key: unknown;
  readonly fields: unknown;
}

const RESERVED_CONTEXT = new Set(['tenant', 'table', 'field', 'record']);
const KEY_KINDS: ReadonlySet<FieldKind> = new Set(['string', 'number', 'bigint']);
const MODES: ReadonlySet<unknown> = new Set(['ReadWrite', 'WriteOnly', 'ReadOnly']);
/** The encryption context holds at most 64 strings in a list. */
const MAX_KEY_FIELDS = 64;

function fail(message: string): never {
  throw new TypeError(message);
}

function checkName(what: string, name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) fail(`${what}: expected a non-empty string`);
  // The client keys policies `table.field` with exactly one dot.
  if (name.includes('.')) fail(`${what} "${name}": names may not contain "."`);
  return name;
}

/**
 * Check a model definition and compute its plan.
 * @throws TypeError naming the field for every definition mistake.
 * @internal
 */
export function planModel(definition: RawDefinition): ModelSchema {
  if (typeof definition !== 'object' || definition === null) {
    fail('defineModel: expected { table, tenant, key, fields }');
  }
  const table = checkName('table', definition.table);
  const rawFields = definition.fields;
  if (typeof rawFields !== 'object' || rawFields === null || Array.isArray(rawFields)) {
    fail(`model ${table}: fields: expected an object of field builders`);
  }
  const fields: FieldSchema[] = [];
  for (const [name, builder] of Object.entries(rawFields)) {
    checkName(`model ${table}: field`, name);
    const spec = fieldSpec(builder);
    if (spec === undefined) {
      fail(`field ${table}.${name}: expected a field builder (field.string(), field.date(), ...)`);
    }
    fields.push(planField(table, name, spec));
  }
  const byName = new Map(fields.map((f) => [f.name, f]));

  const tenant = definition.tenant;
  if (typeof tenant !== 'string') fail(`model ${table}: tenant: expected a field name`);
  const tenantField = byName.get(tenant);
  if (tenantField === undefined) fail(`model ${table}: tenant field "${tenant}" is not declared`);
  if (tenantField.encryption !== undefined) {
    fail(`field ${table}.${tenant}: an encrypted field cannot be the tenant field`);
  }
  if (tenantField.kind !== 'string' || tenantField.nullable || tenantField.optional) {
    fail(`field ${table}.${tenant}: the tenant field must be a required field.string()`);
  }

  const key = definition.key;
  if (!Array.isArray(key) || key.length === 0) {
    fail(`model ${table}: key: expected a non-empty list of field names`);
  }
  if (key.length > MAX_KEY_FIELDS) fail(`model ${table}: key: at most 64 fields`);
  const keyNames: string[] = [];
  for (const name of key as unknown[]) {
    if (typeof name !== 'string') fail(`model ${table}: key: expected field names`);
    const f = byName.get(name);
    if (f === undefined) fail(`model ${table}: key field "${name}" is not declared`);
    if (f.encryption !== undefined) {
      fail(`field ${table}.${name}: an encrypted field cannot be a key field`);
    }
    if (!KEY_KINDS.has(f.kind) || f.nullable || f.optional) {
      fail(`field ${table}.${name}: key fields must be required string, number or bigint fields`);
    }
    if (keyNames.includes(name)) fail(`model ${table}: key field "${name}" is listed twice`);
    keyNames.push(name);
  }

  const encrypted = fields.filter((f) => f.encryption !== undefined);
  const policies: Record<string, FieldPolicy> = {};
  for (const f of encrypted) policies[f.qualified] = f.encryption!.policy;
  return Object.freeze({
    table,
    tenant,
    key: Object.freeze(keyNames),
    fields: Object.freeze(fields),
    encrypted: Object.freeze(encrypted),
    blindIndexed: Object.freeze(encrypted.filter((f) => f.encryption!.blindIndex !== undefined)),
    names: frozenSet(byName.keys()),
    policies: Object.freeze(policies),
  });
}

/** A set whose contents cannot change: the schema is shared with every integration. */
class FrozenSet<T> extends Set<T> {
  override add(): this {
    throw new TypeError('a model schema is read-only');
  }
  override delete(): boolean {
    throw new TypeError('a model schema is read-only');
  }
  override clear(): void {
    throw new TypeError('a model schema is read-only');
  }
}

function frozenSet<T>(values: Iterable<T>): ReadonlySet<T> {
  const set = new FrozenSet<T>();
  for (const v of values) Set.prototype.add.call(set, v);
  return Object.freeze(set);
}

function planField(table: string, name: string, spec: FieldSpec): FieldSchema {
  const qualified = `${table}.${name}`;
  const base = {
    name,
    qualified,
    kind: spec.kind,
    nullable: spec.nullable,
    optional: spec.optional,
    indexed: spec.indexed,
  };
  const options = spec.encryption;
  if (options === undefined) return Object.freeze({ ...base, encryption: undefined });
  const where = `field ${qualified}`;
  if (spec.indexed || (options as { indexed?: unknown }).indexed === true) {
    fail(`${where}: an encrypted field cannot be indexed (its stored form is randomised)`);
  }
  const {
    mode,
    allowPlaintextRead,
    pad,
    storage = 'binary',
    context = {},
    masterKeyId,
    keyContext,
  } = options;
  if (mode !== undefined && !MODES.has(mode)) {
    fail(`${where}: mode: expected 'ReadWrite', 'WriteOnly' or 'ReadOnly'`);
  }
  if (allowPlaintextRead !== undefined && typeof allowPlaintextRead !== 'boolean') {
    fail(`${where}: allowPlaintextRead: expected a boolean`);
  }
  if (allowPlaintextRead === true && spec.kind !== 'string' && spec.kind !== 'bytes') {
    fail(`${where}: allowPlaintextRead is only for string and bytes fields`);
  }
  if (spec.blindIndex !== undefined && mode === 'WriteOnly') {
    // A lookup must decrypt every candidate to re-check it against the value asked for.
    fail(`${where}: a WriteOnly field cannot have a blind index (lookups decrypt to re-check)`);
  }
  if (masterKeyId !== undefined) checkFieldMasterKeyId(masterKeyId, `${where}: masterKeyId`);
  let bucket: number;
  try {
    bucket = bucketSize(pad);
  } catch {
    fail(`${where}: pad: expected false, 'bucket-N' or an integer 2..65536`);
  }
  if (storage !== 'binary' && storage !== 'text') {
    fail(`${where}: storage: expected 'binary' or 'text'`);
  }
  if (typeof context !== 'object' || context === null || Array.isArray(context)) {
    fail(`${where}: context: expected an object of strings`);
  }
  for (const [entry, value] of Object.entries(context)) {
    if (RESERVED_CONTEXT.has(entry)) {
      fail(
        `${where}: context: "${entry}" is reserved (tenant, table, field, record)${entry === 'tenant' ? '; keyContext: { tenant } restricts a field to one tenant and sends it to the KMS' : ''}`,
      );
    }
    if (typeof value !== 'string') fail(`${where}: context: "${entry}" must be a string`);
  }
  try {
    // The same checks the client makes on every call, made once here.
    encodeContext({ ...context, tenant: 't', table, field: name, record: 'r' });
  } catch (err) {
    fail(`${where}: context: ${(err as Error).message}`);
  }
  let checkedKeyContext: Readonly<Record<string, string>> | undefined;
  if (keyContext !== undefined) {
    const checked = checkKeyContext(keyContext, `${where}: keyContext`);
    checkedKeyContext = checked;
    const inAad = new Set(Object.keys(context).map((n) => n.toLowerCase()));
    for (const entry of Object.keys(checked)) {
      // One name, one meaning: a context entry and a key-context entry would be two.
      if (inAad.has(entry.toLowerCase())) {
        fail(`${where}: "${entry}" is in both context and keyContext; name it once`);
      }
    }
  }
  const policy: FieldPolicy = Object.freeze({
    ...(mode === undefined ? {} : { mode }),
    ...(allowPlaintextRead === undefined ? {} : { allowPlaintextRead }),
    ...(pad === undefined ? {} : { pad }),
    ...(masterKeyId === undefined ? {} : { masterKeyId }),
    ...(checkedKeyContext === undefined ? {} : { keyContext: checkedKeyContext }),
  });
  return Object.freeze({
    ...base,
    encryption: Object.freeze({
      policy,
      bucket,
      storage,
      context: Object.freeze({ ...context }),
      blindIndex: spec.blindIndex,
    }),
  });
}
