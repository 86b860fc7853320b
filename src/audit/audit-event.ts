/**
 * What an audit event records about one key operation. Never a value, a data key, a master
 * key or wrapped key bytes: only who did what to which tenant's key, and how it ended.
 * @example
 * ```ts
 * const op: AuditOperation = 'unwrap';
 * ```
 */
export type AuditOperation =
  | 'generate'
  | 'unwrap'
  | 'wrap'
  | 'provision'
  | 'rotate'
  | 'rewrap'
  | 'retire'
  | 'reinstate'
  | 'shred'
  | 'backfill-start'
  | 'backfill-stop'
  /** The client's key-event bus lost its connection: its store keys are no longer cached. */
  | 'key-events-lost'
  /** The key-event bus is back (listening again): store keys are cached again. */
  | 'key-events-restored';

/**
 * One audit event, as handed to every {@link AuditSink}.
 * @example
 * ```ts
 * const event: AuditEvent = {
 *   at: new Date(), actor: 'svc-billing', operation: 'rotate', tenant: 'acme',
 *   keyId: 'default', version: 2, outcome: 'success',
 * };
 * ```
 */
export interface AuditEvent {
  /** When the operation finished. */
  readonly at: Date;
  /** Who asked for it: the caller-supplied actor of the client (e.g. a service or user id). */
  readonly actor: string;
  readonly operation: AuditOperation;
  /** The tenant concerned (absent only for operations that concern no tenant). */
  readonly tenant?: string;
  readonly keyId?: string;
  readonly version?: number;
  /** Provider and master key id involved (ids only, never key material). */
  readonly providerId?: string;
  readonly masterKeyId?: string;
  readonly outcome: 'success' | 'failure';
  /** The stable error code when `outcome` is `failure`. */
  readonly errorCode?: string;
  /**
   * Operation-specific facts that are not values: e.g. the versions a shred destroyed, a
   * backfill's table and row counts. Strings, numbers, booleans and arrays/objects of them.
   */
  readonly detail?: Readonly<Record<string, AuditDetailValue>>;
}

/**
 * A value allowed in {@link AuditEvent.detail}: JSON scalars, arrays and objects of them.
 * @example
 * ```ts
 * const detail: Record<string, AuditDetailValue> = { table: 'customers', rows: 100_000 };
 * ```
 */
export type AuditDetailValue =
  | string
  | number
  | boolean
  | null
  | readonly AuditDetailValue[]
  | { readonly [key: string]: AuditDetailValue };

/**
 * Where audit events go. `record` is awaited by the operation it describes: a sink that fails
 * makes that operation fail (no unaudited key use), so keep sinks fast and available.
 * @example
 * ```ts
 * const sink: AuditSink = { record: async (event) => { events.push(event); } };
 * ```
 */
export interface AuditSink {
  record(event: AuditEvent): Promise<void>;
}
