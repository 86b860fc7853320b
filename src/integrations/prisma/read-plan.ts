import type { Fieldseal } from '../../index.js';
import {
  openStoredValues,
  scopeOf,
  type ModelSchema,
  type StoredFieldValue,
} from '../../integration/index.js';
import { refuseSealedFilters } from './filters.js';
import type { BoundModel, BoundModels } from './prisma-models.js';
import { isObject, items, type Obj } from './query-args.js';
import { refuse } from './refusal.js';

/*
 * What a Prisma query returns from sealed models, at any depth of `select` / `include`: each
 * row needs its tenant and key (its values' context), added to the selection where the query
 * leaves them out and removed from the rows afterwards; then every encrypted value of the
 * result is decrypted, all of one model in one batch. All internal.
 */

/** How to read the rows of one model in a result. @internal */
export interface ReadPlan {
  readonly model: BoundModel;
  /** Fields added to the selection: removed from the rows once read. */
  readonly strip: readonly string[];
  /** Relations selected or included, by field. */
  readonly relations: ReadonlyMap<string, ReadPlan>;
}

/**
 * Refuse ordering, a cursor or `distinct` on an encrypted field (ciphertext has no order and
 * no equality), at any depth of relation ordering.
 * @internal
 */
export function refuseOrdering(models: BoundModels, model: BoundModel, args: Obj): void {
  if (!model.reachesSealed) return;
  const encrypted = (key: string): boolean => model.sealed?.encrypted.has(key) === true;
  for (const order of items(args.orderBy)) {
    if (!isObject(order)) continue;
    for (const [key, value] of Object.entries(order)) {
      if (encrypted(key)) refuse(model.name, key, 'ciphertext has no order: orderBy a plain field');
      const f = model.fields.get(key);
      if (f?.kind === 'object' && isObject(value)) {
        refuseOrdering(models, models.get(f.type)!, { orderBy: value });
      }
      // groupBy's orderBy: { _min: { card: 'asc' } } orders by an aggregate of ciphertext.
      if (['_min', '_max', '_avg', '_sum'].includes(key) && isObject(value)) {
        for (const name of Object.keys(value)) {
          if (encrypted(name))
            refuse(model.name, name, 'ciphertext has no order: orderBy a plain field');
        }
      }
      if (key === '_relevance' && isObject(value)) {
        for (const name of items(value.fields)) {
          if (typeof name === 'string' && encrypted(name)) {
            refuse(model.name, name, 'ciphertext cannot be searched: _relevance of a plain field');
          }
        }
      }
    }
  }
  if (isObject(args.cursor)) {
    for (const [key, value] of Object.entries(args.cursor)) {
      const parts = isObject(value) && !model.fields.has(key) ? Object.keys(value) : [key];
      for (const part of parts) {
        if (encrypted(part))
          refuse(model.name, part, 'a cursor is a position in an order: use a plain unique field');
      }
    }
  }
  for (const name of items(args.distinct)) {
    if (typeof name === 'string' && encrypted(name)) {
      refuse(model.name, name, 'distinct compares values: ciphertext of equal values differs');
    }
  }
}

/**
 * Plan the reading of a query's rows of `model`: add the tenant, key and `need` fields to its
 * selection where missing (in place), and plan its selected and included relations, refusing
 * their filters and orderings on encrypted fields.
 * @internal
 */
