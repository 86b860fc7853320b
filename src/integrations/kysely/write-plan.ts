import type { FieldValue } from '../../index.js';
import {
  absentError,
  contextOf,
  hasKind,
  kindError,
  scopeOf,
  type FieldSchema,
  type RecordScope,
} from '../../integration/index.js';
import {
  ColumnNode,
  ColumnUpdateNode,
  ReferenceNode,
  TableNode,
  ValueNode,
  type OnConflictNode,
  type OperationNode,
} from './kysely-imports.js';
import type { IndexWrites } from './pending.js';
import { PendingValue } from './pending.js';
import { columnOf, refuse, refuseEncrypted, type Target } from './query-nodes.js';
import type { SealedTable } from './sealed-tables.js';

/*
 * The values of INSERT rows and UPDATE sets (all internal): each encrypted value becomes a
 * marker sealed with its record's context, and each blind-indexed value adds its index
 * columns.
 */

/** A cell of a row or a SET: a literal value, absent (DEFAULT), or an SQL expression. */
export type Cell =
  | { readonly kind: 'value'; readonly value: unknown }
  | { readonly kind: 'absent' }
  | { readonly kind: 'expression' };

/** A cell of a node. */
export function cellOf(node: OperationNode | undefined): Cell {
  if (node === undefined || node.kind === 'DefaultInsertValueNode') return { kind: 'absent' };
  if (node.kind === 'ValueNode') return { kind: 'value', value: (node as ValueNode).value };
  return { kind: 'expression' };
}

/** One write's values by column, and how to make its record's scope. */
export interface WriteRow {
  readonly cells: ReadonlyMap<string, Cell>;
  /** The record's tenant and key, or a refusal naming `column` when they are not values. */
  scope(column: string): RecordScope;
  readonly index: number;
}

/** The scope of a record from the literal cells of its tenant and key. */
export function literalScope(
  table: SealedTable,
  cell: (column: string) => Cell,
  why: string,
): (column: string) => RecordScope {
  let scope: RecordScope | undefined;
  return (column) => {
    if (scope !== undefined) return scope;
    const { schema } = table;
    const source: Record<string, unknown> = {};
    for (const name of [schema.tenant, ...schema.key]) {
      const c = cell(name);
      if (c.kind !== 'value') refuse(table, column, why);
      // '01' for a numeric key would find row 1 but bind its values to record '01'.
      const kind = schema.fields.find((f) => f.name === name)?.kind;
      if (kind !== undefined && !hasKind(kind, c.value)) {
        refuse(
          table,
          name,
          `the ${name} value must be a ${kind}, as the model declares it: it is part of the encryption context`,
        );
      }
      source[name] = c.value;
    }
    try {
      scope = scopeOf(schema, source);
    } catch {
      refuse(table, column, why);
    }
    return scope;
  };
}

/**
 * The new cells of one write: encrypted values as markers (`null` kept where the field
 * allows it), and the index cells of each field of `indexed` (blind-indexed fields, in the
 * order of {@link indexColumnsOf}): the value's indexes, or `null` for a null or absent value.
 * @throws the field's UnsupportedValueError for a missing required value or a value of the
 *   wrong kind; UnsupportedOptionError for an SQL expression in an encrypted column.
 */
export function sealRow(
  table: SealedTable,
  row: WriteRow,
  writes: IndexWrites | undefined,
  indexed: readonly string[],
): { cells: Map<string, OperationNode>; indexes: OperationNode[] } {
  const cells = new Map<string, OperationNode>();
  for (const [column, field] of table.encrypted) {
    const cell = row.cells.get(column);
    if (cell === undefined || cell.kind === 'absent') continue;
    if (cell.kind === 'expression') {
      refuse(table, column, 'an encrypted column takes a value, not an SQL expression');
    }
    cells.set(column, ValueNode.create(seal(table, field, cell.value, row)));
  }
  const indexes: OperationNode[] = [];
  for (const name of indexed) {
    const columns = table.indexes.get(name)!;
    const cell = row.cells.get(name);
    const value = cell?.kind === 'value' ? cell.value : null;
    if (typeof value === 'string') {
      const scope = row.scope(name);
      const markers = writes!.add({ tenant: scope.tenant, field: name, value }, columns.written);
      indexes.push(...markers.map((m) => ValueNode.create(m)));
    } else {
      indexes.push(...columns.written.map(() => ValueNode.create(null)));
    }
  }
  return { cells, indexes };
}

