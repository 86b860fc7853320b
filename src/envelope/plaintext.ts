import { MalformedCiphertextError, UnsupportedValueError, ValueTooLargeError } from '../errors.js';
import { MAX_PLAINTEXT_BYTES } from './format.js';

/**
 * Typed plaintext encoding (docs/format.md §5): one type-tag byte, then the value's bytes,
 * then, when the envelope's padded flag is set, ISO/IEC 7816-4 padding (0x80, then zeros) up
 * to a multiple of the bucket size. The tag travels inside the ciphertext, so the stored form
 * does not reveal the type, and a value comes back as the type it went in as.
 */

/**
 * Types a field value may have. JSON covers plain objects, arrays and null.
 * @example
 * ```ts
 * const values: FieldValue[] = ['text', 42, 10n, true, new Date(), new Uint8Array([1]), { a: 1 }, null];
 * ```
 */
export type FieldValue =
  | string
  | number
  | bigint
  | boolean
  | Date
  | Uint8Array
  | null
  | readonly unknown[]
  | { readonly [key: string]: unknown };

export const TYPE_STRING = 0x01;
export const TYPE_NUMBER = 0x02;
export const TYPE_BIGINT = 0x03;
export const TYPE_BOOLEAN = 0x04;
export const TYPE_DATE = 0x05;
export const TYPE_BYTES = 0x06;
export const TYPE_BUFFER = 0x07;
export const TYPE_JSON = 0x08;

/**
 * Padding choice: `'bucket-N'` (or the number N) pads the encoded plaintext to a multiple of N
 * bytes, so stored lengths reveal only the bucket.
 * @example
 * ```ts
 * await fs.encrypt(ssn, context, { pad: 'bucket-16' });
 * ```
 */
export type PaddingOption = false | 'bucket-16' | 'bucket-32' | 'bucket-64' | 'bucket-256' | number;

/** Resolve a padding option to a bucket size in bytes (0 = no padding). @internal */
export function bucketSize(pad: PaddingOption | undefined): number {
  if (pad === undefined || pad === false) return 0;
  const n = typeof pad === 'number' ? pad : Number(pad.slice('bucket-'.length));
  if (!Number.isInteger(n) || n < 2 || n > 65536) {
    throw new RangeError(
      `pad: expected false, 'bucket-N' or an integer 2..65536, got ${String(pad)}`,
    );
  }
  return n;
}

const tagByte: Buffer[] = [];
for (let t = 0; t <= TYPE_JSON; t++) tagByte.push(Buffer.from([t]));

/** A value encoded and ready to seal. @internal */
export interface EncodedPlaintext {
  /** Encrypted in this order: one buffer for small values, tag / body / padding for large ones. */
  readonly parts: readonly Uint8Array[];
  readonly padded: boolean;
  /** Buffers created by the encoder (they hold plaintext) and wiped after sealing. */
  readonly owned: readonly Uint8Array[];
}

/** Up to this size a value is copied into one buffer: one GCM update instead of three. */
const SMALL = 4096;

/**
 * Encode a value as its plaintext (tag, body, optional padding). Small values become one
 * buffer; large byte values are not copied. Runs before any key is fetched, so an unsupported
 * value costs no provider call.
 * @throws UnsupportedValueError, ValueTooLargeError
 * @internal
 */
export function encodePlaintext(value: unknown, bucket: number): EncodedPlaintext {
  if (typeof value === 'string' && value.length <= SMALL) {
    if (!value.isWellFormed()) {
      throw new UnsupportedValueError('strings must be well-formed Unicode (no lone surrogates)');
    }
    // Written straight after the tag: no intermediate buffer to copy or wipe.
    const n = Buffer.byteLength(value, 'utf8');
    const out = allocPlaintext(TYPE_STRING, n, bucket);
    out.write(value, 1, 'utf8');
    return { parts: [out], padded: bucket > 0, owned: [out] };
  }
  const [tag, body] = encodeBody(value);
  const ownsBody = !(value instanceof Uint8Array);
  if (body.byteLength <= SMALL) {
    const out = allocPlaintext(tag, body.byteLength, bucket);
    out.set(body, 1);
    if (ownsBody) body.fill(0);
    return { parts: [out], padded: bucket > 0, owned: [out] };
  }
  if (bucket > MAX_PLAINTEXT_BYTES) throw new ValueTooLargeError();
  const length = 1 + body.byteLength;
  const parts: Uint8Array[] = [tagByte[tag]!, body];
  if (bucket > 0) {
    const padding = Buffer.alloc(paddedLength(length, bucket) - length);
    padding[0] = 0x80;
    parts.push(padding);
  }
  if (paddedLength(length, bucket) > MAX_PLAINTEXT_BYTES) {
    if (ownsBody) body.fill(0);
    throw new ValueTooLargeError();
  }
  return { parts, padded: bucket > 0, owned: ownsBody ? [body] : [] };
}

/** Length after ISO/IEC 7816-4 padding to a multiple of `bucket` (0: no padding). */
function paddedLength(length: number, bucket: number): number {
  return bucket > 0 ? Math.ceil((length + 1) / bucket) * bucket : length;
}

/** A buffer for tag + `n` body bytes + padding, with the tag and padding already written. */
function allocPlaintext(tag: number, n: number, bucket: number): Buffer {
  const length = 1 + n;
  const total = paddedLength(length, bucket);
  if (total > MAX_PLAINTEXT_BYTES) throw new ValueTooLargeError();
  const out = Buffer.allocUnsafe(total);
  out[0] = tag;
  if (total > length) {
    out[length] = 0x80;
    out.fill(0, length + 1);
  }
  return out;
}

