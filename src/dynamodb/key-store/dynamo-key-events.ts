import { randomUUID } from 'node:crypto';
import {
  PutItemCommand,
  QueryCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { KeyEventHealth } from '../../integration/index.js';
import type { KeyEventBus, KeyEventBusState } from '../../index.js';
import type { ReconnectOptions } from '../../index.js';
import { reconnectBackoff } from '../../integration/index.js';

/*
 * Key events over the DynamoKeyStore table: a publisher puts one small event item under a
 * partition of its own (`pk = "E#events"`, apart from every tenant's `T#…` items); every
 * process polls that partition with a consistent Query for items newer than its cursor. Events
 * are rare (shreds, retirements), so one partition is plenty. The cursor looks back a window
 * (clock skew between publishers) and delivered events are remembered, so none is delivered
 * twice and none is lost to a slow clock.
 */

type KeyEventKind = 'shred' | 'keys-changed';

const PARTITION = 'E#events';

/**
 * Options of {@link dynamoKeyEvents}.
 * @example
 * ```ts
 * const options: DynamoKeyEventsOptions = { client, tableName: 'fieldseal-keys', pollIntervalMs: 1000 };
 * ```
 */
export interface DynamoKeyEventsOptions {
  readonly client: DynamoDBClient;
  /** The DynamoKeyStore table (events live in a partition of their own). */
  readonly tableName: string;
  /** How often each process looks for events; default 1,000 ms (the delivery latency). */
  readonly pollIntervalMs?: number;
  /** How far back each poll looks, for publishers whose clock is behind; default 30,000 ms. */
  readonly skewMs?: number;
  /** Lifetime of an event item (`expiresAt`, for DynamoDB TTL if enabled); default 1 day. */
  readonly retentionSeconds?: number;
  /**
   * Retry schedule after a failed poll: default from `pollIntervalMs`, doubling to
   * 10,000 ms (or `pollIntervalMs` if longer), jittered.
   */
  readonly reconnect?: ReconnectOptions;
}

/**
 * A {@link KeyEventBus} over DynamoDB, with `ready` and `close`.
 * @example
 * ```ts
 * const events: DynamoKeyEvents = dynamoKeyEvents({ client, tableName: 'fieldseal-keys' });
 * await events.ready;
 * ```
 */
export interface DynamoKeyEvents extends KeyEventBus {
  /** Resolves after this process's first successful poll (subscribe starts polling). */
  readonly ready: Promise<void>;
  /** `disconnected` from a failed poll until the next successful one. */
  readonly state: KeyEventBusState;
  onConnectionChange(listener: (state: KeyEventBusState, cause?: unknown) => void): () => void;
  /** Stop polling. */
  close(): void;
}

/** Sort key of an event: publish time (ms, zero-padded), then a random id. */
function sortKey(ms: number): string {
  return `${String(Math.max(0, Math.floor(ms))).padStart(15, '0')}#`;
}

/**
 * Key events for a fleet that keeps its keys in a `DynamoKeyStore`: a shred, retirement or
 * reinstatement in one process reaches every process within about `pollIntervalMs`, and each
 * purges its cached keys of the tenant (instead of keeping them up to `cache.maxAgeMs`).
 *
 * A failed poll (throttling, network, credentials) reports `'disconnected'` through
 * `onConnectionChange` and is retried with capped, jittered backoff until `close()`; the next
 * successful poll reports `'connected'`. Events stay in the table, so the first poll after an
 * outage delivers those published during it (within `retentionSeconds`), but until then a
 * linked client does not cache store keys.
 * @example
 * ```ts
 * const events = dynamoKeyEvents({ client, tableName: 'fieldseal-keys' });
 * const fs = createFieldseal({ ...options, keys: { mode: 'store', store, masterKeyId }, keyEvents: events });
 * await events.ready;
 * ```
 */
export function dynamoKeyEvents(options: DynamoKeyEventsOptions): DynamoKeyEvents {
  const { client, tableName, pollIntervalMs = 1000, skewMs = 30_000 } = options;
  const retentionSeconds = options.retentionSeconds ?? 86_400;
  if (typeof client?.send !== 'function') throw new TypeError('client: expected a DynamoDBClient');
  if (typeof tableName !== 'string' || tableName.length < 3) {
    throw new TypeError('tableName: expected the DynamoKeyStore table name');
  }
  for (const [name, v] of [
    ['pollIntervalMs', pollIntervalMs],
    ['skewMs', skewMs],
  ] as const) {
    if (!Number.isFinite(v) || v < 10) throw new TypeError(`${name}: expected at least 10 ms`);
  }
  const delay = reconnectBackoff({
    initialDelayMs: options.reconnect?.initialDelayMs ?? pollIntervalMs,
    maxDelayMs: options.reconnect?.maxDelayMs ?? Math.max(10_000, pollIntervalMs),
  });
  const handlers = new Set<(tenant: string, kind: KeyEventKind) => void>();
  const health = new KeyEventHealth();
  let failures = 0;
  const seen = new Map<string, number>(); // sort key → publish ms
  let cursor = Date.now();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  const publish = async (tenant: string, kind: KeyEventKind): Promise<void> => {
    if (typeof tenant !== 'string' || tenant.length === 0) {
      throw new TypeError('tenant: expected a non-empty string');
    }
    const now = Date.now();
    await client.send(
      new PutItemCommand({
        TableName: tableName,
        Item: {
          pk: { S: PARTITION },
          sk: { S: `${sortKey(now)}${randomUUID()}` },
          tenant: { S: tenant },
          kind: { S: kind },
          expiresAt: { N: String(Math.floor(now / 1000) + retentionSeconds) },
        },
      }),
    );
  };

  const poll = async (): Promise<void> => {
    const from = cursor - skewMs;
    const startedAt = Date.now();
    let start: Record<string, AttributeValue> | undefined;
    do {
      const out = await client.send(
        new QueryCommand({
          TableName: tableName,
          ConsistentRead: true,
          KeyConditionExpression: 'pk = :p AND sk > :from',
          ExpressionAttributeValues: { ':p': { S: PARTITION }, ':from': { S: sortKey(from) } },
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        }),
      );
      for (const item of out.Items ?? []) {
        const sk = item.sk?.S;
        const tenant = item.tenant?.S;
        const kind = item.kind?.S;
        if (sk === undefined || seen.has(sk) || tenant === undefined) continue;
        if (kind !== 'shred' && kind !== 'keys-changed') continue;
        seen.set(sk, Number(sk.slice(0, 15)));
        for (const h of [...handlers]) {
          try {
            h(tenant, kind);
          } catch {
            // One subscriber's failure never stops delivery to the others.
          }
        }
      }
      start = out.LastEvaluatedKey;
    } while (start !== undefined);
    cursor = startedAt;
    for (const [sk, ms] of seen) if (ms < cursor - 2 * skewMs) seen.delete(sk);
  };

  const loop = (): void => {
    if (closed || timer !== undefined || handlers.size === 0) return;
    const wait = failures === 0 ? pollIntervalMs : delay(failures - 1);
    timer = setTimeout(() => {
      timer = undefined;
      poll()
        .then(
          () => {
            failures = 0;
            markReady();
            if (!closed) health.set('connected');
          },
          (err: unknown) => {
            // Events published meanwhile wait in the table, but not the caches that should
            // forget keys now: report the outage, retry with backoff.
            failures++;
            if (!closed) health.set('disconnected', err);
          },
        )
        .finally(loop);
    }, wait);
    timer.unref();
  };

  return {
    ready,
    get state() {
      return health.state;
    },
    publishShred: (tenant) => publish(tenant, 'shred'),
    publishKeysChanged: (tenant) => publish(tenant, 'keys-changed'),
    subscribe(onEvent) {
      handlers.add(onEvent);
      loop();
      return () => {
        handlers.delete(onEvent);
      };
    },
    onConnectionChange(listener) {
      return health.listen(listener);
    },
    close() {
      closed = true;
      handlers.clear();
      health.clear();
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}
