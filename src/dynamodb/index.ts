/**
 * `fieldseal/dynamodb`: encrypted models in DynamoDB through the AWS SDK v3 clients
 * (`@aws-sdk/client-dynamodb`, optional peer dependency). See docs/dynamodb.md.
 * @packageDocumentation
 */
export { createDynamoRepository } from './create-dynamo-repository.js';
export type {
  DynamoChanges,
  DynamoDBSendingClient,
  DynamoPage,
  DynamoQueryOptions,
  DynamoRepository,
  DynamoRepositoryOptions,
  DynamoScanOptions,
  DynamoTransactWrite,
} from './repository-types.js';
export type { DynamoKeyValue, DynamoTableKeys } from './table-keys.js';
