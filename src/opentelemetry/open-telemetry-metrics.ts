import {
  metrics,
  ValueType,
  type Attributes,
  type BatchObservableCallback,
  type Counter,
  type Histogram,
  type Meter,
  type MeterProvider,
  type Observable,
} from '@opentelemetry/api';
import type { FieldsealErrorCode } from '../errors.js';
import type { FieldsealStats } from '../metrics/fieldseal-stats.js';
import type { MetricsSink, ProviderCallRecord, ValueOperation } from '../metrics/metrics-sink.js';
import { FIELDSEAL_ATTRIBUTES as A, FIELDSEAL_INSTRUMENTS as I } from './names.js';
import { StatsTotals } from './stats-totals.js';

/**
 * Options of {@link openTelemetryMetrics}.
 * @example
 * ```ts
 * const options: OpenTelemetryMetricsOptions = { meterProvider, maxFieldAttributes: 50 };
 * ```
 */
export interface OpenTelemetryMetricsOptions {
  /** The meter to use; default `(meterProvider ?? metrics).getMeter('fieldseal')`. */
  readonly meter?: Meter;
  /**
   * Where to get the `fieldseal` meter; default the global one (`metrics` of
   * `@opentelemetry/api`), which is a no-op until the application installs an SDK. The global
   * provider is read when the sink is created: create the sink after the SDK is installed.
   */
  readonly meterProvider?: MeterProvider;
  /**
   * Add `fieldseal.tenant` to the provider-call instruments (default false). Tenant ids have
   * unbounded cardinality (one time series per tenant in your backend) and may be personal
   * data (an e-mail address, a customer name): turn this on only when both are acceptable.
   * No other instrument ever carries a tenant.
   */
  readonly tenantAttribute?: boolean;
  /**
   * Distinct `table.field` values used as `fieldseal.field` on failures (default 200); later
   * ones are reported as `other`, so a flood of malformed contexts cannot blow up cardinality.
   */
  readonly maxFieldAttributes?: number;
}

