import { KeyUnwrapFailedError } from '../../errors.js';
import { encodeCanonicalMap, type KeyContext } from '../../envelope/context.js';
import type { Mechanism, Pkcs11Constants } from './pkcs11-binding.js';

/**
 * The PKCS#11 provider's wrapped data-key format, version 1 (61 bytes):
 *
 * ```text
 * offset  size  field
 *      0     1  version = 0x01
 *      1    12  IV (random per wrap, from the host CSPRNG)
 *     13    32  AES-256-GCM ciphertext of the data key, under the token's master key
 *     45    16  GCM tag (128 bits)
 * ```
 *
 * The GCM additional data is `"fieldseal/pkcs11-wrap/v1\0" | u16 labelLen | label |
 * canonical(context)` (the context encoding of docs/format.md §4), so a wrapped key only
 * unwraps under the same master-key label and the same tenant / key id / version. The AAD
 * label names the format version; any version byte but 0x01 is refused before the token is
 * asked.
 * @module
 */

/** Version byte of the wrapped form. */
const WRAP_VERSION = 0x01;
/**
 * GCM IV length: 96 bits, the length NIST SP 800-38D §8.2 recommends.
 * @internal
 * @example
 * ```ts
 * const iv = randomBytes(IV_LENGTH);
 * ```
 */
export const IV_LENGTH = 12;
/**
 * GCM tag length in bytes (128 bits).
 * @internal
 * @example
 * ```ts
 * const out = Buffer.alloc(32 + TAG_LENGTH);
 * ```
 */
export const TAG_LENGTH = 16;
const KEY_LENGTH = 32;
/** Total length of a version-1 wrapped key. */
const WRAPPED_LENGTH = 1 + IV_LENGTH + KEY_LENGTH + TAG_LENGTH;

const AAD_LABEL = Buffer.from('fieldseal/pkcs11-wrap/v1\0', 'utf8');

/**
 * The GCM additional data binding the master-key label and the provider context.
 * @internal
 * @example
 * ```ts
 * const aad = wrapAad('tenant-acme', { tenant: 'acme', key: 'default', version: '1' });
 * ```
 */
export function wrapAad(masterKeyId: string, context: KeyContext): Buffer {
  const id = Buffer.from(masterKeyId, 'utf8');
  const idLen = Buffer.alloc(2);
  idLen.writeUInt16BE(id.byteLength, 0);
  return Buffer.concat([AAD_LABEL, idLen, id, encodeCanonicalMap(context)]);
}

/**
 * Assemble `version | iv | ciphertext‖tag` (the token returns ciphertext and tag together).
 * @internal
 * @example
 * ```ts
 * const wrapped = encodeWrapped(iv, await lib.C_EncryptAsync(session, key, out));
 * ```
 */
export function encodeWrapped(iv: Buffer, sealed: Buffer): Buffer {
  if (iv.byteLength !== IV_LENGTH || sealed.byteLength !== KEY_LENGTH + TAG_LENGTH) {
    throw new TypeError('PKCS#11 GCM output has an unexpected length');
  }
  return Buffer.concat([Buffer.of(WRAP_VERSION), iv, sealed]);
}

/**
 * Split a wrapped key into IV and ciphertext‖tag.
 * @throws KeyUnwrapFailedError when the length or version is not version 1's.
 * @internal
 * @example
 * ```ts
 * const { iv, sealed } = decodeWrapped(wrapped);
 * ```
 */
export function decodeWrapped(wrapped: Uint8Array): { iv: Buffer; sealed: Buffer } {
  if (wrapped.byteLength !== WRAPPED_LENGTH || wrapped[0] !== WRAP_VERSION) {
    throw new KeyUnwrapFailedError('wrapped data key is not in the PKCS#11 provider format');
  }
  const bytes = Buffer.from(wrapped.buffer, wrapped.byteOffset, wrapped.byteLength);
  return { iv: bytes.subarray(1, 1 + IV_LENGTH), sealed: bytes.subarray(1 + IV_LENGTH) };
}

/**
 * `CKM_AES_GCM` with a 96-bit IV, the AAD and a 128-bit tag (pkcs11js `GcmParams`).
 * @internal
 * @example
 * ```ts
 * lib.C_EncryptInit(session, gcmMechanism(k, iv, wrapAad(label, context)), key);
 * ```
 */
export function gcmMechanism(k: Pkcs11Constants, iv: Buffer, aad: Buffer): Mechanism {
  return {
    mechanism: k.CKM_AES_GCM,
    parameter: {
      // The v2.40 layout sets ulIvBits; the older one leaves it uninitialised, which HSMs
      // that validate it (Luna, CloudHSM) reject at random.
      type: k.CK_PARAMS_AES_GCM_v240,
      iv,
      ivBits: IV_LENGTH * 8,
      aad,
      tagBits: TAG_LENGTH * 8,
    },
  };
}
