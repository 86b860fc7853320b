import type { DecryptItem } from '../../index.js';
import {
  contextOf,
  indexColumn,
  indexedField,
  indexOf,
  indexValues,
  kindError,
  normalizeValue,
  ownData,
  scopeOf,
  withField,
  writtenIndexColumns,
  type BlindIndexLookup,
  type BlindIndexWrite,
} from '../../integration/index.js';
import { q } from './repository-columns.js';
import { selectRows, type RepositoryContext } from './repository-context.js';

/** Most values one lookup may ask for (each is one index in `= ANY($2)`). */
const MAX_VALUES = 1000;

/** Checks a lookup's arguments; the field's blind-index settings. */
function lookupField(ctx: RepositoryContext, tenant: unknown, name: string, values: unknown) {
  const f = indexedField(ctx.index, name);
  if (typeof tenant !== 'string' || tenant.length === 0) {
    throw new TypeError('tenant: expected a non-empty string');
  }
  if (
    !Array.isArray(values) ||
    values.length > MAX_VALUES ||
    !values.every((v) => typeof v === 'string')
  ) {
    throw new TypeError(`values: expected an array of at most ${MAX_VALUES} strings`);
  }
  return f;
}

/**
 * The index column and distinct index values of `values` in `tenant`'s blind index of `name`
 * (read version), and the re-check of a decrypted candidate. A tenant without a secret has
 * no indexes: nothing of it was ever indexed under this version.
 * @throws TypeError for a field without a blind index, a bad tenant or value list;
 *   UnsupportedValueError for a value that is not well-formed Unicode; the key error of the
 *   tenant's index secret (e.g. `ERR_KEY_SHREDDED`).
 * @internal
 */
export async function lookupIndexes(
  ctx: RepositoryContext,
  tenant: string,
  name: string,
  values: readonly string[],
): Promise<BlindIndexLookup> {
  const f = lookupField(ctx, tenant, name, values);
  let indexes: string[] = [];
  if (values.length > 0) {
    const opened = await ctx.secrets!.load([tenant], [f.read], {
      create: false,
      reseal: ctx.writeBack,
    });
    try {
      if (opened.get(tenant, f.read) !== undefined) {
        indexes = [
          ...new Set(
            values.map((v) => indexOf(ctx.plan, ctx.index!, opened, tenant, f, f.read, v)),
          ),
        ];
      }
    } finally {
      opened.wipe();
    }
  }
  const targets = new Set(values.map((v) => normalizeValue(v, f.resolved)));
  return Object.freeze({
    column: indexColumn(name, f.read),
    indexes: Object.freeze(indexes),
    matches: (value: unknown): boolean =>
      typeof value === 'string' && targets.has(normalizeValue(value, f.resolved)),
  });
}

/**
 * The index columns and values each write stores (every written version of its field),
 * creating and sealing tenant secrets where missing.
 * @throws TypeError for a field without a blind index or a bad write; the key error of a
 *   tenant whose secret cannot be made or opened.
 * @internal
 */
export async function writeIndexes(
  ctx: RepositoryContext,
  writes: readonly BlindIndexWrite[],
): Promise<Record<string, string>[]> {
  if (!Array.isArray(writes) || writes.length > MAX_VALUES) {
    throw new TypeError(`writes: expected an array of at most ${MAX_VALUES} writes`);
  }
  const checked = writes.map((w: unknown, at) => {
    const bad = (): never => {
      throw new TypeError(`writes[${at}]: expected { tenant, field, value } as plain data`);
    };
    if (typeof w !== 'object' || w === null) bad();
    const { tenant, field, value } = ownData(w as object, bad);
    if (typeof field !== 'string') bad();
    lookupField(ctx, tenant, field as string, [value]);
    return { at, tenant: tenant as string, field: field as string, value: value as string };
  });
  const columns = writtenIndexColumns(ctx.index);
  const out: Record<string, string>[] = [];
  // One secrets load for the whole list: group by field, index every write of the field.
  for (const name of new Set(checked.map((w) => w.field))) {
    const mine = columns.filter((c) => c.field.field.name === name);
    const rows = checked.filter((w) => w.field === name);
    const values = await indexValues(
      ctx.plan,
      ctx.index!,
      ctx.secrets!,
      mine,
      rows.map((w) => ({ [ctx.plan.tenant]: w.tenant, [name]: w.value })),
    );
    rows.forEach((w, i) => {
      const entry = Object.create(null) as Record<string, string>;
      mine.forEach((c, j) => (entry[c.name] = values[i]![j]!));
      out[w.at] = Object.freeze(entry);
    });
  }
  return out;
}

/**
 * The stored rows of `tenant` whose blind-indexed field `name` holds one of `values`, in key
 * order. The index only finds candidates: each candidate's field is decrypted and compared,
 * after the field's normalisation, with the values asked for, so an index collision never
 * returns a wrong row (it is counted in `stats.blindIndexFalsePositives`).
 * @throws what {@link lookupIndexes} throws; the error of a candidate that does not
 *   decrypt, naming the field (fail closed: it might have been the row asked for).
 * @internal
 */
export async function lookup(
  ctx: RepositoryContext,
  tenant: string,
  name: string,
  values: readonly string[],
): Promise<Record<string, unknown>[]> {
  const wanted = await lookupIndexes(ctx, tenant, name, values);
  if (wanted.indexes.length === 0) return [];
  const f = indexedField(ctx.index, name);
  const column = q(wanted.column);
  const candidates = await selectRows(
    ctx,
    `${q(ctx.plan.tenant)} = $1 AND ${column} = ANY($2::text[])`,
    [tenant, wanted.indexes],
  );
  ctx.stats.blindIndexCandidates += candidates.length;
  const present = candidates.filter((row) => row[name] !== null && row[name] !== undefined);
  const items: DecryptItem[] = present.map((row) => ({
    stored: row[name] as string | Uint8Array,
    context: contextOf(ctx.plan, f.field, scopeOf(ctx.plan, row)),
  }));
  const results = items.length > 0 ? await ctx.fs.decryptManySettled<unknown>(items) : [];
  const matches = present.filter((_, i) => {
    const result = results[i]!;
    if (!result.ok) throw withField(result.error, f.field.qualified);
    if (typeof result.value !== 'string') throw kindError(f.field, 'decrypt');
    return wanted.matches(result.value);
  });
  ctx.stats.blindIndexFalsePositives += candidates.length - matches.length;
  return matches;
}
