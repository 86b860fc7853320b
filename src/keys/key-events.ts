/**
 * How the processes of a fleet tell each other to forget a tenant's cached keys at once instead
 * of within their cache age: after a shred (`publishShred`), and after a version of the
 * tenant's key was retired or reinstated (`publishKeysChanged`). Subscribers in fieldseal react
 * to both the same way — zero and drop the tenant's cached keys, which then reload from the key
 * store, the source of truth — but the events stay distinct, so a listener (audit, alerting)
 * never takes a retirement for a destruction. A small plug point; `pgKeyEvents` (PostgreSQL
 * LISTEN/NOTIFY) is the default implementation.
 *
 * @example
 * ```ts
 * const fs = createFieldseal({ ...options, keyEvents: pgKeyEvents(pool) });
 * ```
 */
export interface KeyEventBus {
  /** Tell every subscriber (in every process) that `tenant` was shredded. */
  publishShred(tenant: string): Promise<void>;
  /**
   * Tell every subscriber that versions of `tenant`'s key changed state (retired or
   * reinstated): cached keys of the tenant must be forgotten and reloaded.
   */
  publishKeysChanged(tenant: string): Promise<void>;
  /**
   * Call `onEvent` for every event published anywhere, with its kind; returns the unsubscribe
   * function.
   */
  subscribe(onEvent: (tenant: string, kind: 'shred' | 'keys-changed') => void): () => void;
}
