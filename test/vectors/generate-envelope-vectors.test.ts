/**
 * ONE-SHOT GENERATOR of the frozen envelope v1 vectors (test/vectors/envelope-v1.json).
 *
 * Skipped unless FIELDSEAL_GENERATE_VECTORS=1. The JSON it wrote is FROZEN: every future
 * release must decrypt it byte for byte (test/vectors/envelope-v1.test.ts). Never regenerate
 * it to make a failing test pass; a format change needs a new version or suite and a new
 * vector file. To guard against accidents the generator refuses to overwrite an existing file
 * unless FIELDSEAL_OVERWRITE_FROZEN_VECTORS=1 is also set.
 *
 *   FIELDSEAL_GENERATE_VECTORS=1 npx vitest run test/vectors/generate-envelope-vectors.test.ts
 */
import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  createFieldseal,
  DataKey,
  EnvSecretSource,
  LocalKeyProvider,
  type EncryptionContext,
  type FieldValue,
  type PaddingOption,
} from '../../src/index.js';
import { encodeContext } from '../../src/envelope/context.js';
import { openValue, parseEnvelope, sealValue } from '../../src/envelope/envelope.js';
import { encodeHeaderPrefix } from '../../src/envelope/key-ref.js';
import { bucketSize, encodePlaintext } from '../../src/envelope/plaintext.js';

const OUT = fileURLToPath(new URL('./envelope-v1.json', import.meta.url));

/** Deterministic, documented key material: SHA-256 of a label. */
function keyFromLabel(label: string): Buffer {
  return createHash('sha256').update(label, 'utf8').digest();
}

const DATA_KEY_A = Buffer.from(Array.from({ length: 32 }, (_, i) => i)); // 00 01 .. 1f
const DATA_KEY_B = keyFromLabel('fieldseal envelope v1 vector data key B');
const MASTER_KEY_1 = keyFromLabel('fieldseal envelope v1 vector master key 1');
const MASTER_KEY_2 = keyFromLabel('fieldseal envelope v1 vector master key 2');

type ValueSpec =
  | { type: 'string'; value: string }
  | { type: 'number'; value: string }
  | { type: 'bigint'; value: string }
  | { type: 'boolean'; value: boolean }
  | { type: 'date'; epochMs: number; iso: string }
  | { type: 'uint8array'; hex: string }
  | { type: 'buffer'; hex: string }
  | { type: 'json'; value: unknown };

function describeValue(v: FieldValue, forceJson = false): ValueSpec {
  if (forceJson) return { type: 'json', value: v };
  if (typeof v === 'string') return { type: 'string', value: v };
  if (typeof v === 'number') return { type: 'number', value: Object.is(v, -0) ? '-0' : String(v) };
  if (typeof v === 'bigint') return { type: 'bigint', value: v.toString(10) };
  if (typeof v === 'boolean') return { type: 'boolean', value: v };
  if (v instanceof Date) return { type: 'date', epochMs: v.getTime(), iso: v.toISOString() };
  if (Buffer.isBuffer(v)) return { type: 'buffer', hex: v.toString('hex') };
  if (v instanceof Uint8Array) return { type: 'uint8array', hex: Buffer.from(v).toString('hex') };
  return { type: 'json', value: v };
}

interface Case {
  readonly name: string;
  readonly description: string;
  readonly value: FieldValue;
  readonly context: EncryptionContext;
  readonly pad: PaddingOption;
}

interface StoreCase extends Case {
  readonly dataKey: Buffer;
  readonly keyId: string;
  readonly version: number;
}

interface EmbeddedCase extends Case {
  readonly masterKey: Buffer;
  readonly masterKeyId: string;
  readonly providerId: string;
}

