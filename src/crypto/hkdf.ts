import { hkdfSync } from 'node:crypto';

/**
 * HKDF-SHA256 (RFC 5869 §2.2 extract + §2.3 expand) through OpenSSL.
 * Used once per data key (key schedule), never per value: it costs ~20 µs per call.
 * @internal
 */
export function hkdfSha256(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, length));
}
