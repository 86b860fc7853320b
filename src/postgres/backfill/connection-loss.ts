import { setTimeout as sleep } from 'node:timers/promises';
import { BackfillError } from '../../index.js';
import { reconnectBackoff } from '../../integration/index.js';

/*
 * A backfill outlives the database sessions it runs on: a session the server ends (restart,
 * failover, idle timeout, `pg_terminate_backend`) rolls back the chunk in flight, which stays
 * pending, so the worker simply runs that step again on a new connection.
 */

/** SQLSTATEs of a session ended or refused by the server. */
const LOST_STATES = new Set(['57P01', '57P02', '57P03', '57P05', '25P03']);
/** Node socket errors of a connection that broke. */
const LOST_SOCKETS = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT']);
/** What `pg` says about a connection that ended under it. */
const LOST_MESSAGES = [
  'Connection terminated',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
];

/**
 * Whether `err` (or an error in its `cause` chain) says the database connection was lost —
 * not that a statement or a value was wrong.
 * @example
 * ```ts
 * isConnectionLost(Object.assign(new Error('terminating connection'), { code: '57P01' })); // true
 * ```
 */
export function isConnectionLost(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < 8 && typeof e === 'object' && e !== null; depth++) {
    const { code, message, cause } = e as { code?: unknown; message?: unknown; cause?: unknown };
    if (typeof code === 'string') {
      if (LOST_STATES.has(code) || code.startsWith('08') || LOST_SOCKETS.has(code)) return true;
    }
    if (typeof message === 'string' && LOST_MESSAGES.some((m) => message.startsWith(m))) {
      return true;
    }
    e = cause;
  }
  return false;
}

/**
 * Options of {@link retryOnConnectionLoss}.
 * @example
 * ```ts
 * const options: ConnectionRetryOptions = { attempts: 8, initialDelayMs: 100, maxDelayMs: 5_000 };
 * ```
 */
export interface ConnectionRetryOptions {
  /** Tries of one step in a row that may end in a lost connection; default 8. */
  readonly attempts?: number;
  /** First wait before a retry (doubling, jittered); default 100 ms. */
  readonly initialDelayMs?: number;
  /** Longest wait between two tries; default 5,000 ms. */
  readonly maxDelayMs?: number;
  /** Stop waiting when aborted (the last error is thrown). */
  readonly signal?: AbortSignal;
}

/**
 * Run `step`; when it fails because the database connection was lost, run it again (on a new
 * connection: the pool replaces the broken one) after a capped, jittered backoff. Any other
 * error is thrown at once. After `attempts` lost connections in a row it throws
 * `ERR_BACKFILL_FAILED` naming the problem, with the last error as `cause`: the job stays
 * resumable, run it again.
 * @throws BackfillError after `attempts` lost connections in a row; whatever `step` throws otherwise.
 * @example
 * ```ts
 * const done = await retryOnConnectionLoss(() => processNextChunk(sql, fs, target, name, worker));
 * ```
 */
export async function retryOnConnectionLoss<T>(
  step: () => Promise<T>,
  options: ConnectionRetryOptions = {},
): Promise<T> {
  const attempts = options.attempts ?? 8;
  if (!Number.isInteger(attempts) || attempts < 1) {
    throw new RangeError('connectionRetries: expected a positive integer');
  }
  const delay = reconnectBackoff({
    initialDelayMs: options.initialDelayMs ?? 100,
    maxDelayMs: options.maxDelayMs ?? 5000,
  });
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      if (!isConnectionLost(err)) throw err;
      if (attempt >= attempts || options.signal?.aborted === true) {
        throw new BackfillError(
          `the database connection was lost ${attempt} times in a row; the job is resumable: run it again`,
          { cause: err },
        );
      }
      await sleep(
        delay(attempt - 1),
        undefined,
        options.signal === undefined ? {} : { signal: options.signal },
      ).catch(() => undefined);
    }
  }
}
