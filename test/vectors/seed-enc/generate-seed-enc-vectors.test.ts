/**
 * ONE-SHOT GENERATOR of the frozen seed `ENC:` vectors (test/vectors/seed-enc/seed-enc-v1.json).
 *
 * Skipped unless FIELDSEAL_GENERATE_VECTORS=1 (as test/vectors/generate-envelope-vectors.test.ts),
 * so the normal test run never writes anything.
 *
 * It re-implements, with node:crypto only and without importing fieldseal:
 *   - the seed library's (pydynox, src/kms/operations.rs) writer: AES-256-GCM with a 12-byte
 *     nonce and no AAD, packed as 0x01 | u16be n | wrapped key | nonce | ciphertext | tag,
 *     then `ENC:` + standard padded base64;
 *   - the data-key wrap of fieldseal's LocalKeyProvider (src/kms/local/local-key-provider.ts),
 *     standing in for KMS GenerateDataKey so the vectors open without KMS:
 *     0x01 | nonce (24) | XAES-256-GCM(master, nonce, data key, AAD) | tag (16), with
 *     AAD = "fieldseal/local-wrap/v1\0" | u16be len | masterKeyId | canonical context map.
 *
 * Every key and nonce is SHA-256 of a fixed label, so a rerun writes the same bytes. The JSON
 * is FROZEN: tests must keep opening it. Never regenerate it to make a failing test pass.
 * It refuses to overwrite the file unless FIELDSEAL_OVERWRITE_FROZEN_VECTORS=1 is also set:
 *
 *   FIELDSEAL_GENERATE_VECTORS=1 FIELDSEAL_OVERWRITE_FROZEN_VECTORS=1 FIELDSEAL_TEST_NO_BUILD=1 \
 *     npx vitest run test/vectors/seed-enc/generate-seed-enc-vectors.test.ts
 */
import { createCipheriv, createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const OUT = fileURLToPath(new URL('./seed-enc-v1.json', import.meta.url));

const sha256 = (label: string): Buffer => createHash('sha256').update(label, 'utf8').digest();

const MASTER_KEY_ID = 'seed-master';
const MASTER_KEY = sha256('fieldseal seed-enc vector master key');
const PII = { tenant: 'acme-corp', purpose: 'pii' };

// --- XAES-256-GCM (C2SP XAES-256-GCM), as the LocalKeyProvider wraps data keys -------------

function xaesSeal(key: Buffer, nonce24: Buffer, plaintext: Buffer, aad: Buffer) {
  const ecb = createCipheriv('aes-256-ecb', key, null).setAutoPadding(false);
  const l = ecb.update(Buffer.alloc(16));
  const k1 = Buffer.alloc(16);
  for (let i = 0; i < 15; i++) k1[i] = ((l[i]! << 1) | (l[i + 1]! >>> 7)) & 0xff;
  k1[15] = (l[15]! << 1) & 0xff;
  if (l[0]! & 0x80) k1[15] ^= 0x87;
  const m = Buffer.concat([
    Buffer.from([0x00, 0x01, 0x58, 0x00]),
    nonce24.subarray(0, 12),
    Buffer.from([0x00, 0x02, 0x58, 0x00]),
    nonce24.subarray(0, 12),
  ]);
  for (let i = 0; i < 32; i++) m[i] = m[i]! ^ k1[i % 16]!;
  const kx = ecb.update(m);
  const gcm = createCipheriv('aes-256-gcm', kx, nonce24.subarray(12), { authTagLength: 16 });
  gcm.setAAD(aad);
  const ct = Buffer.concat([gcm.update(plaintext), gcm.final()]);
  return { ct, tag: gcm.getAuthTag() };
}

function canonicalMap(ctx: Record<string, string>): Buffer {
  const entries = Object.entries(ctx)
    .map(([k, v]): [Buffer, Buffer] => [Buffer.from(k, 'utf8'), Buffer.from(v, 'utf8')])
    .sort(([a], [b]) => Buffer.compare(a, b));
  const parts = [u16(entries.length)];
  for (const [k, v] of entries)
    parts.push(Buffer.from([k.length]), k, Buffer.from([0]), u16(v.length), v);
  return Buffer.concat(parts);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n, 0);
  return b;
}

function localWrap(dataKey: Buffer, context: Record<string, string>, label: string): Buffer {
  const nonce = sha256(`wrap nonce ${label}`).subarray(0, 24);
  const id = Buffer.from(MASTER_KEY_ID, 'utf8');
  const aad = Buffer.concat([
    Buffer.from('fieldseal/local-wrap/v1\0', 'utf8'),
    u16(id.length),
    id,
    canonicalMap(context),
  ]);
  const { ct, tag } = xaesSeal(MASTER_KEY, nonce, dataKey, aad);
  return Buffer.concat([Buffer.from([0x01]), nonce, ct, tag]);
}

// --- The seed writer (pydynox execute_encrypt / encrypt_local / pack_envelope) -------------

