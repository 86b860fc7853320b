import type { Fieldseal } from '../client/fieldseal.js';
import type { DecryptItem } from '../client/items.js';
import type { FieldValue } from '../envelope/plaintext.js';
import type { EncryptionContext } from '../envelope/context.js';
import { toText } from '../envelope/encoding.js';
import { BatchError, isFieldsealError, type FieldsealError } from '../errors.js';
import { withField } from '../model/field-error.js';
import type { FieldSchema, ModelSchema } from '../model/model-schema.js';
import {
  absentError,
  contextOf,
  hasKind,
  kindError,
  type RecordScope,
} from '../model/record-rules.js';

/**
 * One stored value of an encrypted field, as an integration read it from a row (any part of
 * a row: a query may select some columns only): the row's index, the field, the value as the
 * driver returned it, and the record's tenant and key.
 * @example
 * ```ts
 * const value: StoredFieldValue = { row: 0, field: ssnField, stored: row.ssn, scope: { tenant: 'acme', record: 'u1' } };
 * ```
 */
export interface StoredFieldValue {
  readonly row: number;
  readonly field: FieldSchema;
  readonly stored: unknown;
  readonly scope: RecordScope;
}

/**
 * Decrypt stored values of encrypted fields in one client batch, each with its record's
 * context. SQL NULL (or an absent value) is kept as it is when the field allows it (`NULL` of
 * an optional field reads as absent, as the repositories read it). All or nothing: never a
 * half-decrypted result.
 * @returns the plaintext of each value, in order (`null` / `undefined` as stored).
 * @throws BatchError listing `{ index: row, error }` for every value that is missing where
 *   required, does not decrypt (its error naming `table.field`) or decrypts to another kind.
 * @example
 * ```ts
 * const plain = await openStoredValues(fs, schema, rows.map((row, i) => ({
 *   row: i, field: ssnField, stored: row.ssn, scope: scopeOf(schema, row),
 * })));
 * ```
 */
export async function openStoredValues(
  fs: Fieldseal,
  plan: ModelSchema,
  values: readonly StoredFieldValue[],
): Promise<unknown[]> {
  const out: unknown[] = values.map((v) => v.stored);
  const items: DecryptItem[] = [];
  const slots: number[] = [];
  const failures: { index: number; error: FieldsealError }[] = [];
  values.forEach(({ row, field, stored, scope }, i) => {
    if (stored === null || stored === undefined) {
      const absent = field.optional && !field.nullable ? undefined : null;
      const error = absentError(field, absent, 'decrypt');
      if (error !== undefined) failures.push({ index: row, error });
      return;
    }
    // Anything but a string or bytes is refused by the client (ERR_MALFORMED_CIPHERTEXT).
    items.push({ stored: stored as string | Uint8Array, context: contextOf(plan, field, scope) });
    slots.push(i);
  });
  const settled = items.length > 0 ? await fs.decryptManySettled(items) : [];
  settled.forEach((result, j) => {
    const i = slots[j]!;
    const { row, field } = values[i]!;
    if (!result.ok) failures.push({ index: row, error: withField(result.error, field.qualified) });
    else if (!hasKind(field.kind, result.value)) {
      failures.push({ index: row, error: kindError(field, 'decrypt') });
    } else out[i] = result.value;
  });
  if (failures.length > 0) throw new BatchError(failures);
  return out;
}

/**
 * One value of an encrypted field to seal: the statement row it belongs to (for
 * `BatchError.failures`), the field, the plaintext and its context (see `contextOf`).
 * @example
 * ```ts
 * const value: FieldValueToSeal = { row: 0, field: ssnField, value: '078-05-1120', context: contextOf(schema, ssnField, scope) };
 * ```
 */
export interface FieldValueToSeal {
  readonly row: number;
  readonly field: FieldSchema;
  readonly value: FieldValue;
  readonly context: EncryptionContext;
}

/**
 * Seal values of encrypted fields in one client batch: each as its field stores it (the `fs1:`
 * text form for text storage, bytes for binary). All or nothing.
 * @returns the stored form of each value, in order.
 * @throws BatchError listing `{ index: row, error }` for every value refused, its error naming
 *   `table.field` (never the value); the client's error when the batch cannot run at all.
 * @example
 * ```ts
 * const [stored] = await sealFieldValues(fs, [{ row: 0, field: ssnField, value: ssn, context }]);
 * ```
 */
export async function sealFieldValues(
  fs: Fieldseal,
  values: readonly FieldValueToSeal[],
): Promise<(string | Buffer)[]> {
  if (values.length === 0) return [];
  let sealed: Buffer[];
  try {
    sealed = await fs.encryptManyToBytes(values.map(({ value, context }) => ({ value, context })));
  } catch (err) {
    if (isFieldsealError(err) && err.code === 'ERR_BATCH_FAILED') {
      throw new BatchError(
        err.failures.map(({ index, error }) => ({
          index: values[index]!.row,
          error: withField(error, values[index]!.field.qualified),
        })),
      );
    }
    throw err;
  }
  return values.map((v, i) =>
    v.field.encryption!.storage === 'text' ? toText(sealed[i]!) : sealed[i]!,
  );
}
