import { checkVersion } from '../../integration/index.js';
import type { DecryptItem } from '../../index.js';
import { isFieldsealError, type FieldsealErrorCode } from '../../index.js';
import { contextOf, scopeOf } from '../../integration/index.js';
import { indexOf } from '../../integration/index.js';
import { indexColumn, indexedField, type IndexedField } from '../../integration/index.js';
import { compareAndSet, type CasRow } from './compare-and-set.js';
import { fromColumn, keyParam, q } from './repository-columns.js';
import {
  keyOrder,
  keyParams,
  type KeyValues,
  type RepositoryContext,
} from './repository-context.js';

/**
 * Where a backfill stopped: the last row it looked at. Pass it as `after` to resume.
 * @example
 * ```ts
 * const cursor: BackfillCursor = { tenant: 'acme', key: ['cus_0420'] };
 * ```
 */
export interface BackfillCursor {
  readonly tenant: string;
  readonly key: KeyValues;
}

/**
 * Options of `repo.backfillBlindIndex`.
 * @example
 * ```ts
 * const options: BackfillOptions = { batchSize: 500, maxBatches: 10, after: report.next };
 * ```
 */
export interface BackfillOptions {
  /** Rows per batch (1 to 5000; default 500): one SELECT, one decrypt batch, one UPDATE. */
  readonly batchSize?: number;
  /** Resume after this row (a previous report's `next`); default: from the first row. */
  readonly after?: BackfillCursor;
  /** Stop after this many batches (resume with the report's `next`); default: run to the end. */
  readonly maxBatches?: number;
  /**
   * Also recompute rows that already have this version's index and repair the wrong ones
   * (e.g. written by a process that did not write this version yet). Default: only rows
   * whose index is missing.
   */
  readonly verify?: boolean;
}

/**
 * What one `repo.backfillBlindIndex` call did.
 * @example
 * ```ts
 * let report: BackfillReport | undefined;
 * do report = await repo.backfillBlindIndex('email', 2, { after: report?.next, maxBatches: 20 });
 * while (report.next !== undefined);
 * ```
 */
export interface BackfillReport {
  /** Rows read. */
  readonly scanned: number;
  /** Index values written. */
  readonly updated: number;
  /** `verify`: rows whose index was already right. */
  readonly unchanged: number;
  /** Rows the application changed between read and update: left as the application wrote them. */
  readonly conflicts: number;
  /** Rows whose value or tenant secret could not be opened (e.g. a shredded tenant). */
  readonly failed: number;
  /** `failed`, by error code. */
  readonly failures: Readonly<Partial<Record<FieldsealErrorCode, number>>>;
  /** Where to resume, or `undefined` once every row was looked at. */
  readonly next: BackfillCursor | undefined;
}

/**
 * Per version written: how many rows holding a value have no index of that version yet.
 * @example
 * ```ts
 * const { rows, missing }: BlindIndexStatus = await repo.blindIndexStatus('email');
 * if (missing[2] === 0) switchReadsToVersion2();
 * ```
 */
export interface BlindIndexStatus {
  /** Rows whose field holds a value (all tenants). */
  readonly rows: number;
  /** Version → rows holding a value without an index of that version. */
  readonly missing: Readonly<Record<number, number>>;
}

const MAX_BATCH = 5000;

/** Backfill `version` of `name`'s blind index (see `PostgresRepository.backfillBlindIndex`). @internal */
export async function backfill(
  ctx: RepositoryContext,
  name: string,
  version: number,
  options: BackfillOptions = {},
): Promise<BackfillReport> {
  const f = writtenField(ctx, name, version);
  const { batchSize = 500, maxBatches, verify = false } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH) {
    throw new RangeError(`batchSize: expected an integer from 1 to ${MAX_BATCH}`);
  }
  if (maxBatches !== undefined && (!Number.isInteger(maxBatches) || maxBatches < 1)) {
    throw new RangeError('maxBatches: expected a positive integer');
  }
  const report = { scanned: 0, updated: 0, unchanged: 0, conflicts: 0, failed: 0 };
  const failures: Partial<Record<FieldsealErrorCode, number>> = {};
  const fail = (code: FieldsealErrorCode): void => {
    report.failed += 1;
    failures[code] = (failures[code] ?? 0) + 1;
  };
  const column = indexColumn(name, version);
  const keys = [ctx.plan.tenant, ...ctx.plan.key];
  const keyColumns = keys.map((k) => ctx.columns.find((c) => c.name === k)!);
  const fieldColumn = ctx.columns.find((c) => c.name === name)!;
  let cursor = options.after;
  for (let batch = 0; maxBatches === undefined || batch < maxBatches; batch++) {
    const params: unknown[] = [];
    const where = [`${q(name)} IS NOT NULL`];
    if (!verify) where.push(`${q(column)} IS NULL`);
    if (cursor !== undefined) {
      params.push(cursor.tenant, ...cursor.key.map(keyParam));
      where.push(`(${keyOrder(ctx)}) > (${keys.map((_, i) => `$${i + 1}`).join(', ')})`);
    }
    params.push(batchSize);
    const { rows: raw } = await ctx.sql.query<Record<string, unknown>>(
      `SELECT ${keyOrder(ctx)}, ${q(name)}, ${q(column)} AS fs_index FROM ${q(ctx.table)}
        WHERE ${where.join(' AND ')} ORDER BY ${keyOrder(ctx)} LIMIT $${params.length}`,
      params,
    );
    const rows = raw.map((r) => {
      const row: Record<string, unknown> = {};
      for (const c of [...keyColumns, fieldColumn]) row[c.name] = fromColumn(r[c.name], c.field);
      return { row, index: r.fs_index as string | null };
    });
    report.scanned += rows.length;
    const last = rows.at(-1)?.row;
    cursor =
      last === undefined
        ? undefined
        : {
            tenant: last[ctx.plan.tenant] as string,
            key: ctx.plan.key.map((k) => last[k] as string | number | bigint),
          };
    await backfillBatch(ctx, f, version, rows, report, fail);
    if (rows.length < batchSize) return { ...report, failures, next: undefined };
  }
  return { ...report, failures, next: cursor };
}

