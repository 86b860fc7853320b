import type { Fieldseal } from '../index.js';
import { BatchError, isFieldsealError, type BatchFailure } from '../index.js';
import type { ModelSchema } from '../integration/index.js';
import type { AnyModel, InferRecord, InferStoredInput } from '../index.js';
import { decryptRecords, encryptRecords } from '../index.js';
import { reindexed } from './batch-requests.js';
import { itemToRow, rowToItem, type DynamoItem } from './item-codec.js';
import { assertItemSize } from './item-size.js';

/*
 * The one way records become DynamoDB items and back, for every operation of the repository:
 * encrypt as one client batch, check each item against the 400 KB limit, and decrypt a page of
 * items as one batch. Extensions (blind-index attributes, legacy values) hook in here, so no
 * operation can forget them.
 */

/** Turns records into items and items into records for one repository. @internal */
export interface ItemRecords<M extends AnyModel> {
  /**
   * Encrypt the records (one client batch) into size-checked items.
   * @throws BatchError (`index` = record index), ValueTooLargeError naming the attribute.
   */
  encode(records: readonly InferRecord<M>[]): Promise<DynamoItem[]>;
  /**
   * Decrypt items (one client batch). `positions[i]` is what a BatchError reports for item
   * `i` (default: `i`).
   * @throws BatchError, TypeError for a plain attribute of the wrong DynamoDB type.
   */
  decode(items: readonly DynamoItem[], positions?: readonly number[]): Promise<InferRecord<M>[]>;
  /** {@link encode} of one record, throwing its first failing field's error as it is. */
  encodeOne(record: InferRecord<M>): Promise<DynamoItem>;
  /** {@link decode} of one item, throwing its first failing field's error as it is. */
  decodeOne(item: DynamoItem): Promise<InferRecord<M>>;
}

/** The first failure of a one-item BatchError, or the error itself. */
function single(err: unknown): unknown {
  if (!isFieldsealError(err) || err.code !== 'ERR_BATCH_FAILED') return err;
  return err.failures[0]?.error ?? err;
}

/** Hooks an extension adds around the codec. @internal */
export interface ItemHooks {
  /** Extra attributes for each encoded item (e.g. blind indexes), given the records. */
  addAttributes?(
    records: readonly Readonly<Record<string, unknown>>[],
    items: DynamoItem[],
  ): Promise<void>;
  /**
   * Replace stored values the codec cannot read as they are (e.g. a legacy format) in the rows
   * about to be decrypted, in place.
   * @throws BatchError whose indexes are row indexes.
   */
  prepareRows?(rows: Record<string, unknown>[]): Promise<void>;
}

/** The codec of one repository. @internal */
export function itemRecords<M extends AnyModel>(
  fs: Fieldseal,
  model: M,
  plan: ModelSchema,
  hooks: ItemHooks = {},
): ItemRecords<M> {
  const codec: ItemRecords<M> = {
    async encode(records) {
      if (records.length === 0) return [];
      const rows = await encryptRecords(fs, model, records);
      const items = rows.map((row) => rowToItem(plan, row));
      if (hooks.addAttributes !== undefined) await hooks.addAttributes(records, items);
      for (const item of items) assertItemSize(plan.table, item);
      return items;
    },
    async decode(items, positions) {
      if (items.length === 0) return [];
      // An encrypted attribute of the wrong DynamoDB type fails its item, as a decryption
      // failure would: the others are still decrypted, so the BatchError names every failing
      // item (all or nothing either way).
      const failures: BatchFailure[] = [];
      const rows: Record<string, unknown>[] = [];
      const at: number[] = [];
      items.forEach((item, index) => {
        try {
          rows.push(itemToRow(plan, item));
          at.push(index);
        } catch (err) {
          if (!isFieldsealError(err)) throw err; // a plain attribute's TypeError
          failures.push({ index, error: err });
        }
      });
      let records: InferRecord<M>[] = [];
      try {
        if (hooks.prepareRows !== undefined) await hooks.prepareRows(rows);
        records = await decryptRecords(fs, model, rows as InferStoredInput<M>[]);
      } catch (err) {
        const batch = reindexed(err, at);
        if (!isFieldsealError(batch) || batch.code !== 'ERR_BATCH_FAILED') throw batch;
        failures.push(...batch.failures);
      }
      if (failures.length > 0) {
        const sorted = failures.sort((a, b) => a.index - b.index);
        throw new BatchError(
          positions === undefined
            ? sorted
            : sorted.map(({ index, error }) => ({ index: positions[index]!, error })),
        );
      }
      return records;
    },
    async encodeOne(record) {
      const [item] = await codec.encode([record]).catch((err: unknown) => {
        throw single(err);
      });
      return item!;
    },
    async decodeOne(item) {
      const [record] = await codec.decode([item]).catch((err: unknown) => {
        throw single(err);
      });
      return record!;
    },
  };
  return codec;
}
