import type { Fieldseal } from '../../index.js';
import { BackfillError, isFieldsealError, UnsupportedValueError } from '../../index.js';
import { inspectEnvelope } from '../../index.js';
import type { SqlClient } from '../sql-client.js';
import { hasKind } from '../../integration/index.js';
import { columnType, keyParam } from '../repository/repository-columns.js';
import { contextFor, type BackfillTarget, type TargetField } from './backfill-target.js';

/*
 * One chunk of a backfill, in one transaction (internal): claim the chunk row with
 * FOR UPDATE SKIP LOCKED, re-encrypt its rows, write each row back by compare-and-set on the
 * values read, and mark the chunk done. Row writes and the checkpoint commit together or not
 * at all, so a worker killed at any point neither loses nor repeats a write.
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
    const columns = [...target.pk, ...target.fields.map((f) => f.column)].join(', ');
    const { rows } = await tx.query<Record<string, unknown>>(
      `SELECT ${columns} FROM ${target.table}
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
      for (const row of pending) {
        const next = await reencryptRow(fs, target, row, chunk);
        if (next === 'shredded') rowsShredded++;
        else if (next.size > 0) updates.push({ row, next });
      }
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
 * The row's re-encrypted values that changed (field → new stored value), or `'shredded'` when
 * its tenant's keys are destroyed.
 */
async function reencryptRow(
  fs: Fieldseal,
  target: BackfillTarget,
  row: Readonly<Record<string, unknown>>,
  chunk: number,
): Promise<Map<TargetField, unknown> | 'shredded'> {
  const out = new Map<TargetField, unknown>();
  for (const f of target.fields) {
    const stored = row[f.name];
    if (stored === null || stored === undefined) continue;
    try {
      const value = await reencryptValue(fs, target, f, row, stored as string | Uint8Array);
      if (value !== undefined) out.set(f, value);
    } catch (err) {
      if (isFieldsealError(err) && err.code === 'ERR_KEY_SHREDDED') return 'shredded';
      throw new BackfillError(
        `the backfill stopped in chunk ${chunk} on field ${f.planned.qualified}`,
        { cause: err, details: { field: f.planned.qualified } },
      );
    }
  }
  return out;
}

async function reencryptValue(
  fs: Fieldseal,
  target: BackfillTarget,
  f: TargetField,
  row: Readonly<Record<string, unknown>>,
  stored: string | Uint8Array,
): Promise<string | Buffer | undefined> {
  const context = contextFor(target, f, row);
  const bytes = typeof stored === 'string' ? stored : Buffer.from(stored);
  if (inspectEnvelope(bytes) !== undefined) {
    const { stored: next, changed } = await fs.reencrypt(bytes, context);
    return changed ? next : undefined;
  }
  // Legacy plaintext: fs.decrypt returns it (and counts it) only for a field whose policy
  // allows plaintext reads; any other field fails closed here.
  const raw = await fs.decrypt(bytes, context);
  const typed = f.legacy === undefined ? raw : f.legacy(raw as string | Uint8Array);
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
 * One UPDATE for every row of the batch, each guarded by compare-and-set on every backfilled
 * column as it was read (an application write in between makes that row miss). Returns the
 * indexes of the updates that were applied.
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
  target.fields.forEach((f, k) => {
    const type = columnType(f.planned);
    add(
      `o${k}`,
      type,
      updates.map((u) => u.row[f.name] ?? null),
    );
    add(
      `n${k}`,
      type,
      updates.map((u) => (u.next.has(f) ? u.next.get(f) : (u.row[f.name] ?? null))),
    );
  });
  const sets = target.fields.map((f, k) => `${f.column} = v.n${k}`);
  const where = [
    ...target.pk.map((col, k) => `t.${col} = v.k${k}`),
    ...target.fields.map((f, k) => `t.${f.column} IS NOT DISTINCT FROM v.o${k}`),
  ];
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
  const columns = [...target.pk, ...target.fields.map((f) => f.column)].join(', ');
  const where = target.pk.map((col, i) => `${col} = $${i + 1}`).join(' AND ');
  const { rows } = await tx.query<Record<string, unknown>>(
    `SELECT ${columns} FROM ${target.table} WHERE ${where}`,
    target.pkNames.map((n) => row[n]),
  );
  return rows[0];
}
