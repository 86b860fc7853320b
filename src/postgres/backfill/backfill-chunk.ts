import {
  BackfillError,
  inspectEnvelope,
  isFieldsealError,
  UnsupportedValueError,
  type DecryptItem,
  type Fieldseal,
} from '../../index.js';
import type { SqlClient } from '../sql-client.js';
import { hasKind } from '../../integration/index.js';
import { columnType, keyParam } from '../repository/repository-columns.js';
import {
  assertTable,
  contextFor,
  type BackfillTarget,
  type TargetField,
} from './backfill-target.js';

/*
 * One chunk of a backfill, in one transaction (internal): claim the chunk row with
 * FOR UPDATE SKIP LOCKED, re-encrypt its rows, write each row back by compare-and-set on the
 * row version read (`xmin`), and mark the chunk done. Row writes and the checkpoint commit
 * together or not at all, so a worker killed at any point neither loses nor repeats a write.
 */

/** What one chunk did. @internal */
export interface ChunkResult {
  readonly chunk: number;
  readonly rowsExamined: number;
  readonly rowsWritten: number;
  readonly valuesWritten: number;
  /** Rows left as they are because their tenant was shredded (nothing can read them). */
  readonly rowsShredded: number;
  /** Compare-and-set misses: the application wrote the row meanwhile; re-read and redone. */
  readonly conflicts: number;
}

const MAX_ROW_ATTEMPTS = 20;

/**
 * Claim and process the next pending chunk of job `name`; `undefined` when none is left
 * unclaimed (done, or being processed by other workers).
 * @internal
 */
export async function processNextChunk(
  sql: SqlClient,
  fs: Fieldseal,
  target: BackfillTarget,
  name: string,
  worker: string,
): Promise<ChunkResult | undefined> {
  return sql.transaction(async (tx) => {
    const { rows: claimed } = await tx.query<{ chunk: number; lo: unknown; hi: unknown }>(
      `SELECT chunk, lo, hi FROM fieldseal_backfill_chunks
        WHERE backfill = $1 AND done_at IS NULL
        ORDER BY chunk LIMIT 1 FOR UPDATE SKIP LOCKED`,
      [name],
    );
    const c = claimed[0];
    if (c === undefined) return undefined;
    // The table (and every partition) is still one whose rows have a real xmin.
    await assertTable(tx, target);
    const chunk = Number(c.chunk);
    const params: unknown[] = [];
    const conds: string[] = [];
    const tuple = `(${target.pk.join(', ')})`;
    const bound = (value: unknown, op: string): void => {
      const values = parseBound(value, target.pk.length);
      if (values === null) return;
      const slots = values.map((v) => {
        params.push(v);
        return `$${params.length}`;
      });
      conds.push(`${tuple} ${op} (${slots.join(', ')})`);
    };
    bound(c.lo, '>');
    bound(c.hi, '<=');
    const { rows } = await tx.query<Record<string, unknown>>(
      `SELECT ${selectedColumns(target)} FROM ${target.table}
        ${conds.length > 0 ? `WHERE ${conds.join(' AND ')}` : ''} ORDER BY ${target.pk.join(', ')}`,
      params,
    );
    let rowsWritten = 0;
    let valuesWritten = 0;
    let rowsShredded = 0;
    let conflicts = 0;
    let pending: Record<string, unknown>[] = rows;
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > MAX_ROW_ATTEMPTS) {
        throw new BackfillError('rows kept changing while the backfill rewrote them', {
          details: { field: target.tableName },
        });
      }
      const updates: RowUpdate[] = [];
      const nexts = await reencryptRows(fs, target, pending, chunk);
      pending.forEach((row, i) => {
        const next = nexts[i]!;
        if (next === 'shredded') rowsShredded++;
        else if (next.size > 0) updates.push({ row, next });
      });
      const written = await writeRows(tx, target, updates);
      const missed: RowUpdate[] = [];
      updates.forEach((u, i) => {
        if (written.has(i)) {
          rowsWritten++;
          valuesWritten += u.next.size;
        } else missed.push(u);
      });
      conflicts += missed.length;
      // Rows the application changed meanwhile: read them again and redo them (a deleted row
      // is simply gone).
      pending = [];
      for (const u of missed) {
        const again = await rereadRow(tx, target, u.row);
        if (again !== undefined) pending.push(again);
      }
    }
    await tx.query(
      `UPDATE fieldseal_backfill_chunks
          SET done_at = now(), worker = $3, rows_examined = $4, rows_written = $5,
              values_written = $6, rows_shredded = $7
        WHERE backfill = $1 AND chunk = $2`,
      [name, chunk, worker, rows.length, rowsWritten, valuesWritten, rowsShredded],
    );
    return {
      chunk,
      rowsExamined: rows.length,
      rowsWritten,
      valuesWritten,
      rowsShredded,
      conflicts,
    };
  });
}

