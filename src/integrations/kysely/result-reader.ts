import { UnsupportedOptionError, type Fieldseal } from '../../index.js';
import {
  holdsEnvelope,
  openStoredValues,
  scopeOf,
  type RecordScope,
  type StoredFieldValue,
} from '../../integration/index.js';
import { refuseUnattributed } from './envelope-scan.js';
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
  const values: StoredFieldValue[] = [];
  const names: string[] = [];
  rows.forEach((row, index) => {
    const source: Record<string, unknown> = { [schema.tenant]: row[plan.tenant] };
    schema.key.forEach((k, i) => (source[k] = row[plan.key[i]!]));
    let scope: RecordScope;
    try {
      scope = scopeOf(schema, source);
    } catch {
      throw new UnsupportedOptionError(
        `table ${schema.table}: a row's ${schema.tenant} or key is not a string or number: it cannot be the encryption context of its values`,
        { details: { field: `${schema.table}.${schema.tenant}` } },
      );
    }
    for (const { name, field } of plan.outputs) {
      values.push({ row: index, field, stored: row[name], scope });
      names.push(name);
    }
  });
  const plain = await openStoredValues(fs, schema, values);
  values.forEach((v, i) => (rows[v.row]![names[i]!] = plain[i] ?? null));
}
