/**
 * Frozen envelope v1 vectors (envelope-v1.json, written once by
 * generate-envelope-vectors.test.ts). Every release must decrypt every vector to exactly the
 * recorded value and type. If this test fails, the change broke stored data: fix the code,
 * never the JSON.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  createFieldseal,
  DataKey,
  EnvSecretSource,
  inspectEnvelope,
  isFieldsealError,
  LocalKeyProvider,
  type EncryptionContext,
  type FieldsealErrorCode,
} from '../../src/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';
import { storeContext } from '../../src/client/keys/provider-context.js';
import { encodeContext } from '../../src/envelope/context.js';
import { openValue, parseEnvelope } from '../../src/envelope/envelope.js';

// ---------------------------------------------------------------------------------------------
// The vector file
// ---------------------------------------------------------------------------------------------

type ValueSpec =
  | { type: 'string'; value: string }
  | { type: 'number'; value: string }
  | { type: 'bigint'; value: string }
  | { type: 'boolean'; value: boolean }
  | { type: 'date'; epochMs: number; iso: string }
  | { type: 'uint8array'; hex: string }
  | { type: 'buffer'; hex: string }
  | { type: 'json'; value: unknown };

type VectorKeyRef =
  | { kind: 'store'; keyId: string; version: number }
  | { kind: 'embedded'; providerId: string; masterKeyId: string; wrappedKeyHex: string };

interface Vector {
  name: string;
  description: string;
  keyRef: VectorKeyRef;
  dataKeyHex?: string;
  masterKeyHex?: string;
  masterKeyId?: string;
  providerId?: string;
  context: EncryptionContext;
  contextHex: string;
  value: ValueSpec;
  pad: false | string | number;
  bucketSize: number;
  plaintextHex: string;
  envelopeHex: string;
  envelopeText: string;
}

interface VectorFile {
  format: string;
  generated: string;
  notes: string[];
  vectors: Vector[];
}

const file = JSON.parse(
  readFileSync(new URL('./envelope-v1.json', import.meta.url), 'utf8'),
) as VectorFile;
const vectors = file.vectors;
const storeVectors = vectors.filter((v) => v.keyRef.kind === 'store');
const embeddedVectors = vectors.filter((v) => v.keyRef.kind === 'embedded');

/**
 * Fingerprint of the frozen vectors (names, keys, contexts, values, envelopes), so an
 * accidental regeneration or hand edit of the JSON fails loudly instead of silently replacing
 * the data that older releases wrote.
 */
const FROZEN_SHA256 = '811b61dfef09c89766f264cb5e115d450bb7517261162351e75fa40a6d2756fc';

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

function bytesOf(v: Vector): Buffer {
  return Buffer.from(v.envelopeHex, 'hex');
}

/** Rebuild the expected value exactly (type included) from its description. */
function expectedValue(spec: ValueSpec): unknown {
  switch (spec.type) {
    case 'string':
      return spec.value;
    case 'number':
      return Number(spec.value);
    case 'bigint':
      return BigInt(spec.value);
    case 'boolean':
      return spec.value;
    case 'date':
      return new Date(spec.epochMs);
    case 'uint8array':
      return new Uint8Array(Buffer.from(spec.hex, 'hex'));
    case 'buffer':
      return Buffer.from(spec.hex, 'hex');
    case 'json':
      return spec.value;
  }
}

