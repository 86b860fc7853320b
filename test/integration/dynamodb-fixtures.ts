import {
  CreateTableCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { isFieldsealError, type FieldsealError } from '../../src/index.js';

/*
 * Small helpers shared by the DynamoDB conformance suite (test/conformance/dynamo-model-suite.ts),
 * adapted from the private helpers of test/integration/dynamodb-tamper.test.ts and
 * dynamodb-batch.test.ts.
 */

/** Anything with an SDK v3 middleware stack: a DynamoDBClient or a DynamoDBDocumentClient. */
export interface WithMiddlewareStack {
  readonly middlewareStack: {
    add(
      middleware: (
        next: (args: { input: object }) => Promise<unknown>,
        context: { commandName?: string },
      ) => (args: { input: object }) => Promise<unknown>,
      options: { step: 'initialize'; name: string },
    ): void;
  };
}

/** The commands that reached the SDK's middleware stack (so: DynamoDB), in order. */
export interface RequestLog {
  readonly sent: string[];
  /** How many requests were sent. */
  count(): number;
}

/**
 * Count every request a client sends with an `initialize` middleware (as the existing
 * DynamoDB tests do). For a DynamoDBDocumentClient the stack is the wrapped client's.
 */
export function countRequests(client: WithMiddlewareStack, name = 'countRequests'): RequestLog {
  const sent: string[] = [];
  client.middlewareStack.add(
    (next, context) => (args) => {
      sent.push(context.commandName ?? '?');
      return next(args);
    },
    { step: 'initialize', name },
  );
  return { sent, count: () => sent.length };
}

/** The error a promise rejects with; throws when it resolves. */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (value: unknown) => {
      throw new Error(`expected a rejection, got ${String(value)}`);
    },
    (err: unknown) => err,
  );
}

/**
 * The FieldsealError a promise rejects with; throws when it resolves or rejects with anything
 * else, or when the error (message, JSON, stack) contains `secret`.
 */
export async function fieldsealFailure(
  p: Promise<unknown>,
  secret: string,
): Promise<FieldsealError> {
  const err = await rejection(p);
  if (!isFieldsealError(err)) throw new Error(`expected a FieldsealError, got ${String(err)}`);
  for (const text of [err.message, JSON.stringify(err), String(err.stack)]) {
    if (text.includes(secret)) throw new Error(`the error contains "${secret}": ${text}`);
  }
  return err;
}

/** The low-level AttributeValue of a DynamoDB key value (string → S, number / bigint → N). */
export function keyAttribute(value: unknown): AttributeValue {
  if (typeof value === 'string') return { S: value };
  if (typeof value === 'number' || typeof value === 'bigint') return { N: String(value) };
  throw new TypeError(`not a key value: ${String(value)}`);
}

/** Every S string and B byte string (as latin1) of an item, to search for plaintext. */
export function itemText(item: Record<string, AttributeValue>): string {
  const parts: string[] = [];
  const walk = (v: AttributeValue): void => {
    if (v.S !== undefined) parts.push(v.S);
    if (v.B !== undefined) parts.push(Buffer.from(v.B).toString('latin1'));
    if (v.N !== undefined) parts.push(v.N);
    for (const x of v.L ?? []) walk(x);
    for (const x of Object.values(v.M ?? {})) walk(x);
    for (const x of v.SS ?? []) parts.push(x);
    for (const x of v.BS ?? []) parts.push(Buffer.from(x).toString('latin1'));
  };
  for (const [name, value] of Object.entries(item)) {
    parts.push(name);
    walk(value);
  }
  return parts.join('\n');
}

/** Create an on-demand table keyed by two string attributes (partition, sort). */
export async function createStringKeyTable(
  client: DynamoDBClient,
  TableName: string,
  partition: string,
  sort: string,
): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: partition, AttributeType: 'S' },
        { AttributeName: sort, AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: partition, KeyType: 'HASH' },
        { AttributeName: sort, KeyType: 'RANGE' },
      ],
    }),
  );
}
