import { constantTimeEqual } from '../../integration/index.js';
import { AuditUnavailableError } from '../../index.js';
import type { SqlClient } from '../sql-client.js';
import {
  AUDIT_GENESIS_HASH,
  encodeChainRecord,
  type AuditHead,
  type ChainRecord,
} from '../../integration/index.js';
import { chainHasher, type ChainHasher } from '../../integration/index.js';
import type {
  AuditBreak,
  AuditVerification,
  AuditVerifyProgress,
  VerifyAuditChainOptions,
} from './audit-verification.js';
import {
  AUDIT_ROW_COLUMNS,
  chainRecordOfRow,
  readAuditPage,
  readHeadRow,
  type AuditRow,
} from './audit-rows.js';

const MAX_BIGINT = '9223372036854775807';
/** How many predecessors a `reordered` diagnosis follows before calling the row `modified`. */
const MAX_BACKTRACK = 16;
const HEX32 = /^[0-9a-f]{64}$/;

function checkHead(h: AuditHead, what: string, min: number): void {
  if (typeof h !== 'object' || h === null || !Number.isSafeInteger(h.seq) || h.seq < min) {
    throw new RangeError(`${what}.seq must be a safe integer ≥ ${min}`);
  }
  if (typeof h.hash !== 'string' || !HEX32.test(h.hash)) {
    throw new TypeError(`${what}.hash must be 64 lowercase hex digits`);
  }
}

/**
 * Verify the `fieldseal_audit` hash chain row by row in seq order, a page at a time, against
 * the head row, the optional chain key and any anchored heads. Stops at the first break and
 * names it: a modified row by its seq, a deleted row by the missing seq, a reordered row by the
 * seq where it now sits (with the seq it was appended as). Rows appended while it runs are
 * not checked. Without a key or an anchor, a rewrite of every hash from some row on is not
 * detectable (docs/audit.md#what-the-chain-proves).
 *
 * @throws AuditUnavailableError (`ERR_AUDIT_UNAVAILABLE`) when the database cannot be read.
 * @throws TypeError / RangeError for invalid options.
 * @example
 * ```ts
 * const result = await verifyAuditChain(sql, { anchors: [{ seq: 9000, hash: published }] });
 * if (!result.ok) console.error(result.firstBroken?.message); // 'row 4711 does not match its hash'
 * ```
 */
export async function verifyAuditChain(
  sql: SqlClient,
  options: VerifyAuditChainOptions = {},
): Promise<AuditVerification> {
  const pageSize = options.pageSize ?? 5000;
  if (!Number.isSafeInteger(pageSize) || pageSize < 1 || pageSize > 1_000_000) {
    throw new RangeError(`pageSize must be an integer from 1 to 1,000,000 (got ${pageSize})`);
  }
  const start = options.from ?? { seq: 0, hash: AUDIT_GENESIS_HASH };
  checkHead(start, 'from', 0);
  const anchors = new Map<number, string>();
  for (const a of options.anchors ?? []) {
    checkHead(a, 'anchor', 1);
    if (anchors.has(a.seq) && anchors.get(a.seq) !== a.hash) {
      throw new TypeError(`two anchors of seq ${a.seq} disagree`);
    }
    if (a.seq > start.seq) anchors.set(a.seq, a.hash);
  }
  const hash = await chainHasher(options.key);
  return new ChainWalk(sql, hash, start, anchors, pageSize, options.onProgress).run();
}

class ChainWalk {
  #rows = 0;
  #last: AuditHead;

  constructor(
    private readonly sql: SqlClient,
    private readonly hash: ChainHasher,
    private readonly start: AuditHead,
    private readonly anchors: ReadonlyMap<number, string>,
    private readonly pageSize: number,
    private readonly onProgress: ((p: AuditVerifyProgress) => void) | undefined,
  ) {
    this.#last = start;
  }