function parseBound(value: unknown, arity: number): unknown[] | null {
  if (value === null || value === undefined) return null;
  const parsed: unknown = typeof value === 'string' ? JSON.parse(value) : value;
  if (!Array.isArray(parsed) || parsed.length !== arity) {
    throw new BackfillError('a backfill chunk bound does not match the table key');
  }
  return parsed as unknown[];
}

/**
 * Each row's re-encrypted values that changed (field → new stored value), or `'shredded'` when
 * its tenant's keys are destroyed. Every envelope of the chunk goes through one
 * `reencryptManySettled` batch (parsed once, one key fetch per key); legacy plaintext, which
 * only a field in a declared migration accepts, is converted value by value.
 * @throws BackfillError naming the field of the first other failure, in row order.
 */
async function reencryptRows(
  fs: Fieldseal,
  target: BackfillTarget,
  rows: readonly Readonly<Record<string, unknown>>[],
  chunk: number,
): Promise<(Map<TargetField, unknown> | 'shredded')[]> {
  const out = rows.map(() => new Map<TargetField, unknown>());
  const slots: { row: number; field: TargetField }[] = [];
  const items: DecryptItem[] = [];
  const legacy: { row: number; field: TargetField; stored: string | Buffer }[] = [];
  rows.forEach((row, r) => {
    for (const f of target.fields) {
      const stored = row[f.name];
      if (stored === null || stored === undefined) continue;
      const bytes = typeof stored === 'string' ? stored : Buffer.from(stored as Uint8Array);
      if (inspectEnvelope(bytes) === undefined) {
        legacy.push({ row: r, field: f, stored: bytes });
        continue;
      }
      slots.push({ row: r, field: f });
      items.push({ stored: bytes, context: contextFor(target, f, row) });
    }
  });
  const failures: { row: number; field: TargetField; error: unknown }[] = [];
  const settled = items.length > 0 ? await fs.reencryptManySettled(items) : [];
  settled.forEach((result, k) => {
    const { row, field } = slots[k]!;
    if (!result.ok) failures.push({ row, field, error: result.error });
    else if (result.value.changed) out[row]!.set(field, result.value.stored);
  });
  const shredded = new Set<number>();
  for (const f of failures) if (isShredded(f.error)) shredded.add(f.row);
  // The failure that stops the chunk: the first, in row order, of a row not shredded.
  const blocking = (): { row: number; field: TargetField; error: unknown } | undefined =>
    failures
      .filter((f) => !shredded.has(f.row))
      .reduce<(typeof failures)[number] | undefined>(
        (a, f) => (a === undefined || f.row < a.row ? f : a),
        undefined,
      );
  // Legacy values one by one, in row order, stopping once a failure before the row will stop
  // the chunk anyway (a bad converter costs one plaintext read, not one per row). A row's
  // shredded state is final once its own legacy values are done, which is before any later row.
  for (const { row, field, stored } of legacy) {
    if (shredded.has(row)) continue;
    const stop = blocking();
    if (stop !== undefined && stop.row < row) break;
    try {
      out[row]!.set(field, await convertLegacy(fs, target, field, rows[row]!, stored));
    } catch (error) {
      failures.push({ row, field, error });
      if (isShredded(error)) shredded.add(row);
    }
  }
  const first = blocking();
  if (first !== undefined) {
    const field = first.field.planned.qualified;
    throw new BackfillError(`the backfill stopped in chunk ${chunk} on field ${field}`, {
      cause: first.error,
      details: { field },
    });
  }
  return out.map((next, r) => (shredded.has(r) ? 'shredded' : next));
}

const isShredded = (error: unknown): boolean =>
  isFieldsealError(error) && error.code === 'ERR_KEY_SHREDDED';

/**
 * What a converter sees of a row: a frozen copy of its key and backfilled columns. The row
 * itself keys the UPDATE and its compare-and-set, so no converter may touch it.
 */
