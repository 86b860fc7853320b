import { isValidBits, isValidVersion } from './options.js';

/** Prefix of every blind index string (format 1). @internal */
export const BLIND_INDEX_PREFIX = 'bi1';

/**
 * HKDF-SHA256 salt of every index key. It differs from the data-key schedule's salt
 * (`fieldseal/v1`), so even a secret misused as both never yields the same derived key.
 * Changing it changes every index: add a new format instead.
 * @internal
 */
export const BLIND_INDEX_KDF_SALT = 'fieldseal/v1 blind-index key';

/** Length of a derived index key in bytes. @internal */
export const INDEX_KEY_LENGTH = 32;

const SHAPE = /^bi1:([1-9][0-9]{0,4}):([A-Za-z0-9_-]{3,43})$/;

/** `bi1:<version>:<base64url(tag)>`. @internal */
export function formatBlindIndex(version: number, tag: Buffer): string {
  return `${BLIND_INDEX_PREFIX}:${version}:${tag.toString('base64url')}`;
}

/** A parsed blind index. @internal */
export interface ParsedBlindIndex {
  readonly version: number;
  readonly tag: Buffer;
}

/**
 * Parse a stored index strictly: canonical decimal version in range, canonical unpadded
 * base64url, a tag length that `index` can produce. Anything else is `undefined`.
 * @internal
 */
export function parseBlindIndex(stored: unknown): ParsedBlindIndex | undefined {
  if (typeof stored !== 'string') return undefined;
  const m = SHAPE.exec(stored);
  if (m === null) return undefined;
  const version = Number(m[1]);
  const text = m[2]!;
  if (!isValidVersion(version)) return undefined;
  const tag = Buffer.from(text, 'base64url');
  // Non-canonical text (stray trailing bits) decodes like another index: reject it.
  if (tag.toString('base64url') !== text || !isValidBits(tag.byteLength * 8)) return undefined;
  return { version, tag };
}
