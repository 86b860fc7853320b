import { KeyEventHealth } from '../integration/index.js';
import type { KeyEventBus, KeyEventBusState } from '../index.js';
import type { ReconnectOptions } from '../index.js';
import { reconnectBackoff } from '../integration/index.js';

const CHANNEL = 'fieldseal_key_events';

type KeyEventKind = 'shred' | 'keys-changed';

/**
 * The subset of a `pg` client used for LISTEN.
 * @example
 * ```ts
 * const client: PostgresListenClient = await pool.connect();
 * ```
 */
export interface PostgresListenClient {
  query(text: string, params?: unknown[]): Promise<unknown>;
  on(
    event: 'notification',
    listener: (msg: { channel: string; payload?: string }) => void,
  ): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  release(err?: Error | boolean): void;
}

/**
 * The subset of `pg.Pool` used.
 * @example
 * ```ts
 * const pool: PostgresEventsPool = new pg.Pool({ connectionString });
 * ```
 */
export interface PostgresEventsPool {
  query(text: string, params?: unknown[]): Promise<unknown>;
  connect(): Promise<PostgresListenClient>;
}

/**
 * Options of {@link postgresKeyEvents}.
 * @example
 * ```ts
 * const options: PostgresKeyEventsOptions = { reconnect: { initialDelayMs: 100, maxDelayMs: 10_000 } };
 * ```
 */
export interface PostgresKeyEventsOptions {
  /** Retry schedule after the LISTEN connection is lost (default 100 ms doubling to 10 s). */
  readonly reconnect?: ReconnectOptions;
}

/**
 * A {@link KeyEventBus} over PostgreSQL, with `ready`, `state` and `close`.
 * @example
 * ```ts
 * const events: PostgresKeyEvents = postgresKeyEvents(pool);
 * await events.ready;
 * ```
 */
export interface PostgresKeyEvents extends KeyEventBus {
  /**
   * Resolves once this process is listening (subscribe starts it); rejects when the first
   * attempt fails — the bus keeps retrying and reports through `onConnectionChange`.
   */
  readonly ready: Promise<void>;
  /** `disconnected` from a lost LISTEN connection until LISTEN is issued again. */
  readonly state: KeyEventBusState;
  onConnectionChange(listener: (state: KeyEventBusState, cause?: unknown) => void): () => void;
  /** Stop listening (and reconnecting) and release the connection. */
  close(): Promise<void>;
}

/**
 * Key events over PostgreSQL `LISTEN` / `NOTIFY` on one dedicated pool connection: a shred, or
 * a retirement or reinstatement of a key version, in one process reaches every listening
 * process within the database's notification latency (milliseconds), and each purges its
 * cached keys of the tenant.
 *
 * The connection is watched: when it is lost (server restart, failover, idle timeout,
 * `pg_terminate_backend`) the bus reports `'disconnected'` through `onConnectionChange`,
 * reconnects with capped, jittered exponential backoff until it is closed, issues `LISTEN`
 * again and reports `'connected'`. Notifications sent meanwhile are lost (PostgreSQL queues
 * them only for a listening session), which is why a client linked to the bus stops caching
 * store keys while it is disconnected.
 * @example
 * ```ts
 * const events = postgresKeyEvents(pool);
 * const fs = createFieldseal({ ...options, keyEvents: events });
 * await events.ready;
 * ```
 */
export function postgresKeyEvents(
  pool: PostgresEventsPool,
  options: PostgresKeyEventsOptions = {},
): PostgresKeyEvents {
  const delay = reconnectBackoff(options.reconnect);
  const handlers = new Set<(tenant: string, kind: KeyEventKind) => void>();
  const health = new KeyEventHealth();
  let client: PostgresListenClient | undefined;
  let started = false;
  let closed = false;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  let markReady: () => void = () => undefined;
  let markFailed: (err: unknown) => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    markFailed = reject;
  });
  ready.catch(() => undefined); // observed by whoever awaits it

  const deliver = (msg: { channel: string; payload?: string }): void => {
    if (msg.channel !== CHANNEL || msg.payload === undefined) return;
    const event = parseEvent(msg.payload);
    if (event === undefined) return;
    for (const h of [...handlers]) {
      try {
        h(event.tenant, event.kind);
      } catch {
        // One subscriber's failure never stops delivery to the others.
      }
    }
  };

  const retry = (): void => {
    if (closed || timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      void connect();
    }, delay(failures++));
    timer.unref();
  };

  /** The listening connection `c` failed or ended: drop it, report, reconnect. */
  const lost = (c: PostgresListenClient, cause: unknown): void => {
    if (client !== c) return; // not (or no longer) the listening connection
    client = undefined;
    destroy(c, cause);
    health.set('disconnected', cause);
    retry();
  };

  const connect = async (): Promise<void> => {
    if (closed) return;
    let c: PostgresListenClient | undefined;
    try {
      c = await pool.connect();
      const conn = c;
      conn.on('notification', deliver);
      conn.on('error', (err) => lost(conn, err));
      conn.on('end', () => lost(conn, new Error('the LISTEN connection ended')));
      await conn.query(`LISTEN ${CHANNEL}`);
      if (closed) {
        destroy(conn, true);
        return;
      }
      client = conn;
      failures = 0;
      markReady();
      health.set('connected');
    } catch (err) {
      if (c !== undefined) destroy(c, err);
      markFailed(err); // the first attempt only: later ones settle nothing
      if (closed) return;
      health.set('disconnected', err);
      retry();
    }
  };

  return {
    ready,
    get state() {
      return health.state;
    },
    async publishShred(tenant) {
      await pool.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify({ shred: tenant })]);
    },
    async publishKeysChanged(tenant) {
      await pool.query('SELECT pg_notify($1, $2)', [
        CHANNEL,
        JSON.stringify({ keysChanged: tenant }),
      ]);
    },
    subscribe(onEvent) {
      handlers.add(onEvent);
      if (!started && !closed) {
        started = true;
        void connect();
      }
      return () => {
        handlers.delete(onEvent);
      };
    },
    onConnectionChange(listener) {
      return health.listen(listener);
    },
    async close() {
      closed = true;
      handlers.clear();
      health.clear();
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      const c = client;
      client = undefined;
      if (c !== undefined) {
        try {
          await c.query(`UNLISTEN ${CHANNEL}`);
        } catch {
          // The session ends below either way, and its LISTEN with it.
        } finally {
          // Not back to the pool: our listeners are attached to this connection.
          destroy(c, true);
        }
      }
    },
  };
}

/** Give a connection back to the pool to be closed (never reused). */
function destroy(c: PostgresListenClient, cause: unknown): void {
  try {
    c.release(cause instanceof Error ? cause : true);
  } catch {
    // Already released: nothing left to do.
  }
}

/**
 * A notification payload: `{"shred": tenant}` or `{"keysChanged": tenant}` (JSON, so any
 * tenant id round-trips). Anything else — another writer on the channel — is ignored.
 */
function parseEvent(payload: string): { tenant: string; kind: KeyEventKind } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { shred, keysChanged } = parsed as { shred?: unknown; keysChanged?: unknown };
  if (typeof shred === 'string') return { tenant: shred, kind: 'shred' };
  if (typeof keysChanged === 'string') return { tenant: keysChanged, kind: 'keys-changed' };
  return undefined;
}
