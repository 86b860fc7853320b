import { normalizeValue } from '../../integration/index.js';
import type { DecryptItem } from '../../index.js';
import { withField } from '../../integration/index.js';
import { contextOf, kindError, scopeOf } from '../../integration/index.js';
import { indexOf } from '../../integration/index.js';
import { indexColumn, indexedField } from '../../integration/index.js';
import { q } from './repository-columns.js';
import { selectRows, type RepositoryContext } from './repository-context.js';

/** Most values one lookup may ask for (each is one index in `= ANY($2)`). */
const MAX_VALUES = 1000;

/**
 * The stored rows of `tenant` whose blind-indexed field `name` holds one of `values`, in key
 * order. The index only finds candidates: each candidate's field is decrypted and compared,
 * after the field's normalisation, with the values asked for, so an index collision never
 * returns a wrong row (it is counted in `stats.blindIndexFalsePositives`).
 * @throws TypeError for a field without a blind index, a bad tenant or value list;
 *   UnsupportedValueError for a value that is not well-formed Unicode; the key error of the
 *   tenant's index secret (e.g. `ERR_KEY_SHREDDED`); the error of a candidate that does not
 *   decrypt, naming the field (fail closed: it might have been the row asked for).
 * @internal
 */
export async function lookup(
  ctx: RepositoryContext,
  tenant: string,
  name: string,
  values: readonly string[],
): Promise<Record<string, unknown>[]> {
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
  if (values.length === 0) return [];
  const opened = await ctx.secrets!.load([tenant], [f.read], {
    create: false,
    reseal: ctx.writeBack,
  });
  let wanted: string[];
  try {
    // No secret: nothing of this tenant was ever indexed under this version.
    if (opened.get(tenant, f.read) === undefined) return [];
    wanted = [
      ...new Set(values.map((v) => indexOf(ctx.plan, ctx.index!, opened, tenant, f, f.read, v))),
    ];
  } finally {
    opened.wipe();
  }
  const targets = new Set(values.map((v) => normalizeValue(v, f.resolved)));
  const column = q(indexColumn(name, f.read));
  const candidates = await selectRows(
    ctx,
    `${q(ctx.plan.tenant)} = $1 AND ${column} = ANY($2::text[])`,
    [tenant, wanted],
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
    return targets.has(normalizeValue(result.value, f.resolved));
  });
  ctx.stats.blindIndexFalsePositives += candidates.length - matches.length;
  return matches;
}
