import { MalformedCiphertextError, UnsupportedFormatError, WrongKeyError } from '../errors.js';
import { constantTimeEqual } from '../crypto/constant-time.js';
import { fillRandom, randomBytesPooled } from '../crypto/random.js';
import { xaesOpen, xaesSeal } from '../crypto/xaes-256-gcm.js';
import type { DataKey } from '../keys/data-key.js';
import {
  COMMITMENT_LENGTH,
  FLAG_KEYREF_MASK,
  FLAG_PADDED,
  FLAG_RESERVED_MASK,
  FORMAT_VERSION_1,
  MAGIC,
  NONCE_LENGTH,
  SUITE_XAES256GCM_HKDFSHA256_COMMIT,
  TAG_LENGTH,
} from './format.js';
import { decodeKeyRef, type KeyRef } from './key-ref.js';
import { decodePlaintext, type EncodedPlaintext } from './plaintext.js';

/**
 * Seal one encoded value (docs/format.md §2): `prefix | nonce | commitment | ciphertext | tag`, where
 * `prefix` is {@link encodeHeaderPrefix} of the key reference and the AAD is everything before
 * the ciphertext followed by the canonical context. `batch`: this value's slot of
 * {@link batchNonces} (a fresh nonce and its key, derived with the batch's).
 * @internal
 */
export function sealValue(
  key: DataKey,
  prefix: Buffer,
  contextBytes: Buffer,
  plaintext: EncodedPlaintext,
  batch?: BatchNonce,
): Buffer {
  const { parts } = plaintext;
  let plainLength = 0;
  for (const p of parts) plainLength += p.byteLength;
  const headerLength = prefix.byteLength + NONCE_LENGTH + COMMITMENT_LENGTH;
  // The header is written in place in the output, and is the AAD's first part; the context
  // is its second (OpenSSL's GCM absorbs successive AAD updates as one string).
  const out = Buffer.allocUnsafe(headerLength + plainLength + TAG_LENGTH);
  prefix.copy(out, 0);
  if (plaintext.padded) out[3] = out[3]! | FLAG_PADDED;
  const nonceAt = prefix.byteLength;
  if (batch === undefined) fillRandom(out, nonceAt, NONCE_LENGTH);
  else out.set(batch.nonce, nonceAt);
  key.commitment.copy(out, nonceAt + NONCE_LENGTH);
  const { chunks, tag } = xaesSeal(
    key.root,
    out,
    nonceAt,
    [out.subarray(0, headerLength), contextBytes],
    parts,
    batch?.derived,
  );
  let at = headerLength;
  for (const c of chunks) at += c.copy(out, at);
  tag.copy(out, at);
  return out;
}

/** A parsed envelope: its key reference and views of its parts. @internal */
export interface ParsedEnvelope {
  readonly bytes: Buffer;
  readonly keyRef: KeyRef;
  readonly padded: boolean;
  readonly nonceOffset: number;
  readonly headerLength: number;
}

/**
 * Parse and structurally validate an envelope without any key.
 * @throws UnsupportedFormatError for an unknown version or suite (no downgrade, no guess);
 *   MalformedCiphertextError for anything else out of shape.
 * @internal
 */
export function parseEnvelope(bytes: Buffer): ParsedEnvelope {
  if (bytes.byteLength < 4 || bytes[0] !== MAGIC) {
    throw new MalformedCiphertextError('value is not a fieldseal envelope');
  }
  if (bytes[1] !== FORMAT_VERSION_1)
    throw new UnsupportedFormatError('envelope version is not supported');
  if (bytes[2] !== SUITE_XAES256GCM_HKDFSHA256_COMMIT) {
    throw new UnsupportedFormatError('envelope algorithm suite is not supported');
  }
  const flags = bytes[3]!;
  if ((flags & FLAG_RESERVED_MASK) !== 0) {
    throw new MalformedCiphertextError('envelope has reserved flag bits set');
  }
  const [keyRef, at] = decodeKeyRef(bytes, flags & FLAG_KEYREF_MASK);
  const headerLength = at + NONCE_LENGTH + COMMITMENT_LENGTH;
  // At least the one-byte type tag must be encrypted.
  if (bytes.byteLength < headerLength + 1 + TAG_LENGTH) {
    throw new MalformedCiphertextError('envelope is truncated');
  }
  return { bytes, keyRef, padded: (flags & FLAG_PADDED) !== 0, nonceOffset: at, headerLength };
}

/**
 * Verify the key commitment, then decrypt and decode. `derived`: the value's key, when
 * {@link deriveValueKeys} derived a batch's together (it is wiped).
 * @throws WrongKeyError when `key` is not the data key that sealed the value;
 *   AuthenticationFailedError when the tag fails (tampering or another context).
 * @internal
 */
export function openValue(
  env: ParsedEnvelope,
  key: DataKey,
  contextBytes: Buffer,
  derived?: Buffer,
): unknown {
  const { bytes, nonceOffset, headerLength } = env;
  const commitAt = nonceOffset + NONCE_LENGTH;
  if (!constantTimeEqual(bytes.subarray(commitAt, commitAt + COMMITMENT_LENGTH), key.commitment)) {
    throw new WrongKeyError();
  }
  const tagAt = bytes.byteLength - TAG_LENGTH;
  const plain = xaesOpen(
    key.root,
    bytes,
    nonceOffset,
    [bytes.subarray(0, headerLength), contextBytes],
    bytes.subarray(headerLength, tagAt),
    bytes.subarray(tagAt),
    derived,
  );
  return decodePlaintext(plain, env.padded);
}

/**
 * The XAES per-value keys of envelopes sealed under `key`, in one AES call: 32 bytes each, in
 * order, for {@link openValue}'s `derived`. The caller wipes the buffer when done.
 * @internal
 */
export function deriveValueKeys(key: DataKey, envs: readonly ParsedEnvelope[]): Buffer {
  return key.root.deriveKeys(envs);
}

/** One value's fresh nonce and its per-value key, from {@link batchNonces}. @internal */
export interface BatchNonce {
  readonly nonce: Buffer;
  readonly derived: Buffer;
}

/**
 * Fresh nonces for `n` values sealed under `key`, and their per-value keys derived in one AES
 * call: slot `i` of each for the `i`-th value, each used once. The caller wipes `derived` when
 * done.
 * @internal
 */
export function batchNonces(key: DataKey, n: number): { nonces: Buffer; derived: Buffer } {
  const nonces = randomBytesPooled(n * NONCE_LENGTH);
  const sources = Array.from({ length: n }, (_, i) => ({
    bytes: nonces,
    nonceOffset: i * NONCE_LENGTH,
  }));
  return { nonces, derived: key.root.deriveKeys(sources) };
}

/** Slot `i` of {@link batchNonces}' result. @internal */
export function batchNonce(batch: { nonces: Buffer; derived: Buffer }, i: number): BatchNonce {
  return {
    nonce: batch.nonces.subarray(i * NONCE_LENGTH, (i + 1) * NONCE_LENGTH),
    derived: batch.derived.subarray(i * 32, i * 32 + 32),
  };
}