/** Wipe what the encoder created (never the caller's own bytes). @internal */
export function wipeEncoded(encoded: EncodedPlaintext): void {
  for (const b of encoded.owned) b.fill(0);
}

function encodeBody(value: unknown): [number, Uint8Array] {
  switch (typeof value) {
    case 'string':
      if (!value.isWellFormed()) {
        throw new UnsupportedValueError('strings must be well-formed Unicode (no lone surrogates)');
      }
      return [TYPE_STRING, Buffer.from(value, 'utf8')];
    case 'number': {
      const b = Buffer.allocUnsafe(8);
      b.writeDoubleBE(value, 0);
      return [TYPE_NUMBER, b];
    }
    case 'bigint':
      return [TYPE_BIGINT, Buffer.from(value.toString(10), 'latin1')];
    case 'boolean':
      return [TYPE_BOOLEAN, Buffer.from([value ? 1 : 0])];
    case 'object': {
      if (value === null) return [TYPE_JSON, Buffer.from('null', 'latin1')];
      if (value instanceof Date) {
        const t = value.getTime();
        if (Number.isNaN(t)) throw new UnsupportedValueError('Invalid Date cannot be encrypted');
        const b = Buffer.allocUnsafe(8);
        b.writeDoubleBE(t, 0);
        return [TYPE_DATE, b];
      }
      if (Buffer.isBuffer(value)) return [TYPE_BUFFER, value];
      if (value instanceof Uint8Array) return [TYPE_BYTES, value];
      if (ArrayBuffer.isView(value)) {
        throw new UnsupportedValueError('only Uint8Array and Buffer byte values are supported');
      }
      if (!isJsonContainer(value)) {
        // Map, Set, class instances (a `Sensitive` wrapper prints "[REDACTED]" as JSON):
        // JSON would store something else than the value. Refuse rather than lose data.
        throw new UnsupportedValueError('only plain objects and arrays are stored as JSON');
      }
      let json: string | undefined;
      try {
        json = JSON.stringify(value, strictJson);
      } catch (err) {
        if (err instanceof UnsupportedValueError) throw err;
        // The message of a JSON error can quote the value: never pass it on.
        throw new UnsupportedValueError('object is not JSON-serialisable');
      }
      if (json === undefined) throw new UnsupportedValueError('object is not JSON-serialisable');
      return [TYPE_JSON, Buffer.from(json, 'utf8')];
    }
    default:
      throw new UnsupportedValueError(`values of type ${typeof value} cannot be encrypted`);
  }
}

function isJsonContainer(value: object): boolean {
  if (Array.isArray(value)) return true;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * JSON.stringify replacer that refuses nested values JSON would silently change: objects that
 * are not plain objects or arrays (a nested Date is allowed and becomes its ISO string, as
 * JSON defines), and objects or arrays with a `toJSON` method (own or inherited). `this[key]` is
 * the value before `toJSON` ran.
 */
function strictJson(this: unknown, key: string, value: unknown): unknown {
  const original: unknown = (this as Record<string, unknown>)[key];
  if (typeof original === 'object' && original !== null && !(original instanceof Date)) {
    if (!isJsonContainer(original)) {
      throw new UnsupportedValueError('only plain objects and arrays can be nested in JSON');
    }
    // A `toJSON` would store something else than the object (it comes back as another type).
    if (typeof (original as { toJSON?: unknown }).toJSON === 'function') {
      throw new UnsupportedValueError('objects with a toJSON method are not stored as JSON');
    }
  }
  return value;
}

/**
 * Decode an authenticated plaintext. Only runs after the GCM tag verified, so a failure here
 * means a writer that did not follow the format: it is still an error, never a guess.
 * @internal
 */
export function decodePlaintext(plain: Buffer, padded: boolean): unknown {
  const value = decodeValue(plain, padded);
  // Byte values are returned as views of `plain`; anything else was copied out, so the
  // scratch plaintext is wiped now rather than left for the garbage collector.
  if (!(value instanceof Uint8Array)) plain.fill(0);
  return value;
}

function decodeValue(plain: Buffer, padded: boolean): unknown {
  let end = plain.byteLength;
  if (padded) {
    while (end > 0 && plain[end - 1] === 0) end--;
    if (end === 0 || plain[end - 1] !== 0x80) throw malformed();
    end--;
  }
  if (end < 1) throw malformed();
  const tag = plain[0];
  switch (tag) {
    case TYPE_STRING:
      return plain.toString('utf8', 1, end);
    case TYPE_NUMBER:
      if (end !== 9) throw malformed();
      return plain.readDoubleBE(1);
    case TYPE_BIGINT: {
      const s = plain.toString('latin1', 1, end);
      if (!/^-?(0|[1-9][0-9]*)$/.test(s)) throw malformed();
      return BigInt(s);
    }
    case TYPE_BOOLEAN:
      if (end !== 2 || plain[1]! > 1) throw malformed();
      return plain[1] === 1;
    case TYPE_DATE: {
      if (end !== 9) throw malformed();
      const d = new Date(plain.readDoubleBE(1));
      if (Number.isNaN(d.getTime())) throw malformed();
      return d;
    }
    case TYPE_BYTES:
      return new Uint8Array(plain.buffer, plain.byteOffset + 1, end - 1);
    case TYPE_BUFFER:
      return plain.subarray(1, end);
    case TYPE_JSON:
      try {
        return JSON.parse(plain.toString('utf8', 1, end)) as unknown;
      } catch {
        throw malformed();
      }
    default:
      throw malformed();
  }
}

function malformed(): MalformedCiphertextError {
  return new MalformedCiphertextError('decrypted plaintext is not in the fieldseal value format');
}
