import type { FieldsealError, FieldsealErrorCode } from '../errors.js';
import type { EncryptionContext } from '../envelope/context.js';
import type { KeyRef } from '../envelope/key-ref.js';
import type { DataKeyCacheStats } from '../keys/data-key-cache.js';
import type { KeyProvider, ProviderCallCounts } from '../kms/key-provider.js';
import type { FieldsealStats, KeyEventsStats } from '../metrics/fieldseal-stats.js';
import { KeyReadCounter } from '../metrics/key-read-counter.js';
import { LatencyHistogram } from '../metrics/latency-histogram.js';
import type { MetricsSink, ProviderCallRecord, ValueOperation } from '../metrics/metrics-sink.js';

/**
 * Counters of one client. Only counts and names of fields and error codes: never a value,
 * a context value, a key or a key id.
 * @example
 * ```ts
 * const m = fs.metrics();
 * gauge('fieldseal_plaintext_left', m.plaintextReads['customers.ssn'] ?? 0);
 * ```
 */
export interface FieldsealMetrics {
  readonly encrypted: number;
  readonly decrypted: number;
  /** Failures by error code. */
  readonly failures: Readonly<Partial<Record<FieldsealErrorCode, number>>>;
  /** Legacy plaintext values returned by fields in migration, by `table.field`. */
  readonly plaintextReads: Readonly<Record<string, number>>;
  readonly cache: DataKeyCacheStats;
  /** Calls made to each provider, by provider id. */
  readonly providerCalls: Readonly<Record<string, Readonly<ProviderCallCounts>>>;
}

/**
 * Mutable counters and histograms behind {@link FieldsealMetrics} and {@link FieldsealStats},
 * and the forwarding of measurements to the client's {@link MetricsSink}. Everything on the
 * warm path is a counter increment, a map lookup or a histogram bucket increment: no
 * allocation per value.
 * @internal
 */
