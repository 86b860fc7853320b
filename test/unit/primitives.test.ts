/**
 * Known-answer tests for every cryptographic primitive fieldseal relies on.
 *
 * - AES-256-GCM (node:crypto, `authTagLength: 16`, as src/crypto/xaes-256-gcm.ts calls it):
 *   Wycheproof aes_gcm_test.json.
 * - HKDF-SHA256 (src/crypto/hkdf.ts): Wycheproof hkdf_sha256_test.json.
 * - HMAC-SHA256 (node:crypto) verified with constantTimeEqual (src/crypto/constant-time.ts):
 *   Wycheproof hmac_sha256_test.json, full and truncated tags.
 * - XAES-256-GCM (src/crypto/xaes-256-gcm.ts): the C2SP vectors, including the intermediate
 *   K_x values and the 10,000-iteration accumulated randomized test; the raw AES-256 block
 *   function its KDF uses: FIPS-197 Appendix C.3.
 * - The pooled CSPRNG (src/crypto/random.ts): no repeated draws, pool refills, large draws.
 *
 * Rule for the Wycheproof files: every `valid` vector must give the expected output and
 * every `invalid` vector must be rejected. An `acceptable` vector (none in these copies)
 * fails the test so that someone decides explicitly what to do with it. Loops count what
 * they ran and compare with the vector file, so a filter that silently matches nothing fails.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  type CipherGCMTypes,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { constantTimeEqual } from '../../src/crypto/constant-time.js';
import { hkdfSha256 } from '../../src/crypto/hkdf.js';
import { fillRandom, randomBytesPooled } from '../../src/crypto/random.js';
import {
  GCM_TAG_LENGTH,
  XAES_NONCE_LENGTH,
  XaesRootKey,
  xaesOpen,
  xaesSeal,
} from '../../src/crypto/xaes-256-gcm.js';
import {
  COMMITMENT_LENGTH,
  DATA_KEY_LENGTH,
  NONCE_LENGTH,
  TAG_LENGTH,
} from '../../src/envelope/format.js';
import { AuthenticationFailedError, InvalidKeyMaterialError } from '../../src/errors.js';

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/** Decode hex, refusing odd lengths and non-hex characters (Buffer.from would truncate). */
function hex(s: string): Buffer {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(s)) throw new Error(`not a hex string: ${s}`);
  return Buffer.from(s, 'hex');
}

function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

