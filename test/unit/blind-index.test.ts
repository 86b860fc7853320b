import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  createFieldseal,
  DataKey,
  EnvSecretSource,
  isFieldsealError,
  SecretKey,
  type FieldsealError,
  type SecretSource,
} from '../../src/index.js';
import {
  createBlindIndexer,
  type BlindIndexer,
  type BlindIndexContext,
  type BlindIndexOptions,
} from '../../src/blind-index/index.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';

/** 32 distinctive root-key bytes. */
const ROOT = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 11 + 5) & 0xff));
const WHERE: BlindIndexContext = { tenant: 'acme', table: 'customers', field: 'email' };
const EMAIL: BlindIndexOptions = { normalize: ['trim', 'lowercase', 'nfc'] };

function envSource(bytes: Buffer = ROOT): EnvSecretSource {
  return new EnvSecretSource({
    keys: { 'blind-index': 'BI_KEY' },
    env: { BI_KEY: `base64:${bytes.toString('base64')}` },
  });
}

async function indexer(bytes: Buffer = ROOT): Promise<BlindIndexer> {
  return createBlindIndexer({ source: envSource(bytes), reference: 'blind-index' });
}

/** A source that hands out keys of any length (sources normally refuse non-32-byte keys). */
function rawSource(bytes: Buffer): SecretSource {
  return {
    kind: 'test',
    references: () => ['k'],
    getKey: (reference) => Promise.resolve(new SecretKey(reference, bytes)),
  };
}

function tagOf(index: string): Buffer {
  return Buffer.from(index.split(':')[2]!, 'base64url');
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}

/** The index key, derived by hand with node's hkdfSync (RFC 5869) and the canonical map. */
function handIndexKey(root: Buffer, w: BlindIndexContext, version: number): Buffer {
  // encodeCanonicalMap of { field, table, tenant, version } (keys sorted), written out.
  const entries: [string, string][] = [
    ['field', w.field],
    ['table', w.table],
    ['tenant', w.tenant],
    ['version', String(version)],
  ];
  const parts: Buffer[] = [Buffer.from([0, entries.length])];
  for (const [k, v] of entries) {
    const vb = Buffer.from(v, 'utf8');
    parts.push(Buffer.from([k.length]), Buffer.from(k), Buffer.from([0x00]));
    parts.push(Buffer.from([vb.length >>> 8, vb.length & 0xff]), vb);
  }
  const info = Buffer.concat(parts);
  return Buffer.from(
    hkdfSync('sha256', root, Buffer.from('fieldseal/v1 blind-index key'), info, 32),
  );
}

describe('blind index: format and HMAC correctness', () => {
  it('is bi1:<version>:<base64url of the truncated HMAC-SHA256>, checked by hand', async () => {
    const bi = await indexer();
    const idx = bi.index(' Ada@Example.COM ', WHERE, { ...EMAIL, bits: 64, version: 3 });
    const key = handIndexKey(ROOT, WHERE, 3);
    const mac = createHmac('sha256', key).update('ada@example.com', 'utf8').digest();
    expect(idx).toBe(`bi1:3:${mac.subarray(0, 8).toString('base64url')}`);
    // Default: 32 bits, version 1, NFC only (case and spaces kept).
    const key1 = handIndexKey(ROOT, WHERE, 1);
    const mac1 = createHmac('sha256', key1).update(' Ada ', 'utf8').digest();
    expect(bi.index(' Ada ', WHERE)).toBe(`bi1:1:${mac1.subarray(0, 4).toString('base64url')}`);
  });

  it('supports every multiple of 8 from 16 to 256 bits, each a prefix of the full HMAC', async () => {
    const bi = await indexer();
    const full = tagOf(bi.index('x', WHERE, { bits: 256 }));
    expect(full).toHaveLength(32);
    for (let bits = 16; bits <= 256; bits += 8) {
      const idx = bi.index('x', WHERE, { bits });
      expect(idx).toMatch(/^bi1:1:[A-Za-z0-9_-]+$/);
      const tag = tagOf(idx);
      expect(tag).toHaveLength(bits / 8);
      expect(full.subarray(0, bits / 8).equals(tag)).toBe(true);
      expect(bi.matches('x', idx, WHERE)).toBe(true);
    }
  });
});

