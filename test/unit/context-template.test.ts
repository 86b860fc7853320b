// Issue #17: the model layer builds each value's context from a per-field template (the fixed
// entries checked and encoded once) instead of having the client read and encode a fresh
// object per value. These tests hold the template to the definition: the bytes a template
// gives are exactly checkContext's for the same entries, whatever the tenant and record; a
// context it cannot encode is refused by the client as any other; and what it builds can be
// neither changed nor imitated.
import { describe, expect, it } from 'vitest';
import {
  checkContext,
  checkedContext,
  contextTemplate,
  type EncryptionContext,
} from '../../src/envelope/context.js';
import { contextOf, schemaOf, scopeOf } from '../../src/integration/index.js';
import {
  createFieldseal,
  decryptRecords,
  defineModel,
  encryptRecords,
  field,
  isFieldsealError,
} from '../../src/index.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';

/** A deterministic generator, so a failure names a seed that reproduces it. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CHARS = ['a', 'Z', '0', '-', '_', '.', '|', ' ', '\u00e9', '\u4e2d', '\u{1f600}', '\0'];

function text(next: () => number, max: number): string {
  const n = Math.floor(next() * (max + 1));
  let out = '';
  for (let i = 0; i < n; i++) out += CHARS[Math.floor(next() * CHARS.length)]!;
  return out;
}

/** Fixed entries (table, field and up to three static ones), a tenant and a record. */
function sample(next: () => number): {
  fixed: Record<string, string>;
  tenant: string;
  record: string | string[];
} {
  const fixed: Record<string, string> = {
    table: text(next, 6) || 't',
    field: text(next, 6) || 'f',
  };
  const extras = Math.floor(next() * 4);
  for (let i = 0; i < extras; i++) {
    // Sometimes `__proto__`: an own entry like any other (defined, not assigned).
    const key = next() < 0.1 ? '__proto__' : `${text(next, 4)}x${i}`;
    Object.defineProperty(fixed, key, {
      value: text(next, 8),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  const tenant = next() < 0.05 ? '' : text(next, 12);
  const record =
    next() < 0.2
      ? Array.from({ length: Math.floor(next() * 3) }, () => text(next, 5))
      : next() < 0.02
        ? 'r'.repeat(65_536)
        : text(next, 12);
  return { fixed, tenant, record };
}

/**
 * The canonical encoding written from docs/format.md §4 alone, for valid contexts: `u16
 * count`, then per entry in UTF-8 byte order of its key, `u8 keyLen | key | u8 kind | value`
 * (a string: `u16 len | utf8`; a list: `u8 n | (u16 len | utf8) * n`).
 */
function reference(ctx: Record<string, string | string[]>): Buffer {
  const keys = Object.keys(ctx).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const str = (s: string): Buffer => {
    const b = Buffer.from(s, 'utf8');
    return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
  };
  const parts: Buffer[] = [Buffer.from([keys.length >> 8, keys.length & 0xff])];
  for (const key of keys) {
    const k = Buffer.from(key, 'utf8');
    const v = ctx[key]!;
    parts.push(Buffer.from([k.length]), k);
    if (typeof v === 'string') parts.push(Buffer.from([0]), str(v));
    else parts.push(Buffer.from([1, v.length]), ...v.map(str));
  }
  return Buffer.concat(parts);
}

/** checkContext's verdict on the same entries: its bytes, or its error code. */
function expected(ctx: Record<string, unknown>): Buffer | string {
  try {
    return checkContext(ctx).bytes;
  } catch (err) {
    return isFieldsealError(err) ? err.code : String(err);
  }
}

describe('context templates', () => {
  it('give exactly the bytes checkContext gives for the same entries (2,000 random contexts)', () => {
    for (let seed = 1; seed <= 2000; seed++) {
      const next = rng(seed);
      const { fixed, tenant, record } = sample(next);
      const template = contextTemplate(fixed);
      const built = template.fill(tenant, record);
      const want = expected({ ...fixed, tenant, record });
      const got = expected({ ...built }); // what any caller would get from the entries
      expect(got, `seed ${seed}`).toEqual(want);
      if (typeof want === 'string') {
        // Refused: the client refuses it as any other context, item by item.
        expect(() => checkedContext(built), `seed ${seed}`).toThrow();
        continue;
      }
      const checked = checkedContext(built);
      expect(checked.bytes.equals(want), `seed ${seed}`).toBe(true);
      expect(checked.bytes.equals(reference({ ...fixed, tenant, record })), `seed ${seed}`).toBe(
        true,
      );
      expect(checked.context).toBe(built);
      expect({ ...built }).toEqual({ ...fixed, tenant, record });
      expect(Object.isFrozen(built)).toBe(true);
    }
  });

  it('build contexts from which nothing leads back to the code that makes them', () => {
    const built = contextTemplate({ table: 'customers', field: 'ssn' }).fill('acme', 'cus_1');
    const proto = Object.getPrototypeOf(built) as object;
    expect(Object.getPrototypeOf(proto)).toBeNull();
    expect(Object.isFrozen(proto)).toBe(true);
    expect((proto as { constructor?: unknown }).constructor).toBeUndefined();
    // Every property reachable from the context, its prototype and their descriptors: data,
    // never a function (a constructor or method would let a caller build or read checks).
    for (const holder of [built, proto]) {
      for (const key of Reflect.ownKeys(holder)) {
        const d = Reflect.getOwnPropertyDescriptor(holder, key)!;
        expect(typeof d.value, String(key)).not.toBe('function');
        expect(d.get ?? d.set, String(key)).toBeUndefined();
      }
    }
  });

  it("keep what they bind in memory of their own, out of Node's shared buffer pool", () => {
    // Any code reaches the pool through Buffer.allocUnsafe(1).buffer and could rewrite a kept
    // context's AAD there without changing its entries.
    const template = contextTemplate({ table: 'customers', field: 'notes', purpose: 'pii' });
    const encodings = [
      checkedContext(template.fill('acme', 'cus_1')).bytes, // the template's fast path
      checkedContext(template.fill('\u00e9', 'cus_1')).bytes, // its general path
      checkedContext(template.fill('acme', ['a', 'b'])).bytes, // a list
      checkContext({ tenant: 'acme', table: 't', field: 'f' }).bytes, // a caller's context
      checkContext({ tenant: '\u00e9', table: 't', field: 'f', l: ['x'] }).bytes,
    ];
    for (const bytes of encodings) {
      expect(bytes.buffer).not.toBe(Buffer.allocUnsafe(1).buffer);
    }
  });

  it('build contexts that cannot be changed, and are trusted only as themselves', () => {
    const template = contextTemplate({ table: 'customers', field: 'ssn', purpose: 'pii' });
    const built = template.fill('acme', 'cus_1') as Record<string, unknown>;
    const bytes = checkedContext(built).bytes;
    expect(() => {
      built.tenant = 'globex';
    }).toThrow(TypeError);
    expect(() => Object.defineProperty(built, 'record', { value: 'cus_2' })).toThrow(TypeError);
    expect(checkedContext(built).bytes.equals(bytes)).toBe(true);
    // A Proxy of it, or an object with its prototype, is not it: the client reads those as
    // any caller's object, and refuses them (not plain objects).
    const proxy = new Proxy(built, {
      get: (t, k): unknown => (k === 'tenant' ? 'globex' : Reflect.get(t, k)),
    });
    const lookalike = Object.create(Object.getPrototypeOf(built) as object) as object;
    Object.assign(lookalike, { ...built, tenant: 'globex' });
    for (const fake of [proxy, lookalike]) {
      let code: unknown;
      try {
        checkedContext(fake);
      } catch (err) {
        code = isFieldsealError(err) ? err.code : err;
      }
      expect(code).toBe('ERR_INVALID_CONTEXT');
    }
    // A copy of its entries is an ordinary context with the same encoding.
    expect(checkedContext({ ...built }).bytes.equals(bytes)).toBe(true);
  });

  it('skip absent fixed entries, as checkContext does', () => {
    const fixed = { table: 'c', field: 'f', purpose: undefined } as unknown as Record<
      string,
      string
    >;
    for (const tenant of ['acme', '\u00e9']) {
      const built = contextTemplate(fixed).fill(tenant, 'r');
      expect(
        checkedContext(built).bytes.equals(
          checkContext({ table: 'c', field: 'f', tenant, record: 'r' }).bytes,
        ),
      ).toBe(true);
    }
  });

  it('refuse a template whose fixed entries can never form a context', () => {
    expect(() => contextTemplate({ table: '', field: 'f' })).toThrow();
    expect(() => contextTemplate({ table: 't' })).toThrow();
    const many: Record<string, string> = { table: 't', field: 'f' };
    for (let i = 0; i < 63; i++) many[`k${i}`] = 'v';
    expect(() => contextTemplate(many)).toThrow(); // 63 + table, field, tenant, record > 64
  });

  it("give the model layer's contexts: a record's values round-trip, and a value moved to another record, field or tenant fails", async () => {
    const Orders = defineModel({
      table: 'orders',
      tenant: 'tenant',
      key: ['region', 'id'],
      fields: {
        tenant: field.string(),
        region: field.string(),
        id: field.number(),
        note: field.string().encrypted({ context: { purpose: 'pii' } }),
        total: field.bigint().encrypted(),
      },
    });
    const fs = createFieldseal({
      provider: new MemoryKeyProvider(),
      keys: { mode: 'embedded', masterKeyId: 'master' },
      cache: { maxAgeMs: 60_000 },
      fields: { ...Orders.policies },
    });
    const records = [
      { tenant: 'acme', region: 'eu', id: 1, note: 'n\u00e9 1', total: 10n },
      { tenant: 'acme', region: 'us', id: 1, note: 'n 2', total: 20n },
      { tenant: '\u4e2d', region: 'eu', id: 2, note: 'n 3', total: 30n },
    ];
    const rows = await encryptRecords(fs, Orders, records);
    expect(await decryptRecords(fs, Orders, rows)).toEqual(records);
    // The contexts the model built equal the plain contexts a caller would write.
    const plan = schemaOf(Orders);
    const note = plan.fields.find((f) => f.name === 'note')!;
    const ctx = contextOf(plan, note, scopeOf(plan, records[0]!));
    expect({ ...ctx }).toEqual({
      purpose: 'pii',
      tenant: 'acme',
      table: 'orders',
      field: 'note',
      record: ['eu', '1'],
    });
    const plain: EncryptionContext = { ...ctx, record: ['eu', '1'] };
    expect(await fs.decrypt(rows[0]!.note, plain)).toBe('n\u00e9 1');
    const moved = [
      { ...rows[1]!, note: rows[0]!.note }, // another record
      { ...rows[0]!, total: rows[0]!.note }, // another field
      { ...rows[2]!, note: rows[0]!.note }, // another tenant
    ];
    for (const row of moved) {
      const err = await decryptRecords(fs, Orders, [row]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'ERR_BATCH_FAILED' });
    }
  });
});
