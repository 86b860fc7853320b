import {
  ConditionalCheckFailedException,
  ScanCommand,
  UpdateItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import {
  isFieldsealError,
  type AnyModel,
  type DecryptItem,
  type FieldsealError,
  type FieldsealErrorCode,
} from '../index.js';
import {
  assertRegistered,
  contextOf,
  scopeOf,
  withField,
  type FieldSchema,
} from '../integration/index.js';
import { indexAttributes, repairIndexes, type IndexedValue } from './backfill-indexes.js';
import { itemToRow, type DynamoItem } from './item-codec.js';
import type { WriteContext } from './table-context.js';
import { legacySlots, sealLegacy, type LegacyState } from './legacy-values.js';
import { optionSnapshot } from './option-snapshot.js';
import { assertCanBackfill } from './repository-modes.js';
import { keyOf, type DynamoKeyValue } from './table-keys.js';

/*
 * The DynamoDB backfill: one consistent Scan page at a time over every tenant's items, each
 * item rewritten by one UpdateItem whose condition is that every attribute it replaces still
 * holds the value read (compare-and-set), so an application write made meanwhile always wins
 * and is simply counted. Nothing is decrypted into the report; failures carry codes only.
 */

/**
 * Options of {@link DynamoRepository.backfill}.
 * @example
 * ```ts
 * let report = await repo.backfill({ pageSize: 200, maxPages: 50, onProgress: (p) => log(p) });
 * while (!report.done) report = await repo.backfill({ startKey: report.nextKey, maxPages: 50 });
 * ```
 */
export interface DynamoBackfillOptions {
  /** The `nextKey` of an earlier report, to resume. */
  readonly startKey?: Readonly<Record<string, DynamoKeyValue>>;
  /** Items per Scan page (DynamoDB's `Limit`); default 100. */
  readonly pageSize?: number;
  /** Stop after this many pages (resume with `nextKey`). */
  readonly maxPages?: number;
  /** Also seal every value not under its tenant's active key version again (rotation). */
  readonly reencrypt?: boolean;
  /**
   * Also recompute every blind-index attribute the repository writes and set the missing or
   * wrong ones (after adding an index version to `blindIndex.versions.<field>.write`).
   */
  readonly indexes?: boolean;
  /**
   * Remove the legacy (`ENC:`) attributes of crypto-shredded tenants' items. A shred destroys
   * fieldseal keys only: the seed's values stay readable with the seed's KMS key until they
   * are removed (or that key is deleted).
   */
  readonly eraseShreddedLegacy?: boolean;
  /** Most items scanned per second (a throttle for provisioned tables). */
  readonly itemsPerSecond?: number;
  /**
   * One segment of a parallel scan (DynamoDB's `Segment` / `TotalSegments`): run one backfill
   * per segment, in as many processes as you like, each resuming from its own `nextKey`.
   */
  readonly segment?: { readonly index: number; readonly total: number };
  /** Stops after the current page. */
  readonly signal?: AbortSignal;
  /** Called after each page. */
  readonly onProgress?: (progress: DynamoBackfillProgress) => void;
}

/**
 * Counts of a backfill so far.
 * @example
 * ```ts
 * const onProgress = (p: DynamoBackfillProgress) => console.log(`${p.scanned} scanned, ${p.rewritten} rewritten`);
 * ```
 */
export interface DynamoBackfillProgress {
  /** Items read. */
  readonly scanned: number;
  /** Items rewritten. */
  readonly rewritten: number;
  /** Legacy values that became fieldseal values. */
  readonly legacyValues: number;
  /** Values sealed again under their tenant's active key version. */
  readonly reencryptedValues: number;
  /** Blind-index attributes set (`indexes`). */
  readonly indexAttributes: number;
  /** Items an application write changed meanwhile (left as the application wrote them). */
  readonly conflicts: number;
  /** Items of crypto-shredded tenants (left alone, but see `erasedLegacyValues`). */
  readonly shredded: number;
  /** Legacy values of shredded tenants removed (`eraseShreddedLegacy`). */
  readonly erasedLegacyValues: number;
  /** Items that are not this model's (no string tenant attribute, mistyped attributes). */
  readonly foreign: number;
  /** Values that failed (see `failures`). */
  readonly failed: number;
  readonly elapsedMs: number;
  /** Where to resume; `undefined` when the whole table was read. */
  readonly nextKey: Readonly<Record<string, DynamoKeyValue>> | undefined;
}

/**
 * What a backfill call did.
 * @example
 * ```ts
 * const { done, failures } = await repo.backfill();
 * for (const f of failures) console.warn(f.key, f.field, f.code);
 * ```
 */
export interface DynamoBackfillReport extends DynamoBackfillProgress {
  /** The whole table was read. */
  readonly done: boolean;
  /** Up to 1,000 failed values: item key, `table.field`, code. */
  readonly failures: readonly {
    readonly key: Readonly<Record<string, DynamoKeyValue>>;
    readonly field: string;
    readonly code: FieldsealErrorCode;
  }[];
}

type Counts = { -readonly [K in keyof DynamoBackfillProgress]: DynamoBackfillProgress[K] };
type Failures = DynamoBackfillReport['failures'][number][];

const MAX_FAILURES = 1000;

/** The new attributes of one item, and the old values they replace. */
interface ItemChange {
  readonly set: Record<string, AttributeValue>;
  readonly expect: Record<string, AttributeValue>;
  readonly remove: string[];
  shredded: boolean;
  legacy: number;
  reencrypted: number;
  erased: number;
  indexes: number;
}

/** The key fields of a row, as the model types them. */
function keyValues(
  t: WriteContext<AnyModel>,
  row: Readonly<Record<string, unknown>>,
): Record<string, DynamoKeyValue> {
  const key: Record<string, DynamoKeyValue> = {};
  for (const f of [t.layout.partition, t.layout.sort]) {
    if (f !== undefined) key[f.name] = row[f.name] as DynamoKeyValue;
  }
  return key;
}

const BACKFILL_OPTIONS = [
  'startKey',
  'pageSize',
  'maxPages',
  'reencrypt',
  'indexes',
  'eraseShreddedLegacy',
  'itemsPerSecond',
  'segment',
  'signal',
  'onProgress',
] as const;

/**
 * The backfill's options read once: unknown keys (here and in `segment`) are refused.
 * @throws UnsupportedOptionError; TypeError for a mistyped flag.
 */
function backfillOptions(input: unknown): DynamoBackfillOptions {
  const o = optionSnapshot('backfill options', input, BACKFILL_OPTIONS);
  for (const name of ['reencrypt', 'indexes', 'eraseShreddedLegacy'] as const) {
    if (o[name] !== undefined && typeof o[name] !== 'boolean') {
      throw new TypeError(`${name}: expected a boolean`);
    }
  }
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') {
    throw new TypeError('onProgress: expected a function');
  }
  const segment =
    typeof o.segment === 'object' && o.segment !== null && !Array.isArray(o.segment)
      ? optionSnapshot('backfill segment', o.segment, ['index', 'total'])
      : o.segment;
  return { ...o, segment } as DynamoBackfillOptions;
}