describe('blind index: determinism and separation', () => {
  it('is deterministic per (tenant, table, field, version), across indexer instances', async () => {
    const a = await indexer();
    const b = await indexer();
    for (const v of ['', 'a', 'ada@example.com', 'ünïcödé', '😀']) {
      expect(a.index(v, WHERE)).toBe(a.index(v, WHERE));
      expect(a.index(v, WHERE, { bits: 128 })).toBe(b.index(v, WHERE, { bits: 128 }));
    }
  });

  it('never matches across tenant, table, field, version or root key (1,000 values, 64 bits)', async () => {
    const bi = await indexer();
    const other = await indexer(randomBytes(32));
    const opts = { bits: 64 };
    const variants: [string, (v: string) => string][] = [
      ['tenant', (v) => bi.index(v, { ...WHERE, tenant: 'globex' }, opts)],
      ['table', (v) => bi.index(v, { ...WHERE, table: 'suppliers' }, opts)],
      ['field', (v) => bi.index(v, { ...WHERE, field: 'phone' }, opts)],
      ['version', (v) => bi.index(v, WHERE, { ...opts, version: 2 }).replace('bi1:2:', 'bi1:1:')],
      ['root key', (v) => other.index(v, WHERE, opts)],
    ];
    const values = Array.from({ length: 1000 }, () => randomBytes(12).toString('base64url'));
    const base = values.map((v) => bi.index(v, WHERE, opts));
    expect(new Set(base).size).toBe(1000);
    for (const [label, fn] of variants) {
      const shifted = values.map(fn);
      const equal = shifted.filter((s, i) => s === base[i]).length;
      expect(equal, label).toBe(0);
      // Not even across values: no index of one setting appears among the other's.
      const set = new Set(base);
      expect(shifted.filter((s) => set.has(s)).length, label).toBe(0);
    }
  });

  it('ignores context entries other than tenant, table and field (e.g. record)', async () => {
    const bi = await indexer();
    const withRecord = { ...WHERE, record: 'cus_42' } as BlindIndexContext;
    expect(bi.index('v', withRecord)).toBe(bi.index('v', WHERE));
  });
});

describe('blind index: normalisation', () => {
  it('trim + lowercase makes " A@X.com " equal "a@x.com"', async () => {
    const bi = await indexer();
    expect(bi.index(' A@X.com ', WHERE, EMAIL)).toBe(bi.index('a@x.com', WHERE, EMAIL));
    expect(bi.matches('\tA@X.COM\n', bi.index('a@x.com', WHERE, EMAIL), WHERE, EMAIL)).toBe(true);
  });

  it('defaults to NFC only: composed and decomposed forms match, case and spaces do not', async () => {
    const bi = await indexer();
    expect(bi.index('caf\u00e9', WHERE)).toBe(bi.index('cafe\u0301', WHERE));
    expect(bi.index('A', WHERE)).not.toBe(bi.index('a', WHERE));
    expect(bi.index(' a', WHERE)).not.toBe(bi.index('a', WHERE));
  });

  it('normalize: [] keeps the exact code points; step order does not matter', async () => {
    const bi = await indexer();
    const exact = { normalize: [] } as const;
    expect(bi.index('caf\u00e9', WHERE, exact)).not.toBe(bi.index('cafe\u0301', WHERE, exact));
    expect(bi.index(' X ', WHERE, { normalize: ['nfc', 'lowercase', 'trim'] })).toBe(
      bi.index(' X ', WHERE, EMAIL),
    );
  });
});

