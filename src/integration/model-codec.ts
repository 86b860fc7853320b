import type { Fieldseal } from '../client/fieldseal.js';
import {
  decryptRecords,
  decryptRecordsSettled,
  encryptRecords,
  type SettledRecord,
} from '../model/record-codec.js';
import { assertRegistered } from '../model/record-rules.js';
import { planOf } from '../model/define-model.js';
import type { AnyModel, InferRecord, InferStored, InferStoredInput } from '../model/model-types.js';
import type { ModelSchema } from '../model/model-schema.js';

/**
 * A client bound to one model: what an integration calls around each statement. Every call
 * is one batch, so the records of one tenant cost one key fetch per key version, whatever
 * their number; a failure names the record's index and field (`BatchError.failures`).
 * @example
 * ```ts
 * const codec = modelCodec(fs, Customer);
 * const rows = await codec.encrypt(records);        // stored form, one batch
 * const back = await codec.decrypt(rowsFromTheDb);  // plaintext records, one batch
 * ```
 */
export interface ModelCodec<M extends AnyModel> {
  /** The model's read-only schema. */
  readonly schema: ModelSchema;
  /**
   * Records to their stored form (encrypted fields replaced by envelopes).
   * @throws BatchError listing `{ index, error }` (the error's `details.field`) for every
   *   failed field; nothing is returned then.
   */
  encrypt(records: readonly InferRecord<M>[]): Promise<InferStored<M>[]>;
  /**
   * Stored rows back to records.
   * @throws BatchError listing `{ index, error }` for every field that failed to decrypt.
   */
  decrypt(rows: readonly InferStoredInput<M>[]): Promise<InferRecord<M>[]>;
  /** Like {@link ModelCodec.decrypt}, but each row reports its own outcome. */
  decryptSettled(rows: readonly InferStoredInput<M>[]): Promise<SettledRecord<InferRecord<M>>[]>;
}

/**
 * Bind a client to a model, checking once that the client enforces the model's policies: a
 * client that would treat a field differently from its declaration (a `WriteOnly` field it
 * would decrypt, another padding or master key) is refused here, before any value is touched.
 * Pass the model to `createFieldseal({ models: [Model] })`.
 * @throws KeyNotConfiguredError naming the first field whose policy the client does not
 *   enforce; TypeError when `model` was not made by `defineModel`.
 * @example
 * ```ts
 * import { createFieldseal } from 'fieldseal';
 * import { modelCodec } from 'fieldseal/integration';
 *
 * const fs = createFieldseal({ provider, models: [Customer] });
 * const codec = modelCodec(fs, Customer);
 * await db.insert(await codec.encrypt([{ id: 'c1', tenantId: 'acme', email: 'a@b.c' }]));
 * ```
 */
export function modelCodec<M extends AnyModel>(fs: Fieldseal, model: M): ModelCodec<M> {
  const schema = planOf(model);
  assertRegistered(fs, schema);
  return Object.freeze({
    schema,
    encrypt: (records: readonly InferRecord<M>[]) => encryptRecords(fs, model, records),
    decrypt: (rows: readonly InferStoredInput<M>[]) => decryptRecords(fs, model, rows),
    decryptSettled: (rows: readonly InferStoredInput<M>[]) =>
      decryptRecordsSettled(fs, model, rows),
  });
}