/**
 * Run the backfill over `t`'s table (see {@link DynamoBackfillOptions}).
 * @internal
 */
export async function backfillTable<M extends AnyModel>(
  t: WriteContext<M>,
  legacy: LegacyState | undefined,
  input?: DynamoBackfillOptions,
): Promise<DynamoBackfillReport> {
  const options = backfillOptions(input);
  const { pageSize = 100, maxPages = Infinity, itemsPerSecond } = options;
  assertRegistered(t.fs, t.plan); // the client enforces the model's policies (modes, padding)
  assertCanBackfill(t.fs, t.plan, 'backfill');
  if (!Number.isInteger(pageSize) || pageSize < 1) throw new TypeError('pageSize: expected ≥ 1');
  const { segment } = options;
  if (
    segment !== undefined &&
    !(
      Number.isInteger(segment.total) &&
      segment.total >= 1 &&
      segment.total <= 1_000_000 &&
      Number.isInteger(segment.index) &&
      segment.index >= 0 &&
      segment.index < segment.total
    )
  ) {
    throw new TypeError('segment: expected { index, total } with 0 ≤ index < total ≤ 1,000,000');
  }
  const started = Date.now();
  const counts: Counts = {
    scanned: 0,
    rewritten: 0,
    legacyValues: 0,
    reencryptedValues: 0,
    indexAttributes: 0,
    conflicts: 0,
    shredded: 0,
    erasedLegacyValues: 0,
    foreign: 0,
    failed: 0,
    elapsedMs: 0,
    nextKey: options.startKey,
  };
  const failures: Failures = [];
  let start = options.startKey === undefined ? undefined : keyOf(t.layout, options.startKey);
  for (let page = 0; page < maxPages && options.signal?.aborted !== true; page++) {
    const out = (await t.client.send(
      new ScanCommand({
        TableName: t.tableName,
        ConsistentRead: true,
        Limit: pageSize,
        ...(segment === undefined ? {} : { Segment: segment.index, TotalSegments: segment.total }),
        ...(start === undefined ? {} : { ExclusiveStartKey: start }),
      }),
    )) as { Items?: DynamoItem[]; LastEvaluatedKey?: Record<string, AttributeValue> };
    const items = out.Items ?? [];
    counts.scanned += items.length;
    const changes = await pageChanges(t, legacy, items, options, counts, failures);
    for (const [item, change] of changes) await writeChange(t, item, change, counts);
    start = out.LastEvaluatedKey;
    counts.nextKey = start === undefined ? undefined : keyValues(t, itemToRow(t.plan, start));
    counts.elapsedMs = Date.now() - started;
    options.onProgress?.({ ...counts });
    if (start === undefined) break;
    if (itemsPerSecond !== undefined) {
      const due = (counts.scanned / itemsPerSecond) * 1000 - (Date.now() - started);
      if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
    }
  }
  counts.elapsedMs = Date.now() - started;
  return { ...counts, done: start === undefined, failures };
}

