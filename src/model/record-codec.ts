import type { Fieldseal } from '../client/fieldseal.js';
import type { DecryptItem, EncryptItem } from '../client/items.js';
import { BatchError, isFieldsealError, type FieldsealError } from '../errors.js';
import { toText } from '../envelope/encoding.js';
import type { FieldValue } from '../envelope/plaintext.js';
import { planOf } from './define-model.js';
import { withField } from './field-error.js';
import type { ModelSchema, FieldSchema } from './model-schema.js';
import type { AnyModel, InferRecord, InferStored, InferStoredInput } from './model-types.js';
import {
  absentError,
  asRecord,
  assertRegistered,
  contextOf,
  hasKind,
  kindError,
  scopeOf,
} from './record-rules.js';

/**
 * One failed field of a record in {@link decryptRecordsSettled}: the model field name (e.g.
 * `ssn`) and its error, whose `details.field` is `table.field`. Never the value.
 * @example
 * ```ts
 * for (const { field, error } of result.errors) log.warn({ field, code: error.code });
 * ```
 */
export interface RecordFieldError {
  readonly field: string;
  readonly error: FieldsealError;
}

/**
 * Per-record outcome of {@link decryptRecordsSettled}: the whole record, or the errors of
 * every field that failed (never a partly decrypted record).
 * @example
 * ```ts
 * const ok = results.flatMap((r) => (r.ok ? [r.record] : []));
 * ```
 */
export type SettledRecord<R> =
  | { readonly ok: true; readonly record: R }
  | { readonly ok: false; readonly errors: readonly RecordFieldError[] };

interface Failure {
  readonly index: number;
  readonly field: FieldSchema;
  readonly error: FieldsealError;
}

interface Slot {
  readonly index: number;
  readonly field: FieldSchema;
}

/**
 * Encrypt the encrypted fields of one record; plain fields are copied unchanged, and `null` /
 * `undefined` values stay as they are (so whether a value is present stays visible).
 * @throws KeyNotConfiguredError when the client was not configured with `model.policies`;
 *   the first failing field's FieldsealError, with `details.field` = `table.field`; TypeError
 *   for a record that does not have the model's shape (tenant, key, undeclared fields).
 * @example
 * ```ts
 * const row = await encryptRecord(fs, Customer, { id: 'cus_1', tenantId: 'acme', email: 'a@example.com', ... });
 * row.email; // Buffer (storage 'binary')
 * ```
 */
export async function encryptRecord<M extends AnyModel>(
  fs: Fieldseal,
  model: M,
  record: NoInfer<InferRecord<M>>,
): Promise<InferStored<M>> {
  const { rows, failures } = await encryptAll(fs, planOf(model), [record]);
  if (failures[0] !== undefined) throw failures[0].error;
  return rows[0] as InferStored<M>;
}

/**
 * Encrypt many records (any tenants) in one client batch: at most one key fetch per tenant.
 * All or nothing.
 * @throws BatchError listing `{ index: record index, error }` for every failed field (a record
 *   may appear once per field; `error.details.field` names it), and no row; otherwise as
 *   {@link encryptRecord}.
 * @example
 * ```ts
 * const rows = await encryptRecords(fs, Customer, customers);
 * ```
 */
export async function encryptRecords<M extends AnyModel>(
  fs: Fieldseal,
  model: M,
  records: readonly NoInfer<InferRecord<M>>[],
): Promise<InferStored<M>[]> {
  if (!Array.isArray(records)) throw new TypeError('records: expected an array');
  const { rows, failures } = await encryptAll(fs, planOf(model), records);
  if (failures.length > 0) throw toBatchError(failures);
  return rows as InferStored<M>[];
}

/**
 * Decrypt one stored row into its plaintext record (undeclared columns are left out).
 * @throws KeyNotConfiguredError when the client was not configured with `model.policies`;
 *   the first failing field's FieldsealError (`ERR_MODE_FORBIDDEN` for a WriteOnly field,
 *   `ERR_AUTHENTICATION_FAILED` for a value moved from another record...), with
 *   `details.field` = `table.field`; TypeError for a row without a valid tenant or key.
 * @example
 * ```ts
 * const customer = await decryptRecord(fs, Customer, row); // InferRecord<typeof Customer>
 * ```
 */
export async function decryptRecord<M extends AnyModel>(
  fs: Fieldseal,
  model: M,
  row: NoInfer<InferStoredInput<M>>,
): Promise<InferRecord<M>> {
  const [outcome] = await decryptAll(fs, planOf(model), [row]);
  const first = outcome!.errors[0];
  if (first !== undefined) throw first.error;
  return outcome!.record as InferRecord<M>;
}

/**
 * Decrypt many rows (any tenants) in one client batch: at most one key fetch per distinct
 * key. All or nothing: never a half-decrypted record.
 * @throws BatchError listing `{ index: row index, error }` for every failed field, and no
 *   record; otherwise as {@link decryptRecord}.
 * @example
 * ```ts
 * const customers = await decryptRecords(fs, Customer, rows);
 * ```
 */
export async function decryptRecords<M extends AnyModel>(
  fs: Fieldseal,
  model: M,
  rows: readonly NoInfer<InferStoredInput<M>>[],
): Promise<InferRecord<M>[]> {
  if (!Array.isArray(rows)) throw new TypeError('rows: expected an array');
  const outcomes = await decryptAll(fs, planOf(model), rows);
  const failures = outcomes.flatMap((o, index) => o.errors.map((e) => ({ index, ...e })));
  if (failures.length > 0) throw toBatchError(failures);
  return outcomes.map((o) => o.record as InferRecord<M>);
}

