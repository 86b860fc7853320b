import type { KeyEventBus } from '../../keys/key-events.js';

const CHANNEL = 'fieldseal_key_events';

type KeyEventKind = 'shred' | 'keys-changed';

/**
 * The subset of a `pg` client used for LISTEN.
 * @example
 * ```ts
 * const client: PgListenClient = await pool.connect();
 * ```
 */
export interface PgListenClient {
  query(text: string, params?: unknown[]): Promise<unknown>;
  on(
    event: 'notification',
    listener: (msg: { channel: string; payload?: string }) => void,
  ): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  release(err?: Error | boolean): void;
}

/**
 * The subset of `pg.Pool` used.
 * @example
 * ```ts
 * const pool: PgEventsPool = new pg.Pool({ connectionString });
 * ```
 */
export interface PgEventsPool {
  query(text: string, params?: unknown[]): Promise<unknown>;
  connect(): Promise<PgListenClient>;
}

/**
 * A {@link KeyEventBus} over PostgreSQL, with `ready` and `close`.
 * @example
 * ```ts
 * const events: PgKeyEvents = pgKeyEvents(pool);
 * await events.ready;
 * ```
 */
export interface PgKeyEvents extends KeyEventBus {
  /** Resolves once this process is listening (subscribe starts it). */
  readonly ready: Promise<void>;
  /** Stop listening and release the connection. */
  close(): Promise<void>;
}

/**
 * Key events over PostgreSQL `LISTEN` / `NOTIFY` on one dedicated pool connection: a shred, or
 * a retirement or reinstatement of a key version, in one process reaches every listening
 * process within the database's notification latency (milliseconds), and each purges its
 * cached keys of the tenant.
 * @example
 * ```ts
 * const events = pgKeyEvents(pool);
 * const fs = createFieldseal({ ...options, keyEvents: events });
 * await events.ready;
 * ```
 */
export function pgKeyEvents(pool: PgEventsPool): PgKeyEvents {
  const handlers = new Set<(tenant: string, kind: KeyEventKind) => void>();
  let client: PgListenClient | undefined;
  let started: Promise<void> | undefined;
  let markReady: () => void = () => undefined;
  let markFailed: (err: unknown) => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    markFailed = reject;
  });
  ready.catch(() => undefined); // observed by whoever awaits it

  const start = (): Promise<void> => {
    started ??= (async () => {
      try {
        const c = await pool.connect();
        c.on('notification', (msg) => {
          if (msg.channel !== CHANNEL || msg.payload === undefined) return;
          const event = parseEvent(msg.payload);
          if (event !== undefined) for (const h of handlers) h(event.tenant, event.kind);
        });
        c.on('error', () => undefined);
        await c.query(`LISTEN ${CHANNEL}`);
        client = c;
        markReady();
      } catch (err) {
        markFailed(err);
      }
    })();
    return started;
  };

  return {
    ready,
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
      void start();
      return () => {
        handlers.delete(onEvent);
      };
    },
    async close() {
      handlers.clear();
      const c = client;
      client = undefined;
      if (c !== undefined) {
        try {
          await c.query(`UNLISTEN ${CHANNEL}`);
        } finally {
          c.release();
        }
      }
    },
  };
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
