/**
 * fieldseal: fail-closed field encryption for database records.
 *
 * The root entry point is what an application encrypts with: the client, models, key
 * providers, secret sources, redaction helpers, errors (also at `fieldseal/errors`) and the
 * ports an application implements or configures (key store, key-event bus, audit and metrics
 * sinks, blind indexer). The CLI's configuration functions are at `fieldseal/config`; each
 * backend has its own subpath (`fieldseal/postgres`, `fieldseal/dynamodb`, ...).
 *
 * @example
 * ```ts
 * import { createFieldseal, LocalKeyProvider, EnvSecretSource } from 'fieldseal';
 * const fs = createFieldseal({
 *   provider: new LocalKeyProvider({ source: new EnvSecretSource({ keys: { master: 'FIELDSEAL_MASTER_KEY' } }) }),
 *   keys: { mode: 'embedded', masterKeyId: 'master' },
 *   cache: { maxAgeMs: 300_000 },
 * });
 * ```
 * @module
 */

/*
 * One construction idiom per kind (test/unit/root-exports.test.ts pins the list):
 * - What you plug in — key providers, secret sources, key stores — is a class made with
 *   `new X(options)` (one options object); extension points (`KeyProvider`) are classes too.
 * - What fieldseal builds for you is made by a lowercase function, and its class, when it
 *   has one, is exported as a type only: `createFieldseal` (Fieldseal), `createBlindIndexer`
 *   (BlindIndexer), `defineModel` / `field.*()` (FieldBuilder), `sensitive()` (Sensitive);
 *   so are function-shaped ports and wrappers: `callbackAuditSink`, `guardKeyStore`.
 * - Errors are classes (`new XError(message)`, `instanceof`, `switch (err.code)`).
 * - Key material holders are made by their static or source method: `DataKey.fromBytes`,
 *   `new SecretKey(reference, bytes)` in a `SecretSource`.
 */
export * from './errors.js';
export { createFieldseal, type Fieldseal, type ShredReceipt } from './client/fieldseal.js';
export type { MasterKeyOutcome } from './client/master-key-destruction.js';
export type {
  DecryptItem,
  EncryptItem,
  EncryptOptions,
  Reencrypted,
  Settled,
} from './client/items.js';
export type {
  FieldPolicy,
  FieldsealOptions,
  ModelPolicySource,
  KeysConfig,
  MasterKeyChoice,
  KeyAdminOperation,
  Mode,
} from './client/options.js';
export type { FieldsealMetrics } from './client/metrics.js';
export type { EncryptionContext, KeyContext } from './envelope/context.js';
export type { FieldValue, PaddingOption } from './envelope/plaintext.js';
export type { KeyRef } from './envelope/key-ref.js';
export { inspectEnvelope, type EnvelopeInfo } from './envelope/inspect-envelope.js';
export { DataKey } from './keys/data-key.js';
export type { KeyEventBus, KeyEventBusState } from './keys/key-events.js';
export type { ReconnectOptions } from './keys/reconnect-backoff.js';
export type { DataKeyCacheOptions, DataKeyCacheStats } from './keys/data-key-cache.js';
export { REDACTED } from './keys/redacted.js';
export { KeyProvider } from './kms/key-provider.js';
export type {
  GeneratedDataKey,
  KeyProviderCapabilities,
  MasterKeyDestruction,
  ProviderCallCounts,
} from './kms/key-provider.js';
export { LocalKeyProvider, type LocalKeyProviderOptions } from './kms/local/local-key-provider.js';
export {
  generateX25519KeyPair,
  X25519KeyProvider,
  x25519PublicKey,
  type X25519KeyProviderOptions,
} from './kms/public-key/index.js';
export {
  MultiKeyProvider,
  type MultiKeyProviderOptions,
  type MultiWrapTarget,
} from './kms/multi/index.js';
export { guardKeyStore } from './keys/guarded-key-store.js';
export type {
  KeyStore,
  KeyVersionState,
  KeyWrapping,
  NewKeyVersion,
  StoredKeyVersion,
} from './keys/key-store.js';
export { SecretKey, type KeyEncoding, type SecretSource } from './secrets/secret-source.js';
export {
  EnvSecretSource,
  type EnvKeyLocation,
  type EnvSecretSourceOptions,
} from './secrets/env/env-secret-source.js';
export {
  FileSecretSource,
  generateKeyFile,
  type FileKeyLocation,
  type FileSecretSourceOptions,
} from './secrets/file/file-secret-source.js';
export { sensitive, type Sensitive } from './redact/sensitive.js';
export { pinoRedactPaths, type PinoRedactOptions } from './redact/pino-redact-paths.js';
export type {
  AuditDetailValue,
  AuditEvent,
  AuditOperation,
  AuditSink,
} from './audit/audit-event.js';
export { callbackAuditSink } from './audit/callback-audit-sink.js';
export type { FieldsealStats, CacheStats, KeyEventsStats } from './metrics/fieldseal-stats.js';
export {
  evaluateHealth,
  type HealthFinding,
  type HealthOptions,
  type HealthReport,
} from './metrics/health.js';
export { readStatsSnapshot } from './metrics/stats-snapshot.js';
export type { LatencySnapshot } from './metrics/latency-histogram.js';
export type {
  MetricsSink,
  ProviderCallRecord,
  ProviderOperation,
  ValueOperation,
} from './metrics/metrics-sink.js';
export { defineModel, type ModelDefinition } from './model/define-model.js';
export {
  field,
  type FieldBuilder,
  type EncryptedFieldOptions,
  type FieldKind,
  type FieldTypes,
  type StorageKind,
  type BlindIndexFieldOptions,
} from './model/field.js';
export type {
  AnyField,
  AnyModel,
  InferRecord,
  InferStored,
  InferStoredInput,
  Model,
  ModelFields,
  ModelPolicies,
  BlindIndexedField,
} from './model/model-types.js';
export {
  decryptRecord,
  decryptRecords,
  decryptRecordsSettled,
  encryptRecord,
  encryptRecords,
  type RecordFieldError,
  type SettledRecord,
} from './model/record-codec.js';
export {
  defineModelFromSeedShape,
  type SeedAttribute,
  type SeedAttributeType,
  type SeedEncryption,
  type SeedFields,
  type SeedShapeDefinition,
} from './model/seed-shape.js';
export {
  createBlindIndexer,
  type BlindIndexer,
  type BlindIndexContext,
  type BlindIndexerOptions,
  type BlindIndexNormalization,
  type BlindIndexOptions,
} from './blind-index/index.js';
