import {
  BinaryOperationNode,
  ColumnNode,
  OperatorNode,
  PrimitiveValueListNode,
  ReferenceNode,
  WhereNode,
  type OperationNode,
} from './kysely-imports.js';
import { Lookup } from './pending.js';
import {
  andAll,
  columnOf,
  conjuncts,
  equalities,
  literalValues,
  operatorOf,
  refuse,
  refuseEncrypted,
  type Target,
} from './query-nodes.js';

/** A WHERE clause, planned: blind-index lookups in place of encrypted comparisons. @internal */
export interface PlannedWhere {
  readonly where: WhereNode | undefined;
  readonly lookups: readonly Lookup[];
}

const FILTER =
  'the database holds ciphertext: only = and in (on a blind-indexed column) and is [not] null can filter an encrypted column';

/**
 * Plan a WHERE clause on the target. A top-level `column = v` / `column in (...)` on a
 * blind-indexed column becomes a lookup on its index column (with the tenant from a
 * `tenant = v` conjunct), and its rows must pass the lookup's re-check; `is [not] null` stays;
 * every other mention of an encrypted column is refused, as is any lookup where `lookups` is
 * false (an UPDATE or DELETE cannot re-check what it changes).
 * @internal
 */
export function planWhere(
  node: WhereNode | undefined,
  target: Target,
  lookups: boolean,
): PlannedWhere {
  if (node === undefined) return { where: undefined, lookups: [] };
  const { table } = target;
  const found: Lookup[] = [];
  const tenant = equalities(node.where, target).get(table.schema.tenant);
  let changed = false;
  const parts = conjuncts(node.where).map((c): OperationNode => {
    const op = operatorOf(c);
    const b = c as BinaryOperationNode;
    const column = op === undefined ? undefined : columnOf(b.leftOperand, target);
    const field = column === undefined ? undefined : table.encrypted.get(column);
    if (field === undefined || column === undefined) {
      refuseEncrypted(c, table, FILTER);
      return c;
    }
    if ((op === 'is' || op === 'is not') && isNull(b.rightOperand)) return c;
    if (op !== '=' && op !== 'in') return refuse(table, column, FILTER);
    if (!lookups) {
      refuse(
        table,
        column,
        'an update or delete cannot re-check the rows a blind index finds: select them first, then change them by key',
      );
    }
    const columns = table.indexes.get(column);
    if (columns === undefined || table.source === undefined) {
      return refuse(
        table,
        column,
        'an equality on an encrypted column needs .blindIndex() on its field',
      );
    }
    const literal = literalValues(b.rightOperand);
    if (literal === undefined)
      return refuse(table, column, 'compare it with values, not an SQL expression');
    if (!literal.values.every((v): v is string => typeof v === 'string')) {
      return refuse(table, column, 'a blind-index lookup takes strings');
    }
    if (typeof tenant !== 'string') {
      return refuse(
        table,
        column,
        `a lookup needs the tenant: add where('${table.schema.tenant}', '=', tenant)`,
      );
    }
    const lookup = new Lookup(table.source, tenant, field, literal.values, columns.read);
    found.push(lookup);
    changed = true;
    const qualifier =
      b.leftOperand.kind === 'ReferenceNode' ? (b.leftOperand as ReferenceNode).table : undefined;
    return BinaryOperationNode.create(
      ReferenceNode.create(ColumnNode.create(columns.read), qualifier),
      OperatorNode.create('in'),
      PrimitiveValueListNode.create(lookup.markers),
    );
  });
  return { where: changed ? WhereNode.create(andAll(parts)) : node, lookups: found };
}

function isNull(node: OperationNode): boolean {
  return node.kind === 'ValueNode' && (node as unknown as { value: unknown }).value === null;
}
