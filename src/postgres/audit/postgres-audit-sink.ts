import { AuditUnavailableError, isFieldsealError } from '../../index.js';
import type { SqlClient } from '../sql-client.js';
import type { AuditEvent, AuditSink } from '../../index.js';
import { validateAuditEvent } from '../../integration/index.js';
import { chainRecordOfEvent, encodeChainRecord, type AuditHead } from '../../integration/index.js';
import { chainHasher, type AuditChainKey, type ChainHasher } from '../../integration/index.js';
import { readHeadRow } from './audit-rows.js';

/**
 * Options of {@link postgresAuditSink}.
 * @example
 * ```ts
 * const options: PostgresAuditSinkOptions = { key: { source, reference: 'audit' } };
 * ```
 */
export interface PostgresAuditSinkOptions {
  /** HMAC key of the chain (see {@link AuditChainKey}); verify with the same key. */
  readonly key?: AuditChainKey;
}

/**
 * The PostgreSQL hash-chain sink: an {@link AuditSink} that also returns the new head.
 * @example
 * ```ts
 * const head = await sink.append(event); // { seq: 42, hash: '9f…' }
 * ```
 */
export interface PostgresAuditSink extends AuditSink {
  /** Append one event; resolves to the new head (the row just written). */
  append(event: AuditEvent): Promise<AuditHead>;
  /**
   * Append several events in order, in one transaction (all or none); resolves to the new
   * head. Validates every event before writing any.
   */
  appendMany(events: readonly AuditEvent[]): Promise<AuditHead>;
  /** The current head: publish it elsewhere (a log, a ticket, a WORM bucket) to anchor the chain. */
  head(): Promise<AuditHead>;
}

const COLUMNS = `seq, at, actor, operation, tenant, key_id, version, provider_id, master_key_id,
  outcome, error_code, detail, prev_hash, hash`;
/** Each column's placeholder (`#` is the parameter), in {@link COLUMNS} order. */
const PLACEHOLDERS = [
  '#::bigint',
  '#::timestamptz',
  '#',
  '#',
  '#',
  '#',
  '#::bigint',
  '#',
  '#',
  '#',
  '#',
  '#::jsonb',
  "decode(#, 'hex')",
  "decode(#, 'hex')",
];
/** 14 parameters a row: 500 rows stay far below PostgreSQL's 65,535 parameters a statement. */
const ROWS_PER_INSERT = 500;

/** One row's parameters, in {@link COLUMNS} order; hashes are hex (decoded by the statement). */
function rowParams(seq: number, event: AuditEvent, prevHash: string, hash: string): unknown[] {
  return [
    String(seq),
    event.at.toISOString(),
    event.actor,
    event.operation,
    event.tenant ?? null,
    event.keyId ?? null,
    event.version === undefined ? null : String(event.version),
    event.providerId ?? null,
    event.masterKeyId ?? null,
    event.outcome,
    event.errorCode ?? null,
    event.detail === undefined ? null : JSON.stringify(event.detail),
    prevHash,
    hash,
  ];
}

/** Serialisation failures and deadlocks are retried; anything else fails the append. */
const RETRYABLE = new Set(['40001', '40P01']);
const ATTEMPTS = 5;

const isRetryable = (err: unknown): boolean =>
  typeof err === 'object' &&
  err !== null &&
  'code' in err &&
  typeof err.code === 'string' &&
  RETRYABLE.has(err.code);

const unavailable = (message: string, cause: unknown): Error =>
  isFieldsealError(cause) ? cause : new AuditUnavailableError(message, { cause });