function sealSeed(dataKey: Buffer, nonce12: Buffer, plaintextBytes: Buffer): Buffer {
  const gcm = createCipheriv('aes-256-gcm', dataKey, nonce12, { authTagLength: 16 });
  const ct = Buffer.concat([gcm.update(plaintextBytes), gcm.final()]); // no AAD, as pydynox
  return Buffer.concat([ct, gcm.getAuthTag()]);
}

function packSeed(
  wrapped: Buffer,
  nonce12: Buffer,
  sealed: Buffer,
  version = 0x01,
  lengthField = wrapped.length,
): Buffer {
  return Buffer.concat([Buffer.from([version]), u16(lengthField), wrapped, nonce12, sealed]);
}

const text = (bytes: Buffer): string => `ENC:${bytes.toString('base64')}`;

/** One value as pydynox writes it, with deterministic data key and nonces. */
function write(label: string, plaintextBytes: Buffer, context: Record<string, string>) {
  const dataKey = sha256(`data key ${label}`);
  const nonce = sha256(`nonce ${label}`).subarray(0, 12);
  const wrapped = localWrap(dataKey, context, label);
  const sealed = sealSeed(dataKey, nonce, plaintextBytes);
  return { dataKey, nonce, wrapped, sealed, bytes: packSeed(wrapped, nonce, sealed) };
}

// --- Valid vectors ----------------------------------------------------------------------------

const BIG_UNIT = 'fieldseal seed migration ~ Grüße 🔐\n';
const BIG_COUNT = 2600; // ~100 KB of UTF-8
interface ValidSpec {
  name: string;
  plaintext?: string;
  plaintextRepeat?: { unit: string; count: number };
  context: Record<string, string>;
}
const validSpecs: ValidSpec[] = [
  { name: 'empty string', plaintext: '', context: PII },
  { name: 'ascii', plaintext: 'Hello, seed! 123-45-6789', context: PII },
  { name: 'multi-byte utf-8', plaintext: 'Zoë Ñandú — 日本語テキスト 🔐🦀 Ελληνικά', context: PII },
  { name: 'leading byte-order mark kept', plaintext: '\uFEFFbom first', context: PII },
  { name: 'empty encryption context', plaintext: 'no context configured', context: {} },
  { name: 'large (~100 KB)', plaintextRepeat: { unit: BIG_UNIT, count: BIG_COUNT }, context: PII },
];
const valid = validSpecs.map((spec) => {
  const plaintext =
    spec.plaintext ?? spec.plaintextRepeat!.unit.repeat(spec.plaintextRepeat!.count);
  const plaintextBytes = Buffer.from(plaintext, 'utf8');
  const v = write(spec.name, plaintextBytes, spec.context);
  return {
    name: spec.name,
    context: spec.context,
    ...(spec.plaintext !== undefined
      ? { plaintext: spec.plaintext }
      : { plaintextRepeat: spec.plaintextRepeat }),
    plaintextUtf8Bytes: plaintextBytes.length,
    plaintextSha256: createHash('sha256').update(plaintextBytes).digest('hex'),
    dataKeyHex: v.dataKey.toString('hex'),
    nonceHex: v.nonce.toString('hex'),
    wrappedKeyHex: v.wrapped.toString('hex'),
    text: text(v.bytes),
  };
});

// --- Invalid vectors --------------------------------------------------------------------------

const base = write('invalid base', Buffer.from('tamper target ±', 'utf8'), PII);
const baseText = text(base.bytes);
const MALFORMED = 'ERR_MALFORMED_CIPHERTEXT';

function flip(buf: Buffer, index: number): Buffer {
  const out = Buffer.from(buf);
  out[index] = out[index]! ^ 0x01;
  return out;
}

// Pick a label whose base64 holds both '+' and '/', so the URL-safe form differs.
let urlSafeSource: string | undefined;
for (let i = 0; urlSafeSource === undefined; i++) {
  const t = text(write(`url-safe ${i}`, Buffer.from('url safe', 'utf8'), PII).bytes);
  if (t.includes('+') && t.includes('/')) urlSafeSource = t;
}
// A body whose length is not a multiple of 3, so the canonical form has padding.
let padded = baseText;
for (let i = 0; !padded.endsWith('='); i++) {
  padded = text(write(`padded ${i}`, Buffer.from(`pad ${i}`, 'utf8'), PII).bytes);
}
const b64 = padded.slice(4);
const lastData = b64.replace(/=+$/, '');
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
// Set a low bit that canonical encoding leaves zero (2 bits for '=', 4 for '==').
const lastChar = lastData[lastData.length - 1]!;
const nonCanonical =
  'ENC:' +
  lastData.slice(0, -1) +
  ALPHABET[ALPHABET.indexOf(lastChar) | 1]! +
  b64.slice(lastData.length);

