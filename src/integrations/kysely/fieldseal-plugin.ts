import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from 'kysely';
import type { Fieldseal } from '../../index.js';
import { planQuery } from './plan-query.js';
import type { ResultPlan } from './read-plan.js';
import { readRows } from './result-reader.js';
import type { SealedTables } from './sealed-tables.js';

/** The key a result carries its plan under. @internal */
export const PLAN: unique symbol = Symbol('fieldseal.plan');

/** What the plugin and the sealing dialect of one `withFieldseal` call share. @internal */
export interface SealingState {
  readonly fs: Fieldseal;
  readonly tables: SealedTables;
  /**
   * Every root node the plugin returned, with how to read its rows. Keyed by the node, not
   * the query id: Kysely gives every builder derived from one `selectFrom()` the same id, so
   * two of them in flight would read each other's plans.
   */
  readonly plans: WeakMap<RootOperationNode, ResultPlan | null>;
  /** The plan of each result the sealing connection returned, for `transformResult`. */
  readonly results: WeakMap<object, ResultPlan | null>;
}

/**
 * The Kysely plugin of {@link withFieldseal}: plans each query (synchronously, as Kysely
 * requires) and reads its rows. It works only with the dialect `withFieldseal` returns with
 * it, which seals the planned values before the driver sees them.
 * @internal
 */
export class FieldsealKyselyPlugin implements KyselyPlugin {
  readonly #state: SealingState;

  constructor(state: SealingState) {
    this.#state = state;
  }

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    const planned = planQuery(args.node, this.#state.tables);
    // A node of this call's own, so that its plan is never another execution's.
    const node = Object.freeze({ ...planned.node }) as RootOperationNode;
    this.#state.plans.set(node, planned.result ?? null);
    return node;
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    // The plan rides on the result (a symbol key survives a plugin's `{ ...result, rows }`).
    const carried = (args.result as { [PLAN]?: ResultPlan | null })[PLAN];
    const plan =
      (carried !== undefined ? carried : this.#state.results.get(args.result)) ?? undefined;
    const rows = await readRows(this.#state.fs, plan, args.result.rows);
    const result: QueryResult<UnknownRow> & { [PLAN]?: unknown } = { ...args.result, rows };
    delete result[PLAN];
    return result;
  }
}
