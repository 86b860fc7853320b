import type { EncryptionContext } from '../../index.js';
import { inspectEnvelope } from '../../index.js';
import type { FieldSchema } from '../../integration/index.js';
import { contextOf, scopeOf } from '../../integration/index.js';
import { compareAndSet, type CasColumn, type CasRow } from './compare-and-set.js';
import { keyParams, type RepositoryContext } from './repository-context.js';

/*
 * Write-back on read (internal): values read under a data-key version that is no longer the
 * tenant's current one are sealed again under the current one and written back, guarded by
 * compare-and-set on the exact stored bytes. Lazy re-encryption, paid by reads.
 */

interface StaleValue {
  readonly row: number;
  readonly field: FieldSchema;
  readonly stored: string | Buffer;
  readonly context: EncryptionContext;
}

/**
 * Write back the stale values of `rows` (stored rows that were just decrypted successfully).
 * For each (tenant, key version) one value is probed with `fs.reencrypt`: if it is current the
 * whole group is left alone, otherwise every value of the group is re-encrypted. Each row's
 * new values are written in one compare-and-set on every value being replaced: a row changed
 * since it was read keeps the application's write (counted in `writeBackConflicts`).
 * Only key-store envelopes (`keyId@version`) are considered: embedded envelopes carry no
 * version, and legacy plaintext is a migration's job.
 * @throws database and key errors: a read that writes back fails when its write-back fails.
 * @internal
 */
export async function writeBack(
  ctx: RepositoryContext,
  rows: readonly Readonly<Record<string, unknown>>[],
): Promise<void> {
  if (!ctx.writeBack || rows.length === 0) return;
  const groups = new Map<string, StaleValue[]>();
  rows.forEach((row, r) => {
    const scope = scopeOf(ctx.plan, row);
    for (const field of ctx.plan.encrypted) {
      const stored = row[field.name];
      if (typeof stored !== 'string' && !Buffer.isBuffer(stored)) continue;
      const info = inspectEnvelope(stored);
      if (info?.keyRef.kind !== 'store') continue;
      const id = `${info.keyLabel}\u0000${scope.tenant}`;
      const value = { row: r, field, stored, context: contextOf(ctx.plan, field, scope) };
      const group = groups.get(id);
      if (group === undefined) groups.set(id, [value]);
      else group.push(value);
    }
  });
  const fresh = new Map<StaleValue, string | Buffer>();
  await Promise.all(
    [...groups.values()].map(async (values) => {
      const [probe, ...rest] = values;
      const first = await ctx.fs.reencrypt(probe!.stored, probe!.context);
      if (!first.changed) return;
      fresh.set(probe!, first.stored);
      const others = await Promise.all(rest.map((v) => ctx.fs.reencrypt(v.stored, v.context)));
      others.forEach((o, i) => {
        if (o.changed) fresh.set(rest[i]!, o.stored);
      });
    }),
  );
  if (fresh.size === 0) return;

  // Rows grouped by the set of fields they rewrite: one statement shape per group.
  const byRow = new Map<number, StaleValue[]>();
  for (const v of fresh.keys()) {
    const list = byRow.get(v.row);
    if (list === undefined) byRow.set(v.row, [v]);
    else list.push(v);
  }
  const shapes = new Map<string, { fields: FieldSchema[]; rows: StaleValue[][] }>();
  for (const values of byRow.values()) {
    values.sort((a, b) => ctx.plan.fields.indexOf(a.field) - ctx.plan.fields.indexOf(b.field));
    const id = values.map((v) => v.field.name).join('\u0000');
    const shape = shapes.get(id) ?? { fields: values.map((v) => v.field), rows: [] };
    shape.rows.push(values);
    shapes.set(id, shape);
  }
  for (const { fields, rows: shaped } of shapes.values()) {
    const columns: CasColumn[] = fields.map((f) => ({
      name: f.name,
      type: ctx.columns.find((c) => c.name === f.name)!.type,
    }));
    const cas: CasRow[] = shaped.map((values) => ({
      key: keyParams(ctx, rows[values[0]!.row]!),
      expect: values.map((v) => v.stored),
      set: values.map((v) => fresh.get(v)),
    }));
    const done = await compareAndSet(ctx, columns, columns, cas);
    ctx.stats.writeBacks += done.size;
    ctx.stats.writeBackValues += done.size * fields.length;
    ctx.stats.writeBackConflicts += shaped.length - done.size;
  }
}