/** The changes of one page's items, by item index. */
async function pageChanges<M extends AnyModel>(
  t: WriteContext<M>,
  legacy: LegacyState | undefined,
  all: readonly DynamoItem[],
  options: DynamoBackfillOptions,
  counts: Counts,
  failures: Failures,
): Promise<Map<DynamoItem, ItemChange>> {
  // Items of other entities (single-table designs) are counted and left alone.
  const items: DynamoItem[] = [];
  const rows: Record<string, unknown>[] = [];
  for (const item of all) {
    try {
      const row = itemToRow(t.plan, item);
      scopeOf(t.plan, row);
      items.push(item);
      rows.push(row);
    } catch (err) {
      if (!(err instanceof TypeError)) throw err;
      counts.foreign++;
    }
  }
  const changes = new Map<number, ItemChange>();
  const changeOf = (i: number): ItemChange => {
    const c = changes.get(i) ?? {
      set: {},
      expect: {},
      remove: [],
      shredded: false,
      legacy: 0,
      reencrypted: 0,
      erased: 0,
      indexes: 0,
    };
    changes.set(i, c);
    return c;
  };
  const fail = (i: number, field: string, error: FieldsealError): void => {
    if (error.code === 'ERR_KEY_SHREDDED') {
      changeOf(i).shredded = true;
      return;
    }
    counts.failed++;
    if (failures.length < MAX_FAILURES) {
      failures.push({ key: keyValues(t, rows[i]!), field, code: error.code });
    }
  };
  const slots = legacy === undefined ? [] : legacySlots(legacy, rows);
  if (slots.length > 0) {
    const sealed = await sealLegacy(legacy!, t.fs, t.plan, rows, slots);
    const indexed: IndexedValue[] = [];
    for (const [k, result] of sealed.entries()) {
      const { row, field } = slots[k]!;
      if (isFieldsealError(result)) {
        if (result.code === 'ERR_KEY_SHREDDED' && options.eraseShreddedLegacy === true) {
          const c = changeOf(row);
          c.remove.push(field.name);
          c.expect[field.name] = items[row]![field.name]!;
          c.erased++;
          c.shredded = true;
          continue;
        }
        fail(row, field.qualified, result);
        continue;
      }
      const c = changeOf(row);
      c.set[field.name] =
        typeof result.stored === 'string' ? { S: result.stored } : { B: result.stored };
      c.expect[field.name] = items[row]![field.name]!;
      c.legacy++;
      if (t.blindIndex?.config.fields.has(field.name) === true) {
        indexed.push({ row, field, value: result.plaintext });
      }
    }
    // The migrated values' blind indexes, one secrets load per tenant of the page; a value
    // whose index cannot be computed is not migrated (never written without its index).
    const attributes = indexed.length > 0 ? await indexAttributes(t, rows, indexed, fail) : [];
    attributes.forEach((set, k) => {
      const { row, field } = indexed[k]!;
      const c = changeOf(row);
      if (set !== undefined) {
        Object.assign(c.set, set);
        return;
      }
      delete c.set[field.name];
      delete c.expect[field.name];
      c.legacy--;
    });
  }
  if (options.reencrypt === true) {
    // Every envelope of the page in one batch: parsed once, one key fetch per key.
    const targets: { row: number; field: FieldSchema; item: DecryptItem }[] = [];
    for (const [i, row] of rows.entries()) {
      for (const f of t.plan.encrypted) {
        const stored = row[f.name];
        if (stored === null || stored === undefined || changes.get(i)?.set[f.name] !== undefined)
          continue;
        if (slots.some((s) => s.row === i && s.field === f)) continue; // a legacy value that failed
        try {
          const context = contextOf(t.plan, f, scopeOf(t.plan, row));
          targets.push({
            row: i,
            field: f,
            item: { stored: stored as string | Uint8Array, context },
          });
        } catch (err) {
          if (!isFieldsealError(err)) throw err;
          fail(i, f.qualified, withField(err, f.qualified));
        }
      }
    }
    const settled =
      targets.length > 0 ? await t.fs.reencryptManySettled(targets.map((x) => x.item)) : [];
    settled.forEach((next, k) => {
      const { row: i, field: f } = targets[k]!;
      if (!next.ok) {
        fail(i, f.qualified, withField(next.error, f.qualified));
        return;
      }
      if (!next.value.changed) return;
      const c = changeOf(i);
      const out = next.value.stored;
      c.set[f.name] = typeof out === 'string' ? { S: out } : { B: out };
      c.expect[f.name] = items[i]![f.name]!;
      c.reencrypted++;
    });
  }
  if (options.indexes === true) {
    const legacyDone = (row: number, field: string): boolean =>
      slots.some((s) => s.row === row && s.field.name === field);
    await repairIndexes(t, items, rows, legacyDone, changeOf, fail);
  }
  const out = new Map<DynamoItem, ItemChange>();
  for (const [i, c] of changes) {
    if (c.shredded) counts.shredded++;
    // A shredded tenant's item is only ever touched to erase its legacy values.
    if (c.shredded && c.erased > 0)
      out.set(items[i]!, { ...c, set: {}, legacy: 0, reencrypted: 0, indexes: 0 });
    else if (!c.shredded && Object.keys(c.expect).length > 0) out.set(items[i]!, c);
  }
  return out;
}

