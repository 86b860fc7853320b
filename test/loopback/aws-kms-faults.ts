/**
 * Fault injection for the loopback KMS (test/loopback/aws-kms-server.ts).
 *
 * - `throttle`: HTTP 400 `ThrottlingException`, as KMS answers above the request quota;
 * - `server-error`: HTTP 500 `KMSInternalException`;
 * - `hang`: the request is never answered (the client must time out);
 * - `drop`: the connection is destroyed without a response;
 * - `malformed`: HTTP 200 with a truncated JSON body.
 */
export type KmsFault = 'throttle' | 'server-error' | 'hang' | 'drop' | 'malformed';

interface Rule {
  readonly fault: KmsFault;
  left: number;
  readonly probability: number;
  readonly operations: readonly string[] | undefined;
}

export class KmsFaults {
  #rules: Rule[] = [];
  #latencyMs = 0;
  #random: () => number = Math.random;
  /** How many requests got each fault. */
  readonly injected: Record<KmsFault, number> = {
    throttle: 0,
    'server-error': 0,
    hang: 0,
    drop: 0,
    malformed: 0,
  };

  /**
   * Give `fault` to the next `times` matching requests (`Infinity` for an outage), each with
   * `probability` (default 1), only for `operations` when given.
   */
  inject(
    fault: KmsFault,
    options: { times?: number; probability?: number; operations?: readonly string[] } = {},
  ): void {
    this.#rules.push({
      fault,
      left: options.times ?? 1,
      probability: options.probability ?? 1,
      operations: options.operations,
    });
  }

  /** Delay every answer by `ms`. */
  setLatency(ms: number): void {
    this.#latencyMs = ms;
  }

  /** A deterministic random source for probabilistic faults. */
  setRandom(random: () => number): void {
    this.#random = random;
  }

  /** Remove every fault and the latency. */
  clear(): void {
    this.#rules = [];
    this.#latencyMs = 0;
  }

  /** Called by the server for each request: waits the latency, returns the fault to apply. */
  async before(operation: string): Promise<KmsFault | undefined> {
    if (this.#latencyMs > 0) await new Promise((r) => setTimeout(r, this.#latencyMs));
    for (const rule of this.#rules) {
      if (rule.left <= 0) continue;
      if (rule.operations !== undefined && !rule.operations.includes(operation)) continue;
      if (this.#random() >= rule.probability) continue;
      rule.left--;
      this.injected[rule.fault]++;
      return rule.fault;
    }
    return undefined;
  }
}