function utf8(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

/** A copy of `b` with bit `bit` (0 = most significant bit of byte 0) inverted. */
function flipBit(b: Uint8Array, bit: number): Buffer {
  const out = Buffer.from(b);
  out[bit >> 3] = out[bit >> 3]! ^ (0x80 >> (bit & 7));
  return out;
}

function sum(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

type Attempt<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Run `fn` and report its value or what it threw. */
function attempt<T>(fn: () => T): Attempt<T> {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** Run `fn`; return the thrown value, or `undefined` when it returned normally. */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

function describeError(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : typeof err;
}

function throws(fn: () => unknown): boolean {
  return thrownBy(fn) !== undefined;
}

/** Why `fn` did not fail with AuthenticationFailedError, or `undefined` when it did. */
function notAuthFailure(fn: () => unknown): string | undefined {
  const err = thrownBy(fn);
  if (err === undefined) return 'accepted';
  if (!(err instanceof AuthenticationFailedError)) return `threw ${describeError(err)}`;
  if (err.code !== 'ERR_AUTHENTICATION_FAILED') return `threw code ${String(err.code)}`;
  return undefined;
}

// --- Wycheproof files ------------------------------------------------------------------------

type WycheproofResult = 'valid' | 'invalid' | 'acceptable';

interface WycheproofTest {
  tcId: number;
  comment: string;
  flags: string[];
  result: WycheproofResult;
}

interface WycheproofFile<G extends { tests: WycheproofTest[] }> {
  algorithm: string;
  numberOfTests: number;
  testGroups: G[];
}

interface AeadTest extends WycheproofTest {
  key: string;
  iv: string;
  aad: string;
  msg: string;
  ct: string;
  tag: string;
}
interface AeadGroup {
  keySize: number;
  ivSize: number;
  tagSize: number;
  tests: AeadTest[];
}

interface HkdfTest extends WycheproofTest {
  ikm: string;
  salt: string;
  info: string;
  size: number;
  okm: string;
}
interface HkdfGroup {
  keySize: number;
  tests: HkdfTest[];
}

interface MacTest extends WycheproofTest {
  key: string;
  msg: string;
  tag: string;
}
interface MacGroup {
  keySize: number;
  tagSize: number;
  tests: MacTest[];
}

function loadWycheproof<G extends { tests: WycheproofTest[] }>(name: string): WycheproofFile<G> {
  const url = new URL(`../vectors/wycheproof/${name}`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as WycheproofFile<G>;
}

function testsIn(groups: readonly { tests: readonly WycheproofTest[] }[]): number {
  return sum(groups.map((g) => g.tests.length));
}

// --- AES-GCM exactly as src/crypto/xaes-256-gcm.ts drives OpenSSL -----------------------------

function decodeAead(t: AeadTest): Record<'key' | 'iv' | 'aad' | 'msg' | 'ct' | 'tag', Buffer> {
  return {
    key: hex(t.key),
    iv: hex(t.iv),
    aad: hex(t.aad),
    msg: hex(t.msg),
    ct: hex(t.ct),
    tag: hex(t.tag),
  };
}

function gcmName(key: Uint8Array): CipherGCMTypes {
  if (key.byteLength === 16) return 'aes-128-gcm';
  if (key.byteLength === 24) return 'aes-192-gcm';
  return 'aes-256-gcm';
}

function gcmEncrypt(
  key: Uint8Array,
  iv: Uint8Array,
  aad: Uint8Array,
  msg: Uint8Array,
): { ct: Buffer; tag: Buffer } {
  const cipher = createCipheriv(gcmName(key), key, iv, { authTagLength: GCM_TAG_LENGTH });
  cipher.setAAD(aad);
  const ct = Buffer.concat([cipher.update(msg), cipher.final()]);
  return { ct, tag: cipher.getAuthTag() };
}

/** Decrypt and verify; throws when OpenSSL rejects anything (tag, IV, tag length). */
function gcmDecrypt(
  key: Uint8Array,
  iv: Uint8Array,
  aad: Uint8Array,
  ct: Uint8Array,
  tag: Uint8Array,
): Buffer {
  const decipher = createDecipheriv(gcmName(key), key, iv, { authTagLength: GCM_TAG_LENGTH });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  const out = decipher.update(ct);
  decipher.final();
  return out;
}

// ---------------------------------------------------------------------------------------------
// 1. AES-GCM
// ---------------------------------------------------------------------------------------------

describe('AES-256-GCM through node:crypto with authTagLength 16 (Wycheproof)', () => {
  const file = loadWycheproof<AeadGroup>('aes_gcm_test.json');
  /** The only AES-GCM parameters XAES-256-GCM ever uses. */
  const isOurs = (g: AeadGroup): boolean =>
    g.keySize === 256 && g.ivSize === 96 && g.tagSize === 128;

  it('the vector file is complete', () => {
    expect(file.algorithm).toBe('AES-GCM');
    expect(testsIn(file.testGroups)).toBe(file.numberOfTests);
    expect(file.numberOfTests).toBe(316);
  });

  it('256-bit key / 96-bit IV / 128-bit tag: valid vectors match, invalid ones are rejected', () => {
    const groups = file.testGroups.filter(isOurs);
    const failures: string[] = [];
    let valid = 0;
    let invalid = 0;
    for (const g of groups) {
      for (const t of g.tests) {
        const { key, iv, aad, msg, ct, tag } = decodeAead(t);
        const id = `tcId ${t.tcId} (${t.comment || t.flags.join(',')})`;
        if (t.result === 'valid') {
          valid++;
          const enc = gcmEncrypt(key, iv, aad, msg);
          if (!enc.ct.equals(ct)) failures.push(`${id}: ciphertext ${toHex(enc.ct)}`);
          if (!enc.tag.equals(tag)) failures.push(`${id}: tag ${toHex(enc.tag)}`);
          const dec = attempt(() => gcmDecrypt(key, iv, aad, ct, tag));
          if (!dec.ok) failures.push(`${id}: valid vector rejected: ${describeError(dec.error)}`);
          else if (!dec.value.equals(msg)) failures.push(`${id}: decrypted to ${toHex(dec.value)}`);
        } else if (t.result === 'invalid') {
          invalid++;
          if (!throws(() => gcmDecrypt(key, iv, aad, ct, tag))) {
            failures.push(`${id}: INVALID VECTOR ACCEPTED`);
          }
        } else {
          failures.push(`${id}: result "${t.result}" has no policy here`);
        }
      }
    }
    expect(failures).toEqual([]);
    // Every test of the selected groups ran (a filter matching nothing cannot pass)...
    expect(valid + invalid).toBe(testsIn(groups));
    expect(valid).toBeGreaterThan(0);
    expect(invalid).toBeGreaterThan(0);
    // ...and the selection is the one documented in test/vectors/wycheproof/README.md.
    expect({ groups: groups.length, valid, invalid }).toEqual({
      groups: 1,
      valid: 39,
      invalid: 27,
    });
  });

  it('other 256-bit groups: invalid vectors with a 96-bit IV are rejected too', () => {
    // XAES-256-GCM only ever hands AES-GCM a 96-bit IV (the last 12 nonce bytes), so vectors
    // for other IV sizes are skipped: we never use them. In this copy of the file the only
    // other 256-bit invalid vectors are the two zero-length-IV ones, so nothing extra runs;
    // the assertions below make a future vector file that adds relevant ones visible.
    const others = file.testGroups.filter((g) => g.keySize === 256 && !isOurs(g));
    const failures: string[] = [];
    const skipped: number[] = [];
    let ran = 0;
    for (const g of others) {
      for (const t of g.tests) {
        if (t.result !== 'invalid') continue;
        if (g.ivSize !== 96) {
          skipped.push(t.tcId);
          continue;
        }
        ran++;
        const { key, iv, aad, ct, tag } = decodeAead(t);
        if (!throws(() => gcmDecrypt(key, iv, aad, ct, tag))) {
          failures.push(`tcId ${t.tcId}: INVALID VECTOR ACCEPTED`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(ran).toBe(0);
    expect(skipped).toEqual([315, 316]);
    expect(others.every((g) => g.ivSize !== 96 || g.tagSize !== 128)).toBe(true);
  });

  it('authTagLength 16 makes OpenSSL refuse every truncated or extended tag', () => {
    // Without `authTagLength`, Node/OpenSSL accepts GCM tags as short as 4 bytes.
    const tests = file.testGroups.filter(isOurs).flatMap((g) => g.tests);
    const valid = tests.filter((t) => t.result === 'valid');
    const accepted: string[] = [];
    for (const t of valid) {
      const { key, iv, aad, ct, tag } = decodeAead(t);
      for (const length of [0, 4, 8, 12, 13, 14, 15, 17]) {
        const odd = length <= 16 ? tag.subarray(0, length) : Buffer.concat([tag, Buffer.alloc(1)]);
        if (!throws(() => gcmDecrypt(key, iv, aad, ct, odd))) {
          accepted.push(`tcId ${t.tcId}, tag length ${length}`);
        }
      }
    }
    expect(valid.length).toBe(39);
    expect(accepted).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// 2. HKDF-SHA256
// ---------------------------------------------------------------------------------------------

describe('HKDF-SHA256 via hkdfSha256 (Wycheproof)', () => {
  const file = loadWycheproof<HkdfGroup>('hkdf_sha256_test.json');

  it('the vector file is complete', () => {
    expect(file.algorithm).toBe('HKDF-SHA-256');
    expect(testsIn(file.testGroups)).toBe(file.numberOfTests);
    expect(file.numberOfTests).toBe(86);
  });

  it('valid vectors give okm; invalid ones (output too long) throw', () => {
    const failures: string[] = [];
    let valid = 0;
    let invalid = 0;
    for (const g of file.testGroups) {
      for (const t of g.tests) {
        const id = `tcId ${t.tcId} (${t.comment || t.flags.join(',')})`;
        const derive = (): Buffer => hkdfSha256(hex(t.ikm), hex(t.salt), hex(t.info), t.size);
        if (t.result === 'valid') {
          valid++;
          const okm = attempt(derive);
          if (!okm.ok) failures.push(`${id}: valid vector rejected: ${describeError(okm.error)}`);
          else if (!okm.value.equals(hex(t.okm))) failures.push(`${id}: okm ${toHex(okm.value)}`);
        } else if (t.result === 'invalid') {
          invalid++;
          if (!throws(derive)) failures.push(`${id}: INVALID VECTOR ACCEPTED`);
        } else {
          failures.push(`${id}: result "${t.result}" has no policy here`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(valid + invalid).toBe(file.numberOfTests);
    expect(invalid).toBeGreaterThan(0);
    expect({ valid, invalid }).toEqual({ valid: 83, invalid: 3 });
  });

  it('RFC 5869 A.1 and the 255 * HashLen output limit', () => {
    const okm = hkdfSha256(
      hex('0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b'),
      hex('000102030405060708090a0b0c'),
      hex('f0f1f2f3f4f5f6f7f8f9'),
      42,
    );
    expect(toHex(okm)).toBe(
      '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
    );
    expect(hkdfSha256(Buffer.alloc(32), Buffer.alloc(0), Buffer.alloc(0), 255 * 32)).toHaveLength(
      8160,
    );
    expect(() =>
      hkdfSha256(Buffer.alloc(32), Buffer.alloc(0), Buffer.alloc(0), 255 * 32 + 1),
    ).toThrow();
  });
});

// ---------------------------------------------------------------------------------------------
// 3. HMAC-SHA256 and constantTimeEqual
// ---------------------------------------------------------------------------------------------

describe('HMAC-SHA256 via node:crypto, verified with constantTimeEqual (Wycheproof)', () => {
  const file = loadWycheproof<MacGroup>('hmac_sha256_test.json');

  it('the vector file is complete', () => {
    expect(file.algorithm).toBe('HMACSHA256');
    expect(testsIn(file.testGroups)).toBe(file.numberOfTests);
    expect(file.numberOfTests).toBe(174);
  });

  it('valid tags verify and invalid ones do not, for full and truncated tags', () => {
    const failures: string[] = [];
    const counts = {
      full: { valid: 0, invalid: 0 },
      truncated: { valid: 0, invalid: 0 },
    };
    for (const g of file.testGroups) {
      const kind = g.tagSize === 256 ? 'full' : 'truncated';
      for (const t of g.tests) {
        const id = `tcId ${t.tcId} (tagSize ${g.tagSize}, ${t.comment || t.flags.join(',')})`;
        const mac = createHmac('sha256', hex(t.key)).update(hex(t.msg)).digest();
        const verifies = constantTimeEqual(mac.subarray(0, g.tagSize / 8), hex(t.tag));
        if (t.result === 'valid') {
          counts[kind].valid++;
          if (!verifies) failures.push(`${id}: valid tag rejected, HMAC is ${toHex(mac)}`);
        } else if (t.result === 'invalid') {
          counts[kind].invalid++;
          if (verifies) failures.push(`${id}: INVALID TAG ACCEPTED`);
        } else {
          failures.push(`${id}: result "${t.result}" has no policy here`);
        }
      }
    }
    expect(failures).toEqual([]);
    const total = counts.full.valid + counts.full.invalid;
    expect(total + counts.truncated.valid + counts.truncated.invalid).toBe(file.numberOfTests);
    expect(counts.full.invalid).toBeGreaterThan(0);
    expect(counts.truncated.invalid).toBeGreaterThan(0);
    expect(counts).toEqual({
      full: { valid: 33, invalid: 54 },
      truncated: { valid: 33, invalid: 54 },
    });
    expect(file.testGroups.map((g) => g.tagSize).sort()).toEqual([128, 128, 128, 256, 256, 256]);
  });
});

describe('constantTimeEqual', () => {
  it('is false for different lengths, even when one is a prefix of the other', () => {
    expect(constantTimeEqual(new Uint8Array(0), new Uint8Array(1))).toBe(false);
    expect(constantTimeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2))).toBe(false);
    expect(constantTimeEqual(Buffer.alloc(32), Buffer.alloc(16))).toBe(false);
  });

  it('is true for equal contents, including empty inputs and views at offsets', () => {
    expect(constantTimeEqual(new Uint8Array(0), new Uint8Array(0))).toBe(true);
    const a = hex('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff');
    expect(constantTimeEqual(a, Buffer.from(a))).toBe(true);
    // Views into a larger buffer: only the viewed bytes count.
    const big = Buffer.concat([Buffer.from('junk'), a, Buffer.from('more junk')]);
    expect(constantTimeEqual(big.subarray(4, 4 + a.length), a)).toBe(true);
    expect(constantTimeEqual(new Uint8Array(big.buffer, big.byteOffset + 4, a.length), a)).toBe(
      true,
    );
  });

  it('is false when exactly one bit differs, at every bit position', () => {
    const a = hex('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff');
    const accepted: number[] = [];
    for (let bit = 0; bit < a.length * 8; bit++) {
      if (constantTimeEqual(a, flipBit(a, bit))) accepted.push(bit);
    }
    expect(accepted).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// 4. XAES-256-GCM and the AES-256 block function
// ---------------------------------------------------------------------------------------------

describe('AES-256 block function (FIPS-197 Appendix C.3) via aes-256-ecb', () => {
  it('encrypts and decrypts the known answer', () => {
    const key = hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
    const plaintext = hex('00112233445566778899aabbccddeeff');
    const expected = '8ea2b7ca516745bfeafc49904b496089';

    const ecb = createCipheriv('aes-256-ecb', key, null);
    ecb.setAutoPadding(false);
    const ct = Buffer.concat([ecb.update(plaintext), ecb.final()]);
    expect(toHex(ct)).toBe(expected);

    const dec = createDecipheriv('aes-256-ecb', key, null);
    dec.setAutoPadding(false);
    expect(toHex(Buffer.concat([dec.update(ct), dec.final()]))).toBe(toHex(plaintext));
  });
});

interface XaesVector {
  name: string;
  key: Buffer;
  nonce: Buffer;
  plaintext: Buffer;
  aad: Buffer;
  /** Derived AES-256-GCM key K_x from the C2SP spec. */
  kx: string;
  ciphertext: string;
  tag: string;
}

/** https://c2sp.org/XAES-256-GCM, "Test vectors". */
const C2SP_VECTORS: readonly XaesVector[] = [
  {
    name: 'key 01…01, empty AAD (MSB(L) = 0)',
    key: Buffer.alloc(32, 0x01),
    nonce: utf8('ABCDEFGHIJKLMNOPQRSTUVWX'),
    plaintext: utf8('XAES-256-GCM'),
    aad: utf8(''),
    kx: 'c8612c9ed53fe43e8e005b828a1631a0bbcb6ab2f46514ec4f439fcfd0fa969b',
    ciphertext: 'ce546ef63c9cc60765923609',
    tag: 'b33a9a1974e96e52daf2fcf7075e2271',
  },
  {
    name: 'key 03…03, AAD "c2sp.org/XAES-256-GCM" (MSB(L) = 1)',
    key: Buffer.alloc(32, 0x03),
    nonce: utf8('ABCDEFGHIJKLMNOPQRSTUVWX'),
    plaintext: utf8('XAES-256-GCM'),
    aad: utf8('c2sp.org/XAES-256-GCM'),
    kx: 'e9c621d4cdd9b11b00a6427ad7e559aeedd66b3857646677748f8ca796cb3fd8',
    ciphertext: '986ec1832593df5443a17943',
    tag: '7fd083bf3fdb41abd740a21f71eb769d',
  },
];

/** Seal and return ciphertext and tag as hex. */
function seal(
  root: XaesRootKey,
  nonce: Uint8Array,
  nonceOffset: number,
  aad: readonly Uint8Array[],
  parts: readonly Uint8Array[],
): { ciphertext: string; tag: string } {
  const { chunks, tag } = xaesSeal(root, nonce, nonceOffset, aad, parts);
  return { ciphertext: toHex(Buffer.concat(chunks)), tag: toHex(tag) };
}

/** `nonce` copied into a larger buffer at `offset`, surrounded by non-zero junk. */
function embedded(nonce: Uint8Array, offset: number): Buffer {
  const buf = Buffer.alloc(offset + nonce.length + 9, 0xa5);
  buf.set(nonce, offset);
  return buf;
}

describe('XAES-256-GCM (C2SP vectors)', () => {
  it('format constants agree with the primitive', () => {
    expect(XAES_NONCE_LENGTH).toBe(24);
    expect(GCM_TAG_LENGTH).toBe(16);
    expect(NONCE_LENGTH).toBe(XAES_NONCE_LENGTH);
    expect(TAG_LENGTH).toBe(GCM_TAG_LENGTH);
    expect(DATA_KEY_LENGTH).toBe(32);
    expect(COMMITMENT_LENGTH).toBe(32);
  });

  describe.each(C2SP_VECTORS)('$name', (v) => {
    it('derives K_x from the first 12 nonce bytes', () => {
      const root = new XaesRootKey(v.key);
      try {
        expect(toHex(root.deriveKey(v.nonce, 0))).toBe(v.kx);
        expect(toHex(root.deriveKey(embedded(v.nonce, 5), 5))).toBe(v.kx);
      } finally {
        root.destroy();
      }
    });

    it("derives a batch's keys in one call, each equal to its own derivation", () => {
      const root = new XaesRootKey(v.key);
      try {
        const other = Buffer.from(v.nonce.map((b) => b ^ 0x5a));
        const nonces = [
          { bytes: v.nonce, nonceOffset: 0 },
          { bytes: embedded(v.nonce, 5), nonceOffset: 5 },
          { bytes: other, nonceOffset: 0 },
        ];
        const keys = root.deriveKeys(nonces);
        expect(keys.byteLength).toBe(96);
        expect(toHex(keys.subarray(0, 32))).toBe(v.kx);
        expect(toHex(keys.subarray(32, 64))).toBe(v.kx);
        expect(keys.subarray(64)).toEqual(root.deriveKey(other, 0));
        expect(root.deriveKeys([]).byteLength).toBe(0);
        // Batches larger than the shared scratch buffer (128 keys), before and after it grew.
        for (const n of [129, 300, 5000, 7]) {
          const many = Array.from({ length: n }, (_, i) => ({
            bytes: Buffer.from(v.nonce.map((b) => b ^ i)),
            nonceOffset: 0,
          }));
          const derived = root.deriveKeys(many);
          expect(derived.byteLength).toBe(32 * n);
          for (const i of [0, n >> 1, n - 1]) {
            expect(derived.subarray(32 * i, 32 * i + 32)).toEqual(
              root.deriveKey(many[i]!.bytes, 0),
            );
          }
        }
        // A short nonce anywhere in the batch is refused, as for one key.
        expect(() =>
          root.deriveKeys([
            { bytes: v.nonce, nonceOffset: 0 },
            { bytes: v.nonce.subarray(0, 23), nonceOffset: 0 },
          ]),
        ).toThrow(RangeError);
        // A derived key of the wrong length is refused before any decryption.
        expect(() =>
          xaesOpen(root, v.nonce, 0, [v.aad], hex(v.ciphertext), hex(v.tag), keys.subarray(0, 31)),
        ).toThrow(InvalidKeyMaterialError);
        expect(
          xaesOpen(root, v.nonce, 0, [v.aad], hex(v.ciphertext), hex(v.tag), keys.subarray(0, 32)),
        ).toEqual(v.plaintext);
      } finally {
        root.destroy();
      }
    });

    it('seals to the expected ciphertext and tag, at any nonce offset', () => {
      const root = new XaesRootKey(v.key);
      try {
        const expected = { ciphertext: v.ciphertext, tag: v.tag };
        expect(seal(root, v.nonce, 0, [v.aad], [v.plaintext])).toEqual(expected);
        for (const offset of [1, 7, 16]) {
          expect(seal(root, embedded(v.nonce, offset), offset, [v.aad], [v.plaintext])).toEqual(
            expected,
          );
        }
      } finally {
        root.destroy();
      }
    });

    it('opens back to the plaintext, at any nonce offset', () => {
      const root = new XaesRootKey(v.key);
      try {
        const ct = hex(v.ciphertext);
        const tag = hex(v.tag);
        expect(xaesOpen(root, v.nonce, 0, [v.aad], ct, tag).toString('utf8')).toBe('XAES-256-GCM');
        expect(xaesOpen(root, embedded(v.nonce, 3), 3, [v.aad], ct, tag)).toEqual(v.plaintext);
      } finally {
        root.destroy();
      }
    });

    it('AAD and plaintext split into parts give the same result as one part', () => {
      const root = new XaesRootKey(v.key);
      try {
        const expected = { ciphertext: v.ciphertext, tag: v.tag };
        const aadSplits = [
          [v.aad.subarray(0, 9), v.aad.subarray(9)],
          [Buffer.alloc(0), v.aad, Buffer.alloc(0)],
          ...(v.aad.length === 0 ? [[]] : []),
        ];
        for (const aad of aadSplits) {
          expect(seal(root, v.nonce, 0, aad, [v.plaintext])).toEqual(expected);
          expect(xaesOpen(root, v.nonce, 0, aad, hex(v.ciphertext), hex(v.tag))).toEqual(
            v.plaintext,
          );
        }
        const pt = v.plaintext;
        for (const parts of [
          [pt.subarray(0, 5), pt.subarray(5)],
          [pt.subarray(0, 1), Buffer.alloc(0), pt.subarray(1, 11), pt.subarray(11)],
        ]) {
          expect(seal(root, v.nonce, 0, [v.aad], parts)).toEqual(expected);
        }
      } finally {
        root.destroy();
      }
    });

    it('rejects every single-bit change of ciphertext, tag, nonce and AAD', () => {
      const root = new XaesRootKey(v.key);
      const ct = hex(v.ciphertext);
      const tag = hex(v.tag);
      const accepted: string[] = [];
      let tried = 0;
      const check = (what: string, fn: () => unknown): void => {
        tried++;
        const why = notAuthFailure(fn);
        if (why !== undefined) accepted.push(`${what}: ${why}`);
      };
      try {
        for (let bit = 0; bit < ct.length * 8; bit++) {
          check(`ct bit ${bit}`, () => xaesOpen(root, v.nonce, 0, [v.aad], flipBit(ct, bit), tag));
        }
        for (let bit = 0; bit < tag.length * 8; bit++) {
          check(`tag bit ${bit}`, () => xaesOpen(root, v.nonce, 0, [v.aad], ct, flipBit(tag, bit)));
        }
        for (let bit = 0; bit < v.nonce.length * 8; bit++) {
          const nonce = flipBit(v.nonce, bit);
          check(`nonce bit ${bit}`, () => xaesOpen(root, nonce, 0, [v.aad], ct, tag));
        }
        for (let bit = 0; bit < v.aad.length * 8; bit++) {
          check(`aad bit ${bit}`, () => xaesOpen(root, v.nonce, 0, [flipBit(v.aad, bit)], ct, tag));
        }
        expect(accepted).toEqual([]);
        expect(tried).toBe(8 * (ct.length + tag.length + v.nonce.length + v.aad.length));
      } finally {
        root.destroy();
      }
    });

    it('rejects length changes, a wrong key and a nonce read at the wrong offset', () => {
      const root = new XaesRootKey(v.key);
      const other = new XaesRootKey(Buffer.alloc(32, 0x02));
      const ct = hex(v.ciphertext);
      const tag = hex(v.tag);
      const cases: [string, () => unknown][] = [
        ['tag truncated to 12', () => xaesOpen(root, v.nonce, 0, [v.aad], ct, tag.subarray(0, 12))],
        ['tag truncated to 15', () => xaesOpen(root, v.nonce, 0, [v.aad], ct, tag.subarray(0, 15))],
        ['empty tag', () => xaesOpen(root, v.nonce, 0, [v.aad], ct, Buffer.alloc(0))],
        ['tag extended', () => xaesOpen(root, v.nonce, 0, [v.aad], ct, Buffer.concat([tag, tag]))],
        ['ct truncated', () => xaesOpen(root, v.nonce, 0, [v.aad], ct.subarray(1), tag)],
        ['ct extended', () => xaesOpen(root, v.nonce, 0, [v.aad], Buffer.concat([ct, ct]), tag)],
        ['aad extended', () => xaesOpen(root, v.nonce, 0, [v.aad, Buffer.of(0)], ct, tag)],
        ['aad dropped', () => xaesOpen(root, v.nonce, 0, [], ct, tag)],
        ['wrong key', () => xaesOpen(other, v.nonce, 0, [v.aad], ct, tag)],
        [
          'nonce offset off by one',
          () => xaesOpen(root, embedded(v.nonce, 4), 3, [v.aad], ct, tag),
        ],
      ];
      const accepted: string[] = [];
      try {
        for (const [what, fn] of cases) {
          // 'aad dropped' is the identity for an empty AAD: it must then succeed.
          if (what === 'aad dropped' && v.aad.length === 0) {
            expect(fn()).toEqual(v.plaintext);
            continue;
          }
          const why = notAuthFailure(fn);
          if (why !== undefined) accepted.push(`${what}: ${why}`);
        }
        expect(accepted).toEqual([]);
      } finally {
        root.destroy();
        other.destroy();
      }
    });
  });

  it('XaesRootKey rejects keys that are not 32 bytes', () => {
    for (const length of [0, 1, 16, 24, 31, 33, 64]) {
      const err = thrownBy(() => new XaesRootKey(new Uint8Array(length)));
      expect(err, `key of ${length} bytes`).toBeInstanceOf(InvalidKeyMaterialError);
      expect((err as InvalidKeyMaterialError).code).toBe('ERR_INVALID_KEY_MATERIAL');
    }
  });

  it('refuses a nonce shorter than 24 bytes at its offset (it would become a short GCM IV)', () => {
    const root = new XaesRootKey(C2SP_VECTORS[0]!.key);
    for (const [nonce, offset] of [
      [new Uint8Array(20), 0],
      [new Uint8Array(23), 0],
      [new Uint8Array(24), 1],
      [new Uint8Array(30), 7],
      [new Uint8Array(24), -1],
    ] as const) {
      expect(() => xaesSeal(root, nonce, offset, [], [new Uint8Array(2)])).toThrow(RangeError);
      expect(() =>
        xaesOpen(root, nonce, offset, [], new Uint8Array(2), new Uint8Array(16)),
      ).toThrow(RangeError);
    }
    root.destroy();
  });

  it('a destroyed XaesRootKey refuses to derive, seal or open', () => {
    const v = C2SP_VECTORS[0]!;
    const root = new XaesRootKey(v.key);
    expect(root.destroyed).toBe(false);
    root.destroy();
    expect(root.destroyed).toBe(true);
    expect(() => root.destroy()).not.toThrow();
    for (const fn of [
      () => root.deriveKey(v.nonce, 0),
      () => root.deriveKeys([{ bytes: v.nonce, nonceOffset: 0 }]),
      () => root.deriveKeys([]),
      () => xaesSeal(root, v.nonce, 0, [v.aad], [v.plaintext]),
      () => xaesOpen(root, v.nonce, 0, [v.aad], hex(v.ciphertext), hex(v.tag)),
    ]) {
      const err = thrownBy(fn);
      expect(err).toBeInstanceOf(InvalidKeyMaterialError);
      expect((err as InvalidKeyMaterialError).code).toBe('ERR_INVALID_KEY_MATERIAL');
    }
  });
});

/**
 * C2SP "Accumulated randomized tests": a single SHAKE-128 instance with empty input is the
 * deterministic RNG; each iteration reads, in order, key[32], nonce[24], a length byte and
 * that many plaintext bytes, a length byte and that many AAD bytes (RFC 8446 §3 notation
 * `opaque x<0..255>`); the sealed ciphertext || tag is written to a second SHAKE-128 whose
 * first 32 output bytes are the result. The procedure and the expected hash are in
 * https://c2sp.org/XAES-256-GCM and match the reference test in filippo.io/xaes256gcm.
 */
describe('XAES-256-GCM (C2SP accumulated randomized test, 10,000 iterations)', () => {
  const ITERATIONS = 10_000;
  const EXPECTED = 'e6b9edf2df6cec60c8cbd864e2211b597fb69a529160cd040d56c0c210081939';
  /** Upper bound of bytes one iteration reads: 32 + 24 + 1 + 255 + 1 + 255. */
  const MAX_PER_ITERATION = 568;

  class ShakeStream {
    readonly #bytes: Buffer;
    #at = 0;
    constructor(length: number) {
      // SHAKE output is a prefix-stable stream, so one long squeeze is the same RNG.
      this.#bytes = createHash('shake128', { outputLength: length }).digest();
    }
    read(n: number): Buffer {
      if (this.#at + n > this.#bytes.length) throw new Error('RNG stream exhausted');
      const out = this.#bytes.subarray(this.#at, this.#at + n);
      this.#at += n;
      return out;
    }
  }

  it('the deterministic RNG starts as the spec says', () => {
    expect(toHex(new ShakeStream(16).read(16))).toBe('7f9c2ba4e88f827d616045507605853e');
  });

  it.each([
    { mode: 'one part, nonce at offset 0', split: false },
    { mode: 'AAD and plaintext in parts, nonce at varying offsets', split: true },
  ])('reproduces the expected hash: $mode', ({ split }) => {
    const rng = new ShakeStream(ITERATIONS * MAX_PER_ITERATION);
    const digest = createHash('shake128', { outputLength: 32 });
    const failures: number[] = [];
    for (let i = 0; i < ITERATIONS; i++) {
      const key = rng.read(32);
      const nonce = rng.read(24);
      const plaintext = rng.read(rng.read(1)[0]!);
      const aad = rng.read(rng.read(1)[0]!);

      const offset = split ? i % 5 : 0;
      const nonceBuf = split ? embedded(nonce, offset) : nonce;
      const aadParts = split
        ? [aad.subarray(0, aad.length >> 1), aad.subarray(aad.length >> 1)]
        : [aad];
      const cut = Math.floor(plaintext.length / 3);
      const parts = split ? [plaintext.subarray(0, cut), plaintext.subarray(cut)] : [plaintext];

      const root = new XaesRootKey(key);
      try {
        const { chunks, tag } = xaesSeal(root, nonceBuf, offset, aadParts, parts);
        const ct = Buffer.concat(chunks);
        const opened = xaesOpen(root, nonceBuf, offset, aadParts, ct, tag);
        if (!opened.equals(plaintext)) failures.push(i);
        digest.update(ct);
        digest.update(tag);
      } finally {
        root.destroy();
      }
    }
    expect(failures).toEqual([]);
    expect(digest.digest('hex')).toBe(EXPECTED);
  });
});

// ---------------------------------------------------------------------------------------------
// 5. Pooled CSPRNG
// ---------------------------------------------------------------------------------------------

describe('pooled CSPRNG (src/crypto/random.ts)', () => {
  it('never repeats a 24-byte draw across 10,000 draws (about 60 pool refills)', () => {
    const DRAWS = 10_000;
    const seen = new Set<string>();
    const byteCounts = new Array<number>(256).fill(0);
    for (let i = 0; i < DRAWS; i++) {
      const draw = randomBytesPooled(24);
      if (draw.length !== 24) throw new Error(`draw ${i} has ${draw.length} bytes`);
      seen.add(draw.toString('hex'));
      for (const b of draw) byteCounts[b]!++;
    }
    expect(seen.size).toBe(DRAWS);
    // 240,000 bytes: each value is expected 937.5 times (sd ~ 30.6). The bounds are > 8 sd
    // away, so this only catches gross failures such as zeroed or repeated pool regions.
    expect(Math.min(...byteCounts)).toBeGreaterThan(690);
    expect(Math.max(...byteCounts)).toBeLessThan(1190);
  });

  it('mixed draw sizes around the 4 KiB pool size stay distinct', () => {
    const seen = new Set<string>();
    const sizes = [24, 4095, 24, 4096, 1, 4097, 24, 2048, 2049, 24, 5000];
    for (let round = 0; round < 20; round++) {
      for (const size of sizes) {
        const draw = randomBytesPooled(size);
        expect(draw).toHaveLength(size);
        if (size >= 24) seen.add(draw.subarray(0, 24).toString('hex'));
        if (size >= 48) seen.add(draw.subarray(size - 24).toString('hex'));
      }
    }
    const expected =
      20 * (sizes.filter((s) => s >= 24).length + sizes.filter((s) => s >= 48).length);
    expect(seen.size).toBe(expected);
  });

  it('randomBytesPooled(5000), larger than the pool, fills the whole buffer', () => {
    const a = randomBytesPooled(5000);
    const b = randomBytesPooled(5000);
    expect(a).toHaveLength(5000);
    expect(b).toHaveLength(5000);
    for (let at = 0; at < 5000; at += 500) {
      const sa = a.subarray(at, at + 500);
      const sb = b.subarray(at, at + 500);
      expect(sa.equals(sb), `segment at ${at} repeats`).toBe(false);
      expect(sa.equals(Buffer.alloc(500)), `segment at ${at} is zero`).toBe(false);
    }
  });

  it('fillRandom writes exactly [at, at + length) of the target', () => {
    for (const [at, length] of [
      [0, 24],
      [1, 24],
      [13, 4096],
      [7, 5000],
    ] as const) {
      const target = Buffer.alloc(at + length + 16, 0xa5);
      fillRandom(target, at, length);
      expect(target.subarray(0, at).every((x) => x === 0xa5)).toBe(true);
      expect(target.subarray(at + length).every((x) => x === 0xa5)).toBe(true);
      expect(target.subarray(at, at + length).equals(Buffer.alloc(length, 0xa5))).toBe(false);
    }
  });
});
