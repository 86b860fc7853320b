/**
 * DynamoDB key store for fieldseal: wrapped data-key versions in one DynamoDB table.
 *
 * @example
 * ```ts
 * import { DynamoKeyStore } from 'fieldseal/dynamodb';
 * ```
 * @module
 */
export { DynamoKeyStore, type DynamoKeyStoreOptions } from './dynamo-key-store.js';
export {
  dynamoKeyEvents,
  type DynamoKeyEvents,
  type DynamoKeyEventsOptions,
} from './dynamo-key-events.js';
