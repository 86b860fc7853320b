import type { FieldsealErrorCode } from '../errors.js';
import type { FieldsealStats } from './fieldseal-stats.js';

/**
 * The value operations whose added latency is measured: `encrypt` / `decrypt` are the
 * single-value calls (`encrypt`, `encryptToBytes`, `decrypt`), `encryptMany` / `decryptMany`
 * the batch calls (`encryptMany`, `encryptManyToBytes`, `decryptMany`, `decryptManySettled`).
 * @example
 * ```ts
 * const op: ValueOperation = 'decryptMany';
 * ```
 */
export type ValueOperation = 'encrypt' | 'decrypt' | 'encryptMany' | 'decryptMany';

/**
 * The key-provider (KMS) operations a client makes, on data-key cache misses only.
 * @example
 * ```ts
 * const op: ProviderOperation = 'unwrap';
 * ```
 */
export type ProviderOperation = 'generate' | 'wrap' | 'unwrap';

/**
 * One finished key-provider call, as given to {@link MetricsSink.providerCalled}. Ids only:
 * never key bytes, wrapped keys or context values other than the tenant id.
 * @example
 * ```ts
 * const call: ProviderCallRecord = {
 *   providerId: 'aws-kms', operation: 'unwrap', seconds: 0.012, outcome: 'success', tenant: 'acme',
 * };
 * ```
 */
export interface ProviderCallRecord {
  readonly providerId: string;
  readonly operation: ProviderOperation;
  /** Wall-clock duration of the call (including the provider's own checks). */
  readonly seconds: number;
  readonly outcome: 'success' | 'failure';
  /** The stable error code when the call failed with a fieldseal error. */
  readonly errorCode?: FieldsealErrorCode;
  /**
   * The tenant whose key was involved. A sink must not turn it into a metric attribute unless
   * its user asked for that explicitly: tenant ids are unbounded (cardinality) and may be
   * personal data.
   */
  readonly tenant: string;
}

/**
 * Where a client pushes the measurements that a periodic snapshot cannot give (latency
 * distributions, provider calls as they happen, failures with their field), and how a sink
 * reads everything else when it wants to: `attach` hands it the client's {@link FieldsealStats}
 * reader, to be polled at collection time (cache hit rate, values per key version, plaintext
 * reads), so counters cost the hot path nothing. Pass one with the `telemetry` option of
 * `createFieldseal`; `fieldseal/opentelemetry` provides one for OpenTelemetry.
 *
 * Every method is optional and called synchronously; a sink must be fast, must not throw (a
 * throw is swallowed: metrics never fail an operation) and never receives a value, a key, a
 * record id or any context value except table and field names (and the tenant of a provider
 * call, see {@link ProviderCallRecord.tenant}).
 * @example
 * ```ts
 * const sink: MetricsSink = {
 *   operationCompleted: (op, seconds) => statsd.timing(`fieldseal.${op}`, seconds * 1000),
 *   operationFailed: (op, code) => statsd.increment(`fieldseal.${op}.failed`, { code }),
 * };
 * const fs = createFieldseal({ ...options, telemetry: sink });
 * ```
 */
export interface MetricsSink {
  /**
   * Called once by each client constructed with this sink; `read` returns that client's
   * current stats. Return a function the client calls from `close()` to detach itself.
   */
  attach?(read: () => FieldsealStats): () => void;
  /**
   * A value call succeeded: `seconds` of latency added for `values` values (1 for the
   * single-value calls; a batch's size for a batch).
   */
  operationCompleted?(operation: ValueOperation, seconds: number, values: number): void;
  /**
   * One value failed (a batch reports each failed item): its error code and, when known, the
   * `table.field` it belongs to.
   */
  operationFailed?(
    operation: ValueOperation,
    code: FieldsealErrorCode,
    field: string | undefined,
  ): void;
  /** A key-provider call finished (success or failure). */
  providerCalled?(call: ProviderCallRecord): void;
}
