/**
 * How the AWS KMS provider retries: at most `maxAttempts` attempts (1–3, default 3) on
 * throttling, KMS 5xx, network failures, timeouts and garbled responses; exponential backoff
 * with full jitter between them (`random() × min(maxDelayMs, baseDelayMs × 2^(n−1))`); each
 * attempt aborted after `attemptTimeoutMs`. Access denied, invalid ciphertext, disabled and
 * missing keys are never retried.
 * @example
 * ```ts
 * const retry: AwsKmsRetryOptions = { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 1000, attemptTimeoutMs: 2000 };
 * ```
 */
export interface AwsKmsRetryOptions {
  /** Attempts per call, 1 to 3 (default 3). */
  readonly maxAttempts?: number;
  /** Backoff base in ms (default 50). */
  readonly baseDelayMs?: number;
  /** Backoff cap in ms (default 1000). */
  readonly maxDelayMs?: number;
  /** Each attempt is aborted after this many ms (default 5000). */
  readonly attemptTimeoutMs?: number;
  /** Uniform random in [0, 1) for the jitter (default `Math.random`); tests inject one. */
  readonly random?: () => number;
  /** Waits between attempts (default `setTimeout`); tests inject one. */
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * One failed attempt as the policy sees it.
 * @example
 * ```ts
 * const retryable = (f: AttemptFailure) => f.timedOut || isThrottling(f.error);
 * ```
 * @internal
 */
export interface AttemptFailure {
  readonly error: unknown;
  readonly timedOut: boolean;
}

const MAX_ATTEMPTS = 3;

/**
 * Validated retry settings with the loop that applies them.
 * @example
 * ```ts
 * const policy = new RetryPolicy({ maxAttempts: 3 });
 * const out = await policy.run((signal) => client.send(command, { abortSignal: signal }), retryable, toError);
 * ```
 * @internal
 */
export class RetryPolicy {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly attemptTimeoutMs: number;
  readonly #random: () => number;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(options: AwsKmsRetryOptions = {}) {
    this.maxAttempts = integer('retry.maxAttempts', options.maxAttempts ?? MAX_ATTEMPTS, 1, 3);
    this.baseDelayMs = integer('retry.baseDelayMs', options.baseDelayMs ?? 50, 0, 60_000);
    this.maxDelayMs = integer('retry.maxDelayMs', options.maxDelayMs ?? 1000, 0, 300_000);
    this.attemptTimeoutMs = integer(
      'retry.attemptTimeoutMs',
      options.attemptTimeoutMs ?? 5000,
      1,
      600_000,
    );
    this.#random = options.random ?? Math.random;
    this.#sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /** Full-jitter delay before attempt `attempt + 1` (attempt counts from 1). */
  delayAfter(attempt: number): number {
    const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
    return Math.floor(Math.max(0, Math.min(1, this.#random())) * ceiling);
  }

  /**
   * Run `attempt` until it succeeds, fails finally, or attempts run out; the last failure is
   * thrown through `fail`. Each attempt gets an AbortSignal that fires at the timeout.
   * `observe` sees every failed attempt once, the last one included.
   */
  async run<T>(
    attempt: (signal: AbortSignal) => Promise<T>,
    retryable: (failure: AttemptFailure) => boolean,
    fail: (failure: AttemptFailure) => Error,
    observe?: (failure: AttemptFailure) => void,
  ): Promise<T> {
    for (let n = 1; ; n++) {
      const controller = new AbortController();
      // The race makes the timeout hold even for a client that ignores its abort signal.
      let onTimeout: () => void = () => undefined;
      const timeout = new Promise<never>((_, reject) => {
        onTimeout = () => reject(new Error('attempt timed out'));
      });
      const timer = setTimeout(() => {
        controller.abort();
        onTimeout();
      }, this.attemptTimeoutMs);
      const call = attempt(controller.signal);
      try {
        return await Promise.race([call, timeout]);
      } catch (error) {
        // A response that arrives after the timeout is dropped: wipe any key bytes it holds
        // (GenerateDataKey and Decrypt return the plaintext data key).
        void call.then(wipeLate, () => undefined);
        const failure = { error, timedOut: controller.signal.aborted };
        observe?.(failure);
        if (n >= this.maxAttempts || !retryable(failure)) throw fail(failure);
      } finally {
        clearTimeout(timer);
      }
      await this.#sleep(this.delayAfter(n));
    }
  }
}

/** Zero the `Plaintext` of a response nobody will read. */
function wipeLate(out: unknown): void {
  const plaintext = (out as { Plaintext?: unknown } | null | undefined)?.Plaintext;
  if (plaintext instanceof Uint8Array) plaintext.fill(0);
}

function integer(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name}: expected an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}
