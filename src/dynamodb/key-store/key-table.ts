import {
  GetItemCommand,
  QueryCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type DynamoDBClient,
  type TransactWriteItem,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { createTableIfAbsent, waitUntilActive } from '../create-table.js';
import { KeyStoreUnavailableError } from '../../index.js';
import type { Item } from './key-items.js';
import type { KeyAttributes } from './item-keys.js';

/**
 * The most items one `TransactWriteItems` call may hold (a DynamoDB service limit).
 * @internal
 * @example
 * ```ts
 * const chunk = versions.slice(0, MAX_TRANSACTION_ITEMS - 1); // room for one condition check
 * ```
 */
export const MAX_TRANSACTION_ITEMS = 100;

/** Attempts of a transaction that DynamoDB cancelled for a conflicting in-flight transaction. */
const CONFLICT_ATTEMPTS = 10;

/** How a failed write ended. */
type Failure = 'condition' | 'conflict' | 'other';

/**
 * The key-store table as the store uses it: consistent reads, paginated queries, conditional
 * writes whose refusal is an ordinary `false`, and every other failure turned into
 * `ERR_KEY_STORE_UNAVAILABLE` with the SDK error as `cause`. No request or response item
 * ever reaches an error message: they hold wrapped key bytes.
 * @internal
 * @example
 * ```ts
 * const table = new KeyTable(client, 'fieldseal-keys');
 * const head = await table.get(headKey('acme', 'default'));
 * ```
 */
export class KeyTable {
  constructor(
    readonly client: DynamoDBClient,
    readonly name: string,
  ) {}

  /** Read one item with a strongly consistent read. */
  async get(key: KeyAttributes): Promise<Item | undefined> {
    const out = await this.#send('GetItem', () =>
      this.client.send(
        new GetItemCommand({ TableName: this.name, Key: key, ConsistentRead: true }),
      ),
    );
    return out.Item;
  }

  /** Every item of a partition whose sort key begins with `prefix`, following pagination. */
  async query(pk: string, prefix: string): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const page = await this.#send('Query', () =>
        this.client.send(
          new QueryCommand({
            TableName: this.name,
            ConsistentRead: true,
            KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
            ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
            ExpressionAttributeValues: { ':pk': { S: pk }, ':prefix': { S: prefix } },
            ...(start === undefined ? {} : { ExclusiveStartKey: start }),
          }),
        ),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return items;
  }

  /** A conditional update; false when its condition failed. */
  async update(input: Omit<UpdateItemCommandInput, 'TableName'>): Promise<boolean> {
    return this.#write('UpdateItem', () =>
      this.client.send(new UpdateItemCommand({ ...input, TableName: this.name })),
    );
  }

  /**
   * An all-or-nothing `TransactWriteItems`; false when a condition failed. A cancellation
   * caused by a conflicting transaction in flight is retried (with jittered backoff): it did
   * not commit, and the retry re-evaluates every condition.
   */
  async transact(items: readonly TransactWriteItem[]): Promise<boolean> {
    if (items.length > MAX_TRANSACTION_ITEMS) {
      throw new RangeError(`transaction: at most ${MAX_TRANSACTION_ITEMS} items`);
    }
    return this.#write('TransactWriteItems', () =>
      this.client.send(new TransactWriteItemsCommand({ TransactItems: [...items] })),
    );
  }

  /** Create the table (on-demand capacity) if it does not exist, and wait until it is active. */
  async create(): Promise<void> {
    await this.#send('CreateTable', () =>
      createTableIfAbsent(this.client, this.name, ['pk', 'S'], ['sk', 'S']),
    );
    await this.#send('DescribeTable', () => waitUntilActive(this.client, this.name));
  }

  async #write(operation: string, send: () => Promise<unknown>): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await send();
        return true;
      } catch (err) {
        const failure = classify(err);
        if (failure === 'condition') return false;
        if (failure === 'other' || attempt >= CONFLICT_ATTEMPTS) throw unavailable(operation, err);
        await backoff(attempt);
      }
    }
  }

  async #send<T>(operation: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (err) {
      throw unavailable(operation, err);
    }
  }
}

function unavailable(operation: string, cause: unknown): KeyStoreUnavailableError {
  return new KeyStoreUnavailableError(`DynamoDB key store ${operation} failed`, { cause });
}

function errorName(err: unknown): string | undefined {
  const name = (err as { name?: unknown } | null)?.name;
  return typeof name === 'string' ? name : undefined;
}

/**
 * A refused condition is the "lost the race" outcome; a `TransactionConflict` (another
 * transaction held one of the items) is worth a retry; anything else is an outage.
 */
function classify(err: unknown): Failure {
  switch (errorName(err)) {
    case 'ConditionalCheckFailedException':
      return 'condition';
    case 'TransactionConflictException':
      return 'conflict';
    case 'TransactionCanceledException':
      break;
    default:
      return 'other';
  }
  const codes = cancellationCodes(err);
  if (codes.includes('TransactionConflict')) return 'conflict';
  const failed = codes.includes('ConditionalCheckFailed');
  return failed && codes.every((c) => c === 'None' || c === 'ConditionalCheckFailed')
    ? 'condition'
    : 'other';
}

/**
 * The per-item reason codes of a cancelled transaction: from `CancellationReasons`, or from the
 * bracketed list of the message when an endpoint omits them.
 */
function cancellationCodes(err: unknown): string[] {
  const reasons = (err as { CancellationReasons?: { Code?: string }[] }).CancellationReasons;
  if (Array.isArray(reasons) && reasons.length > 0) return reasons.map((r) => r.Code ?? 'None');
  const message = (err as { message?: unknown }).message;
  const list = typeof message === 'string' ? /\[([^\]]*)\]\s*$/.exec(message)?.[1] : undefined;
  return list === undefined ? [] : list.split(',').map((c) => c.trim());
}

function backoff(attempt: number): Promise<void> {
  const cap = Math.min(500, 10 * 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, Math.random() * cap));
}
