/**
 * fieldseal: fail-closed field encryption for database records.
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
export * from './errors.js';
export { createFieldseal, Fieldseal, type ShredReceipt } from './client/fieldseal.js';
export type { MasterKeyOutcome } from './client/master-key-destruction.js';
export type { DecryptItem, EncryptItem, EncryptOptions, Settled } from './client/items.js';
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
export { DataKeyCache } from './keys/data-key-cache.js';
export type { KeyEventBus, KeyEventBusState } from './keys/key-events.js';
export type { ReconnectOptions } from './keys/reconnect-backoff.js';
export type { CacheLease, DataKeyCacheOptions, DataKeyCacheStats } from './keys/data-key-cache.js';
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
export { EnvSecretSource, type EnvSecretSourceOptions } from './secrets/env/env-secret-source.js';
export {
  FileSecretSource,
  generateKeyFile,
  type FileSecretSourceOptions,
} from './secrets/file/file-secret-source.js';
export { Sensitive, sensitive } from './redact/sensitive.js';
export { pinoRedactPaths, type PinoRedactOptions } from './redact/pino-redact-paths.js';
export {
  CONFIG_FILE,
  readConfig,
  validateConfig,
  type FieldsealConfig,
} from './config/config-file.js';
export { lockDataDir } from './config/data-dir-lock.js';
export {
  openDatabase,
  openFromConfig,
  type OpenedDatabase,
  type OpenedFieldseal,
} from './config/open-from-config.js';
export { initProject, type InitReport } from './config/init-project.js';
export { loadModel } from './config/load-model.js';
export { providerFromConfig, type ProviderConfig } from './config/provider-config.js';
export type {
  AuditDetailValue,
  AuditEvent,
  AuditOperation,
  AuditSink,
} from './audit/audit-event.js';
export { callbackAuditSink } from './audit/callback-audit-sink.js';
export {
  AUDIT_CHAIN_FORMAT,
  AUDIT_GENESIS_HASH,
  encodeAuditRecord,
  hashAuditRecord,
  type AuditHead,
} from './audit/chain-encoding.js';
export type { AuditChainKey } from './audit/chain-key.js';
export type { AuditRecordInput } from './client/audit-trail.js';
export type { FieldsealStats, CacheStats, KeyEventsStats } from './metrics/fieldseal-stats.js';
export type { LatencySnapshot } from './metrics/latency-histogram.js';
export type {
  MetricsSink,
  ProviderCallRecord,
  ProviderOperation,
  ValueOperation,
} from './metrics/metrics-sink.js';

export { runDoctor, type DoctorCheck } from './config/doctor.js';
export { defineModel, type ModelDefinition } from './model/define-model.js';
export {
  field,
  FieldBuilder,
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
  BlindIndexer,
  createBlindIndexer,
  type BlindIndexContext,
  type BlindIndexerOptions,
  type BlindIndexNormalization,
  type BlindIndexOptions,
} from './blind-index/index.js';
