import type { AuditRecordInput } from './audit-trail.js';
import type { KeyEventBus, KeyEventBusState } from '../keys/key-events.js';

/**
 * What {@link linkKeyEvents} drives in a client: its caches of key-store keys, and its
 * `stats()` record of the bus.
 * @example
 * ```ts
 * const target: KeyEventTarget = {
 *   purgeTenant: (tenant) => resolver.purgeTenant(tenant),
 *   purgeAll: () => resolver.purgeAll(),
 *   setCaching: (enabled) => cache.setCaching(enabled),
 *   recordBusState: (state, at) => metrics.keyEventBusState(state, at),
 * };
 * ```
 */
export interface KeyEventTarget {
  /** Forget every cached key (and active version) of `tenant`; loads in flight are not cached. */
  purgeTenant(tenant: string): void;
  /** Forget every cached key-store key and active version; loads in flight are not cached. */
  purgeAll(): void;
  /**
   * `false`: cache no key-store key until called with `true` (every call reloads from the key
   * store, which knows about shreds); a load finishing meanwhile serves its callers only.
   */
  setCaching(enabled: boolean): void;
  /** For `stats().keyEvents`: the bus's state (`unmonitored`: it reports none) and when. */
  recordBusState(state: KeyEventBusState | 'unmonitored', at: Date): void;
}

/**
 * Options of {@link linkKeyEvents}.
 * @example
 * ```ts
 * const options: KeyEventLinkOptions = { recordAudit: (event) => fs.recordAudit(event) };
 * ```
 */
export interface KeyEventLinkOptions {
  /**
   * Record the loss (`key-events-lost`, outcome `failure`, `detail.cause`: the driver's error
   * code such as `57P01`, when it has one) and the return (`key-events-restored`, outcome
   * `success`) of the bus as audit events. Called without
   * awaiting the client's work: a failure to record is ignored (the caches are already safe).
   */
  readonly recordAudit?: (event: AuditRecordInput) => Promise<void>;
  /** The clock (tests). */
  readonly now?: () => Date;
}

/**
 * Connect a client to a {@link KeyEventBus} so that it fails safe when the bus cannot deliver:
 *
 * - every event (`shred`, `keys-changed`) purges the tenant's cached keys;
 * - on `'disconnected'` (events may be lost from now on) caching of key-store keys stops and
 *   every cached one is purged, so each read and write reloads from the key store — the
 *   source of truth, which knows about shreds — for as long as the outage lasts;
 * - on `'connected'` (listening again) everything is purged once more — what a load in flight
 *   during the outage brought is not trusted — and caching resumes.
 *
 * A bus without `onConnectionChange` is linked for events only (`unmonitored` in stats).
 * Returns the function that unlinks (unsubscribes) both.
 * @example
 * ```ts
 * const unlink = linkKeyEvents(options.keyEvents, target, {
 *   recordAudit: (event) => audit.record(event, 'the key-event bus state could not be audited'),
 * });
 * // on close():
 * unlink();
 * ```
 */
export function linkKeyEvents(
  bus: KeyEventBus,
  target: KeyEventTarget,
  options: KeyEventLinkOptions = {},
): () => void {
  const now = options.now ?? (() => new Date());
  const unsubscribe = bus.subscribe((tenant) => {
    target.purgeTenant(tenant);
  });
  if (typeof bus.onConnectionChange !== 'function') {
    target.recordBusState('unmonitored', now());
    return unsubscribe;
  }
  let state: KeyEventBusState = 'connected';
  target.recordBusState('connected', now());
  const audit = (lost: boolean, cause: unknown): void => {
    if (options.recordAudit === undefined) return;
    const code = errorCodeOf(cause);
    const event: AuditRecordInput = lost
      ? {
          operation: 'key-events-lost',
          outcome: 'failure',
          detail: { caching: false, ...(code === undefined ? {} : { cause: code }) },
        }
      : { operation: 'key-events-restored', outcome: 'success', detail: { caching: true } };
    try {
      options.recordAudit(event).catch(() => undefined);
    } catch {
      // The audit of the bus is best effort; the caches are safe either way.
    }
  };
  const onChange = (next: KeyEventBusState, cause?: unknown): void => {
    if (next === state) return;
    state = next;
    if (next === 'disconnected') {
      // Stop caching first, so nothing loaded after the purge is kept either.
      target.setCaching(false);
      target.purgeAll();
    } else {
      // Loads that started during the outage may predate a shred we never heard of.
      target.purgeAll();
      target.setCaching(true);
    }
    target.recordBusState(next, now());
    audit(next === 'disconnected', cause);
  };
  let unwatch: () => void;
  try {
    unwatch = bus.onConnectionChange(onChange);
  } catch (err) {
    unsubscribe();
    throw err;
  }
  return () => {
    unwatch();
    unsubscribe();
  };
}

/**
 * A stable code for the audit record of a lost bus: the cause's `code` when it is a short
 * identifier (a PostgreSQL SQLSTATE such as `57P01`, a Node error code such as `ECONNRESET`, an
 * AWS error name), never its message (which could carry connection details).
 */
function errorCodeOf(cause: unknown): string | undefined {
  if (typeof cause !== 'object' || cause === null) return undefined;
  const { code, name } = cause as { code?: unknown; name?: unknown };
  for (const c of [code, name]) {
    if (typeof c === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(c) && c !== 'Error') return c;
  }
  return undefined;
}