const ctxBasic: EncryptionContext = {
  tenant: 'acme',
  table: 'customers',
  field: 'ssn',
  record: 'cus_42',
};
const ctxComposite: EncryptionContext = {
  tenant: 'acme',
  table: 'order_lines',
  field: 'notes',
  record: ['ord_1001', '3'],
};
const ctxExtra: EncryptionContext = {
  tenant: 'globex',
  table: 'patients',
  field: 'diagnosis',
  record: 'pat_7',
  purpose: 'medical',
  region: 'eu-west-1',
  tags: ['phi', 'gdpr'],
};
const ctxNoRecord: EncryptionContext = { tenant: 'acme', table: 'settings', field: 'api_token' };
const ctxUnicode: EncryptionContext = {
  tenant: 'zürich-ag',
  table: 'kunden',
  field: 'straße',
  record: '👤-1',
};
/** Keys whose UTF-8 order (U+FF21 = EF BC A1 < U+1F600 = F0 9F 98 80) differs from UTF-16 order. */
const ctxKeyOrder: EncryptionContext = {
  tenant: 'acme',
  table: 't',
  field: 'f',
  record: 'r',
  '😀': 'emoji key',
  Ａ: 'fullwidth A key',
  Z: 'ascii key',
};

const unicodeText = 'Zoë Ångström — 日本語テキスト 👩‍👩‍👧‍👦🇫🇷 ∑∞ \u0000 end';

const storeDefaults = { dataKey: DATA_KEY_A, keyId: 'default', version: 1, pad: false } as const;