async function backfillBatch(
  ctx: RepositoryContext,
  f: IndexedField,
  version: number,
  rows: readonly { row: Record<string, unknown>; index: string | null }[],
  report: { updated: number; unchanged: number; conflicts: number },
  fail: (code: FieldsealErrorCode) => void,
): Promise<void> {
  if (rows.length === 0) return;
  const name = f.field.name;
  const items: DecryptItem[] = rows.map(({ row }) => ({
    stored: row[name] as string | Uint8Array,
    context: contextOf(ctx.plan, f.field, scopeOf(ctx.plan, row)),
  }));
  const results = await ctx.fs.decryptManySettled<unknown>(items);
  const open = rows.flatMap((r, i) => {
    const result = results[i]!;
    if (!result.ok) fail(result.error.code);
    else if (typeof result.value !== 'string') fail('ERR_UNSUPPORTED_VALUE');
    else return [{ ...r, value: result.value }];
    return [];
  });
  const tenants = open.map((r) => r.row[ctx.plan.tenant] as string);
  const secrets = await ctx.secrets!.load(tenants, [version], { create: true, reseal: true });
  const cas: CasRow[] = [];
  try {
    for (const r of open) {
      let index: string;
      try {
        const tenant = r.row[ctx.plan.tenant] as string;
        index = indexOf(ctx.plan, ctx.index!, secrets, tenant, f, version, r.value);
      } catch (err) {
        if (!isFieldsealError(err)) throw err;
        fail(err.code);
        continue;
      }
      if (index === r.index) report.unchanged += 1;
      else cas.push({ key: keyParams(ctx, r.row), expect: [r.row[name], r.index], set: [index] });
    }
  } finally {
    secrets.wipe();
  }
  const type = ctx.columns.find((c) => c.name === name)!.type;
  const indexCol = { name: indexColumn(name, version), type: 'text' };
  const done = await compareAndSet(ctx, [{ name, type }, indexCol], [indexCol], cas);
  report.updated += done.size;
  report.conflicts += cas.length - done.size;
}

/** Rows with a value, and per written version those without an index. @internal */
export async function indexStatus(ctx: RepositoryContext, name: string): Promise<BlindIndexStatus> {
  const f = indexedField(ctx.index, name);
  const counts = f.write.map(
    (v) => `count(*) FILTER (WHERE ${q(indexColumn(name, v))} IS NULL) AS v${v}`,
  );
  const { rows } = await ctx.sql.query<Record<string, unknown>>(
    `SELECT count(*) AS n, ${counts.join(', ')} FROM ${q(ctx.table)} WHERE ${q(name)} IS NOT NULL`,
  );
  const row = rows[0] ?? {};
  const missing: Record<number, number> = {};
  for (const v of f.write) missing[v] = Number(row[`v${v}`]);
  return { rows: Number(row.n), missing };
}

/** Drop a version's index column once nothing writes it. @internal */
export async function dropVersion(
  ctx: RepositoryContext,
  name: string,
  version: number,
): Promise<void> {
  const f = indexedField(ctx.index, name);
  checkVersion(version);
  if (f.write.includes(version)) {
    throw new RangeError(
      `blind index ${name} v${version} is still written: remove it from versions.write first`,
    );
  }
  await ctx.sql.exec(
    `ALTER TABLE ${q(ctx.table)} DROP COLUMN IF EXISTS ${q(indexColumn(name, version))}`,
  );
}

function writtenField(ctx: RepositoryContext, name: string, version: number): IndexedField {
  const f = indexedField(ctx.index, name);
  if (!f.write.includes(version)) {
    // Backfilling a version nobody writes would leave new rows without it.
    throw new RangeError(
      `blind index ${name} v${version} is not written by this repository: add it to versions.write`,
    );
  }
  return f;
}
