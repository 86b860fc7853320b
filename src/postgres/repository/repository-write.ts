import { encryptRecords } from '../../index.js';
import { indexValues, type WrittenIndexColumn } from '../../integration/index.js';
import { q, toColumn } from './repository-columns.js';
import { keyOrder, type RepositoryContext } from './repository-context.js';

/** Records per INSERT statement. */
const BATCH = 1000;

/**
 * Encrypt records and write them with their blind indexes, one statement per 1,000 records.
 * With `upsert`, an existing record (same tenant and key) is replaced: every column and every
 * written index column; index columns of versions not written are left as they are.
 * @returns how many records were written.
 * @internal
 */
export async function writeRecords(
  ctx: RepositoryContext,
  written: readonly WrittenIndexColumn[],
  records: readonly unknown[],
  upsert: boolean,
): Promise<number> {
  if (!Array.isArray(records)) throw new TypeError('records: expected an array');
  const { plan, columns } = ctx;
  const keyNames = new Set([plan.tenant, ...plan.key]);
  const insertColumns = [...columns.map((c) => c.name), ...written.map((c) => c.name)];
  const replace = insertColumns.filter((c) => !keyNames.has(c));
  const onConflict =
    replace.length === 0
      ? 'DO NOTHING'
      : `DO UPDATE SET ${replace.map((c) => `${q(c)} = EXCLUDED.${q(c)}`).join(', ')}`;
  let count = 0;
  for (let start = 0; start < records.length; start += BATCH) {
    const chunk = records.slice(start, start + BATCH) as Record<string, unknown>[];
    const rows = (await encryptRecords(ctx.fs, ctx.model, chunk as never)) as Record<
      string,
      unknown
    >[];
    // Indexes only after encryption succeeded: the records have the model's shape by now.
    const indexes = ctx.index
      ? await indexValues(plan, ctx.index, ctx.secrets!, written, chunk)
      : [];
    const params: unknown[] = [];
    const tuples = rows.map((row, i) => {
      const values = [...columns.map((c) => toColumn(row[c.name], c.field)), ...(indexes[i] ?? [])];
      const slots = values.map((v) => {
        params.push(v);
        return `$${params.length}`;
      });
      return `(${slots.join(', ')})`;
    });
    await ctx.sql.query(
      `INSERT INTO ${q(ctx.table)} (${insertColumns.map(q).join(', ')}) VALUES ${tuples.join(', ')}` +
        (upsert ? ` ON CONFLICT (${keyOrder(ctx)}) ${onConflict}` : ''),
      params,
    );
    count += rows.length;
  }
  return count;
}
