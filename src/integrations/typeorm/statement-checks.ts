import { refuse, type EntityBinding } from './entity-binding.js';

/*
 * The statements TypeORM sends for sealed tables, checked by the subscriber's beforeQuery: what
 * its query builders can generate that would bind a sealed value to another record, or put
 * stored envelopes into the caller's entities. Internal.
 */

/** `INSERT INTO t` / `UPDATE t` anywhere in a statement (after a comment or a CTE too). */
const TARGET = /\b(INSERT\s+INTO|UPDATE)\s+((?:"[^"]+"|\w+)(?:\s*\.\s*(?:"[^"]+"|\w+))?)/gi;

const unquote = (name: string): string => name.trim().replace(/^"|"$/g, '');

/**
 * Refuse, for a statement writing a sealed table (`byTable`: bindings by table name):
 * - an upsert (`ON CONFLICT ... DO UPDATE`) whose conflict target is not the record's tenant and
 *   key columns: the row it updates could be another record, whose remaining sealed values would
 *   no longer match its context (`ON CONFLICT ON CONSTRAINT` cannot be checked: refused);
 * - a `RETURNING` of a sealed column (or `*`): TypeORM merges what it returns into the entity
 *   without the column's transformer, so the caller's object would hold the stored envelope.
 * @throws UnsupportedOptionError naming `table.column`.
 */
export function refuseUnsafeStatement(
  byTable: ReadonlyMap<string, EntityBinding>,
  query: string,
): void {
  for (const m of query.matchAll(TARGET)) {
    const binding = byTable.get(unquote(m[2]!.split('.').at(-1)!));
    if (binding === undefined) continue;
    if (/\bDO\s+UPDATE\b/i.test(query)) refuseUpsert(binding, query);
    if (/^UPDATE$/i.test(m[1]!)) refuseScopeUpdate(binding, query.slice(m.index));
    const returning = /\bRETURNING\b([\s\S]*)$/i.exec(query)?.[1];
    if (returning !== undefined) {
      // Any mention of a sealed column (an expression, an alias) or `*`.
      const column = binding.metadata.columns.find(
        (c) => binding.sealed.has(c.propertyPath) && mentions(returning, c.databaseName),
      );
      if (returning.includes('*') || column !== undefined) {
        refuse(
          binding.table,
          column?.databaseName ?? '*',
          'RETURNING a sealed column would put its stored envelope into the entity: reload the entity with find',
        );
      }
    }
  }
}

const escaped = (name: string): string => name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Whether SQL text names a column (quoted, or bare as a whole word). */
function mentions(text: string, column: string): boolean {
  const bare = new RegExp(`(^|[^\\w"])${escaped(column)}($|[^\\w"])`, 'i');
  return text.includes(`"${column}"`) || bare.test(text);
}

/**
 * An `UPDATE` that sets a tenant or key column (listeners off, a query builder): the row's
 * sealed values stay bound to the old ones. The subscriber refuses such a change on its own
 * paths; this refuses it on every path.
 */
function refuseScopeUpdate(binding: EntityBinding, statement: string): void {
  const set = /^UPDATE\s+\S+\s+SET\s+([\s\S]*?)(?:\bWHERE\b|\bRETURNING\b|$)/i.exec(statement);
  if (set === null) return;
  for (const { column } of binding.scopeColumns.values()) {
    if (new RegExp(`(^|,)\\s*"?${escaped(column.databaseName)}"?\\s*=`, 'i').test(set[1]!)) {
      refuse(
        binding.table,
        column.databaseName,
        "changing a record's tenant or key would orphan its sealed values: insert a new record and delete the old one",
      );
    }
  }
}

function refuseUpsert(binding: EntityBinding, query: string): void {
  const targets = [...query.matchAll(/\bON\s+CONFLICT\b\s*(\(([^)]*)\))?/gi)];
  for (const target of targets.length === 0 ? [undefined] : targets) {
    const columns = new Set((target?.[2] ?? '').split(',').map(unquote));
    const missing = [...binding.scopeColumns.values()].find(
      ({ column }) => !columns.has(column.databaseName),
    );
    if (target?.[1] === undefined || missing !== undefined) {
      refuse(
        binding.table,
        missing?.column.databaseName ?? binding.schema.tenant,
        "an upsert must conflict on the record's tenant and key columns: the row it updates could be another record",
      );
    }
  }
}