const storeCases: StoreCase[] = [
  {
    ...storeDefaults,
    name: 'store-string-ssn',
    description: 'short string',
    value: '123-45-6789',
    context: ctxBasic,
  },
  {
    ...storeDefaults,
    name: 'store-string-ssn-bucket-16',
    description: 'short string, padded',
    value: '123-45-6789',
    context: ctxBasic,
    pad: 'bucket-16',
  },
  {
    ...storeDefaults,
    name: 'store-string-empty',
    description: 'empty string (smallest plaintext: the type tag alone)',
    value: '',
    context: ctxBasic,
  },
  {
    ...storeDefaults,
    name: 'store-string-empty-bucket-32',
    description: 'empty string, padded',
    value: '',
    context: ctxBasic,
    pad: 'bucket-32',
  },
  {
    ...storeDefaults,
    name: 'store-string-unicode-bucket-64',
    description: 'unicode, emoji ZWJ sequence, flag, NUL',
    value: unicodeText,
    context: ctxUnicode,
    pad: 'bucket-64',
  },
  {
    ...storeDefaults,
    name: 'store-string-bucket-16-one-byte-pad',
    description: 'tag + 14 bytes = 15: one padding byte (0x80) to 16',
    value: 'a'.repeat(14),
    context: ctxBasic,
    pad: 'bucket-16',
  },
  {
    ...storeDefaults,
    name: 'store-string-bucket-16-full-block-pad',
    description: 'tag + 15 bytes = 16: a whole extra block of padding (0x80 + 15 zeros) to 32',
    value: 'a'.repeat(15),
    context: ctxBasic,
    pad: 'bucket-16',
  },
  {
    ...storeDefaults,
    name: 'store-string-bucket-100',
    description: 'numeric, non-power-of-two bucket',
    value: 'padded to 100',
    context: ctxBasic,
    pad: 100,
  },
  {
    ...storeDefaults,
    name: 'store-number-pi',
    description: 'float64',
    value: Math.PI,
    context: ctxBasic,
  },
  {
    ...storeDefaults,
    name: 'store-number-integer',
    description: 'integer',
    value: 42,
    context: ctxBasic,
  },
  {
    ...storeDefaults,
    name: 'store-number-negative-zero',
    description: '-0 must come back as -0',
    value: -0,
    context: ctxBasic,
  },
  {
    ...storeDefaults,
    name: 'store-number-nan',
    description: 'NaN (canonical 7ff8000000000000)',
    value: NaN,
    context: ctxBasic,
  },
  {
    ...storeDefaults,
    name: 'store-number-infinity',
    description: '+Infinity',
    value: Infinity,
    context: ctxBasic,
  },
  {
    ...storeDefaults,
    name: 'store-number-negative-infinity',
    description: '-Infinity',
    value: -Infinity,
    context: ctxBasic,
    pad: 'bucket-16',
  },
  {
    ...storeDefaults,
    name: 'store-number-min-subnormal',
    description: 'smallest positive double',
    value: 5e-324,
    context: ctxBasic,
  },
  {
    ...storeDefaults,
    name: 'store-number-max',
    description: 'largest double',
    value: Number.MAX_VALUE,
    context: ctxBasic,
  },
  { ...storeDefaults, name: 'store-bigint-zero', description: '0n', value: 0n, context: ctxBasic },
  {
    ...storeDefaults,
    name: 'store-bigint-negative',
    description: '-42n',
    value: -42n,
    context: ctxBasic,
  },
  {
    ...storeDefaults,
    name: 'store-bigint-huge',
    description: '2^256 - 1',
    value: 2n ** 256n - 1n,
    context: ctxBasic,
  },
  {
    ...storeDefaults,
    name: 'store-bigint-huge-negative-bucket-32',
    description: '-(10^100) - 7, padded',
    value: -(10n ** 100n) - 7n,
    context: ctxBasic,
    pad: 'bucket-32',
  },
  {
    ...storeDefaults,
    name: 'store-boolean-true',
    description: 'true',
    value: true,
    context: ctxBasic,
  },
  {
    ...storeDefaults,
    name: 'store-boolean-false',
    description: 'false',
    value: false,
    context: ctxBasic,
  },
  {
    ...storeDefaults,
    name: 'store-date-epoch',
    description: 'Date(0)',
    value: new Date(0),
    context: ctxBasic,
  },
  {
    ...storeDefaults,
    name: 'store-date-millis',
    description: 'leap day with milliseconds',
    value: new Date('2024-02-29T23:59:59.999Z'),
    context: ctxBasic,
  },
  {
    ...storeDefaults,
    name: 'store-date-pre-epoch',
    description: 'negative epoch milliseconds',
    value: new Date('1969-07-20T20:17:40.000Z'),
    context: ctxBasic,
  },
  {
    ...storeDefaults,
    name: 'store-date-max',
    description: 'largest valid Date (8.64e15 ms)',
    value: new Date(8.64e15),
    context: ctxBasic,
  },
  {
    ...storeDefaults,
    name: 'store-uint8array-all-bytes',
    description: 'Uint8Array 00..ff',
    value: Uint8Array.from({ length: 256 }, (_, i) => i),
    context: ctxBasic,
  },
  {
    ...storeDefaults,
    name: 'store-uint8array-empty',
    description: 'empty Uint8Array',
    value: new Uint8Array(0),
    context: ctxBasic,
  },
  {
    ...storeDefaults,
    name: 'store-buffer',
    description: 'Buffer (distinct type tag from Uint8Array)',
    value: Buffer.from('deadbeef00ff', 'hex'),
    context: ctxBasic,
  },
  {
    ...storeDefaults,
    name: 'store-buffer-empty-bucket-16',
    description: 'empty Buffer, padded',
    value: Buffer.alloc(0),
    context: ctxBasic,
    pad: 'bucket-16',
  },
  {
    ...storeDefaults,
    name: 'store-json-object',
    description: 'nested JSON object',
    value: { name: 'Zoë', age: 42, tags: ['a', 'b'], nested: { ok: true, none: null, pi: 3.14 } },
    context: ctxBasic,
  },
  {
    ...storeDefaults,
    name: 'store-json-array',
    description: 'JSON array',
    value: [1, 'two', null, { '3': [] }, false],
    context: ctxBasic,
  },
  {
    ...storeDefaults,
    name: 'store-json-null',
    description: 'null',
    value: null,
    context: ctxBasic,
  },
  {
    ...storeDefaults,
    name: 'store-json-empty-object',
    description: '{}',
    value: {},
    context: ctxBasic,
  },
  {
    ...storeDefaults,
    name: 'store-json-empty-array',
    description: '[]',
    value: [],
    context: ctxBasic,
  },
  {
    ...storeDefaults,
    name: 'store-composite-record-bucket-32',
    description: 'record given as a composite key (list)',
    value: { qty: 3, sku: 'X-1' },
    context: ctxComposite,
    pad: 'bucket-32',
  },
  {
    ...storeDefaults,
    name: 'store-extra-context',
    description: 'extra context entries, including a list',
    value: 'J45.909',
    context: ctxExtra,
  },
  {
    ...storeDefaults,
    name: 'store-no-record',
    description: 'context without record',
    value: 'sk_live_0000',
    context: ctxNoRecord,
  },
  {
    ...storeDefaults,
    name: 'store-context-key-order-utf8',
    description: 'context keys sorted by UTF-8 bytes, not UTF-16 units',
    value: 'order',
    context: ctxKeyOrder,
  },
  {
    ...storeDefaults,
    name: 'store-keyref-max-version',
    description: 'one-byte key id, version 2^32-1, data key B',
    value: 'v-max',
    context: ctxBasic,
    dataKey: DATA_KEY_B,
    keyId: 'k',
    version: 0xffffffff,
  },
  {
    ...storeDefaults,
    name: 'store-keyref-long-id-bucket-256',
    description: 'key id with "/", version 7, data key B, bucket 256',
    value: 'rotated',
    context: ctxBasic,
    dataKey: DATA_KEY_B,
    keyId: 'tenant-keys/2024',
    version: 7,
    pad: 'bucket-256',
  },
  {
    ...storeDefaults,
    name: 'store-keyref-unicode-id',
    description: 'non-ASCII key id',
    value: 'ü',
    context: ctxUnicode,
    dataKey: DATA_KEY_B,
    keyId: 'clé-ü',
    version: 2,
  },
];

