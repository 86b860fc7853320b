import type { Fieldseal } from '../client/fieldseal.js';
import { isFieldsealError, type BatchError } from '../errors.js';
import type { ModelPlan } from '../model/model-plan.js';
import type { AnyModel, InferRecord, InferStoredInput } from '../model/model-types.js';
import { decryptRecords, encryptRecords } from '../model/record-codec.js';
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
  return (err as BatchError).failures[0]?.error ?? err;
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
  plan: ModelPlan,
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
      const rows = items.map((item) => itemToRow(plan, item));
      try {
        if (hooks.prepareRows !== undefined) await hooks.prepareRows(rows);
        return await decryptRecords(fs, model, rows as InferStoredInput<M>[]);
      } catch (err) {
        throw positions === undefined ? err : reindexed(err, positions);
      }
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