function seal(table: SealedTable, field: FieldSchema, value: unknown, row: WriteRow): unknown {
  if (value === null || value === undefined) {
    const error = absentError(field, value, 'encrypt');
    if (error !== undefined) throw error;
    row.scope(field.name); // a null is written to one record too, never to every row
    return null;
  }
  if (!hasKind(field.kind, value)) throw kindError(field, 'encrypt');
  const scope = row.scope(field.name);
  return new PendingValue(
    value as FieldValue,
    contextOf(table.schema, field, scope),
    field,
    row.index,
  );
}

/** The blind-indexed fields among `fields`, and their index columns in the same order. */
export function indexColumnsOf(
  table: SealedTable,
  fields: Iterable<string>,
): { indexed: string[]; columns: string[] } {
  const set = new Set(fields);
  const indexed = [...table.indexes.keys()].filter((name) => set.has(name));
  return { indexed, columns: indexed.flatMap((name) => [...table.indexes.get(name)!.written]) };
}

/**
 * The column a SET (of an UPDATE or an upsert) names, once it is known to be one a write may
 * set: named by the builder, not the record's tenant or key (bound into its encrypted
 * values), not an index column (written by fieldseal only).
 */
export function settableColumn(
  update: ColumnUpdateNode,
  target: Target,
  why: { readonly unnamed: string; readonly key: string },
): string {
  const { table } = target;
  const { schema } = table;
  const column = columnOf(update.column, target);
  if (column === undefined) return refuse(table, undefined, why.unnamed);
  if (column === schema.tenant || schema.key.includes(column)) {
    refuse(
      table,
      column,
      `a record's tenant and key are bound into its encrypted values: ${why.key}`,
    );
  }
  if (table.indexColumns.has(column)) {
    refuse(table, column, 'index columns are written by fieldseal, never by hand');
  }
  return column;
}

/**
 * An INSERT's ON CONFLICT: an encrypted column may be replaced only by `excluded.<itself>` on
 * a conflict of the record key (tenant and key columns), and its index columns follow.
 */
export function planOnConflict(
  node: OnConflictNode | undefined,
  target: Target,
): OnConflictNode | undefined {
  if (node === undefined) return undefined;
  const { table } = target;
  const { schema } = table;
  const updates = node.updates ?? [];
  const added: ColumnUpdateNode[] = [];
  for (const u of updates) {
    const column = settableColumn(u, target, {
      unnamed: 'an upsert must name each column it sets, not an SQL expression',
      key: 'an upsert may not change them',
    });
    const field = table.encrypted.get(column);
    if (field === undefined) {
      refuseEncrypted(
        u.value,
        table,
        'an upsert may set an encrypted column only to excluded.<itself>',
      );
      continue;
    }
    const conflict = new Set((node.columns ?? []).map((c) => c.column.name));
    const keyed =
      conflict.size === schema.key.length + 1 &&
      [schema.tenant, ...schema.key].every((k) => conflict.has(k));
    if (!keyed) {
      refuse(
        table,
        column,
        `an upsert may replace an encrypted column only on a conflict of (${[schema.tenant, ...schema.key].join(', ')}): the value is bound to the record it was written for`,
      );
    }
    const v = u.value as ReferenceNode;
    const fromExcluded =
      v.kind === 'ReferenceNode' &&
      v.table !== undefined &&
      v.table.table.identifier.name === 'excluded' &&
      v.column.kind === 'ColumnNode' &&
      v.column.column.name === column;
    if (!fromExcluded) {
      refuse(table, column, 'an upsert may set an encrypted column only to excluded.<itself>');
    }
    for (const index of table.indexes.get(column)?.written ?? []) {
      added.push(
        ColumnUpdateNode.create(
          ColumnNode.create(index),
          ReferenceNode.create(ColumnNode.create(index), TableNode.create('excluded')),
        ),
      );
    }
  }
  refuseEncrypted(node.updateWhere, table, 'an upsert condition cannot read an encrypted column');
  refuseEncrypted(node.indexWhere, table, 'an upsert condition cannot read an encrypted column');
  if (added.length === 0) return node;
  return Object.freeze({ ...node, updates: Object.freeze([...updates, ...added]) });
}
