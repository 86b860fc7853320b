import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { indexValues } from '../integration/index.js';
import type { DecryptItem } from '../index.js';
import { isFieldsealError, type FieldsealError } from '../index.js';
import { withField } from '../integration/index.js';
import type { FieldSchema } from '../integration/index.js';
import type { AnyModel } from '../index.js';
import { contextOf, kindError, scopeOf } from '../integration/index.js';
import type { DynamoItem } from './item-codec.js';
import type { WriteContext } from './table-context.js';

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
  readonly field: FieldSchema;
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
  const values: IndexedValue[] = [];
  opened.forEach((result, k) => {
    const { row, field } = slots[k]!;
    if (!result.ok) return fail(row, field.qualified, result.error);
    if (typeof result.value !== 'string')
      return fail(row, field.qualified, kindError(field, 'decrypt'));
    values.push({ row, field, value: result.value });
  });
  const computed = await indexAttributes(t, rows, values, fail);
  computed.forEach((attributes, k) => {
    if (attributes === undefined) return;
    const { row, field } = values[k]!;
    const item = items[row]!;
    for (const [name, value] of Object.entries(attributes)) {
      if (item[name]?.S === value.S) continue;
      const change = changeOf(row);
      change.set[name] = value;
      change.expect[field.name] = item[field.name]!;
      change.indexes++;
    }
  });
}

/** A plaintext value of a blind-indexed field, in row `row` of a page. @internal */
export interface IndexedValue {
  readonly row: number;
  readonly field: FieldSchema;
  readonly value: string;
}

/**
 * The attributes of every index version the repository writes for each value, computed with
 * one secrets load per tenant of the page (a tenant whose secret cannot open fails alone:
 * `undefined` for its values, reported through `fail`).
 * @internal
 */
export async function indexAttributes<M extends AnyModel>(
  t: WriteContext<M>,
  rows: readonly Readonly<Record<string, unknown>>[],
  values: readonly IndexedValue[],
  fail: (row: number, field: string, error: FieldsealError) => void,
): Promise<(Record<string, AttributeValue> | undefined)[]> {
  const state = t.blindIndex!;
  const out: (Record<string, AttributeValue> | undefined)[] = values.map(() => undefined);
  const byTenant = new Map<string, number[]>();
  values.forEach(({ row }, k) => {
    const tenant = rows[row]![t.plan.tenant] as string;
    byTenant.set(tenant, [...(byTenant.get(tenant) ?? []), k]);
  });
  for (const [tenant, members] of byTenant) {
    let computed: (string | null)[][];
    try {
      computed = await indexValues(
        t.plan,
        state.config,
        state.secrets,
        state.written,
        members.map((k) => ({
          [t.plan.tenant]: tenant,
          [values[k]!.field.name]: values[k]!.value,
        })),
      );
    } catch (err) {
      if (!isFieldsealError(err)) throw err;
      for (const k of members) {
        const { row, field } = values[k]!;
        fail(row, field.qualified, withField(err, field.qualified));
      }
      continue;
    }
    members.forEach((k, m) => {
      const attributes: Record<string, AttributeValue> = {};
      state.written.forEach((c, j) => {
        const value = computed[m]![j];
        if (c.field.field.name === values[k]!.field.name && value !== null && value !== undefined) {
          attributes[c.name] = { S: value };
        }
      });
      out[k] = attributes;
    });
  }
  return out;
}
