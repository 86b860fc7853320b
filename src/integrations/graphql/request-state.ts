import type { ModelSchema, RecordScope } from '../../integration/index.js';
import { DecryptBatcher } from './decrypt-batcher.js';
import type { FieldsealGraphQLOptions } from './options.js';

/** What one request shares between its resolvers. */
export interface RequestState {
  readonly batcher: DecryptBatcher;
  /** The request's scopes, read once (empty when the scopes function fails: fail closed). */
  readonly scopes: ReadonlySet<string>;
  /**
   * Each parent row's tenant and record key, read once per model: a row with several
   * encrypted fields is snapshotted once, not once per field.
   */
  readonly rowScopes: WeakMap<object, Map<ModelSchema, RecordScope>>;
}

/**
 * Per-request state keyed by the request's context object. Owned by one transformed schema,
 * weakly held: it ends with the request, and two requests never share a batcher or scopes.
 */
export class RequestStates {
  readonly #states = new WeakMap<object, RequestState>();
  readonly #options: FieldsealGraphQLOptions;

  constructor(options: FieldsealGraphQLOptions) {
    this.#options = options;
  }

  /** @throws TypeError when the context value is not an object (nothing to key a request on). */
  of(ctx: unknown): RequestState {
    if ((typeof ctx !== 'object' && typeof ctx !== 'function') || ctx === null) {
      throw new TypeError('fieldseal/graphql: the contextValue of a request must be an object');
    }
    let state = this.#states.get(ctx);
    if (state === undefined) {
      state = {
        batcher: new DecryptBatcher(this.#options.fs),
        scopes: this.scopesOf(ctx),
        rowScopes: new WeakMap(),
      };
      this.#states.set(ctx, state);
    }
    return state;
  }

  /** The scopes of a request; a throwing or odd `scopes` function grants nothing. */
  scopesOf(ctx: unknown): ReadonlySet<string> {
    const out = new Set<string>();
    const scopes = this.#options.scopes;
    if (scopes === undefined) return out;
    try {
      for (const s of scopes(ctx)) if (typeof s === 'string') out.add(s);
    } catch {
      out.clear();
    }
    return out;
  }
}
