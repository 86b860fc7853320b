import type { AliasNode } from './kysely-imports.js';
import {
  ColumnNode,
  ColumnUpdateNode,
  ReturningNode,
  ValueListNode,
  ValueNode,
  type DeleteQueryNode,
  type InsertQueryNode,
  type OperationNode,
  type RootOperationNode,
  type SelectQueryNode,
  type TableNode,
  type UpdateQueryNode,
} from './kysely-imports.js';
import { UnsupportedOptionError } from '../../index.js';
import { IndexWrites } from './pending.js';
import {
  columnOf,
  equalities,
  find,
  hasRaw,
  refuse,
  refuseEncrypted,
  sealedTablesIn,
  tableName,
  type Target,
} from './query-nodes.js';
import { planSelections, type ResultPlan } from './read-plan.js';
import type { SealedTable, SealedTables } from './sealed-tables.js';
import { planWhere } from './where-plan.js';
import {
  cellOf,
  indexColumnsOf,
  literalScope,
  planOnConflict,
  sealRow,
  settableColumn,
  type Cell,
} from './write-plan.js';

/** A query as the plugin passes it on, and how to read its rows. @internal */
export interface Planned {
  readonly node: RootOperationNode;
  readonly result: ResultPlan | undefined;
}

/** Statements that only define things (no value moves): passed on as they are. */
const DEFINITIONS: ReadonlySet<string> = new Set([
  'CreateTableNode',
  'AlterTableNode',
  'DropTableNode',
  'CreateIndexNode',
  'DropIndexNode',
  'CreateSchemaNode',
  'DropSchemaNode',
  'CreateViewNode',
  'DropViewNode',
  'CreateTypeNode',
  'DropTypeNode',
  'RefreshMaterializedViewNode',
  'RawNode',
]);

const ONCE =
  'a statement may name a guarded table once, as its only table: joins, subqueries, CTEs and set operations over it are refused; run separate queries';

/**
 * Plan a query: statements that do not name a guarded table, definitions and raw SQL pass
 * unchanged (their rows are still checked for envelopes); selects, inserts, updates and
 * deletes of a guarded table are rewritten; anything else naming one is refused.
 * @throws UnsupportedOptionError naming table and column for what cannot be bound to a
 *   record; the field's UnsupportedValueError for a value the model refuses.
 * @internal
 */
export function planQuery(node: RootOperationNode, tables: SealedTables): Planned {
  const planned = plan(node, tables);
  // EXPLAIN returns the plan's text, not rows: nothing to decrypt (its rows are still scanned).
  const explained = (node as { readonly explain?: unknown }).explain !== undefined;
  return explained ? { node: planned.node, result: undefined } : planned;
}

/** Whether a write names a table that is raw SQL (or anything but a plain table). */
function writesRawTable(node: RootOperationNode): boolean {
  const targets: (OperationNode | undefined)[] =
    node.kind === 'InsertQueryNode'
      ? [node.into]
      : node.kind === 'UpdateQueryNode'
        ? [node.table]
        : node.kind === 'DeleteQueryNode'
          ? [...node.from.froms]
          : node.kind === 'MergeQueryNode'
            ? [(node as unknown as { into?: OperationNode }).into]
            : [];
  return targets.some((target) => {
    const table =
      target?.kind === 'AliasNode' ? (target as unknown as { node: OperationNode }).node : target;
    return table?.kind !== 'TableNode';
  });
}

function plan(node: RootOperationNode, tables: SealedTables): Planned {
  if (writesRawTable(node)) {
    // Which table raw SQL names cannot be known (sql\`us${sql.raw('ers')}\`): a write whose
    // table is not named by the builder is refused, whatever it writes.
    throw new UnsupportedOptionError(
      'a write whose table is raw SQL cannot be checked by fieldseal: name the table with the query builder (insertInto/updateTable/deleteFrom(name))',
      { details: { field: '?.*' } },
    );
  }
  const named = sealedTablesIn(node, tables);
  if (named.length === 0 || DEFINITIONS.has(node.kind)) return { node, result: undefined };
  const table = named[0]!;
  if (named.length > 1) refuse(table, undefined, ONCE);
  switch (node.kind) {
    case 'SelectQueryNode':
      return planSelect(
        node,
        target(table, node.from?.froms.length === 1 ? node.from.froms[0] : undefined),
      );
    case 'InsertQueryNode':
      return planInsert(node, target(table, node.into));
    case 'UpdateQueryNode':
      return planUpdate(node, target(table, node.table));
    case 'DeleteQueryNode':
      return planDelete(
        node,
        target(table, node.from.froms.length === 1 ? node.from.froms[0] : undefined),
      );
    default:
      return refuse(table, undefined, `a ${node.kind} over a guarded table is not supported`);
  }
}

