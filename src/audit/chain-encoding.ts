import type { AuditDetailValue, AuditEvent } from './audit-event.js';
import { validateAuditEvent } from './audit-event-validation.js';
import { hasherForKey } from './chain-key.js';
import type { SecretKey } from '../secrets/secret-source.js';

/**
 * The canonical record encoding of the audit hash chain, version 1 (docs/audit.md#format).
 * Every field is length-prefixed or fixed-size and every optional field carries a presence
 * byte, so two different rows never encode to the same bytes. Frozen: a change needs a new
 * version tag and a migration, never an edit (test/unit/audit-chain-vector.test.ts).
 */

/**
 * Domain tag that starts every encoded record; names the encoding version.
 * @example
 * ```ts
 * console.log(AUDIT_CHAIN_FORMAT); // 'fieldseal-audit-v1'
 * ```
 */
export const AUDIT_CHAIN_FORMAT = 'fieldseal-audit-v1';

/**
 * The `prev_hash` of the first row (seq 1): 32 zero bytes, as lowercase hex.
 * @example
 * ```ts
 * const start: AuditHead = { seq: 0, hash: AUDIT_GENESIS_HASH };
 * ```
 */
export const AUDIT_GENESIS_HASH = '00'.repeat(32);

/**
 * A position in the chain: the seq of a row and its hash (lowercase hex). The head returned by
 * an append or a verification is what you publish elsewhere to anchor the chain.
 * @example
 * ```ts
 * const head: AuditHead = await sink.append(event);
 * await publish(`${head.seq}:${head.hash}`);
 * ```
 */
export interface AuditHead {
  readonly seq: number;
  readonly hash: string;
}

/**
 * One row's hashed fields, as written or as read back from the database.
 *
 * @example
 * ```ts
 * const record: ChainRecord = chainRecordOfEvent(1, AUDIT_GENESIS_HASH, event);
 * await insertRow({ ...record, hash: hasher(encodeChainRecord(record)).toString('hex') });
 * ```
 */
export interface ChainRecord {
  readonly seq: number;
  /** Lowercase hex of 32 bytes (validated by the database's CHECK constraint on write). */
  readonly prevHash: string;
  /** Microseconds since the Unix epoch (PostgreSQL `timestamptz` precision). */
  readonly atMicros: bigint;
  readonly actor: string;
  readonly operation: string;
  readonly tenant: string | undefined;
  readonly keyId: string | undefined;
  readonly version: bigint | undefined;
  readonly providerId: string | undefined;
  readonly masterKeyId: string | undefined;
  readonly outcome: string;
  readonly errorCode: string | undefined;
  /** `undefined` when the row has no detail (SQL NULL); JSON `null` is a present value. */
  readonly detail: AuditDetailValue | undefined;
}

class Writer {
  readonly #parts: Buffer[] = [];
  bytes(b: Buffer): void {
    this.#parts.push(b);
  }
  u8(n: number): void {
    this.#parts.push(Buffer.of(n));
  }
  u32(n: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    this.#parts.push(b);
  }
  u64(n: bigint): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(n);
    this.#parts.push(b);
  }
  i64(n: bigint): void {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(n);
    this.#parts.push(b);
  }
  str(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u32(b.byteLength);
    this.#parts.push(b);
  }
  optStr(s: string | undefined): void {
    if (s === undefined) return this.u8(0);
    this.u8(1);
    this.str(s);
  }
  json(v: AuditDetailValue): void {
    if (v === null) return this.u8(0x00);
    if (typeof v === 'boolean') return this.u8(v ? 0x02 : 0x01);
    if (typeof v === 'number') {
      const b = Buffer.alloc(8);
      b.writeDoubleBE(v === 0 ? 0 : v); // -0 and 0 are one value (JSON and jsonb agree)
      this.u8(0x03);
      return this.bytes(b);
    }
    if (typeof v === 'string') {
      this.u8(0x04);
      return this.str(v);
    }
    if (Array.isArray(v)) {
      const items = v as readonly AuditDetailValue[];
      this.u8(0x05);
      this.u32(items.length);
      for (const item of items) this.json(item);
      return;
    }
    const obj = v as { readonly [key: string]: AuditDetailValue };
    const keys = Object.keys(obj)
      .map((k) => ({ k, b: Buffer.from(k, 'utf8') }))
      .sort((x, y) => Buffer.compare(x.b, y.b));
    this.u8(0x06);
    this.u32(keys.length);
    for (const { k, b } of keys) {
      this.u32(b.byteLength);
      this.bytes(b);
      this.json(obj[k] as AuditDetailValue);
    }
  }
  done(): Buffer {
    return Buffer.concat(this.#parts);
  }
}

