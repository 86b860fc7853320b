import {
  indexColumn,
  indexValues,
  MAX_KEY_VERSION,
  type WrittenIndexColumn,
} from '../../integration/index.js';
import type { SealedTable } from './sealed-tables.js';

/*
 * The blind-index attributes a sealed document client writes with each item: for a Put, every
 * index attribute the table writes, computed from the item's plaintext (and any the caller put
 * there replaced); for an Update, those of the blind-indexed attributes it sets, added to its
 * update expression (removed with the value). One index computation per table per command:
 * one secrets load per tenant. All internal.
 */

type Obj = Record<string, unknown>;

/** An update's index work: the tenant, and each indexed attribute's new value (null: none). */
interface UpdateIndexes {
  readonly table: SealedTable;
  /** The item's tenant (undefined only when every value is null: nothing to compute). */
  readonly tenant: string | undefined;
  readonly values: Record<string, unknown>;
  /** Add `SET name = value` / `REMOVE name` clauses to the update. */
  readonly apply: (set: Readonly<Record<string, string>>, remove: readonly string[]) => void;
}

/** The index attributes of one command's items and updates. @internal */
export class IndexAttributes {
  readonly #items: { table: SealedTable; item: Obj }[] = [];
  readonly #updates: UpdateIndexes[] = [];

  /** A whole item of `table` (its plaintext still in place until {@link compute}). */
  item(table: SealedTable, item: Obj): void {
    if (table.blindIndex !== undefined) this.#items.push({ table, item });
  }

  /** An update of `table` that sets (or removes, `null`) the indexed attributes in `values`. */
  update(update: UpdateIndexes): void {
    const state = update.table.blindIndex;
    const fields = Object.keys(update.values);
    if (state === undefined || fields.length === 0) return;
    if (fields.every((f) => update.values[f] === null)) {
      // Removing values removes their indexes: no secret is needed.
      update.apply(
        {},
        fields.flatMap((f) => staleVersions(update.table, f, [])),
      );
      return;
    }
    if (update.tenant === undefined) throw new TypeError('an indexed update without its tenant');
    this.#updates.push(update);
  }

  /**
   * Compute every index and write it into its item or update (before the values are sealed).
   * @throws the key error of a tenant whose index secret cannot be made or opened: nothing is
   *   written without its indexes.
   */
  async compute(): Promise<void> {
    const byTable = new Map<
      SealedTable,
      { records: Obj[]; done: ((row: (string | null)[]) => void)[] }
    >();
    const add = (table: SealedTable, record: Obj, done: (row: (string | null)[]) => void) => {
      let entry = byTable.get(table);
      if (entry === undefined) byTable.set(table, (entry = { records: [], done: [] }));
      entry.records.push(record);
      entry.done.push(done);
    };
    for (const { table, item } of this.#items) {
      const written = table.blindIndex!.written;
      // Every index attribute in the item goes, also of versions this table does not write
      // (a read-modify-write of an item another writer indexed): none is kept unchecked.
      for (const name of Object.keys(item)) if (table.isIndexAttribute(name)) delete item[name];
      add(table, item, (row) => {
        written.forEach((c, i) => {
          if (row[i] === null) delete item[c.name];
          else item[c.name] = row[i];
        });
      });
    }
    for (const u of this.#updates) {
      const { schema } = u.table;
      const columns = u.table.blindIndex!.written;
      add(u.table, { ...u.values, [schema.tenant]: u.tenant! }, (row) => {
        const set: Record<string, string> = {};
        const remove: string[] = [];
        columns.forEach((c: WrittenIndexColumn, i) => {
          if (!Object.hasOwn(u.values, c.field.field.name)) return;
          if (row[i] === null) remove.push(c.name);
          else set[c.name] = row[i]!;
        });
        for (const f of Object.keys(u.values)) remove.push(...staleVersions(u.table, f, columns));
        u.apply(set, remove);
      });
    }
    for (const [table, { records, done }] of byTable) {
      const { config, secrets, written } = table.blindIndex!;
      const rows = await indexValues(table.schema, config, secrets, written, records);
      rows.forEach((row, i) => done[i]!(row));
    }
  }
}

/**
 * The index attributes of `field` an update must remove because it does not write them: the
 * versions between the oldest and the newest written that are not written, and the ones just
 * outside them (the previous version after a rotation, the next one after a rollback), and
 * the written ones too when `written` is empty (the value is removed). Versions further away
 * are left: the documented rotation repairs them (`backfill({ indexes: true })` before reads
 * switch), and every removal lengthens the update expression, which DynamoDB caps at 4 KB.
 */
function staleVersions(
  table: SealedTable,
  field: string,
  written: readonly WrittenIndexColumn[],
): string[] {
  const indexed = table.blindIndex!.config.fields.get(field)!;
  const oldest = Math.min(...indexed.write);
  const newest = Math.max(...indexed.write);
  const keep = new Set(written.filter((c) => c.field.field.name === field).map((c) => c.version));
  const out: string[] = [];
  const last = Math.min(newest + 1, MAX_KEY_VERSION);
  for (let v = Math.max(1, oldest - 1); v <= last; v++) {
    if (!keep.has(v)) out.push(indexColumn(field, v));
  }
  return out;
}
