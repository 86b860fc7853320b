import { InvalidContextError } from '../errors.js';

/**
 * The encryption context of one value. It is never stored: its canonical encoding is bound
 * into the GCM additional data, so a value only decrypts under the exact context it was
 * written with. `tenant`, `table` and `field` are required; `record` (the row's key) should
 * be given whenever the row has one, so a value cannot be copied to another row.
 *
 * @example
 * ```ts
 * const context: EncryptionContext = {
 *   tenant: 'acme', table: 'customers', field: 'ssn', record: 'cus_42',
 * };
 * ```
 */
export interface EncryptionContext {
  readonly tenant: string;
  readonly table: string;
  readonly field: string;
  /** The record's key: one string, or the parts of a composite key in order. */
  readonly record?: string | readonly string[];
  /** Further caller-chosen entries (e.g. `purpose: 'pii'`). */
  readonly [extra: string]: string | readonly string[] | undefined;
}

const MAX_ENTRIES = 64;
const MAX_KEY_BYTES = 255;
const MAX_VALUE_BYTES = 65535;
const MAX_LIST_ITEMS = 64;
const VALUE_STRING = 0x00;
const VALUE_LIST = 0x01;

function invalid(message: string): never {
  throw new InvalidContextError(message);
}

function requireName(ctx: EncryptionContext, name: 'tenant' | 'table' | 'field'): void {
  const v = ctx[name];
  if (typeof v !== 'string' || v.length === 0) {
    invalid(`encryption context needs a non-empty string "${name}"`);
  }
}

/**
 * Validate a context and return its canonical encoding (docs/format.md §4):
 * `u16 count`, then for each entry sorted by the UTF-8 bytes of its key:
 * `u8 keyLen | key | u8 kind | value`, where a string value is `u16 len | utf8` and a list is
 * `u8 n | (u16 len | utf8) * n`. Absent (`undefined`) entries are skipped.
 *
 * The encoding is injective (every field length-prefixed, kinds tagged) and independent of
 * property order.
 * @throws InvalidContextError (`ERR_INVALID_CONTEXT`)
 * @internal
 */
export function encodeContext(ctx: EncryptionContext): Buffer {
  if (typeof ctx !== 'object' || ctx === null || Array.isArray(ctx)) {
    invalid('encryption context must be an object');
  }
  requireName(ctx, 'tenant');
  requireName(ctx, 'table');
  requireName(ctx, 'field');
  return encodeCanonicalMap(ctx);
}

/**
 * The canonical encoding of any string map (the body of {@link encodeContext}); also binds
 * key-provider contexts.
 * @internal
 */
export function encodeCanonicalMap(
  ctx: Readonly<Record<string, string | readonly string[] | undefined>>,
): Buffer {
  const entries: [Buffer, string | readonly string[]][] = [];
  let size = 2;
  for (const key of Object.keys(ctx)) {
    const value = ctx[key];
    if (value === undefined) continue;
    const keyBytes = Buffer.from(key, 'utf8');
    if (keyBytes.byteLength === 0 || keyBytes.byteLength > MAX_KEY_BYTES) {
      invalid('encryption context keys must be 1..255 bytes');
    }
    size += 2 + keyBytes.byteLength;
    if (typeof value === 'string') {
      size += 2 + stringSize(value);
    } else if (Array.isArray(value)) {
      const list = value as readonly unknown[];
      if (list.length === 0 || list.length > MAX_LIST_ITEMS) {
        invalid('encryption context lists must hold 1..64 strings');
      }
      size += 1;
      for (const item of list) {
        if (typeof item !== 'string') invalid('encryption context lists must hold strings');
        size += 2 + stringSize(item);
      }
    } else {
      invalid('encryption context values must be strings or lists of strings');
    }
    entries.push([keyBytes, value]);
  }
  if (entries.length > MAX_ENTRIES) invalid('encryption context has more than 64 entries');
  entries.sort((a, b) => Buffer.compare(a[0], b[0]));
  const out = Buffer.allocUnsafe(size);
  let at = out.writeUInt16BE(entries.length, 0);
  for (const [keyBytes, value] of entries) {
    at = out.writeUInt8(keyBytes.byteLength, at);
    at += keyBytes.copy(out, at);
    if (typeof value === 'string') {
      at = out.writeUInt8(VALUE_STRING, at);
      at = writeString(out, at, value);
    } else {
      at = out.writeUInt8(VALUE_LIST, at);
      at = out.writeUInt8(value.length, at);
      for (const item of value) at = writeString(out, at, item);
    }
  }
  return out;
}

function stringSize(s: string): number {
  const n = Buffer.byteLength(s, 'utf8');
  if (n > MAX_VALUE_BYTES) invalid('encryption context values must be at most 65535 bytes');
  // Lone surrogates would be replaced by U+FFFD and two contexts would encode alike.
  if (!s.isWellFormed()) invalid('encryption context values must be well-formed Unicode');
  return n;
}

function writeString(out: Buffer, at: number, s: string): number {
  const lenAt = at;
  const written = out.write(s, at + 2, 'utf8');
  out.writeUInt16BE(written, lenAt);
  return at + 2 + written;
}

/**
 * The context given to a key provider when it wraps or unwraps a data key: the tenant plus,
 * for key-store keys, the key id and version. AWS KMS and Vault see exactly these entries.
 * @example
 * ```ts
 * const ctx: KeyContext = { tenant: 'acme', key: 'default', version: '3' };
 * ```
 */
export type KeyContext = Readonly<Record<string, string>>;