function rowCopy(row: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
  const copy: Record<string, unknown> = { ...row };
  delete copy[ROW_VERSION];
  return Object.freeze(copy);
}

/** A legacy plaintext value sealed under the tenant's current key. */
async function convertLegacy(
  fs: Fieldseal,
  target: BackfillTarget,
  f: TargetField,
  row: Readonly<Record<string, unknown>>,
  stored: string | Buffer,
): Promise<string | Buffer> {
  const context = contextFor(target, f, row);
  // Legacy plaintext: fs.decrypt returns it (and counts it) only for a field whose policy
  // allows plaintext reads; any other field fails closed here.
  const raw = await fs.decrypt(stored, context);
  const typed = f.legacy === undefined ? raw : f.legacy(raw as string | Uint8Array, rowCopy(row));
  if (!hasKind(f.planned.kind, typed)) {
    throw new UnsupportedValueError(
      `legacy value of ${f.planned.qualified} is not a ${f.planned.kind}: give a legacy converter`,
      { details: { field: f.planned.qualified } },
    );
  }
  return f.binary ? fs.encryptToBytes(typed, context) : fs.encrypt(typed, context);
}

interface RowUpdate {
  readonly row: Readonly<Record<string, unknown>>;
  readonly next: Map<TargetField, unknown>;
}

/**
 * One UPDATE for every row of the batch, each guarded by compare-and-set on the row version
 * read (an application write in between makes that row miss). Returns the indexes of the
 * updates that were applied.
 */
async function writeRows(
  tx: SqlClient,
  target: BackfillTarget,
  updates: readonly RowUpdate[],
): Promise<Set<number>> {
  if (updates.length === 0) return new Set();
  const arrays: unknown[][] = [];
  const aliases: string[] = [];
  const casts: string[] = [];
  const add = (alias: string, type: string, values: unknown[]): void => {
    arrays.push(values);
    aliases.push(alias);
    casts.push(`$${arrays.length}::${type}[]`);
  };
  add(
    'fieldseal_i',
    'int',
    updates.map((_, i) => i),
  );
  target.pkNames.forEach((name, k) => {
    const field = target.plan.fields.find((f) => f.name === name)!;
    add(
      `k${k}`,
      columnType(field),
      updates.map((u) => keyParam(u.row[name])),
    );
  });
  add(
    'fieldseal_v',
    'xid',
    updates.map((u) => u.row[ROW_VERSION]),
  );
  target.fields.forEach((f, k) => {
    add(
      `n${k}`,
      columnType(f.planned),
      updates.map((u) => (u.next.has(f) ? u.next.get(f) : (u.row[f.name] ?? null))),
    );
  });
  const sets = target.fields.map((f, k) => `${f.column} = v.n${k}`);
  const where = [...target.pk.map((col, k) => `t.${col} = v.k${k}`), 't.xmin = v.fieldseal_v'];
  const { rows } = await tx.query<{ fieldseal_i: number }>(
    `UPDATE ${target.table} AS t SET ${sets.join(', ')}
       FROM unnest(${casts.join(', ')}) AS v(${aliases.join(', ')})
      WHERE ${where.join(' AND ')}
      RETURNING v.fieldseal_i`,
    arrays,
  );
  return new Set(rows.map((r) => Number(r.fieldseal_i)));
}

async function rereadRow(
  tx: SqlClient,
  target: BackfillTarget,
  row: Readonly<Record<string, unknown>>,
): Promise<Record<string, unknown> | undefined> {
  const where = target.pk.map((col, i) => `${col} = $${i + 1}`).join(' AND ');
  const { rows } = await tx.query<Record<string, unknown>>(
    `SELECT ${selectedColumns(target)} FROM ${target.table} WHERE ${where}`,
    target.pkNames.map((n) => row[n]),
  );
  return rows[0];
}

/**
 * The row version a write compares against: the tuple's `xmin`, which every UPDATE of the row
 * changes (a new tuple version). Comparing it instead of every backfilled column as read
 * sends a few bytes per row instead of a second copy of its envelopes, and is stricter: any
 * change to the row, even to another column or to the same bytes, makes the write miss.
 */
const ROW_VERSION = 'fieldseal:row_version';

/** The key, the backfilled columns and the row version, in the order of a chunk's SELECT. */
function selectedColumns(target: BackfillTarget): string {
  return [
    ...target.pk,
    ...target.fields.map((f) => f.column),
    `xmin::text AS "${ROW_VERSION}"`,
  ].join(', ');
}
