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
 * Refuse, for a statement writing a sealed table:
 * - an upsert (`ON CONFLICT ... DO UPDATE`) whose conflict target is not the record's tenant and
 *   key columns: the row it updates could be another record, whose remaining sealed values would
 *   no longer match its context (`ON CONFLICT ON CONSTRAINT` cannot be checked: refused);
 * - a `RETURNING` of a sealed column (or `*`): TypeORM merges what it returns into the entity
 *   without the column's transformer, so the caller's object would hold the stored envelope.
 * @throws UnsupportedOptionError naming `table.column`.
 */
export function refuseUnsafeStatement(bindings: Iterable<EntityBinding>, query: string): void {
  const byTable = new Map<string, EntityBinding>();
  for (const b of bindings) byTable.set(b.table, b);
  for (const m of query.matchAll(TARGET)) {
    const binding = byTable.get(unquote(m[2]!.split('.').at(-1)!));
    if (binding === undefined) continue;
    if (/\bDO\s+UPDATE\b/i.test(query)) refuseUpsert(binding, query);
    const returning = /\bRETURNING\b([\s\S]*)$/i.exec(query)?.[1];
    if (returning !== undefined) {
      const names = returning.split(',').map((c) => unquote(c.split('.').at(-1)!));
      const column = binding.metadata.columns.find(
        (c) => binding.sealed.has(c.propertyPath) && names.includes(c.databaseName),
      );
      if (names.includes('*') || column !== undefined) {
        refuse(
          binding.table,
          column?.databaseName ?? '*',
          'RETURNING a sealed column would put its stored envelope into the entity: reload the entity with find',
        );
      }
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
