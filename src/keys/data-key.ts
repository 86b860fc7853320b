import { InvalidKeyMaterialError } from '../errors.js';
import { hkdfSha256 } from '../crypto/hkdf.js';
import { XaesRootKey } from '../crypto/xaes-256-gcm.js';
import {
  COMMITMENT_LENGTH,
  DATA_KEY_LENGTH,
  KDF_INFO_COMMIT,
  KDF_INFO_ROOT,
  KDF_SALT,
  SUITE_XAES256GCM_HKDFSHA256_COMMIT,
} from '../envelope/format.js';
import { RedactedObject } from './redacted.js';

const SALT = Buffer.from(KDF_SALT, 'utf8');
const INFO_ROOT = Buffer.concat([
  Buffer.from(KDF_INFO_ROOT, 'utf8'),
  Buffer.from([SUITE_XAES256GCM_HKDFSHA256_COMMIT]),
]);
const INFO_COMMIT = Buffer.concat([
  Buffer.from(KDF_INFO_COMMIT, 'utf8'),
  Buffer.from([SUITE_XAES256GCM_HKDFSHA256_COMMIT]),
]);

/**
 * A 256-bit data key in a zeroisable holder, with its key schedule computed once:
 * the XAES-256-GCM root key and the key commitment (both HKDF-SHA256 of the data key).
 *
 * Holders are reference-counted: the cache holds one reference and every operation that
 * uses the key holds another, so evicting a key that an operation is still using never
 * zeroes it under that operation. The last `release()` zeroes everything.
 *
 * @example
 * ```ts
 * const key = DataKey.fromBytes(bytes); // copies, then you may wipe `bytes`
 * try { useIt(key); } finally { key.release(); }
 * ```
 */
export class DataKey extends RedactedObject {
  #bytes: Buffer;
  #root: XaesRootKey;
  #commitment: Buffer;
  #refs = 1;

  private constructor(bytes: Buffer) {
    super();
    this.#bytes = bytes;
    this.#root = new XaesRootKey(hkdfSha256(bytes, SALT, INFO_ROOT, 32));
    this.#commitment = hkdfSha256(bytes, SALT, INFO_COMMIT, COMMITMENT_LENGTH);
  }

  /**
   * Copy 32 bytes of key material into a new holder (reference count 1).
   * @throws InvalidKeyMaterialError (`ERR_INVALID_KEY_MATERIAL`) unless exactly 32 bytes.
   */
  static fromBytes(bytes: Uint8Array): DataKey {
    if (!(bytes instanceof Uint8Array) || bytes.byteLength !== DATA_KEY_LENGTH) {
      throw new InvalidKeyMaterialError('data key must be exactly 32 bytes');
    }
    return new DataKey(Buffer.from(bytes));
  }

  /** True once the last reference was released and the material zeroed. */
  get destroyed(): boolean {
    return this.#refs === 0;
  }

  /** @internal Add a reference for an operation that will use the key. */
  retain(): this {
    this.#assertLive();
    this.#refs++;
    return this;
  }

  /** Drop a reference; the last one zeroes the key, its schedule and its commitment. */
  release(): void {
    if (this.#refs === 0) return;
    this.#refs--;
    if (this.#refs === 0) {
      this.#bytes.fill(0);
      this.#commitment.fill(0);
      this.#root.destroy();
    }
  }

  /** @internal The XAES-256-GCM root key derived from this data key. */
  get root(): XaesRootKey {
    this.#assertLive();
    return this.#root;
  }

  /** @internal The 32-byte key commitment (public: it reveals nothing about the key). */
  get commitment(): Buffer {
    this.#assertLive();
    return this.#commitment;
  }

  /** @internal Raw key bytes for a provider's wrap call. Never log, never keep. */
  exposeBytes(): Buffer {
    this.#assertLive();
    return this.#bytes;
  }

  #assertLive(): void {
    if (this.#refs === 0) throw new InvalidKeyMaterialError('data key has been destroyed');
  }
}
