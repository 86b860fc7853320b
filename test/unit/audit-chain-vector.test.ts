import fc from 'fast-check';
import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { AuditDetailValue, AuditEvent } from '../../src/audit/audit-event.js';
import {
  AUDIT_CHAIN_FORMAT,
  AUDIT_GENESIS_HASH,
  encodeAuditRecord,
  hashAuditRecord,
} from '../../src/audit/chain-encoding.js';
import { SecretKey } from '../../src/secrets/secret-source.js';
import {
  VECTOR_EVENTS,
  VECTOR_HASHES,
  VECTOR_KEYED_HASHES,
  VECTOR_KEY_BYTES,
  VECTOR_ROW1_ENCODING,
} from './audit-chain-vectors.js';

/**
 * A second, independent encoder written from docs/audit.md#format only (it shares no code with
 * src/audit), so the documented format and the implementation cannot drift apart.
 */
function docEncode(seq: number, prev: string, e: AuditEvent): Buffer {
  const out: Buffer[] = [];
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    out.push(b);
  };
  const i64 = (n: bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(n);
    out.push(b);
  };
  const str = (s: string) => {
    u32(Buffer.byteLength(s));
    out.push(Buffer.from(s));
  };
  const opt = <T>(v: T | undefined, write: (v: T) => void) => {
    out.push(Buffer.of(v === undefined ? 0 : 1));
    if (v !== undefined) write(v);
  };
  const json = (v: AuditDetailValue): void => {
    if (v === null) out.push(Buffer.of(0));
    else if (v === false) out.push(Buffer.of(1));
    else if (v === true) out.push(Buffer.of(2));
    else if (typeof v === 'number') {
      const b = Buffer.alloc(9);
      b[0] = 3;
      b.writeDoubleBE(Object.is(v, -0) ? 0 : v, 1);
      out.push(b);
    } else if (typeof v === 'string') {
      out.push(Buffer.of(4));
      str(v);
    } else if (Array.isArray(v)) {
      out.push(Buffer.of(5));
      u32(v.length);
      (v as AuditDetailValue[]).forEach(json);
    } else {
      const o = v as Record<string, AuditDetailValue>;
      const keys = Object.keys(o).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      out.push(Buffer.of(6));
      u32(keys.length);
      for (const k of keys) {
        str(k);
        json(o[k]!);
      }
    }
  };
  str('fieldseal-audit-v1');
  const seqBytes = Buffer.alloc(8);
  seqBytes.writeBigUInt64BE(BigInt(seq));
  out.push(seqBytes, Buffer.from(prev, 'hex'));
  i64(BigInt(e.at.getTime()) * 1000n);
  str(e.actor);
  str(e.operation);
  opt(e.tenant, str);
  opt(e.keyId, str);
  opt(e.version, (v) => i64(BigInt(v)));
  opt(e.providerId, str);
  opt(e.masterKeyId, str);
  str(e.outcome);
  opt(e.errorCode, str);
  opt(e.detail, json);
  return Buffer.concat(out);
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const base: AuditEvent = VECTOR_EVENTS[0]!;

describe('audit chain format v1: frozen vectors', () => {
  it('the SHA-256 chain of the five vector events has exactly the frozen hashes', () => {
    let prev = AUDIT_GENESIS_HASH;
    VECTOR_EVENTS.forEach((event, i) => {
      const h = hashAuditRecord(i + 1, prev, event);
      expect(h, `row ${i + 1}`).toBe(VECTOR_HASHES[i]);
      expect(h).toBe(
        createHash('sha256')
          .update(docEncode(i + 1, prev, event))
          .digest('hex'),
      );
      prev = h;
    });
  });

  it('the keyed (HMAC-SHA256) chain has exactly the frozen hashes', () => {
    const key = new SecretKey('audit', VECTOR_KEY_BYTES);
    let prev = AUDIT_GENESIS_HASH;
    VECTOR_EVENTS.forEach((event, i) => {
      const h = hashAuditRecord(i + 1, prev, event, key);
      expect(h, `row ${i + 1}`).toBe(VECTOR_KEYED_HASHES[i]);
      const mac = createHmac('sha256', VECTOR_KEY_BYTES).update(docEncode(i + 1, prev, event));
      expect(h).toBe(mac.digest('hex'));
      prev = h;
    });
  });

  it('row 1 encodes to the documented bytes, and every row to what the docs describe', () => {
    expect(AUDIT_CHAIN_FORMAT).toBe('fieldseal-audit-v1');
    expect(AUDIT_GENESIS_HASH).toBe('0'.repeat(64));
    expect(hex(encodeAuditRecord(1, AUDIT_GENESIS_HASH, base))).toBe(VECTOR_ROW1_ENCODING);
    VECTOR_EVENTS.forEach((event, i) => {
      const prev = i === 0 ? AUDIT_GENESIS_HASH : VECTOR_HASHES[i - 1]!;
      expect(hex(encodeAuditRecord(i + 1, prev, event))).toBe(hex(docEncode(i + 1, prev, event)));
    });
  });
});

