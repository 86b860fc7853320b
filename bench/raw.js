// The baseline: plain AES-256-GCM from node:crypto, exactly as an application would call it
// without any library. Buffer values and UTF-8 strings are both supported.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const TAG_LENGTH = 16;

/** randomBytes(12) IV + createCipheriv + setAAD + update + final + getAuthTag. */
export function rawEncrypt(key, aad, value) {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_LENGTH });
  cipher.setAAD(aad);
  const ct = typeof value === 'string' ? cipher.update(value, 'utf8') : cipher.update(value);
  const fin = cipher.final();
  return { iv, ct, fin, tag: cipher.getAuthTag() };
}

/** createDecipheriv + setAAD + setAuthTag + update + final (string in → string out). */
export function rawDecrypt(key, aad, sealed, asString) {
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.iv, { authTagLength: TAG_LENGTH });
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.tag);
  const out = decipher.update(sealed.ct);
  decipher.final();
  return asString ? out.toString('utf8') : out;
}

/** The same work inside an async function, awaited per call by the benchmark loop. */
export async function rawEncryptAsync(key, aad, value) {
  return rawEncrypt(key, aad, value);
}

export async function rawDecryptAsync(key, aad, sealed, asString) {
  return rawDecrypt(key, aad, sealed, asString);
}
