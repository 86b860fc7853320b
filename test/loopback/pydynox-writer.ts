import { createCipheriv, randomBytes } from 'node:crypto';
import { GenerateDataKeyCommand, type KMSClient } from '@aws-sdk/client-kms';

/**
 * The DynamoDB seed's (pydynox) writer, as its Rust source does it: one KMS GenerateDataKey per
 * value (AES_256, the attribute's encryption context), local AES-256-GCM with a 12-byte nonce
 * and no AAD, then `ENC:` + standard base64 of `0x01 | u16be len | CiphertextBlob | nonce |
 * ciphertext+tag`. Driven through the real KMS SDK client (against the loopback KMS).
 */
export async function pydynoxEncrypt(
  kms: KMSClient,
  keyId: string,
  context: Record<string, string>,
  plaintext: string,
): Promise<string> {
  const out = await kms.send(
    new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: context }),
  );
  const key = Buffer.from(out.Plaintext!);
  const blob = Buffer.from(out.CiphertextBlob!);
  const nonce = randomBytes(12);
  const gcm = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: 16 });
  const sealed = Buffer.concat([gcm.update(plaintext, 'utf8'), gcm.final(), gcm.getAuthTag()]);
  key.fill(0);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(blob.length);
  return `ENC:${Buffer.concat([Buffer.from([1]), len, blob, nonce, sealed]).toString('base64')}`;
}
