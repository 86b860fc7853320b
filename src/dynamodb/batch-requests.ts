import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  type KeysAndAttributes,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { BatchError, isFieldsealError } from '../index.js';
import type { DynamoItem } from './item-codec.js';

/*
 * BatchWriteItem / BatchGetItem in DynamoDB's request sizes, retrying what DynamoDB leaves
 * unprocessed (throttling, size limits) with capped exponential backoff and full jitter, as
 * the DynamoDB developer guide asks ("Batch operations": "use an exponential backoff").
 */

/** What this module sends: both SDK clients accept the low-level commands. @internal */
export interface Sender {
  send(command: unknown): Promise<unknown>;
}

/** DynamoDB's limits per request. @internal */
export const WRITE_BATCH = 25;
/** @internal */
export const GET_BATCH = 100;

const MAX_ATTEMPTS = 8;
const BASE_DELAY_MS = 25;
const MAX_DELAY_MS = 2_000;

function backoff(attempt: number): Promise<void> {
  const cap = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, Math.random() * cap));
}

/**
 * Send `first`, then what each response leaves unprocessed, until nothing is left: at most
 * 8 attempts, with backoff before each retry.
 */
async function untilProcessed<T>(
  table: string,
  op: string,
  first: T[],
  sendOnce: (pending: T[]) => Promise<T[]>,
): Promise<void> {
  let pending = first;
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt >= MAX_ATTEMPTS) {
      throw new Error(
        `${op} on ${table}: ${pending.length} requests still unprocessed after ${MAX_ATTEMPTS} attempts`,
      );
    }
    if (attempt > 0) await backoff(attempt);
    pending = await sendOnce(pending);
  }
}

function chunks<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/**
 * Send every put or delete request, 25 per BatchWriteItem, retrying UnprocessedItems.
 * @throws Error when requests are still unprocessed after 8 attempts; the SDK's errors.
 * @example
 * ```ts
 * await batchWriteRequests(client, 'secrets', keys.map((Key) => ({ DeleteRequest: { Key } })));
 * ```
 * @internal
 */
export async function batchWriteRequests(
  client: Sender,
  table: string,
  requests: readonly WriteRequest[],
): Promise<void> {
  for (const chunk of chunks(requests, WRITE_BATCH)) {
    await untilProcessed(table, 'BatchWriteItem', chunk, async (pending) => {
      const out = (await client.send(
        new BatchWriteItemCommand({ RequestItems: { [table]: pending } }),
      )) as { UnprocessedItems?: Record<string, WriteRequest[]> };
      return out.UnprocessedItems?.[table] ?? [];
    });
  }
}

/**
 * Put every item, 25 per BatchWriteItem, retrying UnprocessedItems.
 * @throws Error when items are still unprocessed after 8 attempts; the SDK's errors.
 * @example
 * ```ts
 * await batchPut(client, 'customers', await records.encode(list));
 * ```
 * @internal
 */
export async function batchPut(
  client: Sender,
  table: string,
  items: readonly DynamoItem[],
): Promise<void> {
  await batchWriteRequests(
    client,
    table,
    items.map((Item) => ({ PutRequest: { Item } })),
  );
}

/**
 * Get every key (consistent reads), 100 per BatchGetItem, retrying UnprocessedKeys. The items
 * come back in no particular order; absent keys are simply missing.
 * @throws Error when keys are still unprocessed after 8 attempts; the SDK's errors.
 * @internal
 */
export async function batchGetItems(
  client: Sender,
  table: string,
  keys: readonly DynamoItem[],
): Promise<DynamoItem[]> {
  const found: DynamoItem[] = [];
  for (const chunk of chunks(keys, GET_BATCH)) {
    await untilProcessed(table, 'BatchGetItem', chunk, async (pending) => {
      const out = (await client.send(
        new BatchGetItemCommand({
          RequestItems: { [table]: { Keys: pending, ConsistentRead: true } },
        }),
      )) as {
        Responses?: Record<string, DynamoItem[]>;
        UnprocessedKeys?: Record<string, KeysAndAttributes>;
      };
      found.push(...(out.Responses?.[table] ?? []));
      return out.UnprocessedKeys?.[table]?.Keys ?? [];
    });
  }
  return found;
}

/** A BatchError over the present items, re-indexed to positions in the caller's `keys`. @internal */
export function reindexed(err: unknown, present: readonly number[]): unknown {
  if (!isFieldsealError(err) || err.code !== 'ERR_BATCH_FAILED' || !('failures' in err)) {
    return err;
  }
  const { failures } = err;
  return new BatchError(failures.map(({ index, error }) => ({ index: present[index]!, error })));
}
