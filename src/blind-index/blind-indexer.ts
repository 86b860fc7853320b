import { createHash, createHmac } from 'node:crypto';
import {
  InvalidContextError,
  InvalidKeyMaterialError,
  KeyNotConfiguredError,
  UnsupportedValueError,
} from '../errors.js';
import { constantTimeEqual } from '../crypto/constant-time.js';
import { hkdfSha256 } from '../crypto/hkdf.js';
import { encodeCanonicalMap } from '../envelope/context.js';
import { RedactedObject } from '../keys/redacted.js';
import type { SecretSource } from '../secrets/secret-source.js';
import {
  BLIND_INDEX_KDF_SALT,
  INDEX_KEY_LENGTH,
  formatBlindIndex,
  parseBlindIndex,
} from './format.js';
import {
  checkVersion,
  normalizeValue,
  resolveOptions,
  type BlindIndexContext,
  type BlindIndexOptions,
  type ResolvedIndexOptions,
} from './options.js';

const SALT = Buffer.from(BLIND_INDEX_KDF_SALT, 'utf8');
const ROOT_KEY_LENGTH = 32;
const DEFAULT_MAX_CACHED_KEYS = 1024;
const MAX_VERSIONS = 16;

/**
 * Options of {@link createBlindIndexer}.
 * @example
 * ```ts
 * const options: BlindIndexerOptions = {
 *   source: new EnvSecretSource({ keys: { 'blind-index': 'FIELDSEAL_BLIND_INDEX_KEY' } }),
 *   reference: 'blind-index',
 * };
 * ```
 */
export interface BlindIndexerOptions {
  /** Where the root blind-index key lives. */
  readonly source: SecretSource;
  /**
   * Reference of the 32-byte root blind-index key in `source`. It must be a key of its own,
   * never a master key or data key: whoever holds it can test guesses against every index.
   */
  readonly reference: string;
  /** Most derived index keys kept in memory (least recently used evicted); default 1024. */
  readonly maxCachedKeys?: number;
}

/**
 * Computes blind indexes: truncated HMAC-SHA256 tags of normalised values under a key
 * derived per (tenant, table, field, version) from a root key of its own. An index lets a
 * database answer "which rows hold this value?" without holding the value; it reveals which
 * rows are equal, so read docs/blind-index.md before choosing `bits`.
 *
 * Prints as `[REDACTED]`; the root key and derived keys are private and wiped by `destroy()`.
 *
 * @example
 * ```ts
 * const bi = await createBlindIndexer({ source, reference: 'blind-index' });
 * const where = { tenant: 'acme', table: 'customers', field: 'email' };
 * const opts = { normalize: ['trim', 'lowercase', 'nfc'], bits: 32 } as const;
 * const emailBi = bi.index(' Ada@Example.com', where, opts); // 'bi1:1:…' → indexed column
 * // Lookup: WHERE email_bi = $1, then decrypt each row and compare the plaintext.
 * ```
 */
export class BlindIndexer extends RedactedObject {
  #root: Buffer;
  readonly #keys = new Map<string, { readonly key: Buffer; readonly tenant: string }>();
  readonly #maxCachedKeys: number;

  /** @internal Use {@link createBlindIndexer}. */
  constructor(root: Uint8Array, maxCachedKeys: number = DEFAULT_MAX_CACHED_KEYS) {
    super();
    if (!(root instanceof Uint8Array) || root.byteLength !== ROOT_KEY_LENGTH) {
      throw new InvalidKeyMaterialError('blind-index root key must be exactly 32 bytes');
    }
    if (!Number.isInteger(maxCachedKeys) || maxCachedKeys < 1 || maxCachedKeys > 1_000_000) {
      throw new RangeError('maxCachedKeys must be an integer from 1 to 1000000');
    }
    this.#root = Buffer.from(root);
    this.#maxCachedKeys = maxCachedKeys;
  }

