import { createDecipheriv } from 'node:crypto';
import {
  AuthenticationFailedError,
  KeyNotConfiguredError,
  MalformedCiphertextError,
  SecretKey,
} from '../../index.js';
import { ownData } from '../../integration/index.js';
import type { LegacyConverter } from '../backfill/backfill-target.js';

/**
 * Options of {@link fraiseqlValueReader}: the column's key (`key`, with the AAD strings its
 * values were written with), or, for FraiseQL's versioned variant, its keys by version
 * (`versions`).
 * @example
 * ```ts
 * const options: FraiseqlValueReaderOptions = {
 *   key: await source.getKey('email'),
 *   aad: (row) => [`user:${String(row.id)}:field:email:op:insert`, `user:${String(row.id)}:field:email:op:update`],
 * };
 * const versioned: FraiseqlValueReaderOptions = {
 *   versions: { 1: await source.getKey('email_v1'), 2: await source.getKey('email_v2') },
 * };
 * ```
 */
export type FraiseqlValueReaderOptions = FraiseqlSingleKeyOptions | FraiseqlVersionedOptions;

/**
 * FraiseQL's `FieldEncryption` values: one key, AAD context strings.
 * @example
 * ```ts
 * const single: FraiseqlSingleKeyOptions = { key, aad: (row) => `user:${String(row.id)}:field:email:op:insert` };
 * ```
 */
export interface FraiseqlSingleKeyOptions {
  /** The column's FraiseQL key (its `key_reference`), from a secret source. */
  readonly key: SecretKey;
  /**
   * The AAD context string(s) a value may have been written with, from the row the backfill
   * read (its key and backfilled columns), e.g. `user:{id}:field:email:op:insert`. Each is
   * tried in order; a value authenticates under one or is refused. Absent: no AAD.
   */
  readonly aad?: (row: Readonly<Record<string, unknown>>) => string | readonly string[];
  readonly versions?: undefined;
  /** What the plaintext becomes: `'string'` (UTF-8, the default) or `'bytes'`. */
  readonly as?: 'string' | 'bytes';
}

/**
 * FraiseQL's `VersionedFieldEncryption` values: `[2-byte little-endian key version][12-byte
 * nonce][ciphertext][16-byte tag]`, AES-256-GCM without AAD, each under the key of its version.
 * @example
 * ```ts
 * const versioned: FraiseqlVersionedOptions = { versions: { 1: oldKey, 2: currentKey } };
 * ```
 */
export interface FraiseqlVersionedOptions {
  /**
   * The column's keys by FraiseQL key version (0 to 65535): its primary key and every
   * fallback still in its rows. A value naming any other version is refused.
   */
  readonly versions: Readonly<Record<number, SecretKey>>;
  readonly key?: undefined;
  /** Refused: FraiseQL's versioned values are written without AAD. */
  readonly aad?: undefined;
  /** What the plaintext becomes: `'string'` (UTF-8, the default) or `'bytes'`. */
  readonly as?: 'string' | 'bytes';
}

const NONCE = 12;
const TAG = 16;
/** The versioned variant's key version: a little-endian u16 before the nonce. */
const VERSION = 2;

