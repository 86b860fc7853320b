/**
 * Names of the instruments `fieldseal/opentelemetry` creates on the `fieldseal` meter, for
 * dashboards and views. Durations are in seconds (OpenTelemetry convention).
 * @example
 * ```ts
 * new View({ instrumentName: FIELDSEAL_INSTRUMENTS.operationDuration, aggregation: ... });
 * ```
 */
export const FIELDSEAL_INSTRUMENTS = Object.freeze({
  /** Histogram (s): latency added by each successful call, by `fieldseal.operation`. */
  operationDuration: 'fieldseal.operation.duration',
  /** Counter: failed values, by `fieldseal.operation`, `error.type` and `fieldseal.field`. */
  operationFailures: 'fieldseal.operation.failures',
  /** Observable counter: values encrypted / decrypted, by `fieldseal.operation`. */
  values: 'fieldseal.values',
  /** Counter: key-provider (KMS) calls, by provider, operation, outcome and `error.type`. */
  providerCalls: 'fieldseal.provider.calls',
  /** Histogram (s): key-provider call latency, same attributes as `providerCalls`. */
  providerDuration: 'fieldseal.provider.duration',
  /** Observable counter: data-key cache lookups, by `fieldseal.cache.result` (hit / miss). */
  cacheLookups: 'fieldseal.cache.lookups',
  /** Observable counter: data keys evicted from the cache (age, uses, size, purge). */
  cacheEvictions: 'fieldseal.cache.evictions',
  /** Observable up-down counter: data keys currently cached. */
  cacheEntries: 'fieldseal.cache.entries',
  /**
   * Observable counter: values decrypted by the key their envelope names: `fieldseal.key`
   * (`keyId@version`) for key-store envelopes, `fieldseal.provider` for embedded ones.
   */
  keyReads: 'fieldseal.key.reads',
  /** Observable counter: legacy plaintext returned by fields in migration, by `fieldseal.field`. */
  plaintextReads: 'fieldseal.plaintext.reads',
});

/**
 * The attribute keys fieldseal's instruments use. No attribute ever holds a value, a key, a
 * record id or a context value; `fieldseal.tenant` appears only on provider-call instruments
 * and only when `tenantAttribute: true` was asked for.
 * @example
 * ```ts
 * const byField = points.filter((p) => p.attributes[FIELDSEAL_ATTRIBUTES.field] === 'customers.ssn');
 * ```
 */
export const FIELDSEAL_ATTRIBUTES = Object.freeze({
  /** `encrypt`, `decrypt`, `encryptMany`, `decryptMany`; `generate`, `wrap`, `unwrap` for providers. */
  operation: 'fieldseal.operation',
  /** `success` or `failure`. */
  outcome: 'fieldseal.outcome',
  /** The stable fieldseal error code (`ERR_...`), per OpenTelemetry's `error.type` convention. */
  errorType: 'error.type',
  /** `table.field` (schema names, bounded by `maxFieldAttributes`). */
  field: 'fieldseal.field',
  /** Key-provider id (`aws-kms`, `local`...). */
  provider: 'fieldseal.provider',
  /** `keyId@version` of a key-store data key. */
  key: 'fieldseal.key',
  /** `hit` or `miss`. */
  cacheResult: 'fieldseal.cache.result',
  /** Tenant id: opt-in, provider calls only (unbounded cardinality, possibly personal data). */
  tenant: 'fieldseal.tenant',
});
