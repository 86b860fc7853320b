import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { indexValues } from '../blind-index/index-values.js';
import type { DecryptItem } from '../client/items.js';
import { isFieldsealError, type FieldsealError } from '../errors.js';
import { withField } from '../model/field-error.js';
import type { PlannedField } from '../model/model-plan.js';
import type { AnyModel } from '../model/model-types.js';
import { contextOf, kindError, scopeOf } from '../model/record-rules.js';
import type { DynamoItem } from './item-codec.js';
import type { WriteContext } from './item-writes.js';

/*
 * The backfill's blind-index pass (`indexes: true`): for every blind-indexed value of a page,
 * decrypt it, compute every index version the repository writes, and set the attributes that
 * are missing or wrong (an index version added to `write`, a writer on an older release, a
 * bug). The encrypted value itself is the compare-and-set guard, so an application write made
 * meanwhile keeps its own, newer, index.
 */

/** The part of a backfill change this pass fills in. @internal */
export interface IndexChange {
  readonly set: Record<string, AttributeValue>;
  readonly expect: Record<string, AttributeValue>;
  indexes: number;
}

interface Slot {
  readonly row: number;
  readonly field: PlannedField;
}

/**
 * Compute the page's index attributes and record the differences.
 * @param skip - values this page already rewrote with their indexes (legacy values).
 * @throws TypeError when the repository has no blind index.
 * @internal
 */
export async function repairIndexes<M extends AnyModel>(
  t: WriteContext<M>,
  items: readonly DynamoItem[],
  rows: readonly Readonly<Record<string, unknown>>[],
  skip: (row: number, field: string) => boolean,
  changeOf: (row: number) => IndexChange,
  fail: (row: number, field: string, error: FieldsealError) => void,
): Promise<void> {
  const state = t.blindIndex;
  if (state === undefined) {
    throw new TypeError(`indexes: model ${t.plan.table} has no field with .blindIndex()`);
  }
  const slots: Slot[] = [];
  const toOpen: DecryptItem[] = [];
  rows.forEach((row, i) => {
    for (const { field } of state.config.fields.values()) {
      const stored = row[field.name];
      if (stored === null || stored === undefined || skip(i, field.name)) continue;
      slots.push({ row: i, field });
      toOpen.push({
        stored: stored as string | Uint8Array,
        context: contextOf(t.plan, field, scopeOf(t.plan, row)),
      });
    }
  });
  if (slots.length === 0) return;
  const opened = await t.fs.decryptManySettled<unknown>(toOpen);
  // One indexValues call per tenant: a tenant whose secret cannot open fails alone.
  const byTenant = new Map<string, { slot: Slot; value: string }[]>();
  opened.forEach((result, k) => {
    const slot = slots[k]!;
    if (!result.ok) return fail(slot.row, slot.field.qualified, result.error);
    if (typeof result.value !== 'string') {
      return fail(slot.row, slot.field.qualified, kindError(slot.field, 'decrypt'));
    }
    const tenant = rows[slot.row]![t.plan.tenant] as string;
    const list = byTenant.get(tenant) ?? [];
    list.push({ slot, value: result.value });
    byTenant.set(tenant, list);
  });
  for (const [tenant, list] of byTenant) {
    const columns = state.written;
    let computed: (string | null)[][];
    try {
      computed = await indexValues(
        t.plan,
        state.config,
        state.secrets,
        columns,
        list.map(({ slot, value }) => ({ [t.plan.tenant]: tenant, [slot.field.name]: value })),
      );
    } catch (err) {
      if (!isFieldsealError(err)) throw err;
      for (const { slot } of list)
        fail(slot.row, slot.field.qualified, withField(err, slot.field.qualified));
      continue;
    }
    list.forEach(({ slot }, k) => {
      const item = items[slot.row]!;
      columns.forEach((c, j) => {
        const value = computed[k]![j];
        if (c.field.field.name !== slot.field.name || value === null || value === undefined) return;
        if (item[c.name]?.S === value) return;
        const change = changeOf(slot.row);
        change.set[c.name] = { S: value };
        change.expect[slot.field.name] = item[slot.field.name]!;
        change.indexes++;
      });
    });
  }
}
