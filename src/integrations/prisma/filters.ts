import type { BlindIndexLookup } from '../../integration/index.js';
import type { BoundModel, BoundModels } from './prisma-models.js';
import { isNull, isObject, items, type Obj } from './query-args.js';
import { refuse } from './refusal.js';

/*
 * Prisma `where` filters on sealed models: refusing what cannot be evaluated on ciphertext,
 * and turning `equals` / `in` / `OR` of them on blind-indexed fields into index lookups with
 * a re-check of the decrypted rows. All internal.
 */

/** A re-check of one decrypted row. @internal */
export type Check = (row: Readonly<Obj>) => boolean;

/** `F: null`, `{ equals: null }`, `{ not: null }`: exact on ciphertext (NULL is stored as is). */
function isNullTest(value: unknown): boolean {
  if (isNull(value)) return true;
  if (!isObject(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && (keys[0] === 'equals' || keys[0] === 'not') && isNull(value[keys[0]]);
}

const RELATION_FILTERS = ['some', 'every', 'none', 'is', 'isNot'];

/**
 * Refuse every reference to an encrypted field (but a null test) in a filter on `model`, at any
 * depth (AND / OR / NOT, compound unique keys, relation filters into other sealed models).
 * @internal
 */
export function refuseSealedFilters(
  models: BoundModels,
  model: BoundModel,
  where: unknown,
  why: string,
): void {
  if (!model.reachesSealed || !isObject(where)) return;
  for (const [key, value] of Object.entries(where)) {
    if (key === 'AND' || key === 'OR' || key === 'NOT') {
      for (const item of items(value)) refuseSealedFilters(models, model, item, why);
      continue;
    }
    if (model.sealed?.indexColumns.has(key) === true) refuseIndexColumn(model, key);
    const field = model.fields.get(key);
    if (field === undefined) {
      // A compound unique key (`tenantId_id: { tenantId, id }`): its parts are this model's
      // fields; anything else in it is walked as a filter of this model too.
      refuseSealedFilters(models, model, value, why);
    } else if (field.kind === 'object') {
      const related = models.get(field.type)!;
      if (isObject(value) && RELATION_FILTERS.some((k) => k in value)) {
        for (const k of RELATION_FILTERS) refuseSealedFilters(models, related, value[k], why);
      } else refuseSealedFilters(models, related, value, why);
    } else refuseScalar(model, key, value, why);
  }
}

/** A blind-index column in a caller's filter: fieldseal's, never the caller's. */
function refuseIndexColumn(model: BoundModel, key: string): never {
  return refuse(
    model.name,
    key,
    "a blind-index column is fieldseal's: filter on the blind-indexed field, which is re-checked",
  );
}

function refuseScalar(model: BoundModel, key: string, value: unknown, why: string): void {
  if (model.sealed?.encrypted.has(key) === true && !isNullTest(value)) refuse(model.name, key, why);
}

/** The values of a lookup on a blind-indexed field: `'v'`, `{ equals: 'v' }`, `{ in: [...] }`. */
function lookupValues(value: unknown): readonly string[] | undefined {
  if (typeof value === 'string') return [value];
  if (!isObject(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.length !== 1) return undefined;
  if (keys[0] === 'equals' && typeof value.equals === 'string') return [value.equals];
  if (keys[0] === 'in' && Array.isArray(value.in) && value.in.every((x) => typeof x === 'string'))
    return value.in;
  return undefined;
}

/** A field a filter pins to two different values (it matches nothing): no value. */
const CONFLICT: unique symbol = Symbol('conflicting values');

const isKeyValue = (v: unknown): boolean =>
  typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint';

/**
 * The scalar fields of `model` a filter pins with equality at its top level (its own keys,
 * `AND` chains, the parts of compound unique keys); never through a relation filter. A field
 * pinned to two values maps to a value no record has.
 * @internal
 */
export function pinnedValues(
  model: BoundModel,
  where: unknown,
  out: Map<string, unknown> = new Map(),
): Map<string, unknown> {
  if (!isObject(where)) return out;
  const pin = (key: string, value: unknown): void => {
    out.set(key, out.has(key) && out.get(key) !== value ? CONFLICT : value);
  };
  for (const [key, value] of Object.entries(where)) {
    if (key === 'AND') {
      for (const item of items(value)) pinnedValues(model, item, out);
      continue;
    }
    const f = model.fields.get(key);
    if (f === undefined) {
      // A compound unique key (`tenantId_id: { tenantId, id }`): its parts are equalities.
      if (!isObject(value)) continue;
      for (const [part, v] of Object.entries(value)) {
        if (model.fields.get(part)?.kind === 'scalar' && isKeyValue(v)) pin(part, v);
      }
    } else if (f.kind === 'scalar') {
      if (isKeyValue(value)) pin(key, value);
      else if (isObject(value) && Object.keys(value).length === 1 && isKeyValue(value.equals)) {
        pin(key, value.equals);
      }
    }
  }
  return out;
}

/**
 * A find's filter, with each lookup on a blind-indexed field of `model` replaced by a query of
 * its index column; the re-check the decrypted rows must pass (undefined without lookups) and
 * the fields it reads. Lookups stand in the filter's `AND` chain, or in an `OR` each of whose
 * branches holds lookups only: anything else could let a false positive of the index through.
 * @throws UnsupportedOptionError naming the field of any other filter on an encrypted field,
 *   or of a lookup where the tenant is not pinned.
 * @internal
 */
export async function planLookups(
  models: BoundModels,
  model: BoundModel,
  where: unknown,
): Promise<{ check: Check | undefined; fields: readonly string[] }> {
  const sealed = model.sealed;
  if (sealed === undefined || !isObject(where)) {
    refuseSealedFilters(
      models,
      model,
      where,
      'fieldseal cannot evaluate this filter on ciphertext',
    );
    return { check: undefined, fields: [] };
  }
  const tenant = pinnedValues(model, where).get(sealed.schema.tenant);
  const fields = new Set<string>();
  const lookups: Promise<void>[] = [];

  /** Plan one filter object in place; its check, undefined when it holds no lookup. */
  const plan = (obj: Obj): Check | undefined => {
    const checks: Check[] = [];
    const added: Obj[] = [];
    for (const [key, value] of Object.entries(obj)) {
      if (key === 'AND') {
        for (const item of items(value)) {
          const c = isObject(item) ? plan(item) : undefined;
          if (c !== undefined) checks.push(c);
        }
      } else if (key === 'OR') {
        const branches = items(value).map((b) => (isObject(b) ? plan(b) : undefined));
        const first = branches.findIndex((c) => c !== undefined);
        if (first === -1) continue;
        const impure = branches.some((c) => c === undefined) || !items(value).every(pureLookups);
        if (impure) {
          refuse(
            model.name,
            [...fields][0]!,
            'an OR that mixes a blind-index lookup with other conditions cannot be re-checked: run each branch as its own query, or make every branch a lookup',
          );
        }
        const ors = branches as Check[];
        checks.push((row) => ors.some((c) => c(row)));
      } else if (key === 'NOT') {
        refuseSealedFilters(
          models,
          model,
          value,
          'a filter on an encrypted field under NOT cannot be evaluated or re-checked',
        );
      } else if (sealed.indexColumns.has(key)) {
        refuseIndexColumn(model, key);
      } else if (sealed.encrypted.has(key)) {
        if (isNullTest(value)) continue;
        const indexed = sealed.indexed.get(key);
        const values = lookupValues(value);
        if (indexed === undefined) {
          refuse(
            model.name,
            key,
            'an encrypted field without a blind index cannot be filtered: declare .blindIndex() for equality lookups',
          );
        }
        if (values === undefined) {
          refuse(
            model.name,
            key,
            'only equals and in (and null tests) can be evaluated on a blind-indexed field: ciphertext has no order or substrings',
          );
        }
        if (typeof tenant !== 'string') {
          refuse(
            model.name,
            key,
            `filter by ${sealed.schema.tenant} with a lookup: blind indexes are per tenant`,
          );
        }
        fields.add(key);
        delete obj[key];
        const slot: Obj = {};
        added.push(slot);
        let found: BlindIndexLookup | undefined;
        lookups.push(
          sealed.source!.lookupIndexes(tenant, key, values).then((lookup) => {
            found = lookup;
            slot[lookup.column] = { in: [...lookup.indexes] };
          }),
        );
        checks.push((row) => found!.matches(row[key]));
      } else {
        // A relation filter or a compound key: nothing in it is re-checked.
        refuseSealedFilters(
          models,
          model,
          { [key]: value },
          'a filter on an encrypted field through a relation cannot be re-checked: query that model',
        );
      }
    }
    if (added.length > 0) obj.AND = [...items(obj.AND), ...added];
    if (checks.length === 0) return undefined;
    return (row) => checks.every((c) => c(row));
  };

  /** A branch of an OR that holds lookups only (and AND chains of them). */
  const pureLookups = (branch: unknown): boolean =>
    isObject(branch) &&
    // A planned lookup has moved into the branch's AND (its slot is filled later).
    Object.entries(branch).every(
      ([key, value]) => key === 'AND' && items(value).every(pureLookups),
    );

  const inner = plan(where);
  await Promise.all(lookups);
  if (inner === undefined) return { check: undefined, fields: [] };
  const tenantField = sealed.schema.tenant;
  return { check: (row) => row[tenantField] === tenant && inner(row), fields: [...fields] };
}