const embDefaults = {
  masterKey: MASTER_KEY_1,
  masterKeyId: 'master',
  providerId: 'local',
  pad: false,
} as const;

const embeddedCases: EmbeddedCase[] = [
  {
    ...embDefaults,
    name: 'embedded-string-ssn',
    description: 'short string',
    value: '123-45-6789',
    context: ctxBasic,
  },
  {
    ...embDefaults,
    name: 'embedded-string-ssn-bucket-32',
    description: 'short string, padded',
    value: '123-45-6789',
    context: ctxBasic,
    pad: 'bucket-32',
  },
  {
    ...embDefaults,
    name: 'embedded-string-empty',
    description: 'empty string',
    value: '',
    context: ctxBasic,
  },
  {
    ...embDefaults,
    name: 'embedded-composite-record',
    description: 'JSON object, composite record key',
    value: { qty: 3, sku: 'X-1' },
    context: ctxComposite,
  },
  {
    ...embDefaults,
    name: 'embedded-uint8array-extra-context',
    description: 'Uint8Array, extra context entries',
    value: Uint8Array.from([0, 1, 2, 0xfe, 0xff]),
    context: ctxExtra,
  },
  {
    ...embDefaults,
    name: 'embedded-buffer-bucket-16',
    description: 'Buffer, padded',
    value: Buffer.from('hello buffer', 'utf8'),
    context: ctxBasic,
    pad: 'bucket-16',
  },
  {
    ...embDefaults,
    name: 'embedded-bigint-huge-negative',
    description: '-(2^521 - 1)',
    value: -(2n ** 521n - 1n),
    context: ctxBasic,
  },
  {
    ...embDefaults,
    name: 'embedded-date',
    description: 'Date with milliseconds',
    value: new Date('2031-12-31T01:02:03.456Z'),
    context: ctxBasic,
  },
  {
    ...embDefaults,
    name: 'embedded-number-negative-zero',
    description: '-0',
    value: -0,
    context: ctxBasic,
  },
  {
    ...embDefaults,
    name: 'embedded-number-nan-bucket-16',
    description: 'NaN, padded',
    value: NaN,
    context: ctxBasic,
    pad: 'bucket-16',
  },
  {
    ...embDefaults,
    name: 'embedded-boolean-false',
    description: 'false',
    value: false,
    context: ctxBasic,
  },
  {
    ...embDefaults,
    name: 'embedded-json-null-no-record',
    description: 'null, context without record',
    value: null,
    context: ctxNoRecord,
  },
  {
    ...embDefaults,
    name: 'embedded-custom-provider-unicode-bucket-64',
    description: 'provider id "local-eu", master key id "eu-master-2024", master key 2, unicode',
    value: unicodeText,
    context: ctxUnicode,
    pad: 'bucket-64',
    masterKey: MASTER_KEY_2,
    masterKeyId: 'eu-master-2024',
    providerId: 'local-eu',
  },
];

