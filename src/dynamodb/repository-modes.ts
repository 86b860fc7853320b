import type { Fieldseal } from '../index.js';
import type { Mode } from '../index.js';
import { ModeForbiddenError } from '../index.js';
import type { ModelSchema, FieldSchema } from '../integration/index.js';
import { assertRegistered } from '../integration/index.js';

/*
 * What a repository may do under its client's mode and its fields' modes, decided before any
 * request (docs/modes.md, "DynamoDB repositories"). The client would refuse the forbidden
 * encryption or decryption anyway, but only once DynamoDB has answered: a write would be done
 * and then reported as failed, and a refused read would still have told the service whether
 * the item exists. So:
 * - reading records (get, query, scan, batches, transactions, lookups) needs every encrypted
 *   field of the model to be readable: the record holds them all;
 * - asking for an item back from a write (`returnOld`, `returnValues`) is a read;
 * - a ReadOnly client writes nothing, not even plain attributes or deletes;
 * - a ReadOnly field is never set, removed or replaced: `update` may not name it, and a put
 *   (which replaces every attribute of the item) is refused for its model.
 */

/** Why records of this model cannot be decrypted here: the field, or the client's mode. */
interface Unreadable {
  readonly field: FieldSchema | undefined;
}

function allows(mode: Mode | undefined, op: 'read' | 'write'): boolean {
  if (mode === undefined || mode === 'ReadWrite') return true;
  return op === 'read' ? mode === 'ReadOnly' : mode === 'WriteOnly';
}

/** The client's policies are the model's (ERR_KEY_NOT_CONFIGURED otherwise), then its modes. */
function modesOf(
  fs: Fieldseal,
  plan: ModelSchema,
): { client: Mode; field: (f: FieldSchema) => Mode | undefined } {
  assertRegistered(fs, plan);
  return { client: fs.mode, field: (f) => fs.fieldPolicy(plan.table, f.name).mode };
}

function unreadable(fs: Fieldseal, plan: ModelSchema): Unreadable | undefined {
  const modes = modesOf(fs, plan);
  if (!allows(modes.client, 'read')) return { field: undefined };
  const field = plan.encrypted.find((f) => !allows(modes.field(f), 'read'));
  return field === undefined ? undefined : { field };
}

function forbidden(op: string, what: string, field: FieldSchema | undefined): ModeForbiddenError {
  return new ModeForbiddenError(
    field === undefined
      ? `${op}: ${what} is forbidden in this client's mode; nothing was sent`
      : `${op}: ${what} is forbidden by the mode of field ${field.qualified}; nothing was sent`,
    field === undefined ? undefined : { details: { field: field.qualified } },
  );
}

/**
 * Whether this repository may decrypt its model's records (client and every encrypted field
 * readable). `update` returns nothing by default when it may not.
 * @throws KeyNotConfiguredError when the client does not carry the model's policies.
 * @internal
 */
export function canReadRecords(fs: Fieldseal, plan: ModelSchema): boolean {
  return unreadable(fs, plan) === undefined;
}

/**
 * Refuse an operation that returns decrypted records (a read, or a write's returned item)
 * when the client is WriteOnly or a field of the model is.
 * @throws ModeForbiddenError (`details.field` naming a WriteOnly field); KeyNotConfiguredError.
 * @internal
 */
export function assertCanReadRecords(fs: Fieldseal, plan: ModelSchema, op: string): void {
  const why = unreadable(fs, plan);
  if (why !== undefined) throw forbidden(op, 'decrypting its records', why.field);
}

/**
 * Refuse the backfill, which reads (opens legacy values, re-encrypts, recomputes indexes) and
 * writes, unless the client is ReadWrite. A field whose mode forbids one of these is not
 * refused here: its values are reported as failures, item by item, and left as they are.
 * @throws ModeForbiddenError; KeyNotConfiguredError.
 * @internal
 */
export function assertCanBackfill(fs: Fieldseal, plan: ModelSchema, op: string): void {
  const { client } = modesOf(fs, plan);
  if (client !== 'ReadWrite') throw forbidden(op, 'rewriting values', undefined);
}

/**
 * Refuse any write (put, update, delete, backfill) when the client is ReadOnly.
 * @throws ModeForbiddenError; KeyNotConfiguredError.
 * @internal
 */
export function assertCanWrite(fs: Fieldseal, plan: ModelSchema, op: string): void {
  if (!allows(modesOf(fs, plan).client, 'write')) throw forbidden(op, 'writing', undefined);
}

/**
 * Refuse a put (which replaces every attribute of the item) when the client is ReadOnly or a
 * field of the model is ReadOnly: the put would set, remove or replace that field's value.
 * @throws ModeForbiddenError (`details.field` naming the ReadOnly field); KeyNotConfiguredError.
 * @internal
 */
export function assertCanPut(fs: Fieldseal, plan: ModelSchema, op: string): void {
  assertCanWrite(fs, plan, op);
  const modes = modesOf(fs, plan);
  const field = plan.encrypted.find((f) => !allows(modes.field(f), 'write'));
  if (field !== undefined) throw forbidden(op, 'replacing the whole item', field);
}

/**
 * Refuse an update when the client is ReadOnly or it sets or removes a ReadOnly field.
 * @throws ModeForbiddenError (`details.field` naming the field); KeyNotConfiguredError.
 * @internal
 */
export function assertCanChange(
  fs: Fieldseal,
  plan: ModelSchema,
  op: string,
  names: readonly string[],
): void {
  assertCanWrite(fs, plan, op);
  const modes = modesOf(fs, plan);
  const field = plan.encrypted.find(
    (f) => names.includes(f.name) && !allows(modes.field(f), 'write'),
  );
  if (field !== undefined) throw forbidden(op, 'changing the field', field);
}
