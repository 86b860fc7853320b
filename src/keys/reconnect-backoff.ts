/**
 * How a key-event bus retries after losing its connection (or a failed poll): exponential
 * backoff from `initialDelayMs`, doubled per failed attempt up to `maxDelayMs`, with jitter
 * (each wait is drawn between half and all of the current delay, so a fleet that lost its
 * database at once does not reconnect in lockstep). Retries go on until the bus is closed.
 * @example
 * ```ts
 * const events = postgresKeyEvents(pool, { reconnect: { initialDelayMs: 200, maxDelayMs: 5_000 } });
 * ```
 */
export interface ReconnectOptions {
  /** Wait before the first retry; default 100 ms. */
  readonly initialDelayMs?: number;
  /** Longest wait between two retries; default 10,000 ms. */
  readonly maxDelayMs?: number;
}

/**
 * The retry schedule of {@link ReconnectOptions}, validated.
 * @example
 * ```ts
 * const next = reconnectBackoff({ initialDelayMs: 100, maxDelayMs: 1_000 });
 * next(0); // 50–100 ms
 * next(10); // 500–1,000 ms
 * ```
 *
 */
export function reconnectBackoff(options: ReconnectOptions = {}): (attempt: number) => number {
  const initial = options.initialDelayMs ?? 100;
  const max = options.maxDelayMs ?? 10_000;
  if (!Number.isFinite(initial) || initial < 1) {
    throw new TypeError('reconnect.initialDelayMs: expected at least 1 ms');
  }
  if (!Number.isFinite(max) || max < initial) {
    throw new TypeError('reconnect.maxDelayMs: expected at least reconnect.initialDelayMs');
  }
  return (attempt) => {
    const delay = Math.min(max, initial * 2 ** Math.min(Math.max(0, attempt), 30));
    return delay / 2 + Math.random() * (delay / 2);
  };
}