/** One compare-and-set UpdateItem; a condition failure is an application write: counted. */
async function writeChange<M extends AnyModel>(
  t: WriteContext<M>,
  item: DynamoItem,
  change: ItemChange,
  counts: Counts,
): Promise<void> {
  const names: Record<string, string> = {};
  const values: Record<string, AttributeValue> = {};
  const set = Object.entries(change.set).map(([name, value], i) => {
    names[`#s${i}`] = name;
    values[`:s${i}`] = value;
    return `#s${i} = :s${i}`;
  });
  const remove = change.remove.map((name, i) => {
    names[`#r${i}`] = name;
    return `#r${i}`;
  });
  const expect = Object.entries(change.expect).map(([name, value], i) => {
    names[`#e${i}`] = name;
    values[`:e${i}`] = value;
    return `#e${i} = :e${i}`;
  });
  // Still this tenant's item (the values alone could have been copied into another's).
  names['#t'] = t.plan.tenant;
  values[':t'] = item[t.plan.tenant]!;
  expect.push('#t = :t');
  try {
    await t.client.send(
      new UpdateItemCommand({
        TableName: t.tableName,
        Key: keyOf(t.layout, itemToRow(t.plan, item)),
        UpdateExpression: [
          ...(set.length > 0 ? [`SET ${set.join(', ')}`] : []),
          ...(remove.length > 0 ? [`REMOVE ${remove.join(', ')}`] : []),
        ].join(' '),
        ConditionExpression: expect.join(' AND '),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
    counts.rewritten++;
    counts.legacyValues += change.legacy;
    counts.reencryptedValues += change.reencrypted;
    counts.erasedLegacyValues += change.erased;
    counts.indexAttributes += change.indexes;
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
    counts.conflicts++;
  }
}