describe('blind index: matches', () => {
  it('recomputes in constant time and reads version and length from the stored index', async () => {
    const bi = await indexer();
    const stored = bi.index('ada@example.com', WHERE, { bits: 48, version: 7 });
    expect(bi.matches('ada@example.com', stored, WHERE)).toBe(true);
    expect(bi.matches('bob@example.com', stored, WHERE)).toBe(false);
    expect(bi.matches('ada@example.com', stored, { ...WHERE, tenant: 'globex' })).toBe(false);
    expect(bi.matches('ada@example.com', stored, WHERE, { version: 7, bits: 48 })).toBe(true);
    expect(bi.matches('ada@example.com', stored, WHERE, { version: 1 })).toBe(false);
    expect(bi.matches('ada@example.com', stored, WHERE, { bits: 32 })).toBe(false);
  });

  it('is false for malformed or non-canonical stored indexes', async () => {
    const bi = await indexer();
    const good = bi.index('v', WHERE);
    const tag = good.split(':')[2]!;
    const bad = [
      '',
      'bi1:1:',
      `bi2:1:${tag}`,
      `bi1:0:${tag}`,
      `bi1:01:${tag}`,
      `bi1:65536:${tag}`,
      `bi1:1:${tag}=`,
      `bi1:1:${tag.slice(0, -1)}`, // 3 bytes: not a valid length
      `bi1:1:${Buffer.alloc(33).toString('base64url')}`,
      `BI1:1:${tag}`,
      `${good} `,
      42 as unknown as string,
    ];
    for (const s of bad) expect(bi.matches('v', s, WHERE), String(s)).toBe(false);
    // Non-canonical base64url: the last character carries stray low bits.
    const last = tag.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sibling = alphabet[alphabet.indexOf(last) ^ 1]!;
    expect(bi.matches('v', `bi1:1:${tag.slice(0, -1)}${sibling}`, WHERE)).toBe(false);
  });
});

describe('blind index: rotation', () => {
  it('indexAll returns one index per version, in order, equal to index()', async () => {
    const bi = await indexer();
    const both = bi.indexAll(' Ada@Example.com', WHERE, [1, 2], EMAIL);
    expect(both).toEqual([
      bi.index('ada@example.com', WHERE, { ...EMAIL, version: 1 }),
      bi.index('ada@example.com', WHERE, { ...EMAIL, version: 2 }),
    ]);
    expect(both[0]).toMatch(/^bi1:1:/);
    expect(both[1]).toMatch(/^bi1:2:/);
    expect(tagOf(both[0]!).equals(tagOf(both[1]!))).toBe(false);
    for (const s of both) expect(bi.matches('ADA@example.com ', s, WHERE, EMAIL)).toBe(true);
  });

  it('rejects empty, duplicated, out-of-range or oversized version lists with RangeError', async () => {
    const bi = await indexer();
    const lists = [[], [1, 1], [0], [1.5], [65536], Array.from({ length: 17 }, (_, i) => i + 1)];
    for (const versions of lists) {
      expect(() => bi.indexAll('v', WHERE, versions), JSON.stringify(versions)).toThrow(RangeError);
    }
    const withVersion = { version: 2 } as BlindIndexOptions;
    expect(() => bi.indexAll('v', WHERE, [1], withVersion)).toThrow(RangeError);
  });
});

