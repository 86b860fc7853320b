import {
  AndNode,
  type OperationNode,
  type ReferenceNode,
  type TableNode,
} from './kysely-imports.js';
import { UnsupportedOptionError } from '../../index.js';
import type { SealedTable, SealedTables } from './sealed-tables.js';

/*
 * Small readers of Kysely's operation nodes (all internal). Nodes are plain frozen objects;
 * the values of `ValueNode`s and primitive lists are the caller's data and are never walked
 * as nodes.
 */

type Node = OperationNode & Readonly<Record<string, unknown>>;

function isNode(value: unknown): value is Node {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { kind?: unknown }).kind === 'string'
  );
}

/** Every child node of `node` (values of value nodes excluded). */
export function children(node: OperationNode): OperationNode[] {
  if (node.kind === 'ValueNode' || node.kind === 'PrimitiveValueListNode') return [];
  const out: OperationNode[] = [];
  for (const [key, value] of Object.entries(node)) {
    if (key === 'kind') continue;
    if (Array.isArray(value)) {
      for (const v of value) if (isNode(v)) out.push(v);
    } else if (isNode(value)) out.push(value);
  }
  return out;
}

/** Depth-first search for the first node for which `test` returns a result. */
export function find<T>(
  node: OperationNode | undefined,
  test: (n: OperationNode) => T | undefined,
): T | undefined {
  if (node === undefined) return undefined;
  const stack: OperationNode[] = [node];
  while (stack.length > 0) {
    const n = stack.pop()!;
    const hit = test(n);
    if (hit !== undefined) return hit;
    stack.push(...children(n));
  }
  return undefined;
}

/** The table name of a `TableNode` (its schema is ignored: guarded by name). */
export function tableName(node: TableNode): string {
  return node.table.identifier.name;
}

/**
 * The guarded tables a query names as tables (FROM, JOIN, INTO, subqueries...), as often as
 * it names them; a column's qualifier (`users.email`) is not a table of the query.
 */
export function sealedTablesIn(node: OperationNode, tables: SealedTables): SealedTable[] {
  const out: SealedTable[] = [];
  const stack: OperationNode[] = [node];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (n.kind === 'TableNode') {
      const t = tables.get(tableName(n as TableNode));
      if (t !== undefined) out.push(t);
    } else if (n.kind === 'ReferenceNode') {
      stack.push((n as ReferenceNode).column);
    } else if (n.kind === 'ColumnNode') {
      // a column's name is not a table's
    } else if (n.kind === 'AliasNode') {
      stack.push((n as unknown as { node: OperationNode }).node);
    } else if (n.kind === 'IdentifierNode') {
      // `sql.id('users')`: an identifier may name a table
      const t = tables.get((n as unknown as { name: string }).name);
      if (t !== undefined) out.push(t);
    } else {
      stack.push(...children(n));
    }
  }
  return out;
}

/** The SQL text of a raw node's fragments. */
function rawText(node: OperationNode): string {
  return ((node as unknown as { sqlFragments?: readonly string[] }).sqlFragments ?? []).join(' ');
}