/** The decrypted value equals the expected one AND has the same type. */
function expectSameTyped(actual: unknown, spec: ValueSpec): void {
  const expected = expectedValue(spec);
  switch (spec.type) {
    case 'string':
    case 'bigint':
    case 'boolean':
      expect(typeof actual).toBe(spec.type);
      expect(actual).toBe(expected);
      return;
    case 'number':
      expect(typeof actual).toBe('number');
      // Object.is: -0 is not 0, NaN is NaN.
      expect(Object.is(actual, expected), `${String(actual)} vs ${spec.value}`).toBe(true);
      return;
    case 'date':
      expect(actual).toBeInstanceOf(Date);
      expect(Object.is((actual as Date).getTime(), spec.epochMs)).toBe(true);
      expect((actual as Date).toISOString()).toBe(spec.iso);
      return;
    case 'uint8array':
      expect(actual).toBeInstanceOf(Uint8Array);
      expect(Buffer.isBuffer(actual), 'a Uint8Array must not come back as a Buffer').toBe(false);
      expect(Buffer.from(actual as Uint8Array).toString('hex')).toBe(spec.hex);
      return;
    case 'buffer':
      expect(Buffer.isBuffer(actual), 'a Buffer must come back as a Buffer').toBe(true);
      expect((actual as Buffer).toString('hex')).toBe(spec.hex);
      return;
    case 'json':
      expect(actual).not.toBeInstanceOf(Date);
      expect(actual).not.toBeInstanceOf(Uint8Array);
      expect(actual).toStrictEqual(expected);
      return;
  }
}

function codeOf(fn: () => unknown): FieldsealErrorCode | 'NO_ERROR' | 'FOREIGN_ERROR' {
  try {
    fn();
    return 'NO_ERROR';
  } catch (err) {
    return isFieldsealError(err) ? err.code : 'FOREIGN_ERROR';
  }
}

async function asyncCodeOf(
  p: Promise<unknown>,
): Promise<FieldsealErrorCode | 'NO_ERROR' | 'FOREIGN_ERROR'> {
  try {
    await p;
    return 'NO_ERROR';
  } catch (err) {
    return isFieldsealError(err) ? err.code : 'FOREIGN_ERROR';
  }
}

function embeddedClient(v: Vector) {
  return createFieldseal({
    provider: new LocalKeyProvider({
      id: v.providerId!,
      source: new EnvSecretSource({
        keys: { [v.masterKeyId!]: 'X' },
        env: { X: `hex:${v.masterKeyHex!}` },
      }),
    }),
    keys: { mode: 'embedded', masterKeyId: v.masterKeyId! },
    cache: { maxAgeMs: 1000 },
  });
}

/** A store-mode client whose key store holds every store vector's data key. */
async function storeClient() {
  const provider = new MemoryKeyProvider({ masterKeys: ['master'] });
  const store = new MemoryKeyStore();
  const active = new Map<string, number>();
  const done = new Set<string>();
  for (const v of storeVectors) {
    const ref = v.keyRef as Extract<VectorKeyRef, { kind: 'store' }>;
    const tenant = v.context.tenant;
    const id = JSON.stringify([tenant, ref.keyId, ref.version]);
    if (done.has(id)) continue;
    done.add(id);
    const key = DataKey.fromBytes(Buffer.from(v.dataKeyHex!, 'hex'));
    const wrapped = await provider.wrapDataKey(
      'master',
      key,
      storeContext(tenant, ref.keyId, ref.version),
    );
    key.release();
    const slot = JSON.stringify([tenant, ref.keyId]);
    const row = await store.createVersion(
      {
        tenant,
        keyId: ref.keyId,
        version: ref.version,
        providerId: provider.id,
        masterKeyId: 'master',
        wrapped,
      },
      active.get(slot) ?? null,
    );
    expect(row).toBeDefined();
    active.set(slot, ref.version);
  }
  return createFieldseal({
    provider,
    keys: { mode: 'store', store, masterKeyId: 'master' },
    cache: { maxAgeMs: 60_000 },
  });
}

// ---------------------------------------------------------------------------------------------
// An independent reference decoder, written from the format notes with node:crypto only (no
// fieldseal code), so the vectors are checked against the specification and not only against
// the implementation that produced them.
// ---------------------------------------------------------------------------------------------

