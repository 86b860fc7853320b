import type { Fieldseal } from '../../index.js';
import { scopeOf, type RecordScope } from '../../integration/index.js';
import { pinnedValues, planLookups, refuseSealedFilters, type Check } from './filters.js';
import type { BoundModel, BoundModels } from './prisma-models.js';
import { openRows, planRead, refuseOrdering, stripRows, type ReadPlan } from './read-plan.js';
import { isObject, snapshotArgs, type Obj } from './query-args.js';
import { refuse } from './refusal.js';
import { WriteBatch } from './write-plan.js';

/*
 * One Prisma model operation through fieldseal: its arguments read once into a snapshot,
 * planned (writes sealed, lookups turned into index queries, selections completed), run, and
 * its result decrypted and re-checked. All internal.
 */

/** What Prisma's `$allOperations` hook passes. @internal */
export interface OperationCall {
  /** Undefined for the client's own operations (`$queryRaw`, ...). */
  readonly model: string | undefined;
  readonly operation: string;
  readonly args: unknown;
  /** Prisma's own parameters: a non-empty `dataPath` is the fluent API (`.orders()`). */
  readonly __internalParams?: { readonly dataPath?: unknown };
  query(args: unknown): Promise<unknown>;
}

/** How many times a find re-runs to replace rows its re-check dropped before it refuses. */
const MAX_RERUNS = 32;

const FIND = new Set([
  'findUnique',
  'findUniqueOrThrow',
  'findFirst',
  'findFirstOrThrow',
  'findMany',
]);

/** The record a filter names by tenant and key equality, if it does. */
function scopeNamed(model: BoundModel, where: unknown): RecordScope | undefined {
  const schema = model.sealed?.schema;
  if (schema === undefined) return undefined;
  const pinned = pinnedValues(model, where);
  const source: Obj = {};
  for (const k of [schema.tenant, ...schema.key]) {
    if (!pinned.has(k)) return undefined;
    source[k] = pinned.get(k);
  }
  try {
    return scopeOf(schema, source);
  } catch {
    return undefined;
  }
}

/** Run one operation of a model that reaches a sealed model. @internal */
export async function runOperation(
  fs: Fieldseal,
  models: BoundModels,
  call: OperationCall,
): Promise<unknown> {
  const model = call.model === undefined ? undefined : models.get(call.model);
  if (model === undefined || !model.reachesSealed) return call.query(call.args);
  const { operation } = call;
  const path = call.__internalParams?.dataPath;
  if (Array.isArray(path) && path.length > 0) {
    // Prisma unpacks the related rows before they reach the extension, under another model.
    refuse(
      model.name,
      String(path.at(-1)),
      'the fluent API (findUnique(...).relation()) returns rows fieldseal cannot read as their model: include the relation instead',
    );
  }
  const snapshot = snapshotArgs(call.args ?? {});
  if (!isObject(snapshot.args)) refuse(model.name, '*', 'expected the arguments as an object');
  const args = snapshot.args;
  for (const ref of snapshot.references) {
    if (models.get(ref.modelName)?.sealed?.encrypted.has(ref.name) === true) {
      refuse(
        ref.modelName,
        ref.name,
        'a field reference compares with ciphertext: compare plain fields',
      );
    }
  }
  const noLookup = (what: string): string =>
    `${operation} cannot re-check a blind-index lookup (${what}): find the records with findMany, then ${what} them by key`;

  if (FIND.has(operation)) {
    refuseOrdering(models, model, args);
    const { check, fields } = await planLookups(models, model, args.where);
    if (check !== undefined && (args.skip !== undefined || args.distinct !== undefined)) {
      refuse(
        model.name,
        fields[0]!,
        'skip and distinct count rows before the re-check of a blind-index lookup: page with take and a cursor',
      );
    }
    const plan = planRead(models, model, args, fields);
    return find(fs, model, plan, args, check, call);
  }

  const batch = new WriteBatch(models);
  switch (operation) {
    case 'create':
      batch.create(model, args.data);
      break;
    case 'createMany':
    case 'createManyAndReturn':
      for (const d of Array.isArray(args.data) ? args.data : [args.data]) batch.create(model, d);
      break;
    case 'update':
      refuseSealedFilters(models, model, args.where, noLookup('update'));
      batch.update(model, args.data, scopeNamed(model, args.where));
      break;
    case 'updateMany':
    case 'updateManyAndReturn':
      refuseSealedFilters(models, model, args.where, noLookup('update'));
      batch.update(model, args.data, undefined);
      break;
    case 'upsert':
      refuseSealedFilters(models, model, args.where, noLookup('upsert'));
      batch.create(model, args.create);
      batch.update(model, args.update, scopeNamed(model, args.where));
      break;
    case 'delete':
    case 'deleteMany':
      refuseSealedFilters(models, model, args.where, noLookup('delete'));
      break;
    case 'count':
      refuseSealedFilters(models, model, args.where, noLookup('count'));
      refuseOrdering(models, model, args);
      return call.query(args);
    case 'aggregate':
    case 'groupBy':
      return aggregate(models, model, args, call, noLookup('aggregate'));
    default:
      refuse(model.name, '*', `fieldseal does not know the operation ${operation}`);
  }
  await batch.seal(fs);
  const returns =
    operation !== 'createMany' && operation !== 'updateMany' && operation !== 'deleteMany';
  if (!returns) return call.query(args);
  const plan = planRead(models, model, args);
  const result = await call.query(args);
  const rows = Array.isArray(result) ? result : [result];
  await openRows(fs, plan, rows);
  stripRows(plan, rows);
  return result;
}