/** The statement's own table (optionally aliased) as its target; refused otherwise. */
function target(table: SealedTable, node: OperationNode | undefined): Target {
  if (node?.kind === 'TableNode' && tableName(node as TableNode) === table.name) {
    return { table, node: node as TableNode, alias: undefined };
  }
  if (node?.kind === 'AliasNode') {
    const a = node as AliasNode;
    if (a.node.kind === 'TableNode' && tableName(a.node as TableNode) === table.name) {
      return {
        table,
        node: a.node as TableNode,
        alias: (a.alias as unknown as { name: string }).name,
      };
    }
  }
  return refuse(table, undefined, ONCE);
}

/** Refuse encrypted columns in every property a plan did not handle itself. */
function refuseRest(node: OperationNode, handled: readonly string[], t: Target): void {
  for (const [key, value] of Object.entries(node)) {
    if (key === 'kind' || handled.includes(key)) continue;
    if (Array.isArray(value)) {
      for (const v of value) refuseEncrypted(v as OperationNode, t.table, clauseWhy(key));
    } else if (typeof value === 'object' && value !== null) {
      refuseEncrypted(value as OperationNode, t.table, clauseWhy(key));
    }
  }
}

function clauseWhy(clause: string): string {
  return clause === 'orderBy'
    ? 'the database holds ciphertext, whose order is random: sort after reading'
    : `the database holds ciphertext: an encrypted column cannot be used in ${clause}`;
}

function planSelect(node: SelectQueryNode, t: Target): Planned {
  if (
    (node.joins?.length ?? 0) > 0 ||
    node.setOperations !== undefined ||
    node.with !== undefined
  ) {
    refuse(t.table, undefined, ONCE);
  }
  const where = planWhere(node.where, t, true);
  const read = planSelections(node.selections ?? [], t, where.lookups);
  const lookup = where.lookups[0];
  if (lookup !== undefined) {
    // The database sees candidates, the re-check happens on the rows: anything that computes
    // over candidates (raw SQL, aggregates, windows, DISTINCT) or widens the WHERE is refused.
    const computes =
      hasRaw(node.where) ||
      (node.selections ?? []).some((sel) =>
        find(sel, (n) =>
          n.kind === 'RawNode' || n.kind === 'AggregateFunctionNode' || n.kind === 'OverNode'
            ? true
            : undefined,
        ),
      ) ||
      node.distinctOn !== undefined ||
      node.groupBy !== undefined ||
      node.having !== undefined ||
      (node.endModifiers ?? []).length > 0 ||
      (node.frontModifiers ?? []).some(
        (m) => (m as unknown as { modifier?: string }).modifier === 'Distinct' || hasRaw(m),
      );
    if (computes) {
      refuse(
        t.table,
        lookup.field.name,
        'a blind-index lookup finds candidates that are re-checked row by row: raw SQL, aggregates, windows, DISTINCT, GROUP BY and modifiers cannot be combined with it; select the rows, then compute',
      );
    }
  }
  if (read.added) {
    const aggregate = (node.selections ?? []).some(
      (sel) => find(sel, (n) => (n.kind === 'AggregateFunctionNode' ? true : undefined)) === true,
    );
    const distinct =
      aggregate ||
      node.distinctOn !== undefined ||
      node.groupBy !== undefined ||
      node.having !== undefined ||
      (node.frontModifiers ?? []).some(
        (m) => (m as unknown as { modifier?: string }).modifier === 'Distinct',
      );
    if (distinct) {
      refuse(
        t.table,
        read.result?.outputs[0]?.field.name,
        `reading or re-checking an encrypted column needs each record's ${t.table.schema.tenant} and key in its row, which DISTINCT, GROUP BY and aggregates would change: select the rows, then aggregate`,
      );
    }
  }
  refuseRest(node, ['from', 'selections', 'where', 'joins', 'setOperations', 'with'], t);
  return {
    node: Object.freeze({
      ...node,
      selections: read.selections,
      where: where.where,
    }),
    result: read.result,
  };
}

/** A RETURNING list, planned like a selection. */
function planReturning(
  node: { readonly returning?: ReturningNode },
  t: Target,
): { returning: ReturningNode | undefined; result: ResultPlan | undefined } {
  if (node.returning === undefined) return { returning: undefined, result: undefined };
  const read = planSelections(node.returning.selections, t, []);
  return { returning: ReturningNode.create(read.selections), result: read.result };
}