function plaintextHex(value: FieldValue, bucket: number): string {
  return Buffer.concat(encodePlaintext(value, bucket).parts).toString('hex');
}

function text(bytes: Buffer): string {
  return 'fs1:' + bytes.toString('base64url');
}

function sameValue(actual: unknown, expected: FieldValue): void {
  if (typeof expected === 'number') {
    expect(Object.is(actual, expected)).toBe(true);
  } else if (Buffer.isBuffer(expected)) {
    expect(Buffer.isBuffer(actual)).toBe(true);
    expect(Buffer.compare(actual as Buffer, expected)).toBe(0);
  } else if (expected instanceof Uint8Array) {
    expect(actual instanceof Uint8Array && !Buffer.isBuffer(actual)).toBe(true);
    expect(Buffer.from(actual as Uint8Array).equals(Buffer.from(expected))).toBe(true);
  } else {
    expect(actual).toStrictEqual(expected);
  }
}

function commonFields(c: Case, envelope: Buffer): Record<string, unknown> {
  return {
    context: c.context,
    contextHex: encodeContext(c.context).toString('hex'),
    value: describeValue(c.value),
    pad: c.pad,
    bucketSize: bucketSize(c.pad),
    plaintextHex: plaintextHex(c.value, bucketSize(c.pad)),
    envelopeHex: envelope.toString('hex'),
    envelopeText: text(envelope),
  };
}

