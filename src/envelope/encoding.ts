import { MalformedCiphertextError, UnsupportedFormatError } from '../errors.js';
import { MAGIC, TEXT_PREFIX } from './format.js';

/**
 * The two encodings of one envelope (docs/format.md §6): binary for BYTEA / DynamoDB Binary,
 * and text, `fs1:` + unpadded base64url, for TEXT / string attributes.
 */

/**
 * Text form of a binary envelope.
 * @example
 * ```ts
 * const bytes = await fs.encrypt('alice@example.com', context);
 * const stored = toText(bytes); // 'fs1:...' for a text column
 * ```
 */
export function toText(bytes: Uint8Array): string {
  return (
    TEXT_PREFIX +
    Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url')
  );
}

const OTHER_VERSION = /^fs[0-9]+:/;

/** What a stored value turned out to be. @internal */
export type Classified =
  { readonly kind: 'envelope'; readonly bytes: Buffer } | { readonly kind: 'plaintext' };

/**
 * Decide whether a stored value is an envelope, and decode the text form strictly: only the
 * base64url alphabet, no padding, no impossible length, and zero unused trailing bits, so
 * that exactly one string encodes each envelope (a flipped bit can never decode to the same
 * bytes).
 * @throws UnsupportedFormatError for another `fsN:` version; MalformedCiphertextError for a
 *   value that claims to be `fs1:` and is not well-formed.
 * @internal
 */
export function classifyStored(stored: string | Uint8Array): Classified {
  if (typeof stored === 'string') {
    if (!stored.startsWith(TEXT_PREFIX)) {
      if (OTHER_VERSION.test(stored))
        throw new UnsupportedFormatError('text envelope version is not supported');
      return { kind: 'plaintext' };
    }
    const body = stored.slice(TEXT_PREFIX.length);
    // Node's decoder is lenient (it skips what is not base64, takes either alphabet, ignores
    // padding and unused bits); the body is canonical exactly when encoding the bytes again
    // gives it back: one native pass each way instead of a regular expression over the text.
    const bytes = Buffer.from(body, 'base64url');
    if (bytes.toString('base64url') !== body) {
      throw new MalformedCiphertextError('text envelope is not canonical base64url');
    }
    if (bytes[0] !== MAGIC)
      throw new MalformedCiphertextError('text envelope does not hold an envelope');
    return { kind: 'envelope', bytes };
  }
  if (stored instanceof Uint8Array) {
    if (stored.byteLength === 0 || stored[0] !== MAGIC) return { kind: 'plaintext' };
    return {
      kind: 'envelope',
      bytes: Buffer.isBuffer(stored)
        ? stored
        : Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength),
    };
  }
  throw new MalformedCiphertextError('stored value must be a string or a Uint8Array');
}