export function planRead(
  models: BoundModels,
  model: BoundModel,
  args: Obj,
  need: readonly string[] = [],
): ReadPlan {
  const relations = new Map<string, ReadPlan>();
  const strip: string[] = [];
  const select = isObject(args.select) ? args.select : undefined;
  const include = isObject(args.include) ? args.include : undefined;
  for (const [key, value] of Object.entries(select ?? include ?? {})) {
    if (key === '_count') {
      if (isObject(value) && isObject(value.select)) {
        for (const [rel, count] of Object.entries(value.select)) {
          const f = model.fields.get(rel);
          if (f?.kind === 'object' && isObject(count)) {
            refuseSealedFilters(models, models.get(f.type)!, count.where, NESTED_FILTER);
          }
        }
      }
      continue;
    }
    const f = model.fields.get(key);
    if (f?.kind !== 'object' || value === false || value === undefined) continue;
    const related = models.get(f.type)!;
    if (!related.reachesSealed) continue;
    const nested = isObject(value) ? value : {};
    refuseSealedFilters(models, related, nested.where, NESTED_FILTER);
    refuseOrdering(models, related, nested);
    relations.set(key, planRead(models, related, nested));
  }
  const sealed = model.sealed;
  if (sealed !== undefined) {
    const omit = isObject(args.omit) ? args.omit : undefined;
    const present = (name: string): boolean =>
      select !== undefined ? select[name] === true : omit?.[name] !== true;
    const reads = [...sealed.encrypted.keys()].some(present) || need.length > 0;
    if (reads) {
      for (const name of new Set([sealed.schema.tenant, ...sealed.schema.key, ...need])) {
        if (present(name)) continue;
        if (select !== undefined) select[name] = true;
        else omit![name] = false;
        strip.push(name);
      }
    }
  }
  return { model, strip, relations };
}

const NESTED_FILTER =
  'a filter on an encrypted field of a selected relation cannot be re-checked: query that model with its own find';

interface ModelValues {
  readonly schema: ModelSchema;
  readonly values: StoredFieldValue[];
  readonly rows: Obj[];
}

/**
 * Decrypt every encrypted value of a result in place (one batch per model), then drop the
 * rows of the top level that fail `keep` (a lookup's re-check).
 * @returns the result's top-level rows that are kept.
 * @throws BatchError naming each value that does not decrypt (never a half-decrypted result);
 *   UnsupportedOptionError when a row lacks its tenant or key (a client-wide omit).
 * @internal
 */
export async function openRows(
  fs: Fieldseal,
  plan: ReadPlan,
  rows: readonly unknown[],
): Promise<void> {
  const byModel = new Map<BoundModel, ModelValues>();
  collect(plan, rows, byModel);
  for (const { schema, values, rows: owners } of byModel.values()) {
    const plain = await openStoredValues(fs, schema, values);
    values.forEach((v, i) => (owners[i]![v.field.name] = plain[i]));
  }
}

function collect(
  plan: ReadPlan,
  rows: readonly unknown[],
  byModel: Map<BoundModel, ModelValues>,
): void {
  const { model } = plan;
  const sealed = model.sealed;
  for (const row of rows) {
    if (!isObject(row)) continue;
    if (sealed !== undefined) {
      const present = [...sealed.encrypted.values()].filter(({ field }) =>
        Object.hasOwn(row, field.name),
      );
      if (present.length > 0) {
        for (const k of [sealed.schema.tenant, ...sealed.schema.key]) {
          if (!Object.hasOwn(row, k)) {
            refuse(
              model.name,
              present[0]!.field.name,
              `the row lacks ${k}, part of its values' encryption context (a client-wide omit?): do not omit it`,
            );
          }
        }
        let entry = byModel.get(model);
        if (entry === undefined) {
          entry = { schema: sealed.schema, values: [], rows: [] };
          byModel.set(model, entry);
        }
        const scope = scopeOf(sealed.schema, row);
        const index = entry.rows.length;
        for (const { field } of present) {
          entry.values.push({ row: index, field, stored: row[field.name], scope });
          entry.rows.push(row);
        }
      }
    }
    for (const [key, nested] of plan.relations) collect(nested, items(row[key]), byModel);
  }
}

/** Remove the fields the plan added, at every depth. @internal */
export function stripRows(plan: ReadPlan, rows: readonly unknown[]): void {
  for (const row of rows) {
    if (!isObject(row)) continue;
    for (const name of plan.strip) delete row[name];
    for (const [key, nested] of plan.relations) stripRows(nested, items(row[key]));
  }
}