  /**
   * The blind index of `value` in `where`: `bi1:<version>:<base64url tag>`.
   * @throws UnsupportedValueError unless `value` is a well-formed Unicode string.
   * @throws InvalidContextError when tenant, table or field is missing or not a string.
   * @throws RangeError / TypeError for bad options.
   */
  index(value: string, where: BlindIndexContext, options?: BlindIndexOptions): string {
    const o = resolveOptions(options);
    return formatBlindIndex(o.version, this.#tag(value, where, o, o.version, o.bits / 8));
  }

  /**
   * Indexes of `value` under several key versions, in the order given: during a rotation,
   * write every version still being read (e.g. `[1, 2]`) and query with `IN (...)`.
   * `options.version` is not allowed here.
   * @throws RangeError for an empty, oversized or duplicated version list.
   */
  indexAll(
    value: string,
    where: BlindIndexContext,
    versions: readonly number[],
    options?: Omit<BlindIndexOptions, 'version'>,
  ): string[] {
    if (!Array.isArray(versions) || versions.length === 0 || versions.length > MAX_VERSIONS) {
      throw new RangeError(`versions must list 1 to ${MAX_VERSIONS} index key versions`);
    }
    const requested: BlindIndexOptions | undefined = options;
    if (requested?.version !== undefined) {
      throw new RangeError('indexAll takes versions from its versions argument, not options');
    }
    const checked = versions.map((v) => checkVersion(v, 'versions entry'));
    if (new Set(checked).size !== checked.length) {
      throw new RangeError('versions must not repeat');
    }
    const o = resolveOptions(options);
    return checked.map((v) => formatBlindIndex(v, this.#tag(value, where, o, v, o.bits / 8)));
  }

  /**
   * True when `candidate` has the blind index `stored` in `where`. Version and length are
   * read from `stored`; the tag is recomputed and compared in constant time. A malformed
   * `stored`, or one whose version or length differs from `options.version` / `options.bits`
   * when those are given, is `false`. A `true` can be a collision: confirm by decrypting.
   * @throws UnsupportedValueError / InvalidContextError as for {@link BlindIndexer.index}.
   */
  matches(
    candidate: string,
    stored: string,
    where: BlindIndexContext,
    options?: BlindIndexOptions,
  ): boolean {
    const o = resolveOptions(options);
    const parsed = parseBlindIndex(stored);
    if (parsed === undefined) return false;
    if (options?.version !== undefined && parsed.version !== o.version) return false;
    if (options?.bits !== undefined && parsed.tag.byteLength * 8 !== o.bits) return false;
    const tag = this.#tag(candidate, where, o, parsed.version, parsed.tag.byteLength);
    return constantTimeEqual(tag, parsed.tag);
  }

  /**
   * Wipe and drop every cached index key of `tenant` (all tables, fields, versions and tenant
   * secrets), e.g. right after the tenant was shredded. Later calls derive them again, which
   * for a repository needs the tenant's secret, which shredding made undecryptable.
   * @returns how many cached keys were wiped.
   */
  forgetTenant(tenant: string): number {
    let wiped = 0;
    for (const [id, entry] of this.#keys) {
      if (entry.tenant !== tenant) continue;
      entry.key.fill(0);
      this.#keys.delete(id);
      wiped += 1;
    }
    return wiped;
  }

  /** Wipe the root key and every derived key; later calls fail with `ERR_KEY_NOT_CONFIGURED`. */
  destroy(): void {
    this.#root.fill(0);
    this.#root = Buffer.alloc(0);
    for (const { key } of this.#keys.values()) key.fill(0);
    this.#keys.clear();
  }

  /** True once `destroy()` ran. */
  get destroyed(): boolean {
    return this.#root.byteLength === 0;
  }

  #tag(
    value: string,
    where: BlindIndexContext,
    o: ResolvedIndexOptions,
    version: number,
    bytes: number,
  ): Buffer {
    if (typeof value !== 'string' || !value.isWellFormed()) {
      throw new UnsupportedValueError('blind index values must be well-formed Unicode strings');
    }
    const key = this.#indexKey(where, version, o.tenantSecret);
    const mac = createHmac('sha256', key).update(normalizeValue(value, o), 'utf8').digest();
    const tag = Buffer.from(mac.subarray(0, bytes));
    mac.fill(0);
    return tag;
  }

  #indexKey(where: BlindIndexContext, version: number, secret: Uint8Array | undefined): Buffer {
    if (this.#root.byteLength === 0) {
      throw new KeyNotConfiguredError('blind indexer has been destroyed');
    }
    const tenant = name(where, 'tenant');
    const info = encodeCanonicalMap({
      tenant,
      table: name(where, 'table'),
      field: name(where, 'field'),
      version: String(version),
    });
    // The cache id names the secret by its hash, so a key derived with one secret is never
    // served for another (or for none).
    const id =
      secret === undefined
        ? info.toString('latin1')
        : `${info.toString('latin1')}\u0000${createHash('sha256').update(secret).digest('hex')}`;
    const cached = this.#keys.get(id);
    if (cached !== undefined) {
      // Least-recently-used order: move the hit to the end.
      this.#keys.delete(id);
      this.#keys.set(id, cached);
      return cached.key;
    }
    // RFC 5869 §2.2: the IKM is the secret input; with a tenant secret it is root || secret,
    // so the key is unpredictable to anyone missing either (fixed-length root: injective).
    const ikm = secret === undefined ? this.#root : Buffer.concat([this.#root, secret]);
    const key = hkdfSha256(ikm, SALT, info, INDEX_KEY_LENGTH);
    if (secret !== undefined) ikm.fill(0);
    if (this.#keys.size >= this.#maxCachedKeys) {
      const oldest = this.#keys.keys().next();
      if (oldest.done !== true) {
        this.#keys.get(oldest.value)?.key.fill(0);
        this.#keys.delete(oldest.value);
      }
    }
    this.#keys.set(id, { key, tenant });
    return key;
  }
}

function name(where: BlindIndexContext, entry: 'tenant' | 'table' | 'field'): string {
  if (typeof where !== 'object' || where === null) {
    throw new InvalidContextError('blind index context must be an object');
  }
  const v: unknown = where[entry];
  if (typeof v !== 'string' || v.length === 0) {
    throw new InvalidContextError(`blind index context needs a non-empty string "${entry}"`);
  }
  return v;
}

/**
 * Load the root blind-index key from a secret source and return a {@link BlindIndexer}.
 * The key bytes are copied out of the source; `destroy()` wipes the copy.
 * @throws KeyNotConfiguredError when the source has no such reference.
 * @throws InvalidKeyMaterialError unless the key is 32 bytes.
 *
 * @example
 * ```ts
 * // FIELDSEAL_BLIND_INDEX_KEY=base64:<32 bytes>, a key of its own (not the master key)
 * const indexer = await createBlindIndexer({
 *   source: new EnvSecretSource({ keys: { 'blind-index': 'FIELDSEAL_BLIND_INDEX_KEY' } }),
 *   reference: 'blind-index',
 * });
 * ```
 */
export async function createBlindIndexer(options: BlindIndexerOptions): Promise<BlindIndexer> {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('createBlindIndexer options must be an object');
  }
  const { source, reference } = options;
  if (typeof reference !== 'string' || reference.length === 0) {
    throw new KeyNotConfiguredError('createBlindIndexer needs a non-empty key reference');
  }
  if (typeof source?.getKey !== 'function') {
    throw new TypeError('createBlindIndexer needs a SecretSource');
  }
  const secret = await source.getKey(reference);
  const bytes = secret.use((b) => {
    if (b.byteLength !== ROOT_KEY_LENGTH) {
      throw new InvalidKeyMaterialError('blind-index root key must be exactly 32 bytes', {
        details: { reference },
      });
    }
    return Buffer.from(b);
  });
  try {
    return new BlindIndexer(bytes, options.maxCachedKeys);
  } finally {
    bytes.fill(0);
  }
}
