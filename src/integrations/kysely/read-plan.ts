import type { FieldSchema } from '../../integration/index.js';
import {
  AliasNode,
  IdentifierNode,
  ReferenceNode,
  ColumnNode,
  SelectionNode,
  type OperationNode,
} from './kysely-imports.js';
import type { Lookup } from './pending.js';
import { columnOf, refuse, refuseEncrypted, type Target } from './query-nodes.js';
import { HIDDEN_PREFIX, type SealedTable } from './sealed-tables.js';

/** One encrypted value of each result row: its output name and model field. @internal */
export interface ReadOutput {
  readonly name: string;
  readonly field: FieldSchema;
}

/**
 * How to read a statement's rows: which outputs to decrypt, where each row's tenant and key
 * are, the lookups whose re-check a row must pass, and the outputs the plugin added. @internal
 */
export interface ResultPlan {
  readonly table: SealedTable;
  readonly outputs: readonly ReadOutput[];
  /** Output names of the tenant and of each key column (model key order). */
  readonly tenant: string;
  readonly key: readonly string[];
  readonly rechecks: readonly { readonly output: string; readonly lookup: Lookup }[];
  readonly hidden: readonly string[];
}

/** What a selection (or RETURNING list) becomes. @internal */
export interface PlannedSelections {
  readonly selections: readonly SelectionNode[];
  readonly result: ResultPlan | undefined;
  /** Whether columns were added (refused by callers where that changes the meaning). */
  readonly added: boolean;
}

/**
 * Plan the reading of `selections` on the target: every selected encrypted column becomes an
 * output to decrypt; the tenant and key (and each looked-up column) are added as hidden
 * outputs when not selected as they are. An expression over an encrypted column is refused.
 * @internal
 */
export function planSelections(
  selections: readonly SelectionNode[],
  target: Target,
  lookups: readonly Lookup[],
): PlannedSelections {
  const { table } = target;
  const outputs: ReadOutput[] = [];
  /** Output name of each column selected as it is (no expression). */
  const plain = new Map<string, string>();
  let all = false;
  for (const s of selections) {
    const node = s.selection as OperationNode;
    if (node.kind === 'SelectAllNode') {
      all = true;
      continue;
    }
    if (node.kind === 'ReferenceNode' && (node as ReferenceNode).column.kind === 'SelectAllNode') {
      all = true;
      continue;
    }
    const aliased = node.kind === 'AliasNode' ? (node as AliasNode) : undefined;
    const inner = aliased?.node ?? node;
    const name =
      aliased !== undefined ? (aliased.alias as IdentifierNode).name : columnOf(inner, target);
    if (name?.startsWith(HIDDEN_PREFIX) === true) {
      refuse(table, undefined, `the output name prefix ${HIDDEN_PREFIX} is reserved`);
    }
    const column = columnOf(inner, target);
    if (column !== undefined && inner.kind !== 'ColumnNode') {
      plain.set(column, name ?? column);
      const field = table.encrypted.get(column);
      if (field !== undefined) outputs.push({ name: name ?? column, field });
      continue;
    }
    refuseEncrypted(
      inner,
      table,
      'an expression over an encrypted column cannot be computed by the database: select the column and compute in your code',
    );
  }
  if (all) {
    for (const f of table.encrypted.values()) {
      if (!outputs.some((o) => o.name === f.name)) outputs.push({ name: f.name, field: f });
    }
  }
  const rechecks: { output: string; lookup: Lookup }[] = [];
  const added: SelectionNode[] = [];
  const hidden: string[] = [];
  const hide = (column: string): string => {
    const name = `${HIDDEN_PREFIX}${hidden.length}`;
    hidden.push(name);
    added.push(
      SelectionNode.create(
        AliasNode.create(
          ReferenceNode.create(ColumnNode.create(column)),
          IdentifierNode.create(name),
        ),
      ),
    );
    return name;
  };
  for (const lookup of lookups) {
    const column = lookup.field.name;
    const existing = all ? column : plain.get(column);
    const output = existing ?? hide(column);
    if (existing === undefined) outputs.push({ name: output, field: lookup.field });
    rechecks.push({ output, lookup });
  }
  if (outputs.length === 0) return { selections, result: undefined, added: false };
  const { schema } = table;
  const source = (column: string): string => (all ? column : (plain.get(column) ?? hide(column)));
  const tenant = source(schema.tenant);
  const key = schema.key.map(source);
  return {
    selections: [...selections, ...added],
    result: { table, outputs, tenant, key, rechecks, hidden },
    added: added.length > 0,
  };
}
