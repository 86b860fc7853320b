import { MAX_KEY_ID_BYTES, MAX_WRAPPED_KEY_BYTES } from '../../integration/index.js';
import { MAX_KEY_VERSION } from '../../integration/index.js';

/*
 * Primary keys of the key-store table. One partition per tenant holds, for each key id, one
 * head item and one item per version; sort keys keep a key id's items together:
 *
 *   pk = "T#" + tenant
 *   sk = "K#" + keyId.length + ":" + keyId + "#H"                  (head)
 *   sk = "K#" + keyId.length + ":" + keyId + "#V#" + 10-digit version (version)
 *
 * The length prefix makes a key id's sort-key prefix unambiguous: the prefix of key id "a"
 * ("K#1:a#") can never begin a sort key of key id "a#V#x" ("K#5:a#V#x#..."). Versions are
 * zero-padded so that sort-key order is numeric order (2^32-1 has 10 digits).
 */

/**
 * The primary key of an item, as the low-level client writes it.
 * @internal
 * @example
 * ```ts
 * const Key: KeyAttributes = { pk: { S: 'T#acme' }, sk: { S: 'K#7:default#H' } };
 * ```
 */
export type KeyAttributes = { pk: { S: string }; sk: { S: string } };

const TENANT_PREFIX = 'T#';
const HEAD_SUFFIX = '#H';
const VERSION_INFIX = '#V#';
const VERSION_DIGITS = 10;
/**
 * The longest tenant id, in UTF-8 bytes. DynamoDB limits a partition key to 2048 bytes; half
 * leaves room for the prefix and is plenty for an id.
 * @internal
 * @example
 * ```ts
 * if (Buffer.byteLength(tenant) > MAX_TENANT_BYTES) reject();
 * ```
 */
export const MAX_TENANT_BYTES = 1024;

/**
 * Check a tenant argument: a non-empty string of at most {@link MAX_TENANT_BYTES} UTF-8 bytes.
 * The message never echoes the value (tenant ids can be personal data).
 * @internal
 * @example
 * ```ts
 * checkTenantId('acme');
 * ```
 */
export function checkTenantId(tenant: unknown): string {
  return checkName('tenant', tenant, MAX_TENANT_BYTES);
}

/**
 * Check a key id argument: a non-empty string of at most 255 UTF-8 bytes, the longest an
 * envelope can name.
 * @internal
 * @example
 * ```ts
 * checkKeyId('default');
 * ```
 */
export function checkKeyId(keyId: unknown): string {
  return checkName('keyId', keyId, MAX_KEY_ID_BYTES);
}

function checkName(name: string, value: unknown, maxBytes: number): string {
  if (typeof value !== 'string' || value.length === 0 || Buffer.byteLength(value) > maxBytes) {
    throw new TypeError(`${name}: expected a non-empty string of at most ${maxBytes} UTF-8 bytes`);
  }
  return value;
}

/**
 * Check wrapped key bytes before they are stored: a `Uint8Array` of 1 to 2048 bytes, the
 * range every provider's output and the envelope format allow.
 * @internal
 * @example
 * ```ts
 * checkWrappedKey('record.wrapped', record.wrapped);
 * ```
 */
export function checkWrappedKey(name: string, wrapped: unknown): Uint8Array {
  if (!(wrapped instanceof Uint8Array)) throw new TypeError(`${name}: expected a Uint8Array`);
  if (wrapped.byteLength < 1 || wrapped.byteLength > MAX_WRAPPED_KEY_BYTES) {
    throw new RangeError(
      `${name}: expected 1 to ${MAX_WRAPPED_KEY_BYTES} bytes, got ${wrapped.byteLength}`,
    );
  }
  return wrapped;
}

/**
 * Whether `version` can name a stored version (an integer from 1 to 2^32-1).
 * @internal
 * @example
 * ```ts
 * if (!isVersionNumber(version)) return undefined;
 * ```
 */
export function isVersionNumber(version: number): boolean {
  return Number.isInteger(version) && version >= 1 && version <= MAX_KEY_VERSION;
}

/**
 * The partition key value of a tenant.
 * @internal
 * @example
 * ```ts
 * const pk = tenantPartition('acme'); // "T#acme"
 * ```
 */
export function tenantPartition(tenant: string): string {
  return TENANT_PREFIX + tenant;
}

/**
 * The sort-key prefix shared by every item (head and versions) of one key id.
 * @internal
 * @example
 * ```ts
 * keyIdPrefix('default'); // "K#7:default"
 * ```
 */
export function keyIdPrefix(keyId: string): string {
  return `K#${keyId.length}:${keyId}`;
}

/**
 * The sort-key prefix of the version items of one key id (excludes the head).
 * @internal
 * @example
 * ```ts
 * versionPrefix('default'); // "K#7:default#V#"
 * ```
 */
export function versionPrefix(keyId: string): string {
  return keyIdPrefix(keyId) + VERSION_INFIX;
}

/**
 * Primary key of the head item of a tenant's key id.
 * @internal
 * @example
 * ```ts
 * const Key = headKey('acme', 'default');
 * ```
 */
export function headKey(tenant: string, keyId: string): KeyAttributes {
  return { pk: { S: tenantPartition(tenant) }, sk: { S: keyIdPrefix(keyId) + HEAD_SUFFIX } };
}

/**
 * Primary key of one version item.
 * @internal
 * @example
 * ```ts
 * const Key = versionKey('acme', 'default', 2);
 * ```
 */
export function versionKey(tenant: string, keyId: string, version: number): KeyAttributes {
  return {
    pk: { S: tenantPartition(tenant) },
    sk: { S: versionPrefix(keyId) + String(version).padStart(VERSION_DIGITS, '0') },
  };
}

/**
 * Whether a sort key names a head item.
 * @internal
 * @example
 * ```ts
 * if (isHeadSortKey(item.sk?.S)) heads.push(item);
 * ```
 */
export function isHeadSortKey(sk: string | undefined): boolean {
  return sk !== undefined && sk.startsWith('K#') && sk.endsWith(HEAD_SUFFIX);
}
