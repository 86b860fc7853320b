import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * The loopback KMS's ciphertext blob, real AES-256-GCM (16-byte tag):
 * version (1) | key id length (1) | key id | IV (12) | ciphertext | tag (16).
 * The blob names its key, as real KMS blobs do, so Decrypt needs no KeyId; the AAD binds the
 * key id and the encryption context (sorted entries: it must match exactly, in any order).
 */

const BLOB_VERSION = 0x01;
const IV = 12;
const TAG = 16;

function aad(keyId: string, ctx: Readonly<Record<string, string>>): Buffer {
  const entries = Object.entries(ctx).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Buffer.from(JSON.stringify([keyId, entries]), 'utf8');
}

/** Encrypt `plaintext` under `material` (the key `keyId`) with `ctx` bound. */
export function sealBlob(
  keyId: string,
  material: Buffer,
  plaintext: Buffer,
  ctx: Readonly<Record<string, string>>,
): Buffer {
  const iv = randomBytes(IV);
  const cipher = createCipheriv('aes-256-gcm', material, iv, { authTagLength: TAG });
  cipher.setAAD(aad(keyId, ctx));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const id = Buffer.from(keyId);
  return Buffer.concat([Buffer.from([BLOB_VERSION, id.length]), id, iv, body, cipher.getAuthTag()]);
}

/** The key id a blob names, or `undefined` when the blob is not in this format. */
export function blobKeyId(blob: Buffer): string | undefined {
  const idLen = blob[1] ?? 0;
  if (blob[0] !== BLOB_VERSION || blob.length < 2 + idLen + IV + TAG) return undefined;
  return blob.subarray(2, 2 + idLen).toString();
}

/** Decrypt a blob; throws when the key, the context or any byte differs. */
export function openBlob(
  blob: Buffer,
  material: Buffer,
  ctx: Readonly<Record<string, string>>,
): Buffer {
  const keyId = blobKeyId(blob);
  if (keyId === undefined) throw new Error('not a loopback blob');
  const at = 2 + Buffer.byteLength(keyId);
  const decipher = createDecipheriv('aes-256-gcm', material, blob.subarray(at, at + IV), {
    authTagLength: TAG,
  });
  decipher.setAAD(aad(keyId, ctx));
  decipher.setAuthTag(blob.subarray(blob.length - TAG));
  return Buffer.concat([
    decipher.update(blob.subarray(at + IV, blob.length - TAG)),
    decipher.final(),
  ]);
}