function planInsert(node: InsertQueryNode, t: Target): Planned {
  const { table } = t;
  const columns = (node.columns ?? []).map((c) => c.column.name);
  for (const c of columns) {
    if (table.indexColumns.has(c))
      refuse(table, c, 'index columns are written by fieldseal, never by hand');
  }
  const { returning, result } = planReturning(node, t);
  const onConflict = planOnConflict(node.onConflict, t);
  refuseRest(node, ['into', 'columns', 'values', 'returning', 'onConflict'], t);
  const base = { ...node, returning, onConflict };
  if (node.values !== undefined && node.columns === undefined) {
    refuse(
      table,
      undefined,
      'an insert must name its columns: without them, PostgreSQL fills the encrypted columns by position',
    );
  }
  if (node.values?.kind !== 'ValuesNode') {
    const encrypted = columns.find((c) => table.encrypted.has(c));
    if (encrypted !== undefined) {
      refuse(table, encrypted, 'INSERT ... SELECT cannot encrypt: insert the values');
    }
    return { node: Object.freeze(base), result };
  }
  const { indexed, columns: indexColumns } = indexColumnsOf(table, table.indexes.keys());
  const writes = table.source === undefined ? undefined : new IndexWrites(table.source);
  const rows = (node.values as unknown as { values: readonly OperationNode[] }).values.map(
    (row, index) => {
      const cells: OperationNode[] =
        row.kind === 'PrimitiveValueListNode'
          ? (row as unknown as { values: readonly unknown[] }).values.map((v) =>
              ValueNode.create(v),
            )
          : [...(row as ValueListNode).values];
      const byColumn = new Map<string, Cell>(columns.map((c, i) => [c, cellOf(cells[i])]));
      const sealed = sealRow(
        table,
        {
          cells: byColumn,
          index,
          scope: literalScope(
            table,
            (c) => byColumn.get(c) ?? { kind: 'absent' },
            `an insert of an encrypted value must give the record's ${table.schema.tenant} and key as values: they are bound into its encryption context`,
          ),
        },
        writes,
        indexed,
      );
      columns.forEach((c, i) => {
        const replaced = sealed.cells.get(c);
        if (replaced !== undefined) cells[i] = replaced;
      });
      return ValueListNode.create([...cells, ...sealed.indexes]);
    },
  );
  return {
    node: Object.freeze({
      ...base,
      columns: Object.freeze([
        ...(node.columns ?? []),
        ...indexColumns.map((c) => ColumnNode.create(c)),
      ]),
      values: Object.freeze({ ...node.values, values: Object.freeze(rows) }),
    }),
    result,
  };
}

function planUpdate(node: UpdateQueryNode, t: Target): Planned {
  const { table } = t;
  const { schema } = table;
  if (node.from !== undefined || (node.joins?.length ?? 0) > 0) refuse(table, undefined, ONCE);
  const updates = node.updates ?? [];
  const set = new Map<string, Cell>();
  for (const u of updates) {
    const column = settableColumn(u, t, {
      unnamed:
        'an update must name each column it sets (set({ column: value })), not an SQL expression',
      key: 'insert a new record and delete the old one',
    });
    if (!table.encrypted.has(column))
      refuseEncrypted(u.value, table, clauseWhy('an update of another column'));
    set.set(column, cellOf(u.value));
  }
  const where = planWhere(node.where, t, false);
  const writesEncrypted = [...set.keys()].find((c) => table.encrypted.has(c));
  if (
    writesEncrypted !== undefined &&
    (hasRaw(node.where) ||
      (node.endModifiers ?? []).length > 0 ||
      (node.with !== undefined && hasRaw(node.with)))
  ) {
    refuse(
      table,
      writesEncrypted,
      'raw SQL in the WHERE (or after it) of an update of an encrypted column could widen it past the one record its values are bound to',
    );
  }
  const key = equalities(node.where?.where, t);
  const { indexed, columns: indexColumns } = indexColumnsOf(table, set.keys());
  const writes = table.source === undefined ? undefined : new IndexWrites(table.source);
  const sealed = sealRow(
    table,
    {
      cells: set,
      index: 0,
      scope: literalScope(
        table,
        (c) => (key.has(c) ? { kind: 'value', value: key.get(c) } : { kind: 'absent' }),
        `an update of an encrypted column must name one record: where('${schema.tenant}', '=', ...) and where(<each key column>, '=', ...)`,
      ),
    },
    writes,
    indexed,
  );
  const { returning, result } = planReturning(node, t);
  refuseRest(node, ['table', 'updates', 'where', 'returning', 'from', 'joins'], t);
  const newUpdates = [
    ...updates.map((u) => {
      const column = columnOf(u.column, t);
      const replaced = column === undefined ? undefined : sealed.cells.get(column);
      return replaced === undefined ? u : ColumnUpdateNode.create(u.column, replaced);
    }),
    ...indexColumns.map((c, i) =>
      ColumnUpdateNode.create(ColumnNode.create(c), sealed.indexes[i]!),
    ),
  ];
  return {
    node: Object.freeze({
      ...node,
      updates: Object.freeze(newUpdates),
      where: where.where,
      returning,
    }),
    result,
  };
}

function planDelete(node: DeleteQueryNode, t: Target): Planned {
  if (node.using !== undefined || (node.joins?.length ?? 0) > 0) refuse(t.table, undefined, ONCE);
  const where = planWhere(node.where, t, false);
  const { returning, result } = planReturning(node, t);
  refuseRest(node, ['from', 'where', 'returning', 'using', 'joins'], t);
  return {
    node: Object.freeze({ ...node, where: where.where, returning }),
    result,
  };
}
