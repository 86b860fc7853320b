import type {
  CompiledQuery,
  DatabaseConnection,
  DatabaseIntrospector,
  Dialect,
  DialectAdapter,
  Driver,
  Kysely,
  QueryCompiler,
  QueryResult,
  TransactionSettings,
} from 'kysely';
import { UnsupportedOptionError } from '../../index.js';
import { PLAN, type SealingState } from './fieldseal-plugin.js';
import type { ResultPlan } from './read-plan.js';
import { resolveParameters } from './pending.js';
import { sealedTablesIn } from './query-nodes.js';

/*
 * The dialect half of withFieldseal: the driver's connections, wrapped so that each statement
 * gets its pending values (encrypted values, blind indexes) in one batch before it runs, and
 * so that a statement over a guarded table that the plugin did not plan (the plugin left
 * out, `withoutPlugins()`) never runs. All internal.
 */

const UNPLANNED =
  "this query names a guarded table but the fieldseal plugin did not plan it (left out of plugins, withoutPlugins(), or another plugin after fieldseal's replaced the query): create Kysely with both parts of withFieldseal(...), fieldseal's plugin last";

class SealingConnection implements DatabaseConnection {
  readonly inner: DatabaseConnection;
  readonly #state: SealingState;

  constructor(inner: DatabaseConnection, state: SealingState) {
    this.inner = inner;
    this.#state = state;
  }

  /** The statement with its pending values sealed, and the plan of its rows. */
  async #prepare(
    compiled: CompiledQuery,
  ): Promise<{ query: CompiledQuery; plan: ResultPlan | null | undefined }> {
    const plan = this.#state.plans.get(compiled.query);
    if (plan === undefined) {
      const named = sealedTablesIn(compiled.query, this.#state.tables);
      if (named.length > 0 && compiled.query.kind !== 'RawNode') {
        throw new UnsupportedOptionError(`table ${named[0]!.name}: ${UNPLANNED}`);
      }
    }
    const parameters = await resolveParameters(this.#state.fs, compiled.parameters);
    return {
      query: parameters === compiled.parameters ? compiled : { ...compiled, parameters },
      plan,
    };
  }

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const { query, plan } = await this.#prepare(compiled);
    const result = await this.inner.executeQuery<R>(query);
    return plan === undefined ? result : carry(result, plan, this.#state);
  }

  async *streamQuery<R>(
    compiled: CompiledQuery,
    chunkSize?: number,
  ): AsyncIterableIterator<QueryResult<R>> {
    const { query, plan } = await this.#prepare(compiled);
    for await (const chunk of this.inner.streamQuery<R>(query, chunkSize)) {
      yield plan === undefined ? chunk : carry(chunk, plan, this.#state);
    }
  }
}

/** The result with its plan on it: an enumerable symbol key, kept by `{ ...result }`. */
function carry<R>(
  result: QueryResult<R>,
  plan: ResultPlan | null,
  state: SealingState,
): QueryResult<R> {
  const out = { ...result, [PLAN]: plan };
  state.results.set(out, plan);
  return out;
}

function unwrap(connection: DatabaseConnection): DatabaseConnection {
  return connection instanceof SealingConnection ? connection.inner : connection;
}

class SealingDriver implements Driver {
  readonly #inner: Driver;
  readonly #state: SealingState;

  constructor(inner: Driver, state: SealingState) {
    this.#inner = inner;
    this.#state = state;
  }

  init(): Promise<void> {
    return this.#inner.init();
  }
  async acquireConnection(): Promise<DatabaseConnection> {
    return new SealingConnection(await this.#inner.acquireConnection(), this.#state);
  }
  beginTransaction(c: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.#inner.beginTransaction(unwrap(c), settings);
  }
  commitTransaction(c: DatabaseConnection): Promise<void> {
    return this.#inner.commitTransaction(unwrap(c));
  }
  rollbackTransaction(c: DatabaseConnection): Promise<void> {
    return this.#inner.rollbackTransaction(unwrap(c));
  }
  async savepoint(
    c: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    if (this.#inner.savepoint === undefined) throw new TypeError('the driver has no savepoints');
    return this.#inner.savepoint(unwrap(c), name, compile);
  }
  async rollbackToSavepoint(
    c: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    if (this.#inner.rollbackToSavepoint === undefined) {
      throw new TypeError('the driver has no savepoints');
    }
    return this.#inner.rollbackToSavepoint(unwrap(c), name, compile);
  }
  async releaseSavepoint(
    c: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    if (this.#inner.releaseSavepoint === undefined) {
      throw new TypeError('the driver has no savepoints');
    }
    return this.#inner.releaseSavepoint(unwrap(c), name, compile);
  }
  releaseConnection(c: DatabaseConnection): Promise<void> {
    return this.#inner.releaseConnection(unwrap(c));
  }
  destroy(): Promise<void> {
    return this.#inner.destroy();
  }
}

/** The dialect of withFieldseal: the caller's, with a sealing driver. @internal */
export class SealingDialect implements Dialect {
  readonly #inner: Dialect;
  readonly #state: SealingState;

  constructor(inner: Dialect, state: SealingState) {
    this.#inner = inner;
    this.#state = state;
  }

  createDriver(): Driver {
    return new SealingDriver(this.#inner.createDriver(), this.#state);
  }
  createQueryCompiler(): QueryCompiler {
    return this.#inner.createQueryCompiler();
  }
  createAdapter(): DialectAdapter {
    return this.#inner.createAdapter();
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kysely's own signature
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return this.#inner.createIntrospector(db);
  }
}
