import {
  BatchError,
  UnsupportedOptionError,
  type Fieldseal,
  type FieldsealError,
  type DecryptItem,
} from '../../index.js';
import {
  absentError,
  contextOf,
  hasKind,
  kindError,
  scopeOf,
  withField,
} from '../../integration/index.js';
import { holdsEnvelope, refuseUnattributed } from './envelope-scan.js';
import type { ResultPlan } from './read-plan.js';

type Row = Record<string, unknown>;

/**
 * A statement's rows, read: the planned outputs decrypted in one batch with each row's
 * context, rows that fail a lookup's re-check dropped, the plugin's own outputs removed, and
 * every other output checked for envelopes nobody can attribute. All or nothing: one value
 * that does not decrypt fails the statement (`BatchError`, each failure naming its field).
 * @internal
 */
export async function readRows(
  fs: Fieldseal,
  plan: ResultPlan | undefined,
  rows: readonly Row[],
): Promise<Row[]> {
  const out = rows.map((r) => ({ ...r }));
  if (plan !== undefined) await decryptOutputs(fs, plan, out);
  const kept =
    plan === undefined || plan.rechecks.length === 0
      ? out
      : out.filter((row) =>
          plan.rechecks.every(
            (r) => row[plan.tenant] === r.lookup.tenant && r.lookup.matches(row[r.output]),
          ),
        );
  const read = new Set(plan?.outputs.map((o) => o.name));
  for (const row of kept) {
    for (const name of plan?.hidden ?? []) delete row[name];
    for (const [name, value] of Object.entries(row)) {
      if (!read.has(name) && holdsEnvelope(value)) refuseUnattributed(name);
    }
  }
  return kept;
}

async function decryptOutputs(fs: Fieldseal, plan: ResultPlan, rows: Row[]): Promise<void> {
  const { schema } = plan.table;
  const items: DecryptItem[] = [];
  const slots: { row: number; name: string; field: ResultPlan['outputs'][number]['field'] }[] = [];
  const failures: { index: number; error: FieldsealError }[] = [];
  rows.forEach((row, index) => {
    const source: Record<string, unknown> = { [schema.tenant]: row[plan.tenant] };
    schema.key.forEach((k, i) => (source[k] = row[plan.key[i]!]));
    let scope: ReturnType<typeof scopeOf>;
    try {
      scope = scopeOf(schema, source);
    } catch {
      throw new UnsupportedOptionError(
        `table ${schema.table}: a row's ${schema.tenant} or key is not a string or number: it cannot be the encryption context of its values`,
        { details: { field: `${schema.table}.${schema.tenant}` } },
      );
    }
    for (const { name, field } of plan.outputs) {
      const value = row[name];
      if (value === null || value === undefined) {
        // SQL NULL is "absent" for an optional field, as the repository reads it.
        const error = absentError(
          field,
          field.optional && !field.nullable ? undefined : null,
          'decrypt',
        );
        if (error !== undefined) failures.push({ index, error });
        row[name] = null;
        continue;
      }
      items.push({
        stored: value as string | Uint8Array,
        context: contextOf(schema, field, scope),
      });
      slots.push({ row: index, name, field });
    }
  });
  const settled = items.length > 0 ? await fs.decryptManySettled(items) : [];
  settled.forEach((result, i) => {
    const { row, name, field } = slots[i]!;
    if (!result.ok) failures.push({ index: row, error: withField(result.error, field.qualified) });
    else if (!hasKind(field.kind, result.value)) {
      failures.push({ index: row, error: kindError(field, 'decrypt') });
    } else rows[row]![name] = result.value;
  });
  if (failures.length > 0) throw new BatchError(failures);
}