/** Bucket boundaries in seconds, 1 µs to 10 s: the SDK's defaults are meant for milliseconds. */
const DURATION_BUCKETS = [
  0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

const OTHER_FIELD = 'other';

/**
 * A {@link MetricsSink} that reports to OpenTelemetry: histograms and counters pushed as calls
 * happen (one histogram record per successful call, the cached attribute set reused, no
 * allocation), and observable instruments read from every attached client's `stats()` at
 * collection time (values, cache, key versions, plaintext reads), which costs the hot path
 * nothing. Several clients may share one sink: their figures are added up. Instrument and
 * attribute names: {@link FIELDSEAL_INSTRUMENTS}, {@link FIELDSEAL_ATTRIBUTES}; see
 * docs/metrics.md. No attribute ever holds a value, a key, a record id or a context value.
 * @example
 * ```ts
 * import { openTelemetryMetrics } from 'fieldseal/opentelemetry';
 * const telemetry = openTelemetryMetrics(); // after the OpenTelemetry SDK is started
 * const fs = createFieldseal({ ...options, telemetry });
 * ```
 */
export class OpenTelemetryMetrics implements MetricsSink {
  readonly #tenantAttribute: boolean;
  readonly #maxFields: number;
  readonly #meter: Meter;
  readonly #duration: Histogram;
  readonly #failures: Counter;
  readonly #providerCalls: Counter;
  readonly #providerDuration: Histogram;
  readonly #observables: Observable[];
  readonly #callback: BatchObservableCallback;
  readonly #sources = new Set<() => FieldsealStats>();
  /** Figures of detached (closed) clients, kept so that counters never go down. */
  readonly #retired = new StatsTotals();
  readonly #operationAttributes = new Map<ValueOperation, Attributes>();
  readonly #attributes = new Map<string, Attributes>();
  readonly #fields = new Set<string>();
  #closed = false;

  constructor(options: OpenTelemetryMetricsOptions = {}) {
    const { maxFieldAttributes = 200 } = options;
    if (!Number.isInteger(maxFieldAttributes) || maxFieldAttributes < 0) {
      throw new RangeError(
        `maxFieldAttributes: expected an integer >= 0, got ${String(maxFieldAttributes)}`,
      );
    }
    this.#maxFields = maxFieldAttributes;
    this.#tenantAttribute = options.tenantAttribute === true;
    const meter = options.meter ?? (options.meterProvider ?? metrics).getMeter('fieldseal');
    this.#meter = meter;
    const seconds = { unit: 's', advice: { explicitBucketBoundaries: DURATION_BUCKETS } };
    this.#duration = meter.createHistogram(I.operationDuration, {
      ...seconds,
      description: 'Latency fieldseal added to each successful encrypt / decrypt call or batch',
    });
    this.#failures = meter.createCounter(I.operationFailures, {
      unit: '{value}',
      valueType: ValueType.INT,
      description: 'Values that failed to encrypt or decrypt, by error code',
    });
    this.#providerCalls = meter.createCounter(I.providerCalls, {
      unit: '{call}',
      valueType: ValueType.INT,
      description: 'Key-provider (KMS) calls, made on data-key cache misses',
    });
    this.#providerDuration = meter.createHistogram(I.providerDuration, {
      ...seconds,
      description: 'Latency of key-provider (KMS) calls',
    });
    const count = (name: string, unit: string, description: string) =>
      meter.createObservableCounter(name, { unit, valueType: ValueType.INT, description });
    const values = count(I.values, '{value}', 'Values encrypted and decrypted');
    const lookups = count(I.cacheLookups, '{lookup}', 'Data-key cache lookups (hit or miss)');
    const evictions = count(I.cacheEvictions, '{key}', 'Data keys evicted from the cache');
    const entries = meter.createObservableUpDownCounter(I.cacheEntries, {
      unit: '{key}',
      valueType: ValueType.INT,
      description: 'Data keys currently cached',
    });
    const keyReads = count(I.keyReads, '{value}', 'Values decrypted, by data-key version');
    const plaintext = count(I.plaintextReads, '{value}', 'Legacy plaintext read in migration');
    this.#observables = [values, lookups, evictions, entries, keyReads, plaintext];
    this.#callback = (result) => {
      const t = this.#totals();
      result.observe(values, t.encrypted, { [A.operation]: 'encrypt' });
      result.observe(values, t.decrypted, { [A.operation]: 'decrypt' });
      result.observe(lookups, t.hits, { [A.cacheResult]: 'hit' });
      result.observe(lookups, t.misses, { [A.cacheResult]: 'miss' });
      result.observe(evictions, t.evictions);
      result.observe(entries, t.entries);
      for (const [key, n] of t.keyVersions) result.observe(keyReads, n, { [A.key]: key });
      for (const [provider, n] of t.embeddedByProvider) {
        result.observe(keyReads, n, { [A.provider]: provider });
      }
      for (const [field, n] of t.plaintextReads) result.observe(plaintext, n, { [A.field]: field });
    };
    meter.addBatchObservableCallback(this.#callback, this.#observables);
  }

  /** Called by each client constructed with this sink; see {@link MetricsSink.attach}. */
  attach(read: () => FieldsealStats): () => void {
    this.#sources.add(read);
    return () => {
      if (!this.#sources.delete(read)) return;
      this.#retired.add(read(), false);
    };
  }

  /** Records `seconds` in `fieldseal.operation.duration` (values are counted from stats). */
  operationCompleted(operation: ValueOperation, seconds: number, _values?: number): void {
    let attributes = this.#operationAttributes.get(operation);
    if (attributes === undefined) {
      attributes = Object.freeze({ [A.operation]: operation });
      this.#operationAttributes.set(operation, attributes);
    }
    this.#duration.record(seconds, attributes);
  }

  /** Counts one failed value in `fieldseal.operation.failures`. */
  operationFailed(
    operation: ValueOperation,
    code: FieldsealErrorCode,
    field: string | undefined,
  ): void {
    const f = field === undefined ? undefined : this.#boundedField(field);
    this.#failures.add(
      1,
      this.#cached(`f|${operation}|${code}|${f ?? ''}`, () => ({
        [A.operation]: operation,
        [A.errorType]: code,
        ...(f === undefined ? {} : { [A.field]: f }),
      })),
    );
  }

  /** Counts and times one provider call (`fieldseal.provider.calls` / `.duration`). */
  providerCalled(call: ProviderCallRecord): void {
    const attributes: Attributes = {
      [A.provider]: call.providerId,
      [A.operation]: call.operation,
      [A.outcome]: call.outcome,
      ...(call.errorCode === undefined ? {} : { [A.errorType]: call.errorCode }),
      ...(this.#tenantAttribute ? { [A.tenant]: call.tenant } : {}),
    };
    this.#providerCalls.add(1, attributes);
    this.#providerDuration.record(call.seconds, attributes);
  }

  /**
   * Stop observing (removes the collection callback); pushed instruments stay usable but
   * clients should be closed first.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#meter.removeBatchObservableCallback(this.#callback, this.#observables);
  }

  #totals(): StatsTotals {
    const t = new StatsTotals().addTotals(this.#retired);
    for (const read of this.#sources) t.add(read(), true);
    return t;
  }

  #boundedField(field: string): string {
    if (this.#fields.has(field)) return field;
    if (this.#fields.size >= this.#maxFields) return OTHER_FIELD;
    this.#fields.add(field);
    return field;
  }

  /** Attribute sets of failures, built once per distinct combination (bounded by the above). */
  #cached(key: string, build: () => Attributes): Attributes {
    let attributes = this.#attributes.get(key);
    if (attributes === undefined) {
      attributes = Object.freeze(build());
      this.#attributes.set(key, attributes);
    }
    return attributes;
  }
}

/**
 * A {@link MetricsSink} for the `telemetry` option of `createFieldseal`, reporting to
 * OpenTelemetry through `@opentelemetry/api` (an optional peer dependency). Without an
 * installed SDK every instrument is a no-op. Create it after the SDK is started (the global
 * meter provider is read once), or pass `meterProvider` / `meter`.
 * @example
 * ```ts
 * import { openTelemetryMetrics } from 'fieldseal/opentelemetry';
 * const fs = createFieldseal({ provider, keys, cache, telemetry: openTelemetryMetrics() });
 * ```
 */
export function openTelemetryMetrics(
  options: OpenTelemetryMetricsOptions = {},
): OpenTelemetryMetrics {
  return new OpenTelemetryMetrics(options);
}