describe.skipIf(process.env.FIELDSEAL_GENERATE_VECTORS !== '1')(
  'generate envelope v1 vectors',
  () => {
    it('writes test/vectors/envelope-v1.json', async () => {
      if (existsSync(OUT) && process.env.FIELDSEAL_OVERWRITE_FROZEN_VECTORS !== '1') {
        throw new Error(`${OUT} exists and is frozen; refusing to overwrite it`);
      }
      const vectors: Record<string, unknown>[] = [];

      for (const c of storeCases) {
        const key = DataKey.fromBytes(c.dataKey);
        try {
          const envelope = sealValue(
            key,
            encodeHeaderPrefix({ kind: 'store', keyId: c.keyId, version: c.version }),
            encodeContext(c.context),
            encodePlaintext(c.value, bucketSize(c.pad)),
          );
          sameValue(
            openValue(parseEnvelope(Buffer.from(envelope)), key, encodeContext(c.context)),
            c.value,
          );
          vectors.push({
            name: c.name,
            description: c.description,
            keyRef: { kind: 'store', keyId: c.keyId, version: c.version },
            dataKeyHex: c.dataKey.toString('hex'),
            ...commonFields(c, envelope),
          });
        } finally {
          key.release();
        }
      }

      for (const c of embeddedCases) {
        const fs = createFieldseal({
          provider: new LocalKeyProvider({
            id: c.providerId,
            source: new EnvSecretSource({
              keys: { [c.masterKeyId]: 'X' },
              env: { X: `hex:${c.masterKey.toString('hex')}` },
            }),
          }),
          keys: { mode: 'embedded', masterKeyId: c.masterKeyId },
          cache: { maxAgeMs: 1000 },
        });
        const envelope = await fs.encryptToBytes(c.value, c.context, { pad: c.pad });
        sameValue(await fs.decrypt(text(envelope), c.context), c.value);
        fs.clearCache();
        sameValue(await fs.decrypt(Buffer.from(envelope), c.context), c.value);
        const wrapped = parseEnvelope(Buffer.from(envelope)).keyRef;
        if (wrapped.kind !== 'embedded') throw new Error('expected an embedded key reference');
        vectors.push({
          name: c.name,
          description: c.description,
          keyRef: {
            kind: 'embedded',
            providerId: c.providerId,
            masterKeyId: c.masterKeyId,
            wrappedKeyHex: Buffer.from(wrapped.wrapped).toString('hex'),
          },
          masterKeyHex: c.masterKey.toString('hex'),
          masterKeyId: c.masterKeyId,
          providerId: c.providerId,
          ...commonFields(c, envelope),
        });
        fs.clearCache();
      }

      const doc = {
        format: 'fieldseal envelope v1',
        generated: new Date().toISOString(),
        generator: 'fieldseal 0.1.0, test/vectors/generate-envelope-vectors.test.ts',
        notes: [
          'FROZEN: every future fieldseal release must decrypt every vector here to exactly the recorded value. Never regenerate this file.',
          'Binary layout: 0xF5 magic | version 0x01 | suite 0x01 | flags | key ref | 24-byte XAES-256-GCM nonce | 32-byte key commitment | ciphertext | 16-byte GCM tag.',
          'flags: low 2 bits = key-ref kind (1 store, 2 embedded); bit 2 (0x04) = padded; bits 3-7 must be 0.',
          'Key ref, store: u8 len | keyId (UTF-8) | u32be version. Embedded: u8 len | providerId | u8 len | masterKeyId | u16be len | wrapped data key.',
          "Text form: 'fs1:' + unpadded base64url of the binary form (envelopeText and envelopeHex are the same bytes).",
          "Key schedule: root = HKDF-SHA256(dataKey, salt 'fieldseal/v1', info 'fieldseal/v1 xaes-256-gcm root key' || 0x01, 32); commitment = HKDF-SHA256(dataKey, salt 'fieldseal/v1', info 'fieldseal/v1 key commitment' || 0x01, 32).",
          'Cipher: XAES-256-GCM (c2sp.org/XAES-256-GCM) under root with the 24-byte nonce. AAD = every envelope byte before the ciphertext (prefix, nonce, commitment) followed by contextHex.',
          'contextHex: canonical context encoding: u16be count, then per entry sorted by UTF-8 bytes of the key: u8 keyLen | key | u8 kind (0 string, 1 list) | (u16be len | UTF-8) or (u8 n | (u16be len | UTF-8) * n).',
          'plaintextHex: the decrypted plaintext: type tag (1 string, 2 number, 3 bigint, 4 boolean, 5 Date, 6 Uint8Array, 7 Buffer, 8 JSON) | body | when padded, 0x80 then zeros up to a multiple of bucketSize.',
          "value: how to rebuild the expected JavaScript value: string -> value; number -> Number(value) ('-0', 'NaN', 'Infinity', '-Infinity' included; compare with Object.is); bigint -> BigInt(value); boolean -> value; date -> new Date(epochMs); uint8array -> new Uint8Array(bytes of hex) (NOT a Buffer); buffer -> Buffer.from(hex, 'hex'); json -> value as parsed.",
          'Store vectors: dataKeyHex is the 32-byte data key the envelope was sealed under (what a key store row unwraps to).',
          "Embedded vectors: the data key is wrapped by the local provider (LocalKeyProvider) under masterKeyHex, referenced as masterKeyId, provider id providerId. Wrapped form: 0x01 | 24-byte nonce | 32-byte encrypted data key | 16-byte tag, XAES-256-GCM under the master key with AAD 'fieldseal/local-wrap/v1' || 0x00 || u16be len || masterKeyId || canonical encoding of { tenant: context.tenant }.",
          'Nonces were random at generation time; re-encrypting gives different bytes, so compare decrypted values, never ciphertexts.',
        ],
        vectors,
      };
      writeFileSync(OUT, JSON.stringify(doc, null, 2) + '\n');
    });
  },
);