const bigWrapped = Buffer.alloc(2049, 7);
const invalid = [
  { name: 'no prefix', text: baseText.slice(4), code: MALFORMED },
  { name: 'lower-case prefix', text: `enc:${baseText.slice(4)}`, code: MALFORMED },
  { name: 'prefix only', text: 'ENC:', code: MALFORMED },
  { name: 'version 2', text: text(flip(base.bytes, 0).fill(2, 0, 1)), code: MALFORMED },
  { name: 'version 0', text: text(Buffer.from(base.bytes).fill(0, 0, 1)), code: MALFORMED },
  {
    // Still long enough for nonce + tag, so only the tag can tell: authentication fails.
    name: 'truncated by one byte',
    text: text(base.bytes.subarray(0, base.bytes.length - 1)),
    code: 'ERR_AUTHENTICATION_FAILED',
  },
  {
    name: 'truncated (fewer bytes than nonce + tag)',
    text: text(base.bytes.subarray(0, 3 + base.wrapped.length + 12 + 15)),
    code: MALFORMED,
  },
  {
    name: 'truncated (no nonce)',
    text: text(base.bytes.subarray(0, 3 + base.wrapped.length + 5)),
    code: MALFORMED,
  },
  { name: 'header only', text: text(base.bytes.subarray(0, 3)), code: MALFORMED },
  {
    name: 'length overflow (wrapped length beyond the data)',
    text: text(packSeed(base.wrapped, base.nonce, base.sealed, 1, 0xffff)),
    code: MALFORMED,
  },
  {
    name: 'wrapped length zero',
    text: text(packSeed(Buffer.alloc(0), base.nonce, base.sealed)),
    code: MALFORMED,
  },
  {
    name: 'wrapped length over MAX_WRAPPED_KEY_BYTES (2049)',
    text: text(packSeed(bigWrapped, base.nonce, base.sealed)),
    code: MALFORMED,
  },
  {
    name: 'url-safe base64',
    text: urlSafeSource.replaceAll('+', '-').replaceAll('/', '_'),
    code: MALFORMED,
  },
  { name: 'unpadded base64', text: padded.replace(/=+$/, ''), code: MALFORMED },
  {
    name: 'whitespace in base64',
    text: `${baseText.slice(0, 20)}\n${baseText.slice(20)}`,
    code: MALFORMED,
  },
  { name: 'trailing newline', text: `${baseText}\n`, code: MALFORMED },
  { name: 'non-canonical trailing bits', text: nonCanonical, code: MALFORMED },
  {
    name: 'bad tag',
    text: text(flip(base.bytes, base.bytes.length - 1)),
    code: 'ERR_AUTHENTICATION_FAILED',
  },
  {
    name: 'flipped ciphertext byte',
    text: text(flip(base.bytes, 3 + base.wrapped.length + 12)),
    code: 'ERR_AUTHENTICATION_FAILED',
  },
  {
    name: 'flipped nonce byte',
    text: text(flip(base.bytes, 3 + base.wrapped.length)),
    code: 'ERR_AUTHENTICATION_FAILED',
  },
  {
    name: 'flipped wrapped key byte',
    text: text(flip(base.bytes, 3 + 30)),
    code: 'ERR_KEY_UNWRAP_FAILED',
  },
  {
    name: 'wrong context',
    text: baseText,
    openContext: { tenant: 'acme-corp', purpose: 'billing' },
    code: 'ERR_KEY_UNWRAP_FAILED',
  },
  {
    name: 'plaintext is not UTF-8 (authentic)',
    text: text(write('not utf-8', Buffer.from([0x61, 0xff, 0xfe, 0x62]), PII).bytes),
    code: MALFORMED,
  },
].map((v: { name: string; text: string; code: string; openContext?: Record<string, string> }) => ({
  context: PII,
  ...v,
}));

describe.skipIf(process.env.FIELDSEAL_GENERATE_VECTORS !== '1')(
  'seed ENC: vector generator (FIELDSEAL_GENERATE_VECTORS=1)',
  () => {
    it('writes test/vectors/seed-enc/seed-enc-v1.json', () => {
      expect(nonCanonical).not.toBe(padded);
      const doc = {
        description:
          'Frozen vectors of the DynamoDB seed library (pydynox) ENC: format: ' +
          "'ENC:' + base64(0x01 | u16be n | wrapped key (n) | nonce (12) | AES-256-GCM ciphertext | tag (16)), no AAD. " +
          'Data keys are wrapped in the LocalKeyProvider format under masterKey (standing in for KMS). ' +
          'Open a vector with context (or openContext when given). ' +
          'Generated by generate-seed-enc-vectors.test.ts; do not edit.',
        masterKey: { id: MASTER_KEY_ID, hex: MASTER_KEY.toString('hex') },
        valid,
        invalid,
      };
      if (existsSync(OUT) && process.env.FIELDSEAL_OVERWRITE_FROZEN_VECTORS !== '1') {
        throw new Error(`${OUT} is frozen; set FIELDSEAL_OVERWRITE_FROZEN_VECTORS=1 to overwrite`);
      }
      writeFileSync(OUT, `${JSON.stringify(doc, null, 2)}\n`);
    });
  },
);
