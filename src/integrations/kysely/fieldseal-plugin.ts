import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryId,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from 'kysely';
import type { Fieldseal } from '../../index.js';
import { planQuery } from './plan-query.js';
import type { ResultPlan } from './read-plan.js';
import { readRows } from './result-reader.js';
import type { SealedTables } from './sealed-tables.js';

/** What the plugin and the sealing dialect of one `withFieldseal` call share. @internal */
export interface SealingState {
  readonly fs: Fieldseal;
  readonly tables: SealedTables;
  /** Every query the plugin planned, with how to read its rows. */
  readonly planned: WeakMap<QueryId, ResultPlan | null>;
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
    this.#state.planned.set(args.queryId, planned.result ?? null);
    return planned.node;
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    const plan = this.#state.planned.get(args.queryId) ?? undefined;
    const rows = await readRows(this.#state.fs, plan, args.result.rows);
    return { ...args.result, rows };
  }
}
