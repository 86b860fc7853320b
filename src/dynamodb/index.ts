/**
 * `fieldseal/dynamodb`: encrypted models in DynamoDB through the AWS SDK v3 clients
 * (`@aws-sdk/client-dynamodb`, optional peer dependency). See docs/dynamodb.md.
 * @packageDocumentation
 */
export { createDynamoRepository } from './create-dynamo-repository.js';
export {
  sealDocumentClient,
  type SealDocumentClientOptions,
} from './document-client/seal-document-client.js';
export type { SealedTableOptions } from './document-client/sealed-tables.js';
export {
  findByBlindIndex,
  type FindByBlindIndexOptions,
} from './document-client/blind-index-lookup.js';
export { createBlindIndexSecretsTable } from './blind-index-secrets-table.js';
export type {
  DynamoChanges,
  DynamoDeleteOptions,
  DynamoSendingClient,
  DynamoPage,
  DynamoQueryOptions,
  DynamoRepository,
  DynamoRepositoryOptions,
  DynamoRepositoryStats,
  DynamoSaveOptions,
  DynamoScanOptions,
  DynamoTransactWrite,
  DynamoUpdateOptions,
} from './repository-types.js';
export type { DynamoKeyValue, DynamoTableKeys } from './table-keys.js';
export type { DynamoCondition } from './write-conditions.js';
export type { DynamoBlindIndexOptions } from './repository-types.js';
export type { DynamoBlindIndexKeys } from './secondary-indexes.js';
export {
  DynamoKeyStore,
  dynamoKeyEvents,
  type DynamoKeyEvents,
  type DynamoKeyEventsOptions,
  type DynamoKeyStoreOptions,
} from './key-store/index.js';
export type { DynamoLegacyFormat, DynamoLegacyOptions } from './legacy-values.js';
export type {
  DynamoBackfillOptions,
  DynamoBackfillProgress,
  DynamoBackfillReport,
} from './dynamo-backfill.js';
export {
  MAX_SEED_TEXT_LENGTH,
  SEED_PREFIX,
  isSeedValue,
  openSeedValue,
  openSeedValues,
  parseSeedValue,
  type OpenSeedValuesOptions,
  type SeedEnvelope,
  type SeedValueItem,
} from './seed-format/index.js';
