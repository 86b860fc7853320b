import { is, SQL, StringChunk } from 'drizzle-orm';
import type { BlindIndexLookup, FieldSchema } from '../../integration/index.js';

/*
 * The lookup conditions a sealed table's `eq` / `inArray` made, and finding them again in a
 * query builder's SQL, so that `decrypt(query)` re-checks the rows each one found. All
 * internal.
 */

/** One lookup condition: the field it matches and its re-check. */
export interface LookupCondition {
  readonly owner: object;
  readonly field: FieldSchema;
  readonly lookup: BlindIndexLookup;
}

const conditions = new WeakMap<SQL, LookupCondition>();

/** Remember a condition made by a sealed table. */
export function register(sql: SQL, condition: LookupCondition): SQL {
  conditions.set(sql, condition);
  return sql;
}

/**
 * The lookup conditions in an SQL tree, and whether one of them sits beside an `or`
 * (whose rows a re-check cannot filter: a row may match the other branch).
 */
export function lookupsIn(root: SQL): { found: LookupCondition[]; underOr: boolean } {
  const found: LookupCondition[] = [];
  let underOr = false;
  const seen = new Set<SQL>();
  const walk = (sql: SQL, orAbove: boolean): void => {
    if (seen.has(sql)) return;
    seen.add(sql);
    const or =
      orAbove ||
      sql.queryChunks.some(
        (c) => is(c, StringChunk) && c.value.some((v) => /\bor\b/i.test(v) || /\bnot\b/i.test(v)),
      );
    const mine = conditions.get(sql);
    if (mine !== undefined) {
      found.push(mine);
      if (orAbove) underOr = true;
      return;
    }
    for (const chunk of sql.queryChunks) if (is(chunk, SQL)) walk(chunk, or);
  };
  walk(root, false);
  return { found, underOr };
}
