import { createHmac, timingSafeEqual } from 'node:crypto';
import { InvalidKeyMaterialError } from '../errors.js';
import { DATA_KEY_LENGTH, MAX_KEY_ID_BYTES } from '../envelope/format.js';
import { MAX_KEY_VERSION } from './version-number.js';
import { DataKey } from './data-key.js';

/**
 * The label that starts every key-store row commitment message (33 ASCII bytes). A new
 * construction gets a new label (`…/v2`), never an edit of this one.
 * @internal
 * @example
 * ```ts
 * Buffer.byteLength(STORE_KEY_COMMITMENT_LABEL); // 33
 * ```
 */
export const STORE_KEY_COMMITMENT_LABEL = 'fieldseal/key-store-commitment/v1';

/**
 * Length in bytes of a key-store row commitment (an HMAC-SHA256 output).
 *
 * @example
 * ```ts
 * if (row.commitment?.byteLength !== STORE_KEY_COMMITMENT_LENGTH) legacy(row);
 * ```
 */
export const STORE_KEY_COMMITMENT_LENGTH = 32;

/** The longest tenant a commitment can name, in UTF-8 bytes (a u16 length). */
const MAX_TENANT_BYTES = 0xffff;

const LABEL = Buffer.from(STORE_KEY_COMMITMENT_LABEL, 'ascii');

/**
 * The key-store row a commitment is bound to: tenant, key id and version.
 * @example
 * ```ts
 * const ref: StoreKeyRef = { tenant: 'acme', keyId: 'default', version: 2 };
 * ```
 */
export interface StoreKeyRef {
  readonly tenant: string;
  readonly keyId: string;
  readonly version: number;
}

/**
 * The commitment a key-store row carries to its data key: 32 bytes that identify the data key
 * of `(tenant, keyId, version)` and reveal nothing about it, so that a provider returning a
 * wrong key for the row is caught before anything is sealed or opened with that key.
 *
 * Construction (docs/format.md, "Key-store row commitment"):
 * ```
 * message    = u8 33 || "fieldseal/key-store-commitment/v1"
 *           || u16 len(tenant) || tenant || u8 len(keyId) || keyId || u32 version
 * commitment = HMAC-SHA256(key = data key (exactly 32 bytes), message)
 * ```
 * (integers unsigned big-endian, strings UTF-8).
 *
 * @param key - the data key: a {@link DataKey} or its 32 raw bytes.
 * @throws InvalidKeyMaterialError (`ERR_INVALID_KEY_MATERIAL`) unless the key is exactly 32
 *   bytes (or a live DataKey); TypeError / RangeError for a malformed reference (a tenant of 1
 *   to 65,535 UTF-8 bytes, a key id of 1 to 255, a version from 1 to 2^32-1, well-formed
 *   Unicode). Messages never contain the key or the reference.
 * @example
 * ```ts
 * const commitment = storeKeyCommitment(generated.key, { tenant, keyId, version });
 * await store.createVersion({ tenant, keyId, version, providerId, masterKeyId, wrapped, commitment }, null);
 * ```
 */
export function storeKeyCommitment(key: DataKey | Uint8Array, ref: StoreKeyRef): Uint8Array {
  const message = commitmentMessage(ref);
  const bytes = keyBytes(key);
  return new Uint8Array(createHmac('sha256', bytes).update(message).digest());
}

/**
 * Whether `expected` (a row's stored commitment) is the commitment of `key` for `ref`:
 * a length check, then a constant-time comparison. Anything that is not a 32-byte
 * `Uint8Array` is `false`.
 * @throws as {@link storeKeyCommitment} for a malformed key or reference.
 * @example
 * ```ts
 * if (row.commitment !== undefined && !checkStoreKeyCommitment(key, row, row.commitment)) {
 *   key.release();
 *   throw new KeyCommitmentMismatchError(undefined, { details: { keyRef: `${row.keyId}@${row.version}` } });
 * }
 * ```
 */
export function checkStoreKeyCommitment(
  key: DataKey | Uint8Array,
  ref: StoreKeyRef,
  expected: Uint8Array,
): boolean {
  const actual = storeKeyCommitment(key, ref);
  if (!(expected instanceof Uint8Array) || expected.byteLength !== actual.byteLength) {
    return false;
  }
  return timingSafeEqual(actual, expected);
}

/**
 * Check a commitment handed to a key store (`createVersion`, `setCommitment`): a `Uint8Array`
 * of exactly {@link STORE_KEY_COMMITMENT_LENGTH} bytes. Returns a copy, so that a caller
 * changing its array afterwards never changes what is stored.
 *
 * @throws TypeError when not a Uint8Array, RangeError when not 32 bytes.
 * @example
 * ```ts
 * const commitment = record.commitment === undefined ? undefined : copyCommitment('record.commitment', record.commitment);
 * ```
 */
export function copyCommitment(name: string, value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${name}: expected a Uint8Array`);
  if (value.byteLength !== STORE_KEY_COMMITMENT_LENGTH) {
    throw new RangeError(
      `${name}: expected ${STORE_KEY_COMMITMENT_LENGTH} bytes, got ${value.byteLength}`,
    );
  }
  return Uint8Array.from(value);
}

/** The raw data key, validated (never copied into an error). */
function keyBytes(key: DataKey | Uint8Array): Uint8Array {
  if (key instanceof DataKey) return key.exposeBytes();
  if (!(key instanceof Uint8Array) || key.byteLength !== DATA_KEY_LENGTH) {
    throw new InvalidKeyMaterialError('data key must be exactly 32 bytes');
  }
  return key;
}

/** The length-prefixed message of the construction, with every part validated. */
function commitmentMessage(ref: StoreKeyRef): Buffer {
  if (typeof ref !== 'object' || ref === null) {
    throw new TypeError('ref: expected { tenant, keyId, version }');
  }
  const { tenant, keyId, version } = ref;
  const t = utf8('ref.tenant', tenant, MAX_TENANT_BYTES);
  const k = utf8('ref.keyId', keyId, MAX_KEY_ID_BYTES);
  if (typeof version !== 'number' || !Number.isInteger(version)) {
    throw new TypeError('ref.version: expected an integer');
  }
  if (version < 1 || version > MAX_KEY_VERSION) {
    throw new RangeError(`ref.version: expected an integer from 1 to ${MAX_KEY_VERSION}`);
  }
  const out = Buffer.alloc(1 + LABEL.length + 2 + t.length + 1 + k.length + 4);
  let at = out.writeUInt8(LABEL.length, 0);
  at += LABEL.copy(out, at);
  at = out.writeUInt16BE(t.length, at);
  at += t.copy(out, at);
  at = out.writeUInt8(k.length, at);
  at += k.copy(out, at);
  out.writeUInt32BE(version, at);
  return out;
}

function utf8(name: string, value: unknown, maxBytes: number): Buffer {
  if (typeof value !== 'string' || value.length === 0 || !value.isWellFormed()) {
    throw new TypeError(`${name}: expected a non-empty, well-formed string`);
  }
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > maxBytes) {
    throw new RangeError(`${name}: expected at most ${maxBytes} UTF-8 bytes`);
  }
  return bytes;
}
