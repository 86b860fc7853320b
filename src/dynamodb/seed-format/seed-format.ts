/**
 * Constants and the parsed shape of the DynamoDB seed library's (pydynox) legacy `ENC:`
 * values. See docs/dynamodb-seed-migration.md for the byte-by-byte layout and its sources.
 *
 * The layout is frozen by data already stored: never change a value here. The frozen vectors
 * in test/vectors/seed-enc/ fail if one changes.
 */

/**
 * Text prefix of every seed value (pydynox `ENCRYPTED_PREFIX`).
 * @example
 * ```ts
 * const legacy = value.startsWith(SEED_PREFIX);
 * ```
 */
export const SEED_PREFIX = 'ENC:';
/** The only envelope version pydynox writes (`FORMAT_VERSION`). */
export const SEED_VERSION = 0x01;
/** Version byte (1) and big-endian wrapped-key length (2). */
export const SEED_HEADER_LENGTH = 3;
/** AES-256-GCM nonce length pydynox uses (`NONCE_SIZE`, 96 bits). */
export const SEED_NONCE_LENGTH = 12;
/** AES-256-GCM tag length (the RustCrypto `aes-gcm` default, 128 bits). */
export const SEED_TAG_LENGTH = 16;
/**
 * Longest `ENC:` text accepted, in characters: 400 KiB, the DynamoDB item size limit. No
 * stored attribute can be longer, so anything longer is rejected before it is decoded.
 * @example
 * ```ts
 * if (text.length > MAX_SEED_TEXT_LENGTH) skip(text);
 * ```
 */
export const MAX_SEED_TEXT_LENGTH = 400 * 1024;

/**
 * A parsed seed value. The fields are views into one decoded buffer; none of them is secret
 * (the wrapped key is KMS ciphertext), and none is copied.
 *
 * @example
 * ```ts
 * const env: SeedEnvelope = parseSeedValue(item.ssn);
 * console.log(env.wrappedKey.byteLength, env.ciphertext.byteLength);
 * ```
 */
export interface SeedEnvelope {
  /** The KMS `CiphertextBlob` of the data key (1 to `MAX_WRAPPED_KEY_BYTES` bytes). */
  readonly wrappedKey: Uint8Array;
  /** The 12-byte AES-GCM nonce. */
  readonly nonce: Uint8Array;
  /** The AES-256-GCM ciphertext: as many bytes as the UTF-8 plaintext. */
  readonly ciphertext: Uint8Array;
  /** The 16-byte GCM tag. */
  readonly tag: Uint8Array;
}
