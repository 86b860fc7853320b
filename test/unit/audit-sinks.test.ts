import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit/audit-event.js';
import { callbackAuditSink } from '../../src/audit/callback-audit-sink.js';
import { AUDIT_GENESIS_HASH, encodeAuditRecord } from '../../src/audit/chain-encoding.js';
import { KeyShreddedError } from '../../src/errors.js';

const event: AuditEvent = {
  at: new Date('2025-01-02T03:04:05.678Z'),
  actor: 'svc-billing',
  operation: 'rotate',
  tenant: 'acme',
  keyId: 'default',
  version: 2,
  outcome: 'success',
};

describe('callbackAuditSink', () => {
  it('hands every event to a synchronous callback, unchanged', async () => {
    const seen: AuditEvent[] = [];
    const sink = callbackAuditSink((e) => {
      seen.push(e);
    });
    await sink.record(event);
    await sink.record({ ...event, operation: 'shred' });
    expect(seen).toEqual([event, { ...event, operation: 'shred' }]);
    expect(seen[0]).toBe(event);
  });

  it('waits for an asynchronous callback before the operation goes on', async () => {
    const order: string[] = [];
    const sink = callbackAuditSink(async () => {
      await new Promise((r) => setTimeout(r, 20));
      order.push('recorded');
    });
    await sink.record(event);
    order.push('after record');
    expect(order).toEqual(['recorded', 'after record']);
  });

  it('a throwing or rejecting callback fails with ERR_AUDIT_UNAVAILABLE, cause chained', async () => {
    const boom = new Error('queue full');
    for (const fn of [
      () => {
        throw boom;
      },
      () => Promise.reject(boom),
    ]) {
      const err = await callbackAuditSink(fn)
        .record(event)
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'ERR_AUDIT_UNAVAILABLE', cause: boom });
    }
  });

  it('a fieldseal error from the callback passes through with its own code', async () => {
    const sink = callbackAuditSink(() => {
      throw new KeyShreddedError();
    });
    await expect(sink.record(event)).rejects.toMatchObject({ code: 'ERR_KEY_SHREDDED' });
  });

  it('refuses something that is not a function', () => {
    expect(() => callbackAuditSink('nope' as never)).toThrow(TypeError);
  });
});

describe('audit event validation (what the chain can store and read back unchanged)', () => {
  const encode = (e: AuditEvent) => encodeAuditRecord(1, AUDIT_GENESIS_HASH, e);
  const bad = (patch: Record<string, unknown>): AuditEvent => ({ ...event, ...patch });

  it.each([
    ['an invalid Date', { at: new Date(NaN) }],
    ['a string date', { at: '2025-01-01' }],
    ['a date after year 9999', { at: new Date('+010000-01-01T00:00:00Z') }],
    ['a date before year 1', { at: new Date('-000001-01-01T00:00:00Z') }],
    ['U+0000 in the actor', { actor: 'svc\u0000x' }],
    ['a lone surrogate in the tenant', { tenant: 'a\ud800' }],
    ['a number as tenant', { tenant: 42 }],
    ['an empty operation', { operation: '' }],
    ['an unknown outcome', { outcome: 'maybe' }],
    ['a fractional version', { version: 1.5 }],
    ['an unsafe version', { version: 2 ** 53 }],
    ['an array as detail', { detail: [1] }],
    ['NaN in detail', { detail: { n: NaN } }],
    ['Infinity in detail', { detail: { n: Infinity } }],
    ['undefined in detail', { detail: { u: undefined } }],
    ['a Date in detail', { detail: { d: new Date() } }],
    ['a Buffer in detail', { detail: { b: Buffer.from('k') } }],
    ['a bigint in detail', { detail: { b: 1n } }],
    ['a function in detail', { detail: { f: () => 1 } }],
    // eslint-disable-next-line no-sparse-arrays
    ['a hole in a detail array', { detail: { a: [1, , 3] } }],
    ['a lone surrogate in a detail key', { detail: { ['k\udc00']: 1 } }],
    ['U+0000 in a nested detail string', { detail: { a: [{ b: 'x\u0000' }] } }],
    ['a detail longer than 16 KiB', { detail: { s: 'x'.repeat(17_000) } }],
  ])('refuses %s', (_what, patch) => {
    let caught: unknown;
    try {
      encode(bad(patch));
    } catch (err) {
      caught = err;
    }
    expect(caught instanceof TypeError || caught instanceof RangeError, String(caught)).toBe(true);
  });

  it('refuses cyclic and too deeply nested detail', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => encode(bad({ detail: cyclic }))).toThrow(TypeError);
    let deep: unknown = 1;
    for (let i = 0; i < 20; i++) deep = { d: deep };
    expect(() => encode(bad({ detail: deep }))).toThrow(/deeper than 16/);
  });

  it('error messages name the field, never its content', () => {
    try {
      encode(bad({ actor: 'top-secret-actor\u0000' }));
      expect.unreachable();
    } catch (err) {
      expect(String(err)).toContain('actor');
      expect(String(err)).not.toContain('top-secret');
    }
  });

  it('accepts the edge of what is valid', () => {
    const ok = [
      { detail: { a: [null, true, false, 0, -1.5e300, 'é😀'], n: { m: {} } } },
      { actor: '', tenant: '', detail: {} },
      { at: new Date('0001-01-01T00:00:00.000Z') },
      { at: new Date('9999-12-31T23:59:59.999Z') },
      { detail: Object.assign(Object.create(null) as object, { a: 1 }) },
      { version: Number.MAX_SAFE_INTEGER },
    ];
    for (const patch of ok) expect(() => encode(bad(patch))).not.toThrow();
  });
});
