/**
 * Constants of envelope format v1. See docs/format.md for the byte-by-byte layout.
 * Changing any value here breaks the frozen vectors in test/vectors/: add a new version or
 * suite instead.
 */

/** First byte of every binary envelope. 0xF5 never starts a UTF-8 string, so legacy
 * plaintext stored as text bytes can never be mistaken for an envelope. */
export const MAGIC = 0xf5;
/** The only format version this release writes and reads. */
export const FORMAT_VERSION_1 = 0x01;
/** Suite 1: XAES-256-GCM per value, HKDF-SHA256 key schedule, 256-bit key commitment. */
export const SUITE_XAES256GCM_HKDFSHA256_COMMIT = 0x01;

/** Text encoding prefix: `fs1:` + base64url (no padding) of the binary envelope. */
export const TEXT_PREFIX = 'fs1:';

/** Key reference kinds, in the low two bits of the flags byte. */
export const KEYREF_STORE = 0x01;
export const KEYREF_EMBEDDED = 0x02;
export const FLAG_KEYREF_MASK = 0x03;
/** Bit 2: the plaintext carries ISO/IEC 7816-4 padding to a bucket boundary. */
export const FLAG_PADDED = 0x04;
/** Bits that must be zero in v1. */
export const FLAG_RESERVED_MASK = 0xf8;

export const NONCE_LENGTH = 24;
export const COMMITMENT_LENGTH = 32;
export const TAG_LENGTH = 16;
export const DATA_KEY_LENGTH = 32;

/**
 * The longest key id (UTF-8 bytes) an envelope can name; key stores refuse longer ids.
 * @example
 * ```ts
 * if (Buffer.byteLength(keyId) > MAX_KEY_ID_BYTES) throw new RangeError('keyId: too long');
 * ```
 */
export const MAX_KEY_ID_BYTES = 255;
export const MAX_PROVIDER_ID_BYTES = 64;
export const MAX_MASTER_KEY_ID_BYTES = 255;
/**
 * The largest wrapped data key (bytes) a key store must accept and may refuse beyond.
 * @example
 * ```ts
 * if (wrapped.byteLength > MAX_WRAPPED_KEY_BYTES) throw new RangeError('wrapped: at most 2048 bytes');
 * ```
 */
export const MAX_WRAPPED_KEY_BYTES = 2048;
/** Largest encoded plaintext (type tag + value + padding): 64 MiB. */
export const MAX_PLAINTEXT_BYTES = 64 * 1024 * 1024;

/** Labels of the per-data-key schedule (HKDF-SHA256, RFC 5869). */
export const KDF_SALT = 'fieldseal/v1';
export const KDF_INFO_ROOT = 'fieldseal/v1 xaes-256-gcm root key';
export const KDF_INFO_COMMIT = 'fieldseal/v1 key commitment';