const ref = {
  hkdf(key: Buffer, info: string): Buffer {
    return Buffer.from(
      hkdfSync(
        'sha256',
        key,
        Buffer.from('fieldseal/v1'),
        Buffer.concat([Buffer.from(info), Buffer.from([0x01])]),
        32,
      ),
    );
  },
  /** XAES-256-GCM open (c2sp.org/XAES-256-GCM). */
  xaesOpen(key: Buffer, nonce: Buffer, aad: Buffer, ct: Buffer, tag: Buffer): Buffer {
    const aes = (block: Buffer): Buffer => {
      const c = createCipheriv('aes-256-ecb', key, null);
      c.setAutoPadding(false);
      return c.update(block);
    };
    const l = aes(Buffer.alloc(16));
    const k1 = Buffer.alloc(16);
    for (let i = 0; i < 16; i++) k1[i] = ((l[i]! << 1) | (i < 15 ? l[i + 1]! >> 7 : 0)) & 0xff;
    if (l[0]! & 0x80) k1[15] = k1[15]! ^ 0x87;
    const m = (i: number): Buffer => {
      const b = Buffer.concat([Buffer.from([0, i, 0x58, 0]), nonce.subarray(0, 12)]);
      for (let j = 0; j < 16; j++) b[j] = b[j]! ^ k1[j]!;
      return b;
    };
    const kx = Buffer.concat([aes(m(1)), aes(m(2))]);
    const d = createDecipheriv('aes-256-gcm', kx, nonce.subarray(12, 24), { authTagLength: 16 });
    d.setAAD(aad);
    d.setAuthTag(tag);
    return Buffer.concat([d.update(ct), d.final()]);
  },
  str(s: string): Buffer {
    const b = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(2);
    len.writeUInt16BE(b.length);
    return Buffer.concat([len, b]);
  },
  context(ctx: Record<string, string | readonly string[] | undefined>): Buffer {
    const entries = Object.entries(ctx)
      .filter((e): e is [string, string | readonly string[]] => e[1] !== undefined)
      .map(([k, v]) => [Buffer.from(k, 'utf8'), v] as const)
      .sort((a, b) => Buffer.compare(a[0], b[0]));
    const parts: Buffer[] = [Buffer.from([entries.length >> 8, entries.length & 0xff])];
    for (const [k, v] of entries) {
      parts.push(Buffer.from([k.length]), k);
      if (typeof v === 'string') parts.push(Buffer.from([0]), ref.str(v));
      else parts.push(Buffer.from([1, v.length]), ...v.map((s) => ref.str(s)));
    }
    return Buffer.concat(parts);
  },
  /** Parse per the layout; return the plaintext. */
  open(v: Vector): Buffer {
    const b = bytesOf(v);
    expect([b[0], b[1], b[2]]).toEqual([0xf5, 0x01, 0x01]);
    const flags = b[3]!;
    expect(flags & 0xf8).toBe(0);
    expect((flags & 0x04) !== 0).toBe(v.bucketSize > 0);
    let at = 4;
    let dataKey: Buffer;
    if ((flags & 3) === 1) {
      const n = b[at++]!;
      const keyId = b.toString('utf8', at, at + n);
      at += n;
      const version = b.readUInt32BE(at);
      at += 4;
      expect({ kind: 'store', keyId, version }).toEqual(v.keyRef);
      dataKey = Buffer.from(v.dataKeyHex!, 'hex');
    } else {
      expect(flags & 3).toBe(2);
      const p = b[at++]!;
      const providerId = b.toString('utf8', at, at + p);
      at += p;
      const m = b[at++]!;
      const masterKeyId = b.toString('utf8', at, at + m);
      at += m;
      const w = b.readUInt16BE(at);
      at += 2;
      const wrapped = b.subarray(at, at + w);
      at += w;
      expect({
        kind: 'embedded',
        providerId,
        masterKeyId,
        wrappedKeyHex: wrapped.toString('hex'),
      }).toEqual(v.keyRef);
      // Local provider wrapped key: 0x01 | nonce 24 | ct 32 | tag 16.
      expect(wrapped.length).toBe(73);
      expect(wrapped[0]).toBe(0x01);
      const id = Buffer.from(masterKeyId, 'utf8');
      const aad = Buffer.concat([
        Buffer.from('fieldseal/local-wrap/v1\0', 'utf8'),
        Buffer.from([id.length >> 8, id.length & 0xff]),
        id,
        ref.context({ tenant: v.context.tenant }),
      ]);
      dataKey = ref.xaesOpen(
        Buffer.from(v.masterKeyHex!, 'hex'),
        wrapped.subarray(1, 25),
        aad,
        wrapped.subarray(25, 57),
        wrapped.subarray(57),
      );
    }
    const nonce = b.subarray(at, at + 24);
    const commitment = b.subarray(at + 24, at + 56);
    const headerEnd = at + 56;
    expect(commitment.equals(ref.hkdf(dataKey, 'fieldseal/v1 key commitment'))).toBe(true);
    const root = ref.hkdf(dataKey, 'fieldseal/v1 xaes-256-gcm root key');
    return ref.xaesOpen(
      root,
      nonce,
      Buffer.concat([b.subarray(0, headerEnd), ref.context(v.context)]),
      b.subarray(headerEnd, b.length - 16),
      b.subarray(b.length - 16),
    );
  },
};

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe('envelope v1 frozen vectors: the file', () => {
  it('is the frozen file, self-describing', () => {
    expect(file.format).toBe('fieldseal envelope v1');
    expect(Number.isNaN(Date.parse(file.generated))).toBe(false);
    expect(file.notes.length).toBeGreaterThan(0);
    const fingerprint = createHash('sha256').update(JSON.stringify(vectors)).digest('hex');
    expect(fingerprint, 'envelope-v1.json is frozen: do not regenerate or edit it').toBe(
      FROZEN_SHA256,
    );
  });

  it('covers both key-ref kinds, padding, every value type and the edge cases', () => {
    const names = new Set(vectors.map((v) => v.name));
    expect(names.size).toBe(vectors.length);
    expect(storeVectors.length).toBeGreaterThan(0);
    expect(embeddedVectors.length).toBeGreaterThan(0);
    for (const group of [storeVectors, embeddedVectors]) {
      expect(group.some((v) => v.bucketSize > 0)).toBe(true);
      expect(group.some((v) => v.bucketSize === 0)).toBe(true);
      expect(group.some((v) => Array.isArray(v.context.record))).toBe(true);
    }
    const types = new Set(vectors.map((v) => v.value.type));
    expect([...types].sort()).toEqual(
      ['bigint', 'boolean', 'buffer', 'date', 'json', 'number', 'string', 'uint8array'].sort(),
    );
    const numbers = vectors.flatMap((v) => (v.value.type === 'number' ? [v.value.value] : []));
    expect(numbers).toEqual(expect.arrayContaining(['-0', 'NaN', 'Infinity', '-Infinity']));
    const bigints = vectors.flatMap((v) => (v.value.type === 'bigint' ? [v.value.value] : []));
    expect(bigints.some((b) => b.startsWith('-') && b.length > 30)).toBe(true);
    expect(bigints.some((b) => !b.startsWith('-') && b.length > 30)).toBe(true);
    const jsons = vectors.flatMap((v) => (v.value.type === 'json' ? [v.value.value] : []));
    expect(jsons).toEqual(expect.arrayContaining([null, [], {}]));
    expect(vectors.some((v) => v.value.type === 'string' && v.value.value === '')).toBe(true);
    expect(
      vectors.some(
        (v) => v.value.type === 'string' && /\p{Extended_Pictographic}/u.test(v.value.value),
      ),
    ).toBe(true);
    expect(vectors.some((v) => Object.keys(v.context).length > 4)).toBe(true);
    expect(vectors.some((v) => v.context.record === undefined)).toBe(true);
  });
});