/**
 * A {@link LegacyConverter} for `runBackfill` that opens values written by FraiseQL's field
 * encryption (the GraphQL seed): `[12-byte nonce][ciphertext][16-byte GCM tag]` as base64 text
 * (in a TEXT column, or as the bytes of a BYTEA one), AES-256-GCM under the column's key with its AAD context
 * string. The backfill then seals the plaintext under the tenant's fieldseal key. With
 * `versions`, it reads FraiseQL's versioned variant instead: a 2-byte little-endian key version
 * first, the key chosen by it, no AAD. The two layouts cannot be told apart, so a column is
 * read as one or the other, never guessed.
 *
 * Fail closed: text that is not canonical base64, a value shorter than nonce + tag, or one that
 * authenticates under none of the AAD strings is a typed error, and the backfill stops on that
 * field; so is a versioned value naming a version without a key (`ERR_KEY_NOT_CONFIGURED`).
 * Opt in per column: the backfill's client needs `allowPlaintextRead` on the field (each
 * value read is counted in `stats().plaintextReads`), and no other client should have it, so
 * that applications never take a FraiseQL ciphertext for a value.
 * @throws MalformedCiphertextError, AuthenticationFailedError, KeyNotConfiguredError (from the
 *   converter); TypeError for bad options.
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
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('fraiseqlValueReader: expected { key, aad? } or { versions }');
  }
  // Read once, own data only: a polluted prototype never chooses the layout or the key.
  const own = ownData(options, (why, name) => {
    throw new TypeError(`fraiseqlValueReader: ${name}: ${why} properties are not read`);
  }) as {
    key?: SecretKey;
    aad?: FraiseqlSingleKeyOptions['aad'];
    versions?: FraiseqlVersionedOptions['versions'];
    as?: 'string' | 'bytes';
  };
  const { key, aad, versions } = own;
  const as = own.as ?? 'string';
  if (as !== 'string' && as !== 'bytes') throw new TypeError("as: expected 'string' or 'bytes'");
  const text = (plain: Buffer): string | Buffer => {
    if (as === 'bytes') return plain;
    try {
      return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(plain);
    } catch {
      throw new MalformedCiphertextError(
        "FraiseQL plaintext is not valid UTF-8 (read it with as: 'bytes')",
      );
    } finally {
      plain.fill(0);
    }
  };
  if (versions !== undefined) {
    if (key !== undefined) throw new TypeError('give key or versions, not both');
    if (aad !== undefined) {
      throw new TypeError("aad: FraiseQL's versioned values are written without AAD");
    }
    const keys = versionKeys(versions);
    return (raw) => {
      const bytes = storedBytes(raw);
      if (bytes.length < VERSION + NONCE + TAG) {
        throw new MalformedCiphertextError(
          `FraiseQL versioned value too short: ${bytes.length} bytes, at least ${VERSION + NONCE + TAG}`,
        );
      }
      const version = bytes.readUInt16LE(0);
      const versionKey = keys.get(version);
      if (versionKey === undefined) {
        throw new KeyNotConfiguredError(`FraiseQL key version ${version} is not configured`);
      }
      const plain = open(versionKey, bytes.subarray(VERSION), undefined);
      if (plain === undefined) {
        throw new AuthenticationFailedError(
          `FraiseQL value does not authenticate under the key of version ${version}`,
        );
      }
      return text(plain);
    };
  }
  if (!(key instanceof SecretKey)) {
    throw new TypeError('key: expected a SecretKey (from a secret source)');
  }
  if (aad !== undefined && typeof aad !== 'function') {
    throw new TypeError('aad: expected a function of the row');
  }
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
      if (plain !== undefined) return text(plain);
    }
    throw new AuthenticationFailedError(
      `FraiseQL value does not authenticate under its key and ${candidates.length} AAD string(s)`,
    );
  };
}

/**
 * The keys of `versions`, read once (own enumerable data properties) into a map: integer
 * versions 0 to 65535, each a SecretKey.
 */
function versionKeys(versions: unknown): ReadonlyMap<number, SecretKey> {
  if (typeof versions !== 'object' || versions === null || Array.isArray(versions)) {
    throw new TypeError('versions: expected an object of key version → SecretKey');
  }
  const own = ownData(
    versions,
    (why, name) => {
      throw new TypeError(`versions.${name}: ${why} properties are not read; pass plain data`);
    },
    // A hidden entry would only surface as an unknown version, row by row: refuse it now.
    { symbols: 'refuse', hidden: 'refuse' },
  );
  const keys = new Map<number, SecretKey>();
  for (const [name, value] of Object.entries(own)) {
    const version = Number(name);
    if (!/^(0|[1-9]\d*)$/.test(name) || version > 0xffff) {
      throw new TypeError(`versions.${name}: expected a key version from 0 to 65535`);
    }
    if (!(value instanceof SecretKey)) {
      throw new TypeError(`versions.${name}: expected a SecretKey (from a secret source)`);
    }
    keys.set(version, value);
  }
  if (keys.size === 0) throw new TypeError('versions: expected at least one key');
  return keys;
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
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(raw);
  } catch {
    throw new MalformedCiphertextError('FraiseQL value is not base64 text');
  }
}

/**
 * AES-256-GCM open, or `undefined` when the tag does not verify. The result is what the
 * decipher produced inside the key's callback, never what `use` returns.
 */
function open(key: SecretKey, bytes: Buffer, context: string | undefined): Buffer | undefined {
  let ran = false;
  let result: Buffer | undefined;
  key.use((k: unknown) => {
    if (!Buffer.isBuffer(k) || k.length !== 32) throw new TypeError('key: expected 32 bytes');
    ran = true;
    const decipher = createDecipheriv('aes-256-gcm', k, bytes.subarray(0, NONCE), {
      authTagLength: TAG,
    });
    if (context !== undefined) decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG));
    const out = decipher.update(bytes.subarray(NONCE, bytes.length - TAG));
    try {
      decipher.final();
      result = out;
    } catch {
      out.fill(0);
    }
  });
  if (!ran) throw new TypeError('key: use() did not call back with the key');
  return result;
}