export class MetricsRecorder {
  encrypted = 0;
  decrypted = 0;
  readonly failures: Partial<Record<FieldsealErrorCode, number>> = {};
  /** Null-prototype: keyed by table and field names, never by anything inherited. */
  readonly plaintextReads: Record<string, number> = Object.create(null) as Record<string, number>;
  readonly #latency: Record<ValueOperation, LatencyHistogram> = {
    encrypt: new LatencyHistogram(),
    decrypt: new LatencyHistogram(),
    encryptMany: new LatencyHistogram(),
    decryptMany: new LatencyHistogram(),
  };
  readonly #keyReads = new KeyReadCounter();
  readonly #providerCalls = new Map<string, ProviderCallCounts>();
  readonly #sink: MetricsSink | undefined;
  #keyEvents: KeyEventsStats = { state: 'none', disconnects: 0 };

  constructor(sink?: MetricsSink) {
    this.#sink = sink;
  }

  /**
   * The client's key-event bus reported `state` at `at` (see `linkKeyEvents`): `unmonitored`
   * for a bus without a health channel, else `connected` / `disconnected`. A change to
   * `disconnected` counts one disconnect; repeating the current state changes nothing.
   */
  keyEventBusState(state: 'unmonitored' | 'connected' | 'disconnected', at: Date): void {
    const previous = this.#keyEvents;
    if (state === previous.state) return;
    const iso = at.toISOString();
    if (state === 'disconnected') {
      this.#keyEvents = {
        ...previous,
        state,
        disconnects: previous.disconnects + 1,
        lastDisconnectAt: iso,
      };
    } else if (state === 'connected' && previous.state === 'disconnected') {
      this.#keyEvents = { ...previous, state, lastReconnectAt: iso };
    } else {
      this.#keyEvents = { ...previous, state };
    }
  }

  /**
   * A value call that started at `started` (a `performance.now()` reading) succeeded with
   * `values` values.
   */
  completed(operation: ValueOperation, started: number, values: number): void {
    const ms = performance.now() - started;
    this.#latency[operation].record(ms);
    const sink = this.#sink;
    if (sink?.operationCompleted !== undefined) {
      try {
        sink.operationCompleted(operation, ms / 1000, values);
      } catch {
        // Metrics never fail an operation.
      }
    }
  }

  /** `n` values were decrypted under the key `ref` names (see also {@link keyReads}). */
  keyRead(ref: KeyRef, n: number): void {
    this.#keyReads.add(ref, n);
  }

  /** The per-key read counters, whose cells the key resolver keeps with cached keys. */
  get keyReads(): KeyReadCounter {
    return this.#keyReads;
  }

  /**
   * One value of `operation` failed with `err`; its `table.field` is the error's, or the
   * context's unless the context itself was refused (then nothing in it is trusted).
   */
  fail(err: FieldsealError, operation: ValueOperation, context: EncryptionContext): void {
    this.failures[err.code] = (this.failures[err.code] ?? 0) + 1;
    const sink = this.#sink;
    if (sink?.operationFailed !== undefined) {
      try {
        sink.operationFailed(operation, err.code, err.details.field ?? fieldOf(err, context));
      } catch {
        // Metrics never fail an operation.
      }
    }
  }

  plaintextRead(field: string): void {
    this.plaintextReads[field] = (this.plaintextReads[field] ?? 0) + 1;
  }

  /** A provider call finished (counted whether it succeeded or not). */
  providerCall(call: ProviderCallRecord): void {
    let counts = this.#providerCalls.get(call.providerId);
    if (counts === undefined) {
      counts = { generate: 0, wrap: 0, unwrap: 0 };
      this.#providerCalls.set(call.providerId, counts);
    }
    counts[call.operation]++;
    const sink = this.#sink;
    if (sink?.providerCalled !== undefined) {
      try {
        sink.providerCalled(call);
      } catch {
        // Metrics never fail an operation.
      }
    }
  }

  /**
   * The snapshot behind `fs.stats()`, with the cache's own counters, the versions per tenant
   * among its keys and the providers' throttling counters.
   */
  stats(
    cache: DataKeyCacheStats,
    keyVersions: FieldsealStats['keyVersions'],
    providers: readonly KeyProvider[],
  ): FieldsealStats {
    // Null prototype: provider ids such as `constructor` are keys, never inherited members.
    const byProvider = Object.create(null) as Record<string, number>;
    let events = 0;
    for (const p of providers) {
      byProvider[p.id] = (byProvider[p.id] ?? 0) + p.throttles;
      events += p.throttles;
    }
    const providerCalls: Record<string, ProviderCallCounts> = {};
    for (const [id, counts] of this.#providerCalls) providerCalls[id] = { ...counts };
    const lookups = cache.hits + cache.misses;
    const reads = this.#keyReads.snapshot();
    return {
      values: { encrypted: this.encrypted, decrypted: this.decrypted },
      providerCalls,
      cache: {
        hits: cache.hits,
        misses: cache.misses,
        hitRate: lookups === 0 ? null : cache.hits / lookups,
        evictions: cache.evictions,
        entries: cache.entries,
      },
      latency: {
        encrypt: this.#latency.encrypt.snapshot(),
        decrypt: this.#latency.decrypt.snapshot(),
        encryptMany: this.#latency.encryptMany.snapshot(),
        decryptMany: this.#latency.decryptMany.snapshot(),
      },
      valuesReadByKeyVersion: reads.byKeyVersion,
      valuesReadByMasterKey: reads.byMasterKey,
      plaintextReads: { ...this.plaintextReads },
      failures: { ...this.failures },
      keyEvents: this.#keyEvents,
      throttling: { events, byProvider },
      keyVersions,
    };
  }

  /** The snapshot behind `fs.metrics()`, with the cache's counters and the providers' calls. */
  counters(cache: DataKeyCacheStats, providers: readonly KeyProvider[]): FieldsealMetrics {
    const providerCalls: Record<string, ReturnType<() => KeyProvider['calls']>> = {};
    for (const p of providers) providerCalls[p.id] = p.calls;
    return {
      encrypted: this.encrypted,
      decrypted: this.decrypted,
      failures: { ...this.failures },
      plaintextReads: { ...this.plaintextReads },
      cache,
      providerCalls,
    };
  }
}

/** `table.field` of a context that passed validation (any error but ERR_INVALID_CONTEXT). */
function fieldOf(err: FieldsealError, context: EncryptionContext): string | undefined {
  if (err.code === 'ERR_INVALID_CONTEXT' || typeof context !== 'object' || context === null) {
    return undefined;
  }
  const { table, field } = context as { table?: unknown; field?: unknown };
  return typeof table === 'string' && typeof field === 'string' ? `${table}.${field}` : undefined;
}