describe('audit chain format v1: unambiguous', () => {
  const enc = (e: AuditEvent, seq = 1, prev = AUDIT_GENESIS_HASH) =>
    hex(encodeAuditRecord(seq, prev, e));

  it('moving a boundary between fields, absent vs empty, and seq/prev changes all differ', () => {
    const variants: AuditEvent[] = [
      { ...base, actor: 'svcre', operation: 'wrap' },
      { ...base, actor: 'svc', operation: 'rewrap' },
      { ...base, tenant: undefined },
      { ...base, tenant: '' },
      { ...base, keyId: 'acme', tenant: 'default' },
      { ...base, version: undefined },
      { ...base, version: 0 },
      { ...base, detail: {} },
      { ...base, detail: { a: null } },
      { ...base, detail: { a: [] } },
      { ...base, detail: { a: {} } },
      { ...base, detail: { a: '1' } },
      { ...base, detail: { a: 1 } },
      { ...base, detail: { a: true } },
      { ...base, detail: { a: [1, 2] } },
      { ...base, detail: { a: [[1], 2] } },
      { ...base, at: new Date(base.at.getTime() + 1) },
    ];
    const encodings = new Set(variants.map((v) => enc(v)));
    expect(encodings.size).toBe(variants.length);
    expect(enc(base, 2)).not.toBe(enc(base, 1));
    expect(enc(base, 1, VECTOR_HASHES[0])).not.toBe(enc(base, 1));
  });

  it('detail key order and -0 are not significant (jsonb does not keep them either)', () => {
    expect(enc({ ...base, detail: { b: 1, a: [0] } })).toBe(
      enc({ ...base, detail: { a: [-0], b: 1 } }),
    );
  });

  it('property: two events encode equally exactly when they are the same record', () => {
    const s = fc.string({ unit: fc.constantFrom('a', 'b', '\u00e9'), maxLength: 3 });
    const detail = fc.dictionary(
      s,
      fc.oneof(fc.constant(null), fc.boolean(), fc.integer({ min: -2, max: 2 }), s),
      { maxKeys: 2 },
    );
    const event = fc.record({
      actor: s,
      operation: fc.constantFrom('wrap' as const, 'rewrap' as const, 'unwrap' as const),
      tenant: fc.option(s, { nil: undefined }),
      keyId: fc.option(s, { nil: undefined }),
      version: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }),
      errorCode: fc.option(s, { nil: undefined }),
      detail: fc.option(detail, { nil: undefined }),
    });
    const canonical = (e: object) =>
      JSON.stringify(e, (_k, v: unknown) =>
        v !== null && typeof v === 'object' && !Array.isArray(v)
          ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)))
          : v === undefined
            ? '<absent>'
            : v,
      );
    const fields = [
      'actor',
      'operation',
      'tenant',
      'keyId',
      'version',
      'errorCode',
      'detail',
    ] as const;
    // b is a with one field replaced (near misses such as '' vs absent), or a second event.
    fc.assert(
      fc.property(event, event, fc.constantFrom(...fields, 'all' as const), (a, alt, field) => {
        const b = field === 'all' ? alt : { ...a, [field]: alt[field] };
        const ea: AuditEvent = { ...a, at: base.at, outcome: 'success' };
        const eb: AuditEvent = { ...b, at: base.at, outcome: 'success' };
        expect(enc(ea) === enc(eb)).toBe(canonical(a) === canonical(b));
      }),
      { numRuns: 3000 },
    );
  });

  it('a different HMAC key gives a different chain', () => {
    const other = new SecretKey('other', new Uint8Array(32).fill(7));
    expect(hashAuditRecord(1, AUDIT_GENESIS_HASH, base, other)).not.toBe(VECTOR_KEYED_HASHES[0]);
  });
});