  /** Every read goes through here: a database failure is `ERR_AUDIT_UNAVAILABLE`. */
  async #read<T>(read: (sql: SqlClient) => Promise<T>): Promise<T> {
    try {
      return await read(this.sql);
    } catch (cause) {
      throw new AuditUnavailableError(
        'could not read the audit trail (is the fieldseal schema migrated?)',
        { cause },
      );
    }
  }

  #result(firstBroken?: AuditBreak): AuditVerification {
    const base = { rows: this.#rows, head: this.#last };
    return firstBroken === undefined ? { ok: true, ...base } : { ok: false, ...base, firstBroken };
  }

  #intact(record: ChainRecord, stored: string): boolean {
    return constantTimeEqual(this.hash(encodeChainRecord(record)), Buffer.from(stored, 'hex'));
  }

  async run(): Promise<AuditVerification> {
    const head = await this.#read(readHeadRow);
    const bound = head === undefined ? MAX_BIGINT : String(head.seq);
    for (;;) {
      const after = this.#last.seq;
      const page = await this.#read((sql) => readAuditPage(sql, after, bound, this.pageSize));
      for (const row of page) {
        const broken = await this.#check(row);
        if (broken !== undefined) return this.#result(broken);
      }
      this.onProgress?.({
        rows: this.#rows,
        seq: this.#last.seq,
        headSeq: head?.seq ?? this.#last.seq,
      });
      if (page.length < this.pageSize) break;
    }
    return this.#result(await this.#checkEnd(head));
  }

  async #check(row: AuditRow): Promise<AuditBreak | undefined> {
    const { record, hash, exact } = chainRecordOfRow(row);
    const seq = this.#last.seq + 1;
    if (record.seq !== seq) {
      const message = `row ${seq} is missing (the next row is ${record.seq})`;
      return { seq, reason: 'missing', message };
    }
    // Verify what is stored, not what it parses to: a row stored otherwise than the sink
    // writes it is modified even when its parsed fields still match its hash.
    const intact = exact && this.#intact(record, hash);
    const linked = record.prevHash === this.#last.hash;
    if (!intact || !linked) return this.#diagnose(record, hash, exact, intact, linked);
    const anchored = this.anchors.get(seq);
    if (anchored !== undefined && anchored !== hash) {
      const message = `row ${seq} is not the row anchored earlier: the chain was rewritten up to it`;
      return { seq, reason: 'anchor-mismatch', message };
    }
    this.#rows++;
    this.#last = { seq, hash };
    return undefined;
  }

  async #diagnose(
    record: ChainRecord,
    hash: string,
    exact: boolean,
    intact: boolean,
    linked: boolean,
  ): Promise<AuditBreak> {
    const { seq } = record;
    if (intact) {
      const message = `row ${seq} is intact but does not follow row ${seq - 1}: row ${seq - 1} was rewritten with a recomputed hash, or row ${seq} was replaced`;
      return { seq, reason: 'prev-hash-mismatch', message };
    }
    if (!linked) {
      const origin = await this.#appendedAs(record);
      if (
        exact &&
        origin !== undefined &&
        origin !== seq &&
        this.#intact({ ...record, seq: origin }, hash)
      ) {
        const message = `row ${seq} holds the row appended as ${origin}: rows were reordered`;
        return { seq, reason: 'reordered', appendedAs: origin, message };
      }
    }
    const hint =
      seq === this.start.seq + 1
        ? ' (or the chain was written with another HMAC key, or none)'
        : '';
    return { seq, reason: 'modified', message: `row ${seq} does not match its hash${hint}` };
  }

  /** The seq a displaced row was appended at: one after its predecessor's (found by hash). */
  async #appendedAs(record: ChainRecord): Promise<number | undefined> {
    let prev = record.prevHash;
    for (let steps = 0; steps < MAX_BACKTRACK; steps++) {
      if (prev === this.start.hash) return this.start.seq + 1 + steps;
      const text = `SELECT ${AUDIT_ROW_COLUMNS} FROM fieldseal_audit WHERE hash = decode($1, 'hex') LIMIT 1`;
      const { rows } = await this.#read((sql) => sql.query<AuditRow>(text, [prev]));
      if (rows[0] === undefined) return undefined;
      const p = chainRecordOfRow(rows[0]);
      if (p.exact && this.#intact(p.record, p.hash)) return p.record.seq + 1 + steps;
      prev = p.record.prevHash; // the predecessor moved too: follow its own predecessor
    }
    return undefined;
  }

  async #checkEnd(head: AuditHead | undefined): Promise<AuditBreak | undefined> {
    const last = this.#last;
    if (head === undefined) {
      const message = 'the head row (fieldseal_audit_head) is missing';
      return { seq: last.seq, reason: 'head-mismatch', message };
    }
    if (head.seq > last.seq) {
      const message = `row ${last.seq + 1} is missing: the head says the chain reaches row ${head.seq}`;
      return { seq: last.seq + 1, reason: 'missing', message };
    }
    if (head.seq < last.seq || head.hash !== last.hash) {
      const message = `the head row (seq ${head.seq}) does not match row ${last.seq}`;
      return { seq: head.seq, reason: 'head-mismatch', message };
    }
    const published = Math.max(0, ...this.anchors.keys());
    if (published > last.seq) {
      const message = `row ${last.seq + 1} is missing: the chain ends at ${last.seq} but row ${published} was anchored`;
      return { seq: last.seq + 1, reason: 'missing', message };
    }
    // Rows after the head were written around the sink (the sink moves both in one
    // transaction). Read the maximum before the current head so a concurrent append is no alarm.
    const { rows } = await this.#read((sql) =>
      sql.query<{ max: string | null }>('SELECT max(seq)::text AS max FROM fieldseal_audit'),
    );
    const now = await this.#read(readHeadRow);
    const maxSeq = Number(rows[0]?.max ?? 0);
    if (now !== undefined && maxSeq > now.seq) {
      const message = `row ${now.seq + 1} follows the head row: it was written around the audit sink`;
      return { seq: now.seq + 1, reason: 'head-mismatch', message };
    }
    return undefined;
  }
}
