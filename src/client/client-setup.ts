import { KeyNotConfiguredError } from '../errors.js';
import { DataKeyCache } from '../keys/data-key-cache.js';
import { guardKeyStore } from '../keys/guarded-key-store.js';
import type { KeyEventBus } from '../keys/key-events.js';
import type { KeyProvider } from '../kms/key-provider.js';
import type { MetricsSink } from '../metrics/metrics-sink.js';
import { AuditTrail } from './audit-trail.js';
import { BatchOperations } from './batch-operations.js';
import { FieldRules } from './field-rules.js';
import { KeyLifecycle } from './key-lifecycle.js';
import { buildKeys } from './keys/build-keys.js';
import type { KeyResolver } from './keys/key-resolver.js';
import { MetricsRecorder } from './metrics.js';
import { mergeModelPolicies } from './model-policies.js';
import { KeyAdminAccess } from './key-admin-access.js';
import type { FieldsealOptions } from './options.js';
import { DEFAULT_PROVIDER_TIMEOUT_MS, providerCallObserver } from './provider-calls.js';
import { Reencryption } from './reencryption.js';
import { ValueCodec } from './value-codec.js';

const DEFAULT_BATCH_KEY_CONCURRENCY = 16;

/**
 * The collaborators of one `Fieldseal` client, built from its options.
 * @internal
 */
export interface ClientParts {
  readonly rules: FieldRules;
  readonly cache: DataKeyCache;
  readonly resolver: KeyResolver;
  readonly providers: readonly KeyProvider[];
  readonly metrics: MetricsRecorder;
  readonly audit: AuditTrail | undefined;
  readonly batch: BatchOperations;
  readonly keys: KeyLifecycle;
  /** Single values sealed and opened (the facade's encrypt / decrypt, and re-encryption's). */
  readonly codec: ValueCodec;
  readonly reencryption: Reencryption;
  /** The bus the client subscribes to (it purges the tenants it names). */
  readonly keyEvents: KeyEventBus | undefined;
  /** The sink the client attaches its `stats()` to. */
  readonly telemetry: MetricsSink | undefined;
}

/**
 * Check a client's options and build its collaborators. Fails closed: without a provider or a
 * key configuration there is no client.
 * @throws KeyNotConfiguredError when options, provider or keys are missing; TypeError /
 *   RangeError for malformed options.
 * @internal
 */
export function assembleClient(options: FieldsealOptions): ClientParts {
  if (typeof options !== 'object' || options === null) {
    throw new KeyNotConfiguredError('createFieldseal needs options with a provider and keys');
  }
  const {
    provider,
    keys,
    cache,
    mode = 'ReadWrite',
    fields = {},
    batchKeyConcurrency = DEFAULT_BATCH_KEY_CONCURRENCY,
    providerTimeoutMs = DEFAULT_PROVIDER_TIMEOUT_MS,
  } = options;
  if (
    !Number.isInteger(providerTimeoutMs) ||
    providerTimeoutMs < 1 ||
    providerTimeoutMs > 2 ** 31 - 1
  ) {
    throw new RangeError(
      `providerTimeoutMs: expected 1..2147483647 ms, got ${String(providerTimeoutMs)}`,
    );
  }
  if (!Number.isInteger(batchKeyConcurrency) || batchKeyConcurrency < 1) {
    throw new RangeError(
      `batchKeyConcurrency: expected a positive integer, got ${String(batchKeyConcurrency)}`,
    );
  }
  if (provider === undefined || provider === null) {
    throw new KeyNotConfiguredError('createFieldseal needs a key provider');
  }
  if (keys === undefined || keys === null) {
    throw new KeyNotConfiguredError('createFieldseal needs a keys configuration');
  }
  if (cache === undefined || cache === null) {
    throw new TypeError('cache: expected { maxAgeMs, maxUses?, maxEntries? }');
  }
  const { telemetry } = options;
  if (telemetry !== undefined && (typeof telemetry !== 'object' || telemetry === null)) {
    throw new TypeError('telemetry: expected a MetricsSink object');
  }
  const audit = AuditTrail.from(options.audit, options.actor);
  const metrics = new MetricsRecorder(telemetry);
  const rules = new FieldRules(
    mode,
    mergeModelPolicies(fields, options.models),
    metrics,
    keys.mode,
  );
  const providers = Array.isArray(provider)
    ? [...(provider as readonly KeyProvider[])]
    : [provider as KeyProvider];
  const dataKeys = new DataKeyCache(cache);
  // Whatever store the application configures (custom ones included) fails closed: its
  // errors are typed, its rows checked (unknown states, another tenant's row) and copied.
  const resolverKeys = keys.mode === 'store' ? { ...keys, store: guardKeyStore(keys.store) } : keys;
  const clientKeys = buildKeys(resolverKeys, providers, dataKeys, {
    observe: providerCallObserver(metrics, audit, providerTimeoutMs),
    keyReads: metrics.keyReads,
    fieldMasterKeys: rules.fieldMasterKeys,
  });
  const { resolver } = clientKeys;
  const codec = new ValueCodec(rules, resolver, metrics);
  const { keyEvents } = options;
  return {
    rules,
    cache: dataKeys,
    resolver,
    providers,
    metrics,
    audit,
    batch: new BatchOperations(rules, resolver, metrics, dataKeys, batchKeyConcurrency),
    keys: new KeyLifecycle(
      clientKeys,
      audit,
      keyEvents,
      rules.fieldMasterKeys,
      new KeyAdminAccess(mode, options.admin),
    ),
    codec,
    reencryption: new Reencryption(rules, resolver, codec, metrics),
    keyEvents,
    telemetry,
  };
}