/** Whether SQL text names `identifier` as a word (quoted or not, any case). */
function mentions(text: string, identifier: string): boolean {
  const escaped = identifier.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^A-Za-z0-9_$])${escaped}($|[^A-Za-z0-9_$])`, 'i').test(text);
}

/** Whether a node holds raw SQL anywhere. */
export function hasRaw(node: OperationNode | undefined): boolean {
  return find(node, (n) => (n.kind === 'RawNode' ? true : undefined)) === true;
}

/** The first encrypted column of `table` that `node` mentions anywhere (fail closed: any table). */
export function encryptedColumnIn(
  node: OperationNode | undefined,
  table: SealedTable,
): string | undefined {
  return find(node, (n) => {
    if (n.kind === 'RawNode') {
      // Raw SQL naming an encrypted column (fail closed: a word match, quoted or not).
      const text = rawText(n);
      for (const name of table.encrypted.keys()) if (mentions(text, name)) return name;
      return undefined;
    }
    if (n.kind !== 'ColumnNode') return undefined;
    const name = (n as unknown as { column: { name: string } }).column.name;
    return table.encrypted.has(name) ? name : undefined;
  });
}

/**
 * The typed refusal of a query the plugin cannot bind to records: names the table and, when
 * there is one, the column (`details.field`), never a value.
 */
export function refuse(table: SealedTable, column: string | undefined, why: string): never {
  const at = column === undefined ? `table ${table.name}` : `column ${table.name}.${column}`;
  throw new UnsupportedOptionError(`${at}: ${why}`, {
    details: { field: `${table.name}.${column ?? '*'}` },
  });
}

/** Refuse `node` when it mentions an encrypted column of `table`. */
export function refuseEncrypted(
  node: OperationNode | undefined,
  table: SealedTable,
  why: string,
): void {
  const column = encryptedColumnIn(node, table);
  if (column !== undefined) refuse(table, column, why);
}

/** The target's names in a query: its table name, and its alias when it has one. */
export interface Target {
  readonly table: SealedTable;
  readonly node: TableNode;
  readonly alias: string | undefined;
}

/**
 * The column a reference names on the target (unqualified, or qualified by the target's name
 * or alias), or `undefined`.
 */
export function columnOf(node: OperationNode, target: Target): string | undefined {
  if (node.kind === 'ColumnNode') {
    return (node as unknown as { column: { name: string } }).column.name;
  }
  if (node.kind !== 'ReferenceNode') return undefined;
  const ref = node as ReferenceNode;
  if (ref.column.kind !== 'ColumnNode') return undefined;
  if (ref.table !== undefined) {
    const qualifier = tableName(ref.table);
    if (qualifier !== (target.alias ?? target.table.name)) return undefined;
  }
  return ref.column.column.name;
}

/** The top-level AND conjuncts of a condition (through parentheses). */
export function conjuncts(node: OperationNode): OperationNode[] {
  if (node.kind === 'AndNode') {
    const and = node as AndNode;
    return [...conjuncts(and.left), ...conjuncts(and.right)];
  }
  if (node.kind === 'ParensNode') {
    const inner = (node as unknown as { node: OperationNode }).node;
    if (inner.kind === 'AndNode' || inner.kind === 'ParensNode') return conjuncts(inner);
  }
  return [node];
}

/** Conjuncts back into one condition. */
export function andAll(nodes: readonly OperationNode[]): OperationNode {
  return nodes.reduce((left, right) => AndNode.create(left, right));
}

/** The operator of a binary operation, or `undefined`. */
export function operatorOf(node: OperationNode): string | undefined {
  if (node.kind !== 'BinaryOperationNode') return undefined;
  const op = (node as unknown as { operator: OperationNode }).operator;
  return op.kind === 'OperatorNode' ? (op as unknown as { operator: string }).operator : undefined;
}

/** A literal operand's values: one for a value node, each of a list; `undefined` otherwise. */
export function literalValues(node: OperationNode): { values: unknown[] } | undefined {
  if (node.kind === 'ValueNode') return { values: [(node as unknown as { value: unknown }).value] };
  if (node.kind === 'PrimitiveValueListNode') {
    return { values: [...(node as unknown as { values: readonly unknown[] }).values] };
  }
  if (node.kind === 'ValueListNode') {
    const items = (node as unknown as { values: readonly OperationNode[] }).values;
    if (!items.every((v) => v.kind === 'ValueNode')) return undefined;
    return { values: items.map((v) => (v as unknown as { value: unknown }).value) };
  }
  return undefined;
}

/**
 * The plain `column = literal` conjuncts of a condition on the target, by column (a column
 * compared twice, or to a list, is left out: it does not name one value).
 */
export function equalities(where: OperationNode | undefined, target: Target): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const twice = new Set<string>();
  if (where === undefined) return out;
  for (const c of conjuncts(where)) {
    if (operatorOf(c) !== '=') continue;
    const b = c as unknown as { leftOperand: OperationNode; rightOperand: OperationNode };
    const column = columnOf(b.leftOperand, target);
    if (column === undefined || b.rightOperand.kind !== 'ValueNode') continue;
    if (out.has(column)) twice.add(column);
    out.set(column, (b.rightOperand as unknown as { value: unknown }).value);
  }
  for (const c of twice) out.delete(c);
  return out;
}