/**
 * A find: its rows decrypted and, with a lookup, re-checked. When the re-check drops a row of
 * a query that returns a bounded number (`take`, findFirst, findUnique), the query runs again
 * without the dropped records, so that a false positive of the index never hides a match.
 */
async function find(
  fs: Fieldseal,
  model: BoundModel,
  plan: ReadPlan,
  args: Obj,
  check: Check | undefined,
  call: OperationCall,
): Promise<unknown> {
  const single = call.operation !== 'findMany';
  const bounded = single || args.take !== undefined;
  const dropped: Obj[] = [];
  for (let run = 0; run <= MAX_RERUNS; run++) {
    // Beside the caller's filter (a findUnique keeps its unique fields at the top).
    const where = isObject(args.where) ? args.where : {};
    const notBefore: unknown[] =
      where.NOT === undefined ? [] : Array.isArray(where.NOT) ? where.NOT : [where.NOT];
    const query =
      dropped.length === 0
        ? args
        : { ...args, where: { ...where, NOT: [...notBefore, ...dropped] } };
    const result = await call.query(query);
    const rows = single
      ? result === null || result === undefined
        ? []
        : [result]
      : (result as unknown[]);
    await openRows(fs, plan, rows);
    const kept = check === undefined ? rows : rows.filter((r) => check(r as Obj));
    if (kept.length === rows.length || !bounded) {
      stripRows(plan, kept);
      return single ? (kept[0] ?? null) : kept;
    }
    const schema = model.sealed!.schema;
    const keptSet = new Set(kept);
    for (const row of rows) {
      if (keptSet.has(row)) continue;
      const key: Obj = {};
      for (const k of [schema.tenant, ...schema.key]) key[k] = (row as Obj)[k];
      dropped.push(key);
    }
  }
  return refuse(
    model.name,
    '*',
    `a blind-index lookup kept finding false positives after ${MAX_RERUNS} re-runs: use findMany without take`,
  );
}

/** aggregate / groupBy: refused wherever they would read or compare an encrypted field. */
function aggregate(
  models: BoundModels,
  model: BoundModel,
  args: Obj,
  call: OperationCall,
  why: string,
): Promise<unknown> {
  refuseSealedFilters(models, model, args.where, why);
  refuseSealedFilters(models, model, args.having, why);
  refuseOrdering(models, model, args);
  const sealed = model.sealed;
  if (sealed !== undefined) {
    for (const name of Array.isArray(args.by) ? args.by : [args.by]) {
      if (typeof name === 'string' && sealed.encrypted.has(name)) {
        refuse(model.name, name, 'groupBy compares values: ciphertext of equal values differs');
      }
    }
    for (const agg of ['_min', '_max', '_avg', '_sum']) {
      const selected = args[agg];
      if (!isObject(selected)) continue;
      for (const name of Object.keys(selected)) {
        if (sealed.encrypted.has(name)) {
          refuse(
            model.name,
            name,
            `${agg} would compare or return ciphertext: aggregate plain fields`,
          );
        }
      }
    }
  }
  return call.query(args);
}