describe('blind index: tenant secrets', () => {
  const SECRET = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 7 + 3) & 0xff));

  it('derives the index key from root || tenantSecret (RFC 5869 IKM), checked by hand', async () => {
    const bi = await indexer();
    const idx = bi.index('ada@example.com', WHERE, { bits: 64, version: 2, tenantSecret: SECRET });
    const key = handIndexKey(Buffer.concat([ROOT, SECRET]), WHERE, 2);
    const mac = createHmac('sha256', key).update('ada@example.com', 'utf8').digest();
    expect(idx).toBe(`bi1:2:${mac.subarray(0, 8).toString('base64url')}`);
    // Without a secret: the unchanged derivation (every existing index stays valid).
    expect(bi.index('ada@example.com', WHERE, { bits: 64, version: 2 })).toBe(
      `bi1:2:${createHmac('sha256', handIndexKey(ROOT, WHERE, 2))
        .update('ada@example.com')
        .digest()
        .subarray(0, 8)
        .toString('base64url')}`,
    );
  });

  it('another secret (or none) gives other indexes, also after the first one was cached', async () => {
    const bi = await indexer();
    const other = randomBytes(32);
    const opts = { bits: 64 };
    const values = Array.from({ length: 200 }, () => randomBytes(9).toString('base64url'));
    const withSecret = values.map((v) => bi.index(v, WHERE, { ...opts, tenantSecret: SECRET }));
    const withOther = values.map((v) => bi.index(v, WHERE, { ...opts, tenantSecret: other }));
    const without = values.map((v) => bi.index(v, WHERE, opts));
    const all = new Set([...withSecret, ...withOther, ...without]);
    expect(all.size).toBe(600);
    // Deterministic per secret, across instances.
    const again = await indexer();
    expect(values.map((v) => again.index(v, WHERE, { ...opts, tenantSecret: SECRET }))).toEqual(
      withSecret,
    );
    // matches() needs the same secret.
    expect(bi.matches(values[0]!, withSecret[0]!, WHERE, { tenantSecret: SECRET })).toBe(true);
    expect(bi.matches(values[0]!, withSecret[0]!, WHERE, { tenantSecret: other })).toBe(false);
    expect(bi.matches(values[0]!, withSecret[0]!, WHERE)).toBe(false);
  });

  it('refuses a secret shorter than 16 or longer than 64 bytes, or not bytes', async () => {
    const bi = await indexer();
    for (const secret of [Buffer.alloc(15, 1), Buffer.alloc(65, 1), 'x'.repeat(32), [1, 2]]) {
      const err = thrown(() =>
        bi.index('v', WHERE, { tenantSecret: secret as unknown as Uint8Array }),
      );
      expect((err as FieldsealError).code).toBe('ERR_INVALID_KEY_MATERIAL');
    }
    expect(bi.index('v', WHERE, { tenantSecret: new Uint8Array(16).fill(1) })).toMatch(/^bi1:1:/);
    expect(bi.index('v', WHERE, { tenantSecret: new Uint8Array(64).fill(1) })).toMatch(/^bi1:1:/);
  });

  it('forgetTenant wipes exactly the cached keys of one tenant; they re-derive alike', async () => {
    const bi = await indexer();
    const globex = { ...WHERE, tenant: 'globex' };
    const before = [
      bi.index('v', WHERE),
      bi.index('v', WHERE, { version: 2 }),
      bi.index('v', { ...WHERE, field: 'phone' }, { tenantSecret: SECRET }),
      bi.index('v', globex),
    ];
    expect(bi.forgetTenant('acme')).toBe(3);
    expect(bi.forgetTenant('acme')).toBe(0);
    expect(bi.forgetTenant('globex')).toBe(1);
    expect([
      bi.index('v', WHERE),
      bi.index('v', WHERE, { version: 2 }),
      bi.index('v', { ...WHERE, field: 'phone' }, { tenantSecret: SECRET }),
      bi.index('v', globex),
    ]).toEqual(before);
  });
});

describe('blind index: bad input', () => {
  it('rejects bad bits, version and normalize options with RangeError', async () => {
    const bi = await indexer();
    const bad: unknown[] = [
      { bits: 0 },
      { bits: 8 },
      { bits: 12 },
      { bits: 33 },
      { bits: 264 },
      { bits: 32.5 },
      { bits: '32' },
      { bits: Number.NaN },
      { version: 0 },
      { version: -1 },
      { version: 1.5 },
      { version: 65536 },
      { version: '1' },
      { normalize: ['upper'] },
      { normalize: ['NFC'] },
    ];
    for (const o of bad) {
      expect(() => bi.index('v', WHERE, o as BlindIndexOptions), JSON.stringify(o)).toThrow(
        RangeError,
      );
      expect(() => bi.matches('v', bi.index('v', WHERE), WHERE, o as BlindIndexOptions)).toThrow(
        RangeError,
      );
    }
    expect(() => bi.index('v', WHERE, { normalize: 'nfc' as never })).toThrow(TypeError);
  });

  it('rejects non-strings and lone surrogates with ERR_UNSUPPORTED_VALUE', async () => {
    const bi = await indexer();
    for (const v of [42, null, undefined, Buffer.from('x'), 'a\ud800b']) {
      const err = thrown(() => bi.index(v as string, WHERE));
      expect(isFieldsealError(err) && err.code).toBe('ERR_UNSUPPORTED_VALUE');
    }
  });

  it('rejects a context without tenant, table or field with ERR_INVALID_CONTEXT', async () => {
    const bi = await indexer();
    for (const w of [
      {},
      { ...WHERE, tenant: '' },
      { ...WHERE, table: 1 },
      { tenant: 'a', table: 'b' },
      null,
    ]) {
      const err = thrown(() => bi.index('v', w as BlindIndexContext));
      expect(isFieldsealError(err) && err.code).toBe('ERR_INVALID_CONTEXT');
    }
  });

  it('fails closed on a missing or short root key, and after destroy()', async () => {
    await expect(
      createBlindIndexer({ source: envSource(), reference: 'nope' }),
    ).rejects.toMatchObject({ code: 'ERR_KEY_NOT_CONFIGURED' });
    await expect(createBlindIndexer({ source: envSource(), reference: '' })).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
    });
    await expect(
      createBlindIndexer({ source: rawSource(Buffer.alloc(16, 1)), reference: 'k' }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_KEY_MATERIAL', details: { reference: 'k' } });
    await expect(
      createBlindIndexer({ source: envSource(), reference: 'blind-index', maxCachedKeys: 0 }),
    ).rejects.toThrow(RangeError);
    const bi = await indexer();
    const stored = bi.index('v', WHERE);
    bi.destroy();
    expect(bi.destroyed).toBe(true);
    expect(isFieldsealError(thrown(() => bi.index('v', WHERE)))).toBe(true);
    expect((thrown(() => bi.matches('v', stored, WHERE)) as FieldsealError).code).toBe(
      'ERR_KEY_NOT_CONFIGURED',
    );
  });

  it('keeps working past the derived-key cache bound (evicted keys are re-derived)', async () => {
    const bi = await createBlindIndexer({
      source: envSource(),
      reference: 'blind-index',
      maxCachedKeys: 2,
    });
    const first = bi.index('v', WHERE);
    for (const field of ['a', 'b', 'c', 'd']) bi.index('v', { ...WHERE, field });
    expect(bi.index('v', WHERE)).toBe(first);
  });
});