/**
 * Encode one record (docs/audit.md#format): the bytes its hash is computed over.
 *
 * @example
 * ```ts
 * const hash = hasher(encodeChainRecord(chainRecordOfEvent(seq, prevHash, event)));
 * ```
 */
export function encodeChainRecord(r: ChainRecord): Buffer {
  const w = new Writer();
  w.str(AUDIT_CHAIN_FORMAT);
  w.u64(BigInt(r.seq));
  w.bytes(Buffer.from(r.prevHash, 'hex'));
  w.i64(r.atMicros);
  w.str(r.actor);
  w.str(r.operation);
  w.optStr(r.tenant);
  w.optStr(r.keyId);
  if (r.version === undefined) w.u8(0);
  else {
    w.u8(1);
    w.i64(r.version);
  }
  w.optStr(r.providerId);
  w.optStr(r.masterKeyId);
  w.str(r.outcome);
  w.optStr(r.errorCode);
  if (r.detail === undefined) w.u8(0);
  else {
    w.u8(1);
    w.json(r.detail);
  }
  return w.done();
}

/**
 * The record an event becomes at position `seq` after `prevHash`. The event must be valid.
 *
 * @example
 * ```ts
 * const record = chainRecordOfEvent(head.seq + 1, head.hash, event);
 * const hash = hasher(encodeChainRecord(record)).toString('hex');
 * ```
 */
export function chainRecordOfEvent(seq: number, prevHash: string, event: AuditEvent): ChainRecord {
  return {
    seq,
    prevHash,
    atMicros: BigInt(event.at.getTime()) * 1000n,
    actor: event.actor,
    operation: event.operation,
    tenant: event.tenant,
    keyId: event.keyId,
    version: event.version === undefined ? undefined : BigInt(event.version),
    providerId: event.providerId,
    masterKeyId: event.masterKeyId,
    outcome: event.outcome,
    errorCode: event.errorCode,
    detail: event.detail,
  };
}

const HEX32 = /^[0-9a-f]{64}$/;

function checkPosition(seq: number, prevHash: string): void {
  if (!Number.isSafeInteger(seq) || seq < 1) {
    throw new RangeError(`seq must be a positive safe integer (got ${String(seq)})`);
  }
  if (!HEX32.test(prevHash)) {
    throw new TypeError('prevHash must be 64 lowercase hex digits (32 bytes)');
  }
}

/**
 * The canonical bytes of `event` as row `seq` after `prevHash` (format v1), for external
 * verifiers and test vectors.
 * @throws TypeError / RangeError for an invalid event, seq or prevHash.
 * @example
 * ```ts
 * const bytes = encodeAuditRecord(1, AUDIT_GENESIS_HASH, event);
 * ```
 */
export function encodeAuditRecord(seq: number, prevHash: string, event: AuditEvent): Uint8Array {
  checkPosition(seq, prevHash);
  validateAuditEvent(event);
  return encodeChainRecord(chainRecordOfEvent(seq, prevHash, event));
}

/**
 * The hash (lowercase hex) row `seq` carries for `event` after `prevHash`: SHA-256 of
 * {@link encodeAuditRecord}, or HMAC-SHA256 under `key` for a keyed chain.
 * @throws TypeError / RangeError for an invalid event, seq or prevHash.
 * @example
 * ```ts
 * const h1 = hashAuditRecord(1, AUDIT_GENESIS_HASH, event);
 * const h2 = hashAuditRecord(2, h1, nextEvent);
 * ```
 */
export function hashAuditRecord(
  seq: number,
  prevHash: string,
  event: AuditEvent,
  key?: SecretKey,
): string {
  const bytes = encodeAuditRecord(seq, prevHash, event) as Buffer;
  return hasherForKey(key)(bytes).toString('hex');
}
