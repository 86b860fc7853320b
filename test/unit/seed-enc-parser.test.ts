/**
 * The strict parser of the seed library's (pydynox) `ENC:` values: frozen vectors, every
 * boundary of the layout, and properties (random input only ever fails with
 * ERR_MALFORMED_CIPHERTEXT; writer → parser round-trips).
 */
import { createDecipheriv, createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MalformedCiphertextError, isFieldsealError } from '../../src/errors.js';
import { MAX_WRAPPED_KEY_BYTES } from '../../src/envelope/format.js';
import {
  MAX_SEED_TEXT_LENGTH,
  isSeedValue,
  parseSeedValue,
} from '../../src/dynamodb/seed-format/index.js';
import { seedVectors, vectorPlaintext, writeSeedValue } from './seed-enc-fixtures.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const enc = (bytes: Uint8Array) => `ENC:${Buffer.from(bytes).toString('base64')}`;

/** A packed body: version | u16be length | wrapped | rest. */
function pack(version: number, length: number, wrapped: number, rest: number): Uint8Array {
  const out = Buffer.alloc(3 + wrapped + rest, 0x5a);
  out[0] = version;
  out.writeUInt16BE(length, 1);
  return out;
}

function malformed(text: string): MalformedCiphertextError {
  let caught: unknown;
  try {
    parseSeedValue(text);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(MalformedCiphertextError);
  const err = caught as MalformedCiphertextError;
  expect(err.code).toBe('ERR_MALFORMED_CIPHERTEXT');
  // The message names a rule, never the value.
  expect(err.message).toMatch(/^seed "ENC:" value /);
  if (text.length > 8) expect(err.message).not.toContain(text.slice(4, 12));
  return err;
}

describe('seed ENC: parser — frozen vectors', () => {
  it.each(seedVectors.valid.map((v) => [v.name, v] as const))('parses valid vector: %s', (_, v) => {
    const env = parseSeedValue(v.text);
    expect(hex(env.wrappedKey)).toBe(v.wrappedKeyHex);
    expect(hex(env.nonce)).toBe(v.nonceHex);
    expect(env.tag.byteLength).toBe(16);
    expect(env.ciphertext.byteLength).toBe(v.plaintextUtf8Bytes);
    expect(Object.isFrozen(env)).toBe(true);
    // The vector itself is consistent: plain AES-256-GCM, no AAD, under its data key.
    const d = createDecipheriv('aes-256-gcm', Buffer.from(v.dataKeyHex, 'hex'), env.nonce, {
      authTagLength: 16,
    });
    d.setAuthTag(env.tag);
    const plain = Buffer.concat([d.update(env.ciphertext), d.final()]);
    expect(createHash('sha256').update(plain).digest('hex')).toBe(v.plaintextSha256);
    expect(plain.toString('utf8')).toBe(vectorPlaintext(v));
  });

  it('the large vector is about 100 KB', () => {
    const big = seedVectors.valid.find((v) => v.plaintextRepeat !== undefined);
    expect(big?.plaintextUtf8Bytes).toBeGreaterThan(95_000);
  });

  const malformedVectors = seedVectors.invalid.filter((v) => v.code === 'ERR_MALFORMED_CIPHERTEXT');
  const parseable = seedVectors.invalid.filter((v) => v.code !== 'ERR_MALFORMED_CIPHERTEXT');
  it.each(
    malformedVectors.filter((v) => !v.name.includes('not UTF-8')).map((v) => [v.name, v] as const),
  )('rejects invalid vector: %s', (_, v) => {
    malformed(v.text);
  });
  it.each(parseable.map((v) => [v.name, v] as const))(
    'parses (and leaves to the opener) vector: %s',
    (_, v) => {
      expect(() => parseSeedValue(v.text)).not.toThrow();
    },
  );
});

describe('seed ENC: parser — layout boundaries', () => {
  it('accepts the smallest value: 1-byte wrapped key, nonce, empty ciphertext, tag', () => {
    const env = parseSeedValue(enc(pack(1, 1, 1, 28)));
    expect(env.wrappedKey.byteLength).toBe(1);
    expect(env.nonce.byteLength).toBe(12);
    expect(env.ciphertext.byteLength).toBe(0);
    expect(env.tag.byteLength).toBe(16);
  });

  it('rejects one byte less than nonce + tag', () => {
    malformed(enc(pack(1, 1, 1, 27)));
  });

  it('wrapped length: 0 rejected, MAX_WRAPPED_KEY_BYTES accepted, one more rejected', () => {
    malformed(enc(pack(1, 0, 0, 28)));
    expect(
      parseSeedValue(enc(pack(1, MAX_WRAPPED_KEY_BYTES, MAX_WRAPPED_KEY_BYTES, 28))).wrappedKey
        .byteLength,
    ).toBe(MAX_WRAPPED_KEY_BYTES);
    malformed(enc(pack(1, MAX_WRAPPED_KEY_BYTES + 1, MAX_WRAPPED_KEY_BYTES + 1, 28)));
  });

  it('wrapped length larger than the remaining bytes is rejected', () => {
    malformed(enc(pack(1, 100, 50, 28)));
  });

  it('only version byte 1 is accepted', () => {
    for (let version = 0; version < 256; version++) {
      const text = enc(pack(version, 4, 4, 40));
      if (version === 1) expect(() => parseSeedValue(text)).not.toThrow();
      else expect(malformed(text).message).toContain('version');
    }
  });

  it('rejects texts shorter than a header and the bare prefix', () => {
    for (const t of ['ENC:', 'ENC:AQ==', 'ENC:AQA=']) malformed(t);
  });

  it('rejects anything longer than a DynamoDB item', () => {
    const body = Buffer.alloc(((MAX_SEED_TEXT_LENGTH - 4) / 4) * 3 + 3).toString('base64');
    expect(`ENC:${body}`.length).toBeGreaterThan(MAX_SEED_TEXT_LENGTH);
    expect(malformed(`ENC:${body}`).message).toContain('longer');
  });

  it('base64 must be standard, padded, canonical, without whitespace', () => {
    const good = enc(pack(1, 5, 5, 30)); // 38 bytes: ends with "="
    expect(good.endsWith('=')).toBe(true);
    expect(() => parseSeedValue(good)).not.toThrow();
    malformed(good.replace(/=+$/, '')); // unpadded
    malformed(`${good}=`); // extra padding
    malformed(` ${good.slice(4)}`); // no prefix
    malformed(`ENC: ${good.slice(4)}`);
    malformed(`${good}\n`);
    malformed(`${good.slice(0, 10)}\t${good.slice(10)}`);
    malformed(`ENC:${good.slice(4).replace(/A/g, '-')}`);
    // Non-zero trailing bits: "...Wg=" decodes like "...WQ=" in lenient decoders.
    const body = good.slice(4, -1);
    const last = body.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const tweaked = alphabet[alphabet.indexOf(last) ^ 1]!;
    expect(Buffer.from(`${body.slice(0, -1)}${tweaked}=`, 'base64')).toEqual(
      Buffer.from(`${body}=`, 'base64'),
    );
    malformed(`ENC:${body.slice(0, -1)}${tweaked}=`);
  });

  it('isSeedValue is the prefix test pydynox uses', () => {
    expect(isSeedValue('ENC:anything')).toBe(true);
    expect(isSeedValue('ENC:')).toBe(true);
    expect(isSeedValue('enc:x')).toBe(false);
    expect(isSeedValue('fs1:abc')).toBe(false);
    expect(isSeedValue(42)).toBe(false);
    expect(isSeedValue(undefined)).toBe(false);
  });

  it('a non-string is a TypeError (an argument mistake, not data)', () => {
    expect(() => parseSeedValue(42 as unknown as string)).toThrow(TypeError);
  });
});

describe('seed ENC: parser — properties', () => {
  const onlyMalformed = (text: string) => {
    try {
      parseSeedValue(text);
    } catch (err) {
      if (!(isFieldsealError(err) && err.code === 'ERR_MALFORMED_CIPHERTEXT')) throw err;
    }
  };

  it('random strings never throw anything but ERR_MALFORMED_CIPHERTEXT', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => {
        onlyMalformed(s);
        onlyMalformed(`ENC:${s}`);
      }),
      { numRuns: 2000 },
    );
  });

  it('ENC: + base64 of random bytes never throws anything but ERR_MALFORMED_CIPHERTEXT', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        onlyMalformed(enc(bytes));
        const versioned = Uint8Array.from([1, ...bytes]);
        onlyMalformed(enc(versioned));
      }),
      { numRuns: 2000 },
    );
  });

  it('well-formed random layouts parse back to their parts', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 600 }),
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc.uint8Array({ maxLength: 300 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        (wrapped, nonce, ciphertext, tag) => {
          const len = Buffer.alloc(2);
          len.writeUInt16BE(wrapped.byteLength);
          const env = parseSeedValue(
            enc(Buffer.concat([Buffer.from([1]), len, wrapped, nonce, ciphertext, tag])),
          );
          expect(hex(env.wrappedKey)).toBe(hex(wrapped));
          expect(hex(env.nonce)).toBe(hex(nonce));
          expect(hex(env.ciphertext)).toBe(hex(ciphertext));
          expect(hex(env.tag)).toBe(hex(tag));
        },
      ),
    );
  });

  it('writer → parser: the seed writer output always parses; ciphertext length = UTF-8 length', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 100 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        (plaintext, key, wrapped) => {
          const env = parseSeedValue(writeSeedValue(key, wrapped, plaintext));
          expect(env.ciphertext.byteLength).toBe(Buffer.byteLength(plaintext, 'utf8'));
          expect(hex(env.wrappedKey)).toBe(hex(wrapped));
        },
      ),
    );
  });

  it('any single-character change to a valid vector parses or fails as malformed', () => {
    const text = seedVectors.valid[1]!.text;
    fc.assert(
      fc.property(
        fc.nat({ max: text.length - 1 }),
        fc.string({ unit: 'binary-ascii', minLength: 0, maxLength: 2 }),
        (at, replacement) => {
          onlyMalformed(text.slice(0, at) + replacement + text.slice(at + 1));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
