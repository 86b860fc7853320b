import { MalformedCiphertextError } from '../../index.js';
import { MAX_WRAPPED_KEY_BYTES } from '../../integration/index.js';
import {
  MAX_SEED_TEXT_LENGTH,
  SEED_HEADER_LENGTH,
  SEED_NONCE_LENGTH,
  SEED_PREFIX,
  SEED_TAG_LENGTH,
  SEED_VERSION,
  type SeedEnvelope,
} from './seed-format.js';

/**
 * Canonical RFC 4648 §4 base64: standard alphabet, `=` padding to a multiple of four, nothing
 * else (no whitespace, no `-`/`_`). pydynox encodes with the Rust `base64` crate's `STANDARD`
 * engine, whose decoder demands the same (canonical padding, no trailing bits).
 */
const CANONICAL_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Whether `value` is a seed value by pydynox's own test: a string starting with `ENC:`. Cheap,
 * and says nothing about whether the rest parses (use {@link parseSeedValue}).
 *
 * pydynox stores values without the prefix as plaintext, so a plaintext that happens to start
 * with `ENC:` is ambiguous in seed data itself; pydynox treats it as encrypted, and so does this.
 *
 * @example
 * ```ts
 * if (isSeedValue(item.ssn)) legacy.push({ text: item.ssn, context });
 * ```
 */
export function isSeedValue(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(SEED_PREFIX);
}

/**
 * Parse a pydynox `ENC:` value strictly, without any key:
 * `ENC:` + canonical base64 of `0x01 | u16be n | wrapped key (n) | nonce (12) | ciphertext | tag (16)`.
 *
 * Rejects: a missing prefix, text over {@link MAX_SEED_TEXT_LENGTH}, base64 that is URL-safe,
 * unpadded, contains whitespace or is not canonical (non-zero trailing bits), a version other
 * than 1, a wrapped-key length of 0 or over `MAX_WRAPPED_KEY_BYTES`, and fewer bytes than
 * the wrapped key, nonce and tag need. The result is checked only for shape: whether the key
 * unwraps and the tag verifies is {@link openSeedValues}'s job.
 *
 * @throws MalformedCiphertextError (`ERR_MALFORMED_CIPHERTEXT`) for every rejection; the
 *   message names the rule, never the value.
 * @throws TypeError when `text` is not a string.
 * @example
 * ```ts
 * const { wrappedKey, nonce, ciphertext, tag } = parseSeedValue('ENC:AQAB...');
 * ```
 */
export function parseSeedValue(text: string): SeedEnvelope {
  if (typeof text !== 'string') throw new TypeError(`text: expected a string, got ${typeof text}`);
  if (!text.startsWith(SEED_PREFIX)) fail('does not start with "ENC:"');
  if (text.length > MAX_SEED_TEXT_LENGTH) fail('is longer than a DynamoDB item can be');
  const body = text.slice(SEED_PREFIX.length);
  if (!CANONICAL_BASE64.test(body)) fail('is not padded standard base64');
  const bytes = Buffer.from(body, 'base64');
  // The pattern admits non-zero trailing bits ("QQ==" vs "QR=="); a round trip does not.
  if (bytes.toString('base64') !== body) fail('is not canonical base64');
  if (bytes.byteLength < SEED_HEADER_LENGTH) fail('is too short for a header');
  if (bytes[0] !== SEED_VERSION) fail('has an unsupported version byte');
  const wrappedLength = bytes.readUInt16BE(1);
  if (wrappedLength < 1 || wrappedLength > MAX_WRAPPED_KEY_BYTES) {
    fail('has a wrapped-key length out of range');
  }
  const nonceAt = SEED_HEADER_LENGTH + wrappedLength;
  const ciphertextAt = nonceAt + SEED_NONCE_LENGTH;
  const tagAt = bytes.byteLength - SEED_TAG_LENGTH;
  if (tagAt < ciphertextAt) fail('is truncated');
  return Object.freeze({
    wrappedKey: bytes.subarray(SEED_HEADER_LENGTH, nonceAt),
    nonce: bytes.subarray(nonceAt, ciphertextAt),
    ciphertext: bytes.subarray(ciphertextAt, tagAt),
    tag: bytes.subarray(tagAt),
  });
}

function fail(rule: string): never {
  throw new MalformedCiphertextError(`seed "ENC:" value ${rule}`);
}
