/**
 * `fieldseal/integration`: the contract every backend and integration is built on. The
 * PostgreSQL and DynamoDB homes of this package use nothing of the core beyond this entry
 * point and `fieldseal` (a test checks it), so a new backend or ORM integration can be a
 * leaf folder, in this repository or in its own package. See docs/architecture.md.
 *
 * What it offers, by role:
 * - model schema: {@link schemaOf} and the read-only {@link ModelSchema};
 * - records: {@link modelCodec} (batched encrypt/decrypt of whole records), the context
 *   builder ({@link asRecord}, {@link scopeOf}, {@link contextOf}) and value checks;
 * - blind indexes: resolving a repository's index configuration, computing the index values
 *   written with a record and the lookup value of a query, tenant index secrets and the
 *   storage port they are sealed in;
 * - key stores and key events: limits, commitments and the reconnect policy a
 *   {@link KeyStore} or {@link KeyEventBus} implementation must honour;
 * - audit chains: the record encoding and hashing a durable {@link AuditSink} chains with;
 * - small utilities an integration needs to treat caller input as hostile.
 * @packageDocumentation
 */

// Model schema and records.
export { schemaOf } from './schema-of.js';
export { modelCodec, type ModelCodec } from './model-codec.js';
export type { ModelSchema, FieldSchema, FieldEncryptionSchema } from '../model/model-schema.js';
export {
  absentError,
  asRecord,
  assertRegistered,
  contextOf,
  hasKind,
  kindError,
  scopeOf,
  type RecordScope,
} from '../model/record-rules.js';
export { withField } from '../model/field-error.js';
export {
  openStoredValues,
  sealFieldValues,
  type FieldValueToSeal,
  type StoredFieldValue,
} from './stored-values.js';
export { toText } from '../envelope/encoding.js';
export { holdsEnvelope } from './envelope-scan.js';
export { sealedColumnStatements, type SealedColumnSpec } from './sealed-column-checks.js';

// Blind indexes.
export {
  indexColumn,
  indexedField,
  resolveIndexConfig,
  type BlindIndexVersions,
  type IndexConfig,
  type IndexedField,
  type RepositoryBlindIndexOptions,
} from '../blind-index/repository-index-config.js';
export {
  indexOf,
  indexValues,
  writtenIndexColumns,
  type WrittenIndexColumn,
} from '../blind-index/index-values.js';
export { TenantSecrets, type SecretSet } from '../blind-index/tenant-secrets.js';
export type {
  BlindIndexColumns,
  BlindIndexLookup,
  BlindIndexSource,
  BlindIndexWrite,
} from '../blind-index/blind-index-source.js';
export { checkVersion, normalizeValue, type ResolvedIndexOptions } from '../blind-index/options.js';
export type {
  SealedSecret,
  SealedSecretId,
  SealedSecretPage,
  SealedSecretStorage,
} from '../blind-index/sealed-secret-storage.js';

// Key stores and key events.
export { MAX_KEY_VERSION, checkVersionNumber } from '../keys/version-number.js';
export { STORE_KEY_COMMITMENT_LENGTH, copyCommitment } from '../keys/key-commitment.js';
export { MAX_KEY_ID_BYTES, MAX_WRAPPED_KEY_BYTES } from '../envelope/format.js';
export { KeyEventHealth } from '../keys/key-event-health.js';
export { reconnectBackoff } from '../keys/reconnect-backoff.js';
export { RedactedObject } from '../keys/redacted.js';
export { checkKeyEncoding, decodeKeyText } from '../secrets/secret-source.js';
export { encodeCanonicalMap } from '../envelope/context.js';

// Audit chains.
export {
  AUDIT_CHAIN_FORMAT,
  AUDIT_GENESIS_HASH,
  chainRecordOfEvent,
  encodeAuditRecord,
  encodeChainRecord,
  hashAuditRecord,
  type AuditHead,
  type ChainRecord,
} from '../audit/chain-encoding.js';
export { chainHasher, type AuditChainKey, type ChainHasher } from '../audit/chain-key.js';
export { parseStoredDetail } from '../audit/stored-detail.js';
export { validateAuditEvent } from '../audit/audit-event-validation.js';
export type { AuditRecordInput } from '../client/audit-trail.js';

// Utilities for hostile input and bounded concurrency.
export { ownData } from '../lib/own-data.js';
export { mapLimit } from '../lib/map-limit.js';
export { constantTimeEqual } from '../crypto/constant-time.js';