/**
 * Like {@link decryptRecords}, but reports each row's own outcome: the whole record, or the
 * error of every field that failed.
 * @example
 * ```ts
 * for (const r of await decryptRecordsSettled(fs, Customer, rows)) {
 *   if (r.ok) show(r.record);
 *   else r.errors.forEach(({ field, error }) => log.warn({ field, code: error.code }));
 * }
 * ```
 */
export async function decryptRecordsSettled<M extends AnyModel>(
  fs: Fieldseal,
  model: M,
  rows: readonly NoInfer<InferStoredInput<M>>[],
): Promise<SettledRecord<InferRecord<M>>[]> {
  if (!Array.isArray(rows)) throw new TypeError('rows: expected an array');
  const outcomes = await decryptAll(fs, planOf(model), rows);
  return outcomes.map((o) =>
    o.errors.length === 0
      ? { ok: true, record: o.record as InferRecord<M> }
      : { ok: false, errors: o.errors.map((e) => ({ field: e.field.name, error: e.error })) },
  );
}

async function encryptAll(
  fs: Fieldseal,
  plan: ModelSchema,
  records: readonly unknown[],
): Promise<{ rows: Record<string, unknown>[]; failures: Failure[] }> {
  assertRegistered(fs, plan);
  const failures: Failure[] = [];
  const items: EncryptItem[] = [];
  const slots: Slot[] = [];
  const rows = records.map((input, index) => {
    const record = asRecord(plan, input, 'record');
    const scope = scopeOf(plan, record);
    const row: Record<string, unknown> = {};
    for (const f of plan.fields) {
      const present = Object.hasOwn(record, f.name);
      const value = record[f.name];
      if (f.encryption === undefined) {
        if (present) row[f.name] = value;
      } else if (value === null || value === undefined) {
        const error = absentError(f, value, 'encrypt');
        if (error !== undefined) failures.push({ index, field: f, error });
        else if (present) row[f.name] = value;
      } else if (!hasKind(f.kind, value)) {
        failures.push({ index, field: f, error: kindError(f, 'encrypt') });
      } else {
        items.push({ value: value as FieldValue, context: contextOf(plan, f, scope) });
        slots.push({ index, field: f });
      }
    }
    return row;
  });
  let sealed: Buffer[] = [];
  if (items.length > 0) {
    try {
      sealed = await fs.encryptManyToBytes(items);
    } catch (err) {
      for (const { index, error } of batchFailures(err)) {
        const slot = slots[index]!;
        failures.push({ ...slot, error: withField(error, slot.field.qualified) });
      }
    }
  }
  if (failures.length > 0) return { rows: [], failures: inOrder(plan, failures) };
  sealed.forEach((bytes, i) => {
    const { index, field } = slots[i]!;
    rows[index]![field.name] = field.encryption!.storage === 'text' ? toText(bytes) : bytes;
  });
  return { rows, failures };
}

interface Outcome {
  readonly record: Record<string, unknown>;
  readonly errors: { readonly field: FieldSchema; readonly error: FieldsealError }[];
}

async function decryptAll(
  fs: Fieldseal,
  plan: ModelSchema,
  rows: readonly unknown[],
): Promise<Outcome[]> {
  assertRegistered(fs, plan);
  const items: DecryptItem[] = [];
  const slots: Slot[] = [];
  const outcomes: Outcome[] = rows.map((input, index) => {
    const row = asRecord(plan, input, 'row');
    const scope = scopeOf(plan, row);
    const outcome: Outcome = { record: {}, errors: [] };
    for (const f of plan.fields) {
      const present = Object.hasOwn(row, f.name);
      const value = row[f.name];
      if (f.encryption === undefined) {
        if (present) outcome.record[f.name] = value;
      } else if (value === null || value === undefined) {
        const error = absentError(f, value, 'decrypt');
        if (error !== undefined) outcome.errors.push({ field: f, error });
        else if (present) outcome.record[f.name] = value;
      } else {
        // Anything but a string or bytes is refused by the client (ERR_MALFORMED_CIPHERTEXT).
        items.push({ stored: value as string | Uint8Array, context: contextOf(plan, f, scope) });
        slots.push({ index, field: f });
      }
    }
    return outcome;
  });
  const settled = items.length > 0 ? await fs.decryptManySettled(items) : [];
  settled.forEach((result, i) => {
    const { index, field } = slots[i]!;
    const outcome = outcomes[index]!;
    if (!result.ok) {
      outcome.errors.push({ field, error: withField(result.error, field.qualified) });
    } else if (!hasKind(field.kind, result.value)) {
      outcome.errors.push({ field, error: kindError(field, 'decrypt') });
    } else {
      outcome.record[field.name] = result.value;
    }
  });
  for (const o of outcomes) {
    if (o.errors.length > 0) {
      o.errors.sort((a, b) => plan.fields.indexOf(a.field) - plan.fields.indexOf(b.field));
    }
  }
  return outcomes;
}

/** The item failures of a client BatchError; anything else is rethrown. */
function batchFailures(err: unknown): BatchError['failures'] {
  if (isFieldsealError(err) && err.code === 'ERR_BATCH_FAILED' && 'failures' in err) {
    return err.failures;
  }
  throw err;
}

/** Failures by record, then in the model's field order. */
function inOrder(plan: ModelSchema, failures: Failure[]): Failure[] {
  return failures.sort(
    (a, b) => a.index - b.index || plan.fields.indexOf(a.field) - plan.fields.indexOf(b.field),
  );
}

function toBatchError(failures: readonly { index: number; error: FieldsealError }[]): BatchError {
  return new BatchError(failures.map(({ index, error }) => ({ index, error })));
}
