import { createDecipheriv } from 'node:crypto';
import {
  AuthenticationFailedError,
  MalformedCiphertextError,
  type SecretKey,
} from '../../index.js';
import type { LegacyConverter } from '../backfill/backfill-target.js';

/**
 * Options of {@link fraiseqlValueReader}.
 * @example
 * ```ts
 * const options: FraiseqlValueReaderOptions = {
 *   key: await source.getKey('email'),
 *   aad: (row) => [`user:${String(row.id)}:field:email:op:insert`, `user:${String(row.id)}:field:email:op:update`],
 * };
 * ```
 */
export interface FraiseqlValueReaderOptions {
  /** The column's FraiseQL key (its `key_reference`), from a secret source. */
  readonly key: SecretKey;
  /**
   * The AAD context string(s) a value may have been written with, from the row the backfill
   * read (its key and backfilled columns), e.g. `user:{id}:field:email:op:insert`. Each is
   * tried in order; a value authenticates under one or is refused. Absent: no AAD.
   */
  readonly aad?: (row: Readonly<Record<string, unknown>>) => string | readonly string[];
  /** What the plaintext becomes: `'string'` (UTF-8, the default) or `'bytes'`. */
  readonly as?: 'string' | 'bytes';
}

const NONCE = 12;
const TAG = 16;

/**
 * A {@link LegacyConverter} for `runBackfill` that opens values written by FraiseQL's field
 * encryption (the GraphQL seed): `[12-byte nonce][ciphertext][16-byte GCM tag]` as base64 text
 * (in a TEXT column, or as the bytes of a BYTEA one), AES-256-GCM under the column's key with its AAD context
 * string. The backfill then seals the plaintext under the tenant's fieldseal key.
 *
 * Fail closed: text that is not canonical base64, a value shorter than nonce + tag, or one that
 * authenticates under none of the AAD strings is a typed error, and the backfill stops on that
 * field. Opt in per column: the backfill's client needs `allowPlaintextRead` on the field (each
 * value read is counted in `stats().plaintextReads`), and no other client should have it, so
 * that applications never take a FraiseQL ciphertext for a value.
 * @throws MalformedCiphertextError, AuthenticationFailedError (from the converter).
 * @example
 * ```ts
 * const key = await new EnvSecretSource({
 *   keys: { email: { variable: 'FIELD_ENCRYPTION_KEY_EMAIL', encoding: 'utf8' } },
 * }).getKey('email');
 * await runBackfill({
 *   sql, fs: migrationClient, model: User, fields: ['email'],
 *   legacy: { email: fraiseqlValueReader({ key, aad: (row) => `user:${String(row.id)}:field:email:op:insert` }) },
 * });
 * ```
 */
export function fraiseqlValueReader(options: FraiseqlValueReaderOptions): LegacyConverter {
  const { key, aad } = options;
  const as = options.as ?? 'string';
  if (typeof key?.use !== 'function') {
    throw new TypeError('key: expected a SecretKey (from a secret source)');
  }
  if (aad !== undefined && typeof aad !== 'function') {
    throw new TypeError('aad: expected a function of the row');
  }
  if (as !== 'string' && as !== 'bytes') throw new TypeError("as: expected 'string' or 'bytes'");
  return (raw, row) => {
    const bytes = storedBytes(raw);
    if (bytes.length < NONCE + TAG) {
      throw new MalformedCiphertextError(
        `FraiseQL value too short: ${bytes.length} bytes, at least ${NONCE + TAG}`,
      );
    }
    const candidates = aad === undefined ? [undefined] : aadStrings(aad(row ?? {}));
    for (const context of candidates) {
      const plain = open(key, bytes, context);
      if (plain === undefined) continue;
      if (as === 'bytes') return plain;
      try {
        return new TextDecoder('utf-8', { fatal: true }).decode(plain);
      } catch {
        throw new MalformedCiphertextError(
          "FraiseQL plaintext is not valid UTF-8 (read it with as: 'bytes')",
        );
      } finally {
        plain.fill(0);
      }
    }
    throw new AuthenticationFailedError(
      `FraiseQL value does not authenticate under its key and ${candidates.length} AAD string(s)`,
    );
  };
}

function aadStrings(value: unknown): readonly string[] {
  const list: unknown[] =
    typeof value === 'string' ? [value] : Array.isArray(value) ? [...(value as unknown[])] : [];
  if (list.length === 0 || !list.every((s): s is string => typeof s === 'string')) {
    throw new TypeError('aad: expected a string or a non-empty array of strings');
  }
  return list;
}

/**
 * The stored bytes: FraiseQL stores base64 text, in a TEXT column or as the bytes of a BYTEA
 * one. (Text also never starts with the envelope's magic byte, so no value is mistaken for an
 * envelope.)
 */
function storedBytes(raw: string | Uint8Array): Buffer {
  const text = typeof raw === 'string' ? raw : decodeUtf8(raw);
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) {
    throw new MalformedCiphertextError('FraiseQL value is not canonical base64');
  }
  return bytes;
}

function decodeUtf8(raw: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw new MalformedCiphertextError('FraiseQL value is not base64 text');
  }
}

/** AES-256-GCM open, or `undefined` when the tag does not verify. */
function open(key: SecretKey, bytes: Buffer, context: string | undefined): Buffer | undefined {
  return key.use((k) => {
    if (k.length !== 32) throw new TypeError('key: expected 32 bytes');
    const decipher = createDecipheriv('aes-256-gcm', k, bytes.subarray(0, NONCE), {
      authTagLength: TAG,
    });
    if (context !== undefined) decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG));
    const out = decipher.update(bytes.subarray(NONCE, bytes.length - TAG));
    try {
      decipher.final();
      return out;
    } catch {
      out.fill(0);
      return undefined;
    }
  });
}
