/**
 * A client that sends the low-level DynamoDB commands through the SDK's middleware stack, such
 * as `DynamoDBDocumentClient` from `@aws-sdk/lib-dynamodb`.
 * @example
 * ```ts
 * const client: DynamoSendingClient = DynamoDBDocumentClient.from(new DynamoDBClient({}));
 * ```
 */
export interface DynamoSendingClient {
  readonly config: object;
  send(command: never): Promise<unknown>;
}