describe.each(vectors.map((v) => [v.name, v] as const))('vector %s', (_name, v) => {
  const bytes = bytesOf(v);

  it('text and hex are the same bytes, in canonical form', () => {
    expect(v.envelopeText.startsWith('fs1:')).toBe(true);
    expect(Buffer.from(v.envelopeText.slice(4), 'base64url').equals(bytes)).toBe(true);
    expect(v.envelopeText).toBe('fs1:' + bytes.toString('base64url'));
    expect(v.envelopeText).toMatch(/^fs1:[A-Za-z0-9_-]+$/);
  });

  it('records the canonical context encoding', () => {
    expect(encodeContext(v.context).toString('hex')).toBe(v.contextHex);
    expect(ref.context(v.context).toString('hex')).toBe(v.contextHex);
  });

  it('inspectEnvelope reports the key reference, padding and sizes', () => {
    const expectedRef =
      v.keyRef.kind === 'store'
        ? { kind: 'store', keyId: v.keyRef.keyId, version: v.keyRef.version }
        : {
            kind: 'embedded',
            providerId: v.keyRef.providerId,
            masterKeyId: v.keyRef.masterKeyId,
            wrappedBytes: v.keyRef.wrappedKeyHex.length / 2,
          };
    const label =
      v.keyRef.kind === 'store'
        ? `${v.keyRef.keyId}@${v.keyRef.version}`
        : `${v.keyRef.providerId}:${v.keyRef.masterKeyId}`;
    for (const stored of [v.envelopeText, bytes, new Uint8Array(bytes)]) {
      const info = inspectEnvelope(stored);
      expect(info).toEqual({
        version: 1,
        suite: 'XAES-256-GCM/HKDF-SHA256/commit-256',
        keyRef: expectedRef,
        keyLabel: label,
        padded: v.bucketSize > 0,
        bytes: bytes.length,
        ciphertextBytes: v.plaintextHex.length / 2,
      });
    }
  });

  it('the independent reference decoder recovers the recorded plaintext', () => {
    expect(ref.open(v).toString('hex')).toBe(v.plaintextHex);
  });

  if (v.keyRef.kind === 'store') {
    it('decrypts with parseEnvelope + openValue under the recorded data key', () => {
      const fromText = Buffer.from(v.envelopeText.slice(4), 'base64url');
      for (const b of [bytes, fromText]) {
        const key = DataKey.fromBytes(Buffer.from(v.dataKeyHex!, 'hex'));
        try {
          const env = parseEnvelope(Buffer.from(b));
          expect(env.padded).toBe(v.bucketSize > 0);
          expect(env.keyRef).toEqual(v.keyRef);
          expectSameTyped(openValue(env, key, encodeContext(v.context)), v.value);
        } finally {
          key.release();
        }
      }
    });

    it('decrypts through the public client (store mode), text and binary', async () => {
      const fs = await storeClient();
      expectSameTyped(await fs.decrypt(v.envelopeText, v.context), v.value);
      expectSameTyped(await fs.decrypt(Buffer.from(bytes), v.context), v.value);
      expectSameTyped(await fs.decrypt(new Uint8Array(bytes), v.context), v.value);
    });
  } else {
    it('decrypts through the public client with the recorded master key, text and binary', async () => {
      const fs = embeddedClient(v);
      expectSameTyped(await fs.decrypt(v.envelopeText, v.context), v.value);
      fs.clearCache();
      expectSameTyped(await fs.decrypt(Buffer.from(bytes), v.context), v.value);
      fs.clearCache();
      expectSameTyped(await fs.decrypt(new Uint8Array(bytes), v.context), v.value);
      expect(fs.metrics().providerCalls[v.providerId!]?.unwrap).toBe(3);
    });
  }

  it('does not decrypt under another context', async () => {
    const other = { ...v.context, field: `${v.context.field}_other` };
    if (v.keyRef.kind === 'store') {
      const key = DataKey.fromBytes(Buffer.from(v.dataKeyHex!, 'hex'));
      try {
        expect(codeOf(() => openValue(parseEnvelope(bytes), key, encodeContext(other)))).toBe(
          'ERR_AUTHENTICATION_FAILED',
        );
      } finally {
        key.release();
      }
    } else {
      expect(await asyncCodeOf(embeddedClient(v).decrypt(v.envelopeText, other))).toBe(
        'ERR_AUTHENTICATION_FAILED',
      );
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Negative vectors: hand-made mutations of a frozen envelope, and literal bytes.
// ---------------------------------------------------------------------------------------------

describe('envelope v1 negative vectors', () => {
  const base = storeVectors.find((v) => v.name === 'store-string-ssn')!;
  const baseEmbedded = embeddedVectors.find((v) => v.name === 'embedded-string-ssn')!;

  function mutate(v: Vector, at: number, value: number): Buffer {
    const b = bytesOf(v);
    b[at] = value;
    return b;
  }

  const cases: { name: string; bytes: Buffer; code: FieldsealErrorCode }[] = [];
  for (const v of [base, baseEmbedded]) {
    const kind = v.keyRef.kind;
    for (const version of [0x00, 0x02, 0x7f, 0xff]) {
      cases.push({
        name: `${kind}: version byte 0x${version.toString(16)}`,
        bytes: mutate(v, 1, version),
        code: 'ERR_UNSUPPORTED_FORMAT',
      });
    }
    for (const suite of [0x00, 0x02, 0xff]) {
      cases.push({
        name: `${kind}: suite byte 0x${suite.toString(16)}`,
        bytes: mutate(v, 2, suite),
        code: 'ERR_UNSUPPORTED_FORMAT',
      });
    }
    const flags = bytesOf(v)[3]!;
    for (let bit = 3; bit < 8; bit++) {
      cases.push({
        name: `${kind}: reserved flag bit ${bit} set`,
        bytes: mutate(v, 3, flags | (1 << bit)),
        code: 'ERR_MALFORMED_CIPHERTEXT',
      });
    }
    for (const k of [0, 3]) {
      cases.push({
        name: `${kind}: key-ref kind ${k}`,
        bytes: mutate(v, 3, (flags & ~0x03) | k),
        code: 'ERR_MALFORMED_CIPHERTEXT',
      });
      cases.push({
        name: `${kind}: key-ref kind ${k} with the padded bit`,
        bytes: mutate(v, 3, (flags & ~0x03) | k | 0x04),
        code: 'ERR_MALFORMED_CIPHERTEXT',
      });
    }
  }
  // Literal, fully hand-written envelopes.
  const literal: [string, string, FieldsealErrorCode][] = [
    ['magic only', 'f5', 'ERR_MALFORMED_CIPHERTEXT'],
    ['magic, version, suite', 'f50101', 'ERR_MALFORMED_CIPHERTEXT'],
    ['header without key ref', 'f5010101', 'ERR_MALFORMED_CIPHERTEXT'],
    ['version 2 header', 'f5020101', 'ERR_UNSUPPORTED_FORMAT'],
    ['suite 2 header', 'f5010201', 'ERR_UNSUPPORTED_FORMAT'],
    ['reserved flag 0x08', 'f5010109', 'ERR_MALFORMED_CIPHERTEXT'],
    ['key-ref kind 0', 'f5010100' + '01' + '6b' + '00000001', 'ERR_MALFORMED_CIPHERTEXT'],
    ['key-ref kind 3', 'f5010103' + '01' + '6b' + '00000001', 'ERR_MALFORMED_CIPHERTEXT'],
    ['empty key id', 'f5010101' + '00' + '00000001' + '00'.repeat(73), 'ERR_MALFORMED_CIPHERTEXT'],
    [
      'key version 0',
      'f5010101' + '016b' + '00000000' + '00'.repeat(73),
      'ERR_MALFORMED_CIPHERTEXT',
    ],
    ['store ref, nothing after it', 'f5010101' + '016b' + '00000001', 'ERR_MALFORMED_CIPHERTEXT'],
    // 4 + 6 + 56 + 16 = 82 bytes: one byte short of the smallest envelope (1-byte plaintext).
    [
      'no ciphertext byte',
      'f5010101' + '016b' + '00000001' + '00'.repeat(56 + 16),
      'ERR_MALFORMED_CIPHERTEXT',
    ],
    [
      'key id not UTF-8',
      'f5010101' + '01ff' + '00000001' + '00'.repeat(73),
      'ERR_MALFORMED_CIPHERTEXT',
    ],
    ['empty provider id', 'f5010102' + '00', 'ERR_MALFORMED_CIPHERTEXT'],
    [
      'provider id > 64 bytes',
      'f5010102' + '41' + '61'.repeat(65) + '00'.repeat(200),
      'ERR_MALFORMED_CIPHERTEXT',
    ],
    [
      'empty wrapped key',
      'f5010102' + '0161' + '0161' + '0000' + '00'.repeat(73),
      'ERR_MALFORMED_CIPHERTEXT',
    ],
    [
      'wrapped key > 2048',
      'f5010102' + '0161' + '0161' + '0801' + '00'.repeat(2200),
      'ERR_MALFORMED_CIPHERTEXT',
    ],
  ];
  for (const [name, hex, code] of literal) {
    cases.push({ name: `literal: ${name}`, bytes: Buffer.from(hex, 'hex'), code });
  }

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const text = 'fs1:' + c.bytes.toString('base64url');
    expect(codeOf(() => parseEnvelope(Buffer.from(c.bytes)))).toBe(c.code);
    expect(codeOf(() => inspectEnvelope(c.bytes))).toBe(c.code);
    expect(codeOf(() => inspectEnvelope(text))).toBe(c.code);
    const fs = createFieldseal({
      provider: new MemoryKeyProvider(),
      keys: { mode: 'embedded', masterKeyId: 'master' },
      cache: { maxAgeMs: 1000 },
    });
    expect(await asyncCodeOf(fs.decrypt(c.bytes, base.context))).toBe(c.code);
    expect(await asyncCodeOf(fs.decrypt(text, base.context))).toBe(c.code);
  });

  it.each(['fs2:', 'fs0:', 'fs10:', 'fs99:'])(
    'text prefix %s is ERR_UNSUPPORTED_FORMAT',
    async (prefix) => {
      const text = prefix + base.envelopeText.slice(4);
      expect(codeOf(() => inspectEnvelope(text))).toBe('ERR_UNSUPPORTED_FORMAT');
      const fs = createFieldseal({
        provider: new MemoryKeyProvider(),
        keys: { mode: 'embedded', masterKeyId: 'master' },
        cache: { maxAgeMs: 1000 },
        fields: { 'customers.ssn': { allowPlaintextRead: true } },
      });
      // Even a field in plaintext migration must not read another version as plaintext.
      expect(await asyncCodeOf(fs.decrypt(text, base.context))).toBe('ERR_UNSUPPORTED_FORMAT');
    },
  );

  it('the version and suite checks come before any key lookup (no provider call)', async () => {
    const provider = new MemoryKeyProvider();
    const fs = createFieldseal({
      provider,
      keys: { mode: 'embedded', masterKeyId: 'master' },
      cache: { maxAgeMs: 1000 },
    });
    for (const c of cases) await asyncCodeOf(fs.decrypt(c.bytes, baseEmbedded.context));
    expect(provider.calls.unwrap).toBe(0);
  });

  it('non-canonical text forms of a valid envelope are ERR_MALFORMED_CIPHERTEXT', async () => {
    const body = base.envelopeText.slice(4);
    const fs = createFieldseal({
      provider: new MemoryKeyProvider(),
      keys: { mode: 'embedded', masterKeyId: 'master' },
      cache: { maxAgeMs: 1000 },
    });
    const variants = [
      'fs1:' + bytesOf(base).toString('base64'), // standard alphabet, '=' padding
      'fs1:' + body + '=',
      'fs1:' + body + '==',
      'fs1: ' + body,
      'fs1:' + body + '\n',
    ];
    for (const text of variants) {
      if (text === base.envelopeText) continue;
      expect(
        codeOf(() => inspectEnvelope(text)),
        JSON.stringify(text.slice(-4)),
      ).toBe('ERR_MALFORMED_CIPHERTEXT');
      expect(await asyncCodeOf(fs.decrypt(text, base.context))).toBe('ERR_MALFORMED_CIPHERTEXT');
    }
  });
});