/**
 * An audit sink writing a hash chain to `fieldseal_audit` (migration 2; run `migrate` first).
 * Row `seq` (contiguous from 1) stores the event and `hash = H(encode(seq, prev_hash, fields))`
 * where `prev_hash` is the previous row's hash (32 zero bytes for row 1) and H is SHA-256, or
 * HMAC-SHA256 with `options.key` (docs/audit.md). Each append is one transaction that locks the
 * single head row (`SELECT ... FOR UPDATE`), so appends from any number of connections and
 * processes form one chain. Events carry no values or key bytes and `detail` must be plain JSON.
 *
 * @throws TypeError / RangeError for an invalid event, before any I/O.
 * @throws AuditUnavailableError (`ERR_AUDIT_UNAVAILABLE`) when the database fails (cause chained).
 * @throws KeyNotConfiguredError when `options.key` names a secret its source does not have.
 * @example
 * ```ts
 * await migrate(sql);
 * const sink = postgresAuditSink(sql, { key: { source, reference: 'audit' } });
 * await sink.record({ at: new Date(), actor: 'svc', operation: 'rotate', tenant: 'acme', outcome: 'success' });
 * const { ok, firstBroken } = await verifyAuditChain(sql, { key: { source, reference: 'audit' } });
 * ```
 */
export function postgresAuditSink(
  sql: SqlClient,
  options: PostgresAuditSinkOptions = {},
): PostgresAuditSink {
  let hasher: Promise<ChainHasher> | undefined;
  const loadHasher = (): Promise<ChainHasher> => {
    hasher ??= chainHasher(options.key).catch((err: unknown) => {
      hasher = undefined; // a failed key load is retried by the next append
      throw err;
    });
    return hasher;
  };

  const appendOnce = (events: readonly AuditEvent[], hash: ChainHasher): Promise<AuditHead> =>
    sql.transaction(async (tx) => {
      const head = await readHeadRow(tx, 'for-update');
      if (head === undefined) {
        throw new AuditUnavailableError(
          'the audit chain head row is missing: run the migrations, or restore it',
        );
      }
      let { seq, hash: prev } = head;
      for (let i = 0; i < events.length; i += ROWS_PER_INSERT) {
        const tuples: string[] = [];
        const params: unknown[] = [];
        for (const event of events.slice(i, i + ROWS_PER_INSERT)) {
          seq++;
          const rowHash = hash(encodeChainRecord(chainRecordOfEvent(seq, prev, event))).toString(
            'hex',
          );
          const row = rowParams(seq, event, prev, rowHash);
          const first = params.length + 1;
          tuples.push(
            `(${PLACEHOLDERS.map((p, j) => p.replace('#', `$${first + j}`)).join(', ')})`,
          );
          params.push(...row);
          prev = rowHash;
        }
        await tx.query(
          `INSERT INTO fieldseal_audit (${COLUMNS}) VALUES ${tuples.join(', ')}`,
          params,
        );
      }
      await tx.query(
        "UPDATE fieldseal_audit_head SET seq = $1::bigint, hash = decode($2, 'hex') WHERE id",
        [String(seq), prev],
      );
      return { seq, hash: prev };
    });

  const appendMany = async (events: readonly AuditEvent[]): Promise<AuditHead> => {
    if (!Array.isArray(events)) throw new TypeError('appendMany needs an array of events');
    events.forEach((e: AuditEvent) => validateAuditEvent(e));
    const hash = await loadHasher();
    for (let attempt = 1; ; attempt++) {
      try {
        return await appendOnce(events, hash);
      } catch (err) {
        if (attempt < ATTEMPTS && isRetryable(err)) continue;
        throw unavailable('could not append to the audit trail', err);
      }
    }
  };

  const head = async (): Promise<AuditHead> => {
    let current: AuditHead | undefined;
    try {
      current = await readHeadRow(sql);
    } catch (err) {
      throw unavailable('could not read the audit chain head', err);
    }
    if (current === undefined)
      throw new AuditUnavailableError('the audit chain head row is missing');
    return current;
  };

  return {
    append: (event) => appendMany([event]),
    appendMany: (events) => (events.length === 0 ? head() : appendMany(events)),
    record: async (event) => {
      await appendMany([event]);
    },
    head,
  };
}
