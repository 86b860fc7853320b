import type { AuditHead } from '../../integration/index.js';
import type { AuditChainKey } from '../../integration/index.js';

/**
 * Why a chain is broken at {@link AuditBreak.seq} (docs/audit.md#what-verify-reports):
 * - `modified`: the row's fields (or its `hash`/`prev_hash`) no longer match its hash;
 * - `missing`: no row has this seq (deleted), though a later one or the head says it existed;
 * - `reordered`: this seq holds a row that was appended at another seq (`appendedAs`);
 * - `prev-hash-mismatch`: the row is intact but does not follow the previous one (the previous
 *   row was rewritten with a recomputed hash, possible only without a chain key);
 * - `head-mismatch`: the head row disagrees with the rows (missing, rewritten, or rows were
 *   written around the sink after it);
 * - `anchor-mismatch`: the row differs from a head published earlier (`anchors`).
 * @example
 * ```ts
 * if (result.firstBroken?.reason === 'missing') console.log(`row ${result.firstBroken.seq} was deleted`);
 * ```
 */
export type AuditBreakReason =
  'modified' | 'missing' | 'reordered' | 'prev-hash-mismatch' | 'head-mismatch' | 'anchor-mismatch';

/**
 * The first place a chain is broken.
 * @example
 * ```ts
 * const b: AuditBreak = { seq: 42, reason: 'modified', message: 'row 42 does not match its hash' };
 * ```
 */
export interface AuditBreak {
  readonly seq: number;
  readonly reason: AuditBreakReason;
  /** For `reordered`: the seq the row found at `seq` was appended as. */
  readonly appendedAs?: number;
  /** A readable sentence naming seqs only, never field contents. */
  readonly message: string;
}

/**
 * The result of {@link verifyAuditChain}.
 * @example
 * ```ts
 * const { ok, rows, head, firstBroken }: AuditVerification = await verifyAuditChain(sql);
 * ```
 */
export interface AuditVerification {
  readonly ok: boolean;
  /** Rows verified intact, up to the first break (all rows when `ok`). */
  readonly rows: number;
  /** The last intact row: the chain's head when `ok` (`{ seq: 0, hash: genesis }` if empty). */
  readonly head: AuditHead;
  readonly firstBroken?: AuditBreak;
}

/**
 * Progress of a verification, reported after each page.
 * @example
 * ```ts
 * const onProgress = (p: AuditVerifyProgress) => console.log(`${p.seq} / ${p.headSeq}`);
 * ```
 */
export interface AuditVerifyProgress {
  readonly rows: number;
  /** Seq of the last row verified. */
  readonly seq: number;
  /** Seq of the head when verification started (the last row it will check). */
  readonly headSeq: number;
}

/**
 * Options of {@link verifyAuditChain}.
 * @example
 * ```ts
 * const options: VerifyAuditChainOptions = { anchors: [published], onProgress: console.log };
 * ```
 */
export interface VerifyAuditChainOptions {
  /** The chain's HMAC key, when the sink had one. */
  readonly key?: AuditChainKey;
  /** Heads published earlier: each row must still have that hash, and must still exist. */
  readonly anchors?: readonly AuditHead[];
  /** A trusted checkpoint after pruning: rows start at `from.seq + 1` and link to `from.hash`. */
  readonly from?: AuditHead;
  /** Rows read per query (default 5,000). */
  readonly pageSize?: number;
  readonly onProgress?: (progress: AuditVerifyProgress) => void;
}
