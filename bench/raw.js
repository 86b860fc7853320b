// The baseline: plain AES-256-GCM from node:crypto, exactly as an application would write it
// by hand without any library (the definition issue #17 fixes): a fresh randomBytes(12) IV per
// value, the AAD, and the output iv || ciphertext || tag in one Buffer; decryption reads that
// Buffer. Buffer values and UTF-8 strings are both supported.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const IV_LENGTH = 12;
const TAG_LENGTH = 16;

/** randomBytes(12) IV + createCipheriv + setAAD + update + final + getAuthTag, concatenated. */
export function rawEncrypt(key, aad, value) {
  const iv = randomBytes(IV_LENGTH);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_LENGTH });
  cipher.setAAD(aad);
  const ct = typeof value === 'string' ? cipher.update(value, 'utf8') : cipher.update(value);
  const fin = cipher.final();
  return Buffer.concat([iv, ct, fin, cipher.getAuthTag()]);
}

/** createDecipheriv + setAAD + setAuthTag + update + final from iv || ct || tag (string out for strings). */
export function rawDecrypt(key, aad, sealed, asString) {
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_LENGTH), {
    authTagLength: TAG_LENGTH,
  });
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(sealed.byteLength - TAG_LENGTH));
  const out = decipher.update(sealed.subarray(IV_LENGTH, sealed.byteLength - TAG_LENGTH));
  decipher.final();
  return asString ? out.toString('utf8') : out;
}

/** Bytes the raw form adds to a value: the IV and the tag. */
export const RAW_OVERHEAD = IV_LENGTH + TAG_LENGTH;

/** The same work inside an async function, awaited per call by the benchmark loop. */
export async function rawEncryptAsync(key, aad, value) {
  return rawEncrypt(key, aad, value);
}

export async function rawDecryptAsync(key, aad, sealed, asString) {
  return rawDecrypt(key, aad, sealed, asString);
}
