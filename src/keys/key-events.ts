/**
 * Whether a {@link KeyEventBus} can deliver events right now: `connected` (listening, or
 * polling successfully) or `disconnected` (the connection was lost or a poll failed; events
 * published meanwhile may never arrive).
 * @example
 * ```ts
 * const state: KeyEventBusState = 'disconnected';
 * ```
 */
export type KeyEventBusState = 'connected' | 'disconnected';

/**
 * How the processes of a fleet tell each other to forget a tenant's cached keys at once instead
 * of within their cache age: after a shred (`publishShred`), and after a version of the
 * tenant's key was retired or reinstated (`publishKeysChanged`). Subscribers in fieldseal react
 * to both the same way — zero and drop the tenant's cached keys, which then reload from the key
 * store, the source of truth — but the events stay distinct, so a listener (audit, alerting)
 * never takes a retirement for a destruction. A small plug point; `postgresKeyEvents` (PostgreSQL
 * LISTEN/NOTIFY) is the default implementation.
 *
 * @example
 * ```ts
 * const fs = createFieldseal({ ...options, keyEvents: postgresKeyEvents(pool) });
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
  /**
   * Optional health channel: call `listener` whenever the bus loses its connection
   * (`'disconnected'`, with the error as `cause`) and when it is back and listening again
   * (`'connected'`). A bus that is disconnected when the listener is added calls it at once
   * with `'disconnected'`, so a late listener still learns of an outage in progress. Events
   * published while disconnected may be lost, so a client on a bus that reports
   * `'disconnected'` stops trusting its cached keys until `'connected'` (see
   * `linkKeyEvents`). A bus without this method is assumed always connected. Returns the
   * function that removes the listener.
   * @example
   * ```ts
   * const stop = events.onConnectionChange?.((state, cause) => {
   *   if (state === 'disconnected') alert('key events lost: shreds elsewhere may not reach us', cause);
   * });
   * ```
   */
  onConnectionChange?(listener: (state: KeyEventBusState, cause?: unknown) => void): () => void;
}
