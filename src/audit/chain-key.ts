import { createHash, createHmac } from 'node:crypto';
import type { SecretKey, SecretSource } from '../secrets/secret-source.js';

/**
 * The optional HMAC key of an audit chain: a loaded {@link SecretKey}, or a secret source and
 * the reference to load from it. With a key, each row's hash is HMAC-SHA256 instead of
 * SHA-256, so rewriting the chain (every hash after an edit) needs the key; without one,
 * anyone with write access can recompute every hash and only an anchored head reveals it.
 * Keep the key out of the database the chain lives in, and use the same key to verify.
 * @example
 * ```ts
 * const key: AuditChainKey = {
 *   source: new FileSecretSource({ keys: { audit: '/run/secrets/fieldseal-audit' } }),
 *   reference: 'audit',
 * };
 * const sink = postgresAuditSink(sql, { key });
 * ```
 */
export type AuditChainKey =
  SecretKey | { readonly source: SecretSource; readonly reference: string };

/**
 * Hash of one encoded record: SHA-256, or HMAC-SHA256 under the chain key.
 *
 * @example
 * ```ts
 * const hasher: ChainHasher = await chainHasher(undefined);
 * const hash = hasher(encodeChainRecord(record)).toString('hex');
 * ```
 */
export type ChainHasher = (encoded: Buffer) => Buffer;

/**
 * The hasher of a loaded key (or SHA-256 without one).
 * @internal
 */
export function hasherForKey(key: SecretKey | undefined): ChainHasher {
  if (key === undefined) return (encoded) => createHash('sha256').update(encoded).digest();
  return (encoded) => key.use((bytes) => createHmac('sha256', bytes).update(encoded).digest());
}

/**
 * Load the chain key (if any) and return its hasher.
 * @throws KeyNotConfiguredError / InvalidKeyMaterialError from the secret source.
 *
 * @example
 * ```ts
 * const hasher = await chainHasher({ source, reference: 'audit-chain' }); // HMAC-SHA256
 * const plain = await chainHasher(undefined);                            // SHA-256
 * ```
 */
export async function chainHasher(key: AuditChainKey | undefined): Promise<ChainHasher> {
  if (key === undefined) return hasherForKey(undefined);
  if ('source' in key) return hasherForKey(await key.source.getKey(key.reference));
  return hasherForKey(key);
}
