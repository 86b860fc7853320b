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
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Decode the body of `stored` (after `fs1:`) if it is the canonical unpadded base64url of
 * some bytes; else refuse. Node's
 * decoder is lenient: it skips characters outside the alphabet, reads the standard alphabet's
 * `+` and `/` too, ignores padding and unused bits, and reads a character above U+00FF by its
 * low byte (U+0151 as `Q`). So the checks, each a native pass or a constant: every character
 * ASCII (UTF-8 length = string length); no `+` or `/`; a length no encoding has (4n + 1)
 * refused; exactly the bytes the length promises (a skipped character decodes fewer); and zero
 * unused bits in the last character. Equivalent to encoding the bytes again and comparing
 * (tested against that on random text), without the second pass.
 */
function decodeCanonical(stored: string): Buffer {
  // ASCII is checked on the whole value (its prefix is ASCII): the UTF-8 length of a string
  // sliced from another costs ~9 µs per 64 KiB more than that of the string itself.
  const ascii = Buffer.byteLength(stored, 'utf8') === stored.length;
  const body = stored.slice(TEXT_PREFIX.length);
  const n = body.length;
  if (!ascii || n % 4 === 1 || body.includes('+') || body.includes('/')) {
    throw new MalformedCiphertextError('text envelope is not canonical base64url');
  }
  const bytes = Buffer.from(body, 'base64url');
  const rem = n % 4;
  const unused = rem === 2 ? 0x0f : rem === 3 ? 0x03 : 0;
  if (
    bytes.byteLength !== Math.floor((n * 3) / 4) ||
    (unused !== 0 && (ALPHABET.indexOf(body[n - 1]!) & unused) !== 0)
  ) {
    throw new MalformedCiphertextError('text envelope is not canonical base64url');
  }
  return bytes;
}

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
    const bytes = decodeCanonical(stored);
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
