import type { SqlClient } from '../sql-client.js';
import type { AuditHead, ChainRecord } from '../../integration/index.js';
import { parseStoredDetail } from '../../integration/index.js';

/**
 * How `fieldseal_audit` rows are read, driver-independently: numbers as text (no bigint or
 * float conversion by the driver), `at` as exact epoch microseconds (`NULL` outside the years
 * 1–9999 an event can have, such as a tampered `'infinity'`), `detail` as JSON text, hashes
 * as lowercase hex.
 * @internal
 */
export const AUDIT_ROW_COLUMNS = `seq::text AS seq,
  CASE WHEN at BETWEEN '0001-01-01 00:00:00+00' AND '9999-12-31 23:59:59.999999+00'
    THEN (extract(epoch FROM at) * 1000000)::bigint::text END AS at_us,
  actor, operation, tenant, key_id, version::text AS version, provider_id, master_key_id,
  outcome, error_code, detail::text AS detail,
  encode(prev_hash, 'hex') AS prev_hash, encode(hash, 'hex') AS hash`;

/**
 * One row as {@link AUDIT_ROW_COLUMNS} returns it.
 * @internal
 */
export interface AuditRow {
  readonly seq: string;
  readonly at_us: string | null;
  readonly actor: string;
  readonly operation: string;
  readonly tenant: string | null;
  readonly key_id: string | null;
  readonly version: string | null;
  readonly provider_id: string | null;
  readonly master_key_id: string | null;
  readonly outcome: string;
  readonly error_code: string | null;
  readonly detail: string | null;
  readonly prev_hash: string;
  readonly hash: string;
}

/** The smallest i64: far outside the years 1–9999 the sink accepts. */
const IMPOSSIBLE_AT = -(2n ** 63n);

const opt = (v: string | null): string | undefined => (v === null ? undefined : v);

/**
 * The hashed fields of a stored row, the hash it claims, and whether the row is stored exactly
 * as the sink writes the record (`exact: false`: a `detail` number was rewritten in a form that
 * parses to the same double, such as `100` → `100.0000000000000001`; the row is modified
 * whatever its hash says).
 * @internal
 */
export function chainRecordOfRow(row: AuditRow): {
  record: ChainRecord;
  hash: string;
  exact: boolean;
} {
  const detail = row.detail === null ? undefined : parseStoredDetail(row.detail);
  return {
    record: {
      seq: Number(row.seq),
      prevHash: row.prev_hash,
      // An `at` no event can have matches no hash: the row is reported as modified.
      atMicros: row.at_us === null ? IMPOSSIBLE_AT : BigInt(row.at_us),
      actor: row.actor,
      operation: row.operation,
      tenant: opt(row.tenant),
      keyId: opt(row.key_id),
      version: row.version === null ? undefined : BigInt(row.version),
      providerId: opt(row.provider_id),
      masterKeyId: opt(row.master_key_id),
      outcome: row.outcome,
      errorCode: opt(row.error_code),
      detail: detail?.value,
    },
    hash: row.hash,
    exact: detail?.exact ?? true,
  };
}

/**
 * Rows `after < seq <= upTo` in seq order, at most `limit`. The page comes back as one JSON
 * text (`json_agg`) rather than row by row: about twice as fast on PGlite, and `detail` stays
 * text inside it, so SQL NULL and a JSON `null` remain distinct.
 * @internal
 */
export async function readAuditPage(
  sql: SqlClient,
  after: number,
  upTo: string,
  limit: number,
): Promise<AuditRow[]> {
  const { rows } = await sql.query<{ page: string }>(
    `SELECT coalesce(json_agg(r ORDER BY r.seq::bigint), '[]')::text AS page FROM (
       SELECT ${AUDIT_ROW_COLUMNS} FROM fieldseal_audit
       WHERE seq > $1::bigint AND seq <= $2::bigint ORDER BY fieldseal_audit.seq LIMIT $3
     ) r`,
    [String(after), upTo, limit],
  );
  return JSON.parse(rows[0]?.page ?? '[]') as AuditRow[];
}

/**
 * The head row (seq 0 and the genesis hash before the first append), or `undefined` when it
 * was deleted.
 * @internal
 */
export async function readHeadRow(
  sql: SqlClient,
  lock: 'for-update' | 'plain' = 'plain',
): Promise<AuditHead | undefined> {
  const { rows } = await sql.query<{ seq: string; hash: string }>(
    `SELECT seq::text AS seq, encode(hash, 'hex') AS hash FROM fieldseal_audit_head WHERE id${
      lock === 'for-update' ? ' FOR UPDATE' : ''
    }`,
  );
  const row = rows[0];
  return row === undefined ? undefined : { seq: Number(row.seq), hash: row.hash };
}
