import { Column, is, SQL, StringChunk, Subquery, Table } from 'drizzle-orm';
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
  /** The tenant whose indexes the condition holds. */
  readonly tenant: string;
  readonly lookup: BlindIndexLookup;
}

const conditions = new WeakMap<SQL, LookupCondition>();

/** Remember a condition made by a sealed table. */
export function register(sql: SQL, condition: LookupCondition): SQL {
  conditions.set(sql, condition);
  return sql;
}

/** Whether a chunk level joins its parts with OR or NOT (in its own text, or a separator). */
function joinsWithOrNot(chunks: readonly unknown[]): boolean {
  const connective = (text: string): boolean => /\b(or|not)\b/i.test(text);
  return chunks.some((c) => {
    if (is(c, StringChunk)) return c.value.some(connective);
    // `sql.join(parts, sql\` OR \`)`: a separator is an SQL of text alone.
    if (is(c, SQL) && c.queryChunks.every((x) => is(x, StringChunk))) {
      return c.queryChunks.some((x) => x.value.some(connective));
    }
    return false;
  });
}

/**
 * What a chunk holds that may hide a condition: a query inside the query (a subquery, a
 * select builder: `nested`), or any other SQL wrapper (`{ getSQL }`), whose SQL is inline.
 */
function wrapped(chunk: unknown): { sql: SQL; nested: boolean } | undefined {
  if (is(chunk, Subquery)) return { sql: chunk._.sql, nested: true };
  if (
    typeof chunk !== 'object' ||
    chunk === null ||
    is(chunk, SQL) ||
    is(chunk, Column) ||
    is(chunk, Table) ||
    !('getSQL' in chunk) ||
    typeof chunk.getSQL !== 'function'
  ) {
    return undefined;
  }
  let inner: unknown;
  try {
    inner = (chunk as { getSQL(): unknown }).getSQL();
  } catch {
    return undefined;
  }
  // A leaf (a parameter, a name, a view...) wraps itself: `new SQL([this])`.
  if (!is(inner, SQL) || inner.queryChunks.includes(chunk as never)) return undefined;
  // A query builder has its own internals (`_`); a bare `{ getSQL }` is inline SQL.
  return { sql: inner, nested: '_' in chunk };
}

/**
 * The lookup conditions in an SQL tree, whether one of them sits under an `or` / `not` (whose
 * rows a re-check cannot filter: a row may match the other branch), and whether one sits in a
 * query inside the query (a subquery, an `in (select ...)`), whose rows are not the ones
 * decrypted.
 */
export function lookupsIn(root: SQL): {
  found: LookupCondition[];
  underOr: boolean;
  nested: boolean;
} {
  const found: LookupCondition[] = [];
  let underOr = false;
  let nested = false;
  const seen = new Set<SQL>();
  const walk = (sql: SQL, orAbove: boolean, inner: boolean): void => {
    if (seen.has(sql)) return;
    seen.add(sql);
    const mine = conditions.get(sql);
    if (mine !== undefined) {
      found.push(mine);
      if (orAbove) underOr = true;
      if (inner) nested = true;
      return;
    }
    const or = orAbove || joinsWithOrNot(sql.queryChunks);
    for (const chunk of sql.queryChunks) {
      if (is(chunk, SQL)) walk(chunk, or, inner);
      else {
        const sub = wrapped(chunk);
        if (sub !== undefined) walk(sub.sql, or, inner || sub.nested);
      }
    }
  };
  walk(root, false, false);
  return { found, underOr, nested };
}