describe('blind index: secrets stay secret', () => {
  it('never shows the root key or a derived key in inspect, JSON, String or errors', async () => {
    const bi = await indexer();
    bi.index('v', WHERE);
    const indexKey = handIndexKey(ROOT, WHERE, 1);
    const printed = [
      inspect(bi, { showHidden: true, depth: 10 }),
      JSON.stringify(bi),
      String(bi),
      `${bi as unknown as string}`,
      JSON.stringify(Object.entries(bi)),
    ];
    const errors: unknown[] = [
      thrown(() => bi.index('v', WHERE, { bits: 7 })),
      thrown(() => bi.index('secret-value\ud800', WHERE)),
      thrown(() => bi.index('v', { ...WHERE, tenant: '' })),
    ];
    for (const e of errors) {
      const err = e as Error;
      printed.push(err.message, String(err.stack), inspect(err), JSON.stringify(err));
    }
    for (const text of printed) {
      for (const enc of ['base64', 'base64url', 'hex'] as const) {
        expect(text).not.toContain(ROOT.toString(enc));
        expect(text).not.toContain(indexKey.toString(enc));
      }
      expect(text).not.toContain('secret-value');
    }
    expect(inspect(bi)).toBe('[REDACTED]');
  });

  it('an index is neither a prefix of the value nor anything derived from data keys', async () => {
    // Worst case: the same 32 bytes misused as both a data key and the blind-index root key.
    const bi = await indexer();
    const value = 'ada@example.com';
    const tag = tagOf(bi.index(value, WHERE, { bits: 256 }));
    const short = tagOf(bi.index(value, WHERE, { bits: 16 }));
    const dataKey = DataKey.fromBytes(ROOT);
    try {
      const derived = [
        ROOT,
        dataKey.commitment,
        Buffer.from(value, 'utf8'),
        createHmac('sha256', ROOT).update(value).digest(),
        Buffer.from(hkdfSync('sha256', ROOT, Buffer.from('fieldseal/v1'), Buffer.alloc(0), 32)),
      ];
      for (const d of derived) {
        expect(d.includes(short)).toBe(false);
        expect(tag.equals(d)).toBe(false);
      }
    } finally {
      dataKey.release();
    }
    // And the index does not appear in an envelope of the same value in the same context.
    const fs = createFieldseal({
      provider: new MemoryKeyProvider(),
      keys: { mode: 'embedded', masterKeyId: 'master' },
      cache: { maxAgeMs: 60_000 },
    });
    const stored = await fs.encrypt(value, { ...WHERE, record: 'cus_1' });
    const envelope = Buffer.from(stored.slice(4), 'base64url');
    expect(envelope.includes(tagOf(bi.index(value, WHERE)))).toBe(false);
    expect(stored).not.toContain(bi.index(value, WHERE).slice(6));
  });
});
